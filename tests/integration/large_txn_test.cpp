// Transactions larger than memory: the server streams them while in progress (pgoutput protocol
// version 2) and walbus stages them until their commit, in bounded memory. The server is told to
// stream early (logical_decoding_work_mem 64kB), so that it really does; each test checks in
// pg_stat_replication_slots that it did.

#include <catch2/catch.hpp>
#include <signal.h>

#include <cstdint>
#include <fstream>
#include <regex>
#include <set>
#include <string_view>
#include <thread>

#include "events.h"
#include "harness.h"
#include "kafka_harness.h"

using namespace walbus::test;

namespace {

// Sets logical_decoding_work_mem for the whole server while alive (walsenders started later
// read it), and resets it after. The group runs alone (RUN_SERIAL): other tests keep the default.
class SmallDecodingMemory {
public:
    SmallDecodingMemory() : conn_(server_dsn("postgres")) {
        conn_.exec("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
        conn_.exec("SELECT pg_reload_conf()");
    }
    ~SmallDecodingMemory() {
        (void)conn_.try_exec("ALTER SYSTEM RESET logical_decoding_work_mem");
        (void)conn_.try_exec("SELECT pg_reload_conf()");
    }
    SmallDecodingMemory(const SmallDecodingMemory&) = delete;
    SmallDecodingMemory& operator=(const SmallDecodingMemory&) = delete;

private:
    Conn conn_;
};

// How many transactions the server streamed through `slot`. The walsender reports its decoding
// statistics as it goes; give it a moment.
std::int64_t streamed_txns(TestDb& db, const std::string& slot, std::int64_t at_least = 1) {
    const std::string sql = "SELECT coalesce(max(stream_txns), 0) FROM pg_stat_replication_slots "
                            "WHERE slot_name = '" +
                            slot + "'";
    std::int64_t n = 0;
    eventually(
        [&] {
            n = std::stoll(db.conn().value(sql));
            return n >= at_least;
        },
        std::chrono::seconds(10));
    return n;
}

// What the large tests need of each event line, read without building a map per event (there
// are millions): commit LSN, seq and the `id` column of `after`.
struct Slim {
    std::string commit_lsn;
    std::uint64_t seq = 0;
    std::int64_t id = -1;
};

std::uint64_t number_after(std::string_view line, std::string_view key) {
    const auto at = line.find(key);
    REQUIRE(at != std::string_view::npos);
    return std::stoull(std::string(line.substr(at + key.size(), 24)));
}

Slim slim(std::string_view line) {
    Slim s;
    constexpr std::string_view kCommit = "\"commit_lsn\":\"";
    const auto at = line.find(kCommit);
    REQUIRE(at != std::string_view::npos);
    const auto start = at + kCommit.size();
    s.commit_lsn = std::string(line.substr(start, line.find('"', start) - start));
    s.seq = number_after(line, "\"seq\":");
    s.id = static_cast<std::int64_t>(number_after(line, "\"after\":{\"id\":"));
    return s;
}

// Calls `each` with every line of the file, in order.
template <class F> std::size_t for_each_line(const fs::path& path, F&& each) {
    std::ifstream in(path);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        each(n, std::string_view(line));
        ++n;
    }
    return n;
}

// The peak resident set size of a running process, in kB (VmHWM), or 0 once it is gone.
std::int64_t peak_rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("VmHWM:")) {
            return std::stoll(line.substr(6));
        }
    }
    return 0;
}

