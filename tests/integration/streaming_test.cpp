// walbus against a real PostgreSQL: what it writes for each kind of change.

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "events.h"
#include "harness.h"
#include "walbus/core/lsn.h"

using namespace walbus::test;

namespace {

// Creates the slot and publication (a first run that stops at once), so that everything the
// test commits afterwards is captured.
void start_capture(const TempDir& dir, TestDb& db, const fs::path& config) {
    catch_up(dir, db, config);
    REQUIRE(db.conn().value("SELECT count(*) FROM pg_replication_slots WHERE database = '" +
                            db.name() + "'") == "1");
}

std::vector<Event> of_table(const std::vector<Event>& events, const std::string& table) {
    std::vector<Event> out;
    for (const auto& e : events) {
        if (e.table == table) {
            out.push_back(e);
        }
    }
    return out;
}

} // namespace

TEST_CASE("changes of several tables in one transaction arrive whole, in commit order",
          "[streaming]") {
    TestDb db("stream_dml");
    db.conn().exec(
        "CREATE TABLE catalog_items (id int PRIMARY KEY, name text, price numeric(10,2));"
        "CREATE TABLE orders (order_id bigint PRIMARY KEY, item_id int, state text)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"catalog_items", "public.orders"}));
    start_capture(dir, db, config);

    auto& c = db.conn();
    c.exec("BEGIN;"
           "INSERT INTO catalog_items VALUES (1, 'kettle', 24.99), (2, 'toaster', 39);"
           "INSERT INTO orders VALUES (100, 1, 'new');"
           "UPDATE catalog_items SET price = 19.99 WHERE id = 1;"
           "DELETE FROM catalog_items WHERE id = 2;"
           "UPDATE orders SET state = 'paid' WHERE order_id = 100;"
           "COMMIT");
    c.exec("BEGIN; INSERT INTO catalog_items VALUES (3, 'rolled back', 1); ROLLBACK");
    c.exec("INSERT INTO catalog_items SELECT g, 'item ' || g, g FROM generate_series(10, 509) g");
    c.exec("TRUNCATE orders");
    catch_up(dir, db, config);

    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 6 + 500 + 1);
    CHECK(strictly_ordered(events));

    // The first transaction, whole and in statement order, with one commit LSN.
    std::vector<std::string> ops;
    for (int i = 0; i < 6; ++i) {
        ops.push_back(events[i].op + " " + events[i].table);
        CHECK(events[i].commit_lsn == events[0].commit_lsn);
        CHECK(events[i].seq == static_cast<std::uint64_t>(i));
        CHECK(events[i].xid == events[0].xid);
    }
    CHECK(ops == std::vector<std::string>{"insert catalog_items", "insert catalog_items",
                                          "insert orders", "update catalog_items",
                                          "delete catalog_items", "update orders"});
    CHECK((*events[0].after)["price"] == "\"24.99\"");
    CHECK((*events[0].key)["id"] == "1");
    CHECK((*events[3].after)["price"] == "\"19.99\"");
    CHECK_FALSE(events[3].before.has_value()); // REPLICA IDENTITY DEFAULT, key unchanged
    CHECK((*events[4].before) == std::map<std::string, std::string>{{"id", "2"}});
    CHECK_FALSE(events[4].after.has_value());

    // Nothing of the rolled-back transaction.
    for (const auto& e : events) {
        CHECK(e.raw.find("rolled back") == std::string::npos);
    }
    // The 500-row statement: every row, one transaction, seq 0..499.
    std::set<std::string> ids;
    for (int i = 6; i < 506; ++i) {
        CHECK(events[i].op == "insert");
        CHECK(events[i].commit_lsn == events[6].commit_lsn);
        CHECK(events[i].seq == static_cast<std::uint64_t>(i - 6));
        ids.insert((*events[i].key)["id"]);
    }
    CHECK(ids.size() == 500);
    CHECK(events[506].op == "truncate");
    CHECK(events[506].table == "orders");
}