// Runs walbus to the server's current WAL end (as catch_up does), sampling its peak RSS until it
// exits; returns the largest sample in kB.
std::int64_t catch_up_measured(const TempDir& dir, TestDb& db, const fs::path& config,
                               const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> args{"run", "--config", config.string(), "--stop-at-lsn",
                                  db.current_wal_lsn()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    Walbus w(args, dir / "measured.out", dir / "measured.err");
    std::int64_t peak = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (w.running() && std::chrono::steady_clock::now() < deadline) {
        peak = std::max(peak, peak_rss_kb(w.pid()));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto code = w.wait(std::chrono::seconds(1));
    INFO("walbus stderr:\n" << w.stderr_text().substr(0, 20000));
    REQUIRE(code == 0);
    return peak;
}

std::size_t spill_files(const fs::path& dir) {
    std::size_t n = 0;
    if (!fs::exists(dir)) {
        return 0;
    }
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        n += name.starts_with("walbus-stage-") ? 1 : 0;
    }
    return n;
}

} // namespace

TEST_CASE("large_txn: a 2,000,000-row transaction is published whole, in order, in bounded "
          "memory",
          "[large_txn]") {
    SmallDecodingMemory small;
    TestDb db("large_2m");
    db.conn().exec("CREATE TABLE big (id int)");
    TempDir dir;
    ConfigOptions o = with_tables({"big"});
    o.extra_source = "  streaming: on\n";
    const auto config = write_config(dir, db, o);
    catch_up(dir, db, config);

    constexpr std::int64_t kRows = 2'000'000;
    const auto started = std::chrono::steady_clock::now();
    db.conn().exec("INSERT INTO big SELECT g FROM generate_series(0, " + std::to_string(kRows - 1) +
                   ") g");
    const auto inserted = std::chrono::steady_clock::now();
    const std::int64_t peak_kb = catch_up_measured(dir, db, config);
    const auto published = std::chrono::steady_clock::now();
    using Seconds = std::chrono::duration<double>;
    WARN("2,000,000 rows: INSERT " << Seconds(inserted - started).count() << " s, walbus "
                                   << Seconds(published - inserted).count() << " s, peak RSS "
                                   << peak_kb / 1024 << " MiB");
    CHECK(streamed_txns(db, db.name()) > 0);

    std::string commit_lsn;
    std::size_t out_of_place = 0;
    const std::size_t lines =
        for_each_line(dir / "events.jsonl", [&](std::size_t i, std::string_view line) {
            const Slim e = slim(line);
            if (i == 0) {
                commit_lsn = e.commit_lsn;
            }
            if (e.seq != i || e.id != static_cast<std::int64_t>(i) || e.commit_lsn != commit_lsn) {
                ++out_of_place;
            }
        });
    CHECK(lines == static_cast<std::size_t>(kRows));
    CHECK(out_of_place == 0);
    CHECK(peak_kb > 0);
    CHECK(peak_kb < 150 * 1000); // 150 MB
    CHECK(spill_files(dir / "checkpoint.staging") == 0);
}

TEST_CASE("large_txn: a rolled-back streamed transaction publishes nothing and leaves no file",
          "[large_txn]") {
    SmallDecodingMemory small;
    TestDb db("large_abort");
    db.conn().exec("CREATE TABLE t (id int, v text)");
    TempDir dir;
    ConfigOptions o = with_tables({"t"});
    o.extra_source =
        "  streaming: on\n  staging_memory: 1MiB\n  staging_dir: " + (dir / "staging").string() +
        "\n";
    const auto config = write_config(dir, db, o);
    catch_up(dir, db, config);

    auto& c = db.conn();
    c.exec("INSERT INTO t VALUES (1, 'before')");
    c.exec("BEGIN; INSERT INTO t SELECT g, 'gone' FROM generate_series(100, 1000099) g; ROLLBACK");
    c.exec("INSERT INTO t VALUES (2, 'after')");
    auto r = run_walbus({"run", "-c", config.string(), "--stop-at-lsn",
                         c.value("SELECT "
                                 "pg_current_wal_"
                                 "lsn()"),
                         "--log-level", "debug"},
                        dir, {}, std::chrono::seconds(300));
    INFO("walbus stderr (start):\n" << r.err.substr(0, 5000));
    REQUIRE(r.code == 0);
    CHECK(streamed_txns(db, db.name()) > 0);

    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 2);
    CHECK(events[0].after->at("v") == "\"before\"");
    CHECK(events[1].after->at("v") == "\"after\"");
    // It was staged, partly on disk (1 MiB of memory), then dropped with its file.
    CHECK(std::regex_search(r.err, std::regex("and [1-9][0-9]* on disk")));
    CHECK(r.err.find("rolled back; its staged messages are dropped") != std::string::npos);
    CHECK(spill_files(dir / "staging") == 0);
}