TEST_CASE("a COPY's many changes from one WAL record are all kept", "[streaming]") {
    TestDb db("stream_copy");
    db.conn().exec("CREATE TABLE readings (id int PRIMARY KEY, v text)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"readings"}));
    start_capture(dir, db, config);

    std::vector<std::string> lines;
    for (int i = 0; i < 2000; ++i) {
        lines.push_back(std::to_string(i) + "\tv" + std::to_string(i));
    }
    db.conn().copy_in("readings", lines);
    catch_up(dir, db, config);

    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 2000);
    CHECK(strictly_ordered(events));
    std::map<std::string, int> per_lsn;
    std::set<std::string> ids;
    for (const auto& e : events) {
        per_lsn[e.lsn]++;
        ids.insert(e.after->at("id"));
    }
    CHECK(ids.size() == 2000);
    // COPY writes multi-insert records: many changes share one LSN, and none is lost for it.
    int max_shared = 0;
    for (const auto& [lsn, n] : per_lsn) {
        max_shared = std::max(max_shared, n);
    }
    CHECK(max_shared > 1);
}

TEST_CASE("before images follow REPLICA IDENTITY", "[streaming]") {
    TestDb db("stream_ident");
    db.conn().exec("CREATE TABLE plain (id int PRIMARY KEY, a text, b int);"
                   "CREATE TABLE full_image (id int PRIMARY KEY, a text, b int);"
                   "ALTER TABLE full_image REPLICA IDENTITY FULL");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"plain", "full_image"}));
    start_capture(dir, db, config);
    auto& c = db.conn();
    c.exec("INSERT INTO plain VALUES (1, 'x', 1); INSERT INTO full_image VALUES (1, 'x', 1)");
    c.exec("UPDATE plain SET a = 'y'; UPDATE full_image SET a = 'y'");
    c.exec("UPDATE plain SET id = 2; UPDATE full_image SET id = 2");
    c.exec("DELETE FROM plain; DELETE FROM full_image");
    catch_up(dir, db, config);

    auto events = parse_events(dir / "events.jsonl");
    auto plain = of_table(events, "plain");
    auto full = of_table(events, "full_image");
    REQUIRE(plain.size() == 4);
    REQUIRE(full.size() == 4);

    using Row = std::map<std::string, std::string>;
    // DEFAULT: no before image for an update that keeps the key; the old key when it changes;
    // only the key for a delete.
    CHECK_FALSE(plain[1].before.has_value());
    CHECK(*plain[2].before == Row{{"id", "1"}});
    CHECK(*plain[2].key == Row{{"id", "2"}});
    CHECK(*plain[3].before == Row{{"id", "2"}});
    // FULL: the whole old row every time.
    CHECK(*full[1].before == Row{{"id", "1"}, {"a", "\"x\""}, {"b", "1"}});
    CHECK(*full[1].after == Row{{"id", "1"}, {"a", "\"y\""}, {"b", "1"}});
    CHECK(*full[2].before == Row{{"id", "1"}, {"a", "\"y\""}, {"b", "1"}});
    CHECK(*full[3].before == Row{{"id", "2"}, {"a", "\"y\""}, {"b", "1"}});
    CHECK_FALSE(full[3].after.has_value());
}

TEST_CASE("an unchanged TOAST value is listed, never turned into null", "[streaming]") {
    TestDb db("stream_toast");
    db.conn().exec("CREATE TABLE docs (id int PRIMARY KEY, title text, body text);"
                   "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"docs"}));
    start_capture(dir, db, config);
    db.conn().exec("INSERT INTO docs VALUES (1, 'a', repeat('0123456789', 1000))");
    db.conn().exec("UPDATE docs SET title = 'b'");
    db.conn().exec("UPDATE docs SET body = NULL");
    catch_up(dir, db, config);

    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 3);
    CHECK((*events[0].after)["body"].size() == 10002);
    CHECK(events[1].unchanged_toast == std::vector<std::string>{"body"});
    CHECK(events[1].after->count("body") == 0);
    CHECK((*events[1].after)["title"] == "\"b\"");
    CHECK(events[2].unchanged_toast.empty());
    CHECK((*events[2].after)["body"] == "null"); // a real NULL is still null
}

TEST_CASE("columns added and dropped mid-stream apply to the following changes", "[streaming]") {
    TestDb db("stream_ddl");
    db.conn().exec("CREATE TABLE evolving (id int PRIMARY KEY, a text)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"evolving"}));
    start_capture(dir, db, config);
    auto& c = db.conn();
    c.exec("INSERT INTO evolving VALUES (1, 'one')");
    c.exec("ALTER TABLE evolving ADD COLUMN price numeric DEFAULT 5");
    c.exec("INSERT INTO evolving VALUES (2, 'two', 7.5)");
    c.exec("BEGIN; UPDATE evolving SET a = 'uno' WHERE id = 1;"
           "ALTER TABLE evolving DROP COLUMN a;"
           "INSERT INTO evolving VALUES (3, 9); COMMIT");
    catch_up(dir, db, config);

    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 4);
    using Row = std::map<std::string, std::string>;
    CHECK(*events[0].after == Row{{"id", "1"}, {"a", "\"one\""}});
    CHECK(*events[1].after == Row{{"id", "2"}, {"a", "\"two\""}, {"price", "\"7.5\""}});
    CHECK(*events[2].after == Row{{"id", "1"}, {"a", "\"uno\""}, {"price", "\"5\""}});
    CHECK(*events[3].after == Row{{"id", "3"}, {"price", "\"9\""}});
}

TEST_CASE("typed values", "[streaming]") {
    TestDb db("stream_types");
    db.conn().exec("CREATE TABLE typed (id uuid PRIMARY KEY, b bool, i2 int2, i8 int8, f8 float8,"
                   " n numeric, t text, vc varchar(10), j json, jb jsonb, d date, ts timestamp,"
                   " tstz timestamptz, by bytea, pt point)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"typed"}));
    start_capture(dir, db, config);
    db.conn().exec("SET TimeZone = 'Asia/Kolkata';"
                   "INSERT INTO typed VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', false, 7,"
                   " -9223372036854775808, 'Infinity', 123456789012345678901234567890.000001,"
                   " E'tab\\there', 'v', '[1, {\"x\": null}]', '{\"k\": \"v\"}', '2024-02-29',"
                   " '2024-02-29 12:00:00', '2024-02-29 12:00:00+05:30', '\\xdeadbeef', '(1,2)')");
    catch_up(dir, db, config);
    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 1);
    auto& a = *events[0].after;
    CHECK(a["id"] == "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
    CHECK(a["b"] == "false");
    CHECK(a["i2"] == "7");
    CHECK(a["i8"] == "-9223372036854775808");
    CHECK(a["f8"] == "\"Infinity\"");
    CHECK(a["n"] == "\"123456789012345678901234567890.000001\"");
    CHECK(a["t"] == "\"tab\\there\"");
    CHECK(a["j"] == "[1,{\"x\":null}]");
    CHECK(a["jb"] == "{\"k\":\"v\"}");
    CHECK(a["d"] == "\"2024-02-29\"");
    CHECK(a["ts"] == "\"2024-02-29T12:00:00\"");
    CHECK(a["tstz"] == "\"2024-02-29T06:30:00Z\"");
    CHECK(a["by"] == "\"3q2+7w==\"");
    CHECK(a["pt"] == "\"(1,2)\"");
}

TEST_CASE("SIGTERM stops cleanly; a restart resumes with no duplicate and no gap", "[streaming]") {
    TestDb db("stream_restart");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"t"}));
    start_capture(dir, db, config);

    int next = 0;
    auto commit_some = [&](int n) {
        for (int i = 0; i < n; ++i, ++next) {
            db.conn().exec("INSERT INTO t VALUES (" + std::to_string(next) + ")");
        }
    };
    for (int round = 0; round < 3; ++round) {
        Walbus w({"run", "--config", config.string()}, dir / "stdout", dir / "stderr");
        commit_some(20);
        int expected = next;
        REQUIRE(eventually([&] {
            return parse_events(dir / "events.jsonl").size() >= static_cast<std::size_t>(expected);
        }));
        w.signal(SIGTERM);
        auto code = w.wait();
        INFO(w.stderr_text());
        REQUIRE(code == 0);
        commit_some(10); // while walbus is down
    }
    catch_up(dir, db, config);

    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == static_cast<std::size_t>(next));
    CHECK(strictly_ordered(events));
    for (int i = 0; i < next; ++i) {
        CHECK((*events[i].after)["id"] == std::to_string(i));
    }
    CHECK(read_file(dir / "stderr").find("stopped cleanly") != std::string::npos);
}