TEST_CASE("large_txn: interleaved streamed transactions with savepoints, committed rows once, "
          "in commit order",
          "[large_txn]") {
    SmallDecodingMemory small;
    TestDb db("large_interleaved");
    db.conn().exec("CREATE TABLE t (id int, who text)");
    TempDir dir;
    ConfigOptions o = with_tables({"t"});
    o.extra_source = "  streaming: on\n  staging_memory: 1MiB\n";
    const auto config = write_config(dir, db, o);
    catch_up(dir, db, config);

    Conn a(db.dsn());
    Conn b(db.dsn());
    auto insert = [](Conn& conn, int first, int last, const std::string& who) {
        conn.exec("INSERT INTO t SELECT g, '" + who + "' FROM generate_series(" +
                  std::to_string(first) + ", " + std::to_string(last) + ") g");
    };
    // Each statement outgrows 64kB of decoding memory, so the server streams between them. B's
    // first change to t (which makes the server describe t to the stream) is in a subtransaction
    // that is rolled back: the description must survive.
    a.exec("BEGIN");
    b.exec("BEGIN");
    b.exec("SAVEPOINT s1");
    insert(b, 200'000, 219'999, "b-gone");
    insert(a, 0, 19'999, "a");
    b.exec("ROLLBACK TO SAVEPOINT s1");
    a.exec("SAVEPOINT s1");
    insert(a, 100'000, 119'999, "a-gone");
    insert(b, 220'000, 239'999, "b");
    a.exec("ROLLBACK TO SAVEPOINT s1");
    insert(a, 20'000, 39'999, "a");
    b.exec("SAVEPOINT s2");
    insert(b, 240'000, 259'999, "b");
    b.exec("RELEASE SAVEPOINT s2");
    a.exec("SAVEPOINT s2");
    insert(a, 40'000, 40'999, "a");
    a.exec("SAVEPOINT s3");
    insert(a, 120'000, 139'999, "a-gone");
    a.exec("ROLLBACK TO SAVEPOINT s3");
    b.exec("COMMIT"); // B commits first
    a.exec("COMMIT");
    catch_up(dir, db, config);
    CHECK(streamed_txns(db, db.name(), 2) >= 2);

    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 40'000 + 41'000);
    CHECK(strictly_ordered(events));
    std::set<int> ids;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const Event& e = events[i];
        const std::string& who = e.after->at("who");
        // B's rows, then A's: commit order.
        CHECK(who == (i < 40'000 ? "\"b\"" : "\"a\""));
        CHECK(e.seq == (i < 40'000 ? i : i - 40'000));
        ids.insert(std::stoi(e.after->at("id")));
    }
    CHECK(ids.size() == events.size());
    CHECK(*ids.begin() == 0);
    CHECK(ids.count(40'999) == 1);
    CHECK(ids.lower_bound(41'000) == ids.find(220'000));
    CHECK(*ids.rbegin() == 259'999);
}

namespace {

// A Kafka exactly_once configuration publishing t's change events to `topic`, committing a
// Kafka transaction every `flush_events` events.
fs::path write_kafka_large_config(const TempDir& dir, const TestDb& db, const std::string& topic,
                                  std::size_t flush_events) {
    std::string yaml = "name: " + db.name() + "\n";
    yaml += "source:\n  dsn: \"" + db.dsn() + "\"\n  slot: " + db.name() +
            "\n  publication: walbus\n  create_publication: true\n  tables: [t]\n"
            "  streaming: on\n  staging_memory: 4MiB\n  status_interval: 1s\n";
    yaml += "sink:\n  type: kafka\n  flush_interval: 20ms\n  flush_bytes: 256MiB\n"
            "  flush_events: " +
            std::to_string(flush_events) +
            "\n  kafka:\n    timeout: 10s\n    properties:\n      bootstrap.servers: \"" +
            kafka_bootstrap() + "\"\n";
    yaml += "mapping:\n  unmatched: raw\n  raw_topic: " + topic + "\n";
    const fs::path path = dir / "walbus.yaml";
    std::ofstream(path) << yaml;
    return path;
}

std::int64_t high_watermark(rd_kafka_t* rk, const std::string& topic) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), 0, &low, &high, 5000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        return -1;
    }
    return high;
}

} // namespace

TEST_CASE("large_txn: kafka, kill -9 while a streamed transaction is published in slices, "
          "every row exactly once",
          "[large_txn]") {
    SmallDecodingMemory small;
    TestDb db("large_kafka");
    db.conn().exec("CREATE TABLE t (id int)");
    const std::string topic = unique_topic("walbus-large");
    create_topic(topic, 1);
    TempDir dir;
    constexpr int kRows = 300'000;
    constexpr std::size_t kSlice = 20'000;
    const auto config = write_kafka_large_config(dir, db, topic, kSlice);
    catch_up(dir, db, config);

    {
        Walbus w({"run", "-c", config.string()}, dir / "first.out", dir / "first.err");
        REQUIRE(slot_becomes_active(db));
        db.conn().exec("INSERT INTO t SELECT g FROM generate_series(0, " +
                       std::to_string(kRows - 1) + ") g");
        // The first slices are committed (each commit finishes before the next event is
        // produced: more than one slice and its marker in the log means one is visible): kill.
        auto client = kafka_client(RD_KAFKA_PRODUCER);
        const bool sliced = eventually(
            [&] {
                return high_watermark(client.get(), topic) >
                       static_cast<std::int64_t>(2 * kSlice + 2);
            },
            std::chrono::seconds(120));
        INFO("walbus stderr:\n" << w.stderr_text());
        REQUIRE(sliced);
        REQUIRE(w.running());
        w.signal(SIGKILL);
        REQUIRE(w.wait() == 128 + SIGKILL);
        CHECK(high_watermark(client.get(), topic) < kRows); // killed in the middle
    }
    // A new instance resumes inside the transaction.
    auto lsn = db.current_wal_lsn();
    auto r = run_walbus({"run", "-c", config.string(), "--stop-at-lsn", lsn}, dir, {},
                        std::chrono::seconds(180));
    INFO("walbus stderr:\n" << r.err);
    REQUIRE(r.code == 0);
    CHECK(std::regex_search(r.err, std::regex("resuming from the progress record .* seq [1-9]")));
    CHECK(r.err.find("published before") != std::string::npos);
    CHECK(streamed_txns(db, db.name()) > 0);

    std::string text;
    for (const std::string& value : read_topic(topic, 1, "read_committed")) {
        text += value + "\n";
    }
    const auto events = parse_event_lines(text);
    REQUIRE(events.size() == static_cast<std::size_t>(kRows));
    CHECK(strictly_ordered(events));
    std::size_t out_of_place = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (events[i].seq != i || events[i].after->at("id") != std::to_string(i)) {
            ++out_of_place;
        }
    }
    CHECK(out_of_place == 0);
    // The killed instance's open Kafka transaction, if it had produced into one, was aborted:
    // its events stay in the log, invisible to read_committed. (A kill between a commit and the
    // next event leaves none, so only "no fewer" holds every time.)
    const std::size_t in_log = read_topic(topic, 1, "read_uncommitted").size();
    INFO("records in the log, aborted ones included: " << in_log);
    CHECK(in_log >= static_cast<std::size_t>(kRows));
}