TEST_CASE("stdout sink and JSON logs", "[streaming]") {
    TestDb db("stream_stdout");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    TempDir dir;
    {
        std::ofstream f(dir / "stdout.yaml");
        f << "source:\n  dsn: \"${TEST_DSN}\"\n  slot: " << db.name()
          << "\n  tables: [t]\n  create_publication: true\n"
          << "sink:\n  type: stdout\ncheckpoint:\n  path: " << (dir / "cp").string() << "\n";
    }
    std::map<std::string, std::string> env{{"TEST_DSN", db.dsn()}};
    auto first = run_walbus({"run", "-c", (dir / "stdout.yaml").string(), "--stop-at-lsn",
                             db.current_wal_lsn(), "--log-format", "json"},
                            dir, env);
    REQUIRE(first.code == 0);
    db.conn().exec("INSERT INTO t VALUES (1, 'hello'), (2, 'world')");
    auto second = run_walbus({"run", "-c", (dir / "stdout.yaml").string(), "--stop-at-lsn",
                              db.current_wal_lsn(), "--log-format", "json"},
                             dir, env);
    INFO(second.err);
    REQUIRE(second.code == 0);
    auto events = parse_event_lines(second.out);
    REQUIRE(events.size() == 2);
    CHECK((*events[1].after)["v"] == "\"world\"");
    // Every log line is a JSON object with time, level and msg.
    auto logs = parse_log_lines(second.err);
    REQUIRE(logs >= 2);
}

TEST_CASE("the flush LSN reported to the server never passes the durable checkpoint",
          "[streaming]") {
    TestDb db("stream_flush");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY)");
    TempDir dir;
    ConfigOptions o;
    o.tables = {"t"};
    o.flush_interval = "1h"; // nothing becomes durable until walbus stops
    o.flush_idle = "0ms";
    auto config = write_config(dir, db, o);
    start_capture(dir, db, config);
    auto confirmed = [&] {
        return db.conn().value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                               "slot_name = '" +
                               db.name() + "'");
    };
    auto initial = confirmed();

    Walbus w({"run", "-c", config.string()}, dir / "w.out", dir / "w.err");
    REQUIRE(slot_becomes_active(db));
    for (int i = 0; i < 20; ++i) {
        db.conn().exec("INSERT INTO t VALUES (" + std::to_string(i) + ")");
    }
    // Several status intervals (1s) pass: walbus has received the changes but not made them
    // durable, so the slot must not move.
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    CHECK(confirmed() == initial);
    CHECK(parse_events(dir / "events.jsonl").empty());

    w.signal(SIGTERM);
    REQUIRE(w.wait() == 0);
    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 20);
    // Now durable: the slot moved to the checkpoint's end_lsn, or past it to the server's WAL
    // end (with nothing in flight, walbus confirms all the server sent; other databases of the
    // test server write WAL too).
    auto checkpoint = read_file(dir / "checkpoint");
    auto at = checkpoint.find("end_lsn=");
    REQUIRE(at != std::string::npos);
    auto end_lsn =
        walbus::Lsn::parse(checkpoint.substr(at + 8, checkpoint.find('\n', at) - at - 8));
    REQUIRE(end_lsn);
    REQUIRE(eventually(
        [&] {
            auto lsn = walbus::Lsn::parse(confirmed());
            return lsn && *lsn >= *end_lsn;
        },
        std::chrono::seconds(10)));
}

TEST_CASE("sink.flush_idle writes what waits once the stream is quiet", "[streaming]") {
    TestDb db("stream_flush_idle");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY)");
    TempDir dir;
    ConfigOptions o;
    o.tables = {"t"};
    o.flush_interval = "1h"; // only the quiet stream can trigger the write
    o.flush_idle = "20ms";
    auto config = write_config(dir, db, o);
    start_capture(dir, db, config);
    Walbus w({"run", "-c", config.string()}, dir / "w.out", dir / "w.err");
    REQUIRE(slot_becomes_active(db));
    for (int i = 0; i < 5; ++i) {
        db.conn().exec("INSERT INTO t VALUES (" + std::to_string(i) + ")");
    }
    // Written and checkpointed long before the hour is up.
    REQUIRE(eventually([&] { return parse_events(dir / "events.jsonl").size() == 5; },
                       std::chrono::seconds(10)));
    REQUIRE(eventually([&] { return fs::exists(dir / "checkpoint"); }, std::chrono::seconds(10)));
    w.signal(SIGTERM);
    REQUIRE(w.wait() == 0);
    CHECK(parse_events(dir / "events.jsonl").size() == 5);
}

TEST_CASE("quoted mixed-case names with dots", "[streaming]") {
    TestDb db("stream_quoted");
    db.conn().exec("CREATE SCHEMA \"Sales\"; CREATE TABLE \"Sales\".\"Q1.totals\" (id int PRIMARY "
                   "KEY, \"Amount\" numeric)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"'\"Sales\".\"Q1.totals\"'"}));
    start_capture(dir, db, config);
    db.conn().exec("INSERT INTO \"Sales\".\"Q1.totals\" VALUES (1, 2.50)");
    catch_up(dir, db, config);
    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 1);
    CHECK(events[0].schema == "Sales");
    CHECK(events[0].table == "Q1.totals");
    CHECK(events[0].after->at("Amount") == "\"2.50\"");
}

TEST_CASE("format.toast: marker writes a marker, error stops with the fix", "[streaming]") {
    TestDb db("stream_toast_policy");
    db.conn().exec("CREATE TABLE docs (id int PRIMARY KEY, title text, body text);"
                   "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"docs"}));
    std::ofstream(config, std::ios::app) << "format:\n  toast: marker\n";
    start_capture(dir, db, config);
    db.conn().exec("INSERT INTO docs VALUES (1, 'a', repeat('0123456789', 1000))");
    db.conn().exec("UPDATE docs SET title = 'b'");
    catch_up(dir, db, config);
    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 2);
    CHECK(events[1].after->at("body") == R"({"unchanged_toast":true})");
    CHECK(events[1].unchanged_toast == std::vector<std::string>{"body"});

    TempDir dir2;
    ConfigOptions o = with_tables({"docs"});
    o.slot = db.name() + "_error";
    auto strict = write_config(dir2, db, o);
    std::ofstream(strict, std::ios::app) << "format:\n  toast: error\n";
    catch_up(dir2, db, strict);
    db.conn().exec("UPDATE docs SET title = 'c'");
    auto r =
        run_walbus({"run", "-c", strict.string(), "--stop-at-lsn", db.current_wal_lsn()}, dir2);
    CHECK(r.code == 1);
    CHECK(r.err.find("column body of public.docs is an unchanged TOAST value") !=
          std::string::npos);
    CHECK(r.err.find("REPLICA IDENTITY FULL") != std::string::npos);
    CHECK(parse_events(dir2 / "events.jsonl").empty()); // nothing half-written
}

namespace {

// The value of one sample line of a Prometheus text exposition ("name{labels} value").
std::optional<double> sample(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(series + " ")) {
            return std::stod(line.substr(series.size() + 1));
        }
    }
    return std::nullopt;
}

} // namespace

TEST_CASE("metrics.port serves the pipeline's metrics, /healthz and /readyz", "[streaming]") {
    TestDb db("stream_metrics");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"t"}));
    const int port = free_port();
    {
        std::ofstream f(config, std::ios::app);
        f << "metrics:\n  port: " << port << "\n";
    }
    start_capture(dir, db, config);
    Walbus w({"run", "-c", config.string()}, dir / "w.out", dir / "w.err");
    REQUIRE(slot_becomes_active(db));
    db.conn().exec("INSERT INTO t SELECT generate_series(1, 30)");
    db.conn().exec("INSERT INTO t VALUES (31)");
    REQUIRE(eventually([&] { return parse_events(dir / "events.jsonl").size() == 31; },
                       std::chrono::seconds(20)));

    httplib::Client http("127.0.0.1", port);
    auto health = http.Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    auto ready = http.Get("/readyz");
    REQUIRE(ready);
    CHECK(ready->status == 200);
    // Counted once the file sink has flushed them (which the events file shows).
    std::string text;
    REQUIRE(eventually(
        [&] {
            auto res = http.Get("/metrics");
            if (!res || res->status != 200) {
                return false;
            }
            text = res->body;
            return sample(text, "walbus_events_published_total{rule=\"\",topic=\"\"}") ==
                   std::optional<double>(31);
        },
        std::chrono::seconds(10)));
    INFO(text);
    CHECK(sample(text, "walbus_changes_received_total") == std::optional<double>(31));
    CHECK(sample(text, "walbus_transactions_committed_total") == std::optional<double>(2));
    CHECK(sample(text, "walbus_bytes_received_total").value_or(0) > 0);
    CHECK(sample(text, "walbus_build_info{version=\"" WALBUS_VERSION_TEXT "\"}") ==
          std::optional<double>(1));
    w.signal(SIGTERM);
    REQUIRE(w.wait() == 0);
}
