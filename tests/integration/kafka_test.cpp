// walbus publishing to the real Kafka broker (the `kafka` ctest fixture) from the real server:
// exactly once across kill -9, fencing of an older instance, and a restart of the broker.

#include <catch2/catch.hpp>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "events.h"
#include "harness.h"
#include "kafka_harness.h"
#include "workload.h"

using namespace walbus::test;

namespace {

// A configuration for `db` that publishes every change of `tables`, as a change event, to
// `topic` (one partition, so the topic's order is the commit order) in exactly_once mode.
// `kafka_extra`: more lines under sink.kafka (indented by 4); `top_extra`: more top-level YAML.
fs::path write_kafka_config(const TempDir& dir, const TestDb& db, const std::string& topic,
                            const std::vector<std::string>& tables,
                            const std::string& kafka_extra = "",
                            const std::string& top_extra = "") {
    std::string yaml = "name: " + db.name() + "\n";
    yaml += "source:\n  dsn: \"" + db.dsn() + "\"\n  slot: " + db.name() +
            "\n  publication: walbus\n  create_publication: true\n  tables: [";
    for (std::size_t i = 0; i < tables.size(); ++i) {
        yaml += (i ? ", " : "") + tables[i];
    }
    yaml += "]\n";
    yaml += std::string("sink:\n  type: kafka\n  flush_interval: 20ms\n  flush_bytes: 64KiB\n") +
            "  kafka:\n    timeout: 10s\n" + kafka_extra +
            "    properties:\n      bootstrap.servers: \"" + kafka_bootstrap() + "\"\n";
    yaml += "mapping:\n  unmatched: raw\n  raw_topic: " + topic + "\n" + top_extra;
    const fs::path path = dir / "walbus.yaml";
    std::ofstream(path) << yaml;
    return path;
}

// The change events on `topic` that read_committed consumers see.
std::vector<Event> committed_events(const std::string& topic) {
    std::string text;
    for (const std::string& value : read_topic(topic, 1, "read_committed")) {
        text += value + "\n";
    }
    return parse_event_lines(text);
}

// Runs walbus until everything committed so far is published (a long soak run leaves a large
// backlog: allow a second per kill).
void kafka_catch_up(const TempDir& dir, TestDb& db, const fs::path& config) {
    catch_up(dir, db, config, std::chrono::seconds(120 + kill_count()));
}

} // namespace

TEST_CASE("kafka: kill -9 at random moments under load, every committed change exactly once",
          "[kafka]") {
    TestDb db("kafka_crash");
    db.conn().exec(kWorkloadSchema);
    const std::string topic = unique_topic("walbus-crash");
    create_topic(topic, 1);
    TempDir dir;
    const auto config = write_kafka_config(dir, db, topic, {"load", "counters"});
    kafka_catch_up(dir, db, config);

    std::mt19937 rng(std::random_device{}());
    const int kills = kill_count();
    {
        Workload load(db.dsn());
        for (int i = 0; i < kills; ++i) {
            Walbus w({"run", "-c", config.string()}, dir / "walbus.out", dir / "walbus.err");
            std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1500));
            INFO("walbus stderr:\n" << w.stderr_text());
            if (!w.running()) {
                FAIL("walbus exited by itself with status " << w.wait().value_or(-1));
            }
            w.signal(SIGKILL);
            REQUIRE(w.wait() == 128 + SIGKILL);
        }
        load.stop();
        INFO("committed " << load.committed << ", rolled back " << load.rolled_back);
        REQUIRE(load.committed > kills);
        REQUIRE(load.rolled_back > 0);

        kafka_catch_up(dir, db, config);
        const std::vector<Event> events = committed_events(topic);
        require_exactly_once(events, load);

        // Killed mid-transaction, walbus left Kafka transactions open; the next instance aborted
        // them. Their events are in the log, invisible to read_committed: the proof that the
        // kills landed while events were in flight.
        const auto uncommitted = read_topic(topic, 1, "read_uncommitted");
        INFO("events in the log " << uncommitted.size() << ", committed " << events.size());
        CHECK(uncommitted.size() > events.size());
    }
}

TEST_CASE("kafka: a second instance fences the first, which stops; nothing is published twice",
          "[kafka]") {
    TestDb db("kafka_fence");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    const std::string topic = unique_topic("walbus-fence");
    create_topic(topic, 1);
    TempDir dir;
    const auto config = write_kafka_config(dir, db, topic, {"t"});
    kafka_catch_up(dir, db, config);

    Walbus first({"run", "-c", config.string()}, dir / "first.out", dir / "first.err");
    REQUIRE(slot_becomes_active(db));
    db.conn().exec("INSERT INTO t SELECT g, 'a' FROM generate_series(1, 100) g");
    REQUIRE(eventually([&] { return committed_events(topic).size() == 100; }));

    // Same pipeline name: the same transactional.id. The second one fences the first at once,
    // then waits for the slot the first one still holds.
    Walbus second({"run", "-c", config.string()}, dir / "second.out", dir / "second.err");
    REQUIRE(eventually([&] {
        return second.stderr_text().find("resuming from the progress record") != std::string::npos;
    }));
    // The first one learns that it is fenced at its next transaction.
    db.conn().exec("INSERT INTO t SELECT g, 'b' FROM generate_series(101, 200) g");
    const auto code = first.wait(std::chrono::seconds(60));
    INFO("first stderr:\n" << first.stderr_text());
    INFO("second stderr:\n" << second.stderr_text());
    REQUIRE(code == 1);
    CHECK(first.stderr_text().find("fenced") != std::string::npos);

    // The second one takes over and publishes the rest, once.
    db.conn().exec("INSERT INTO t SELECT g, 'c' FROM generate_series(201, 300) g");
    INFO("second stderr:\n" << second.stderr_text());
    REQUIRE(eventually([&] { return committed_events(topic).size() >= 300; }));
    second.signal(SIGTERM);
    REQUIRE(second.wait() == 0);
    const auto events = committed_events(topic);
    REQUIRE(events.size() == 300);
    CHECK(strictly_ordered(events));
}

TEST_CASE("kafka: a broker restart mid-stream loses and duplicates nothing", "[kafka]") {
    TestDb db("kafka_broker");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    const std::string topic = unique_topic("walbus-broker");
    create_topic(topic, 1);
    TempDir dir;
    const auto config = write_kafka_config(dir, db, topic, {"t"});
    kafka_catch_up(dir, db, config);

    Walbus w({"run", "-c", config.string()}, dir / "walbus.out", dir / "walbus.err");
    REQUIRE(slot_becomes_active(db));
    db.conn().exec("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 500) g");
    REQUIRE(eventually([&] { return committed_events(topic).size() == 500; }));

    // The broker goes away while changes keep coming, and comes back on the same port.
    kafka_restart([&] {
        for (int i = 0; i < 5; ++i) {
            db.conn().exec("INSERT INTO t SELECT g, 'during' FROM generate_series(" +
                           std::to_string(501 + i * 100) + ", " + std::to_string(600 + i * 100) +
                           ") g");
        }
    });
    db.conn().exec("INSERT INTO t SELECT g, 'after' FROM generate_series(1001, 1500) g");
    INFO("walbus stderr:\n" << w.stderr_text());
    REQUIRE(eventually([&] { return committed_events(topic).size() >= 1500; },
                       std::chrono::seconds(120)));
    REQUIRE(w.running());
    w.signal(SIGTERM);
    REQUIRE(w.wait() == 0);
    const auto events = committed_events(topic);
    CHECK(events.size() == 1500);
    CHECK(strictly_ordered(events));
}

TEST_CASE("kafka: a PostgreSQL restart mid-stream loses and duplicates nothing", "[kafka]") {
    TestDb db("kafka_pgrestart");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    const std::string topic = unique_topic("walbus-pgrestart");
    create_topic(topic, 1);
    TempDir dir;
    const auto config = write_kafka_config(dir, db, topic, {"t"});
    kafka_catch_up(dir, db, config);

    Walbus w({"run", "-c", config.string()}, dir / "walbus.out", dir / "walbus.err");
    REQUIRE(slot_becomes_active(db));
    db.conn().exec("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 500) g");
    REQUIRE(eventually([&] { return committed_events(topic).size() == 500; }));

    // The fixture's server stops (fast shutdown: walbus's connection is cut) and starts again
    // on its port; these tests run alone.
    const char* pg_dir = std::getenv("WALBUS_TEST_PG_DIR");
    REQUIRE(pg_dir != nullptr);
    const std::string script = std::string(WALBUS_SCRIPTS_DIR) + "/pg-tmp.sh";
    REQUIRE(std::system((script + " halt " + pg_dir).c_str()) == 0);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    REQUIRE(std::system((script + " resume " + pg_dir).c_str()) == 0);

    Conn again(db.dsn());
    again.exec("INSERT INTO t SELECT g, 'after' FROM generate_series(501, 1000) g");
    INFO("walbus stderr:\n" << w.stderr_text());
    REQUIRE(eventually([&] { return committed_events(topic).size() >= 1000; },
                       std::chrono::seconds(120)));
    REQUIRE(w.running());
    w.signal(SIGTERM);
    REQUIRE(w.wait() == 0);
    const auto events = committed_events(topic);
    CHECK(events.size() == 1000);
    CHECK(strictly_ordered(events));
    CHECK(w.stderr_text().find("retrying") != std::string::npos); // it did lose the server
}

TEST_CASE("kafka at_least_once: kill -9 under load, every committed change at least once",
          "[kafka]") {
    TestDb db("kafka_alo");
    db.conn().exec(kWorkloadSchema);
    const std::string topic = unique_topic("walbus-alo");
    create_topic(topic, 1);
    TempDir dir;
    // at_least_once keeps its position in a file.
    const auto config =
        write_kafka_config(dir, db, topic, {"load", "counters"}, "    mode: at_least_once\n",
                           "checkpoint:\n  path: " + (dir / "checkpoint").string() + "\n");
    kafka_catch_up(dir, db, config);

    std::mt19937 rng(std::random_device{}());
    {
        Workload load(db.dsn());
        for (int i = 0; i < 4; ++i) {
            Walbus w({"run", "-c", config.string()}, dir / "walbus.out", dir / "walbus.err");
            std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1500));
            INFO("walbus stderr:\n" << w.stderr_text());
            REQUIRE(w.running());
            w.signal(SIGKILL);
            REQUIRE(w.wait() == 128 + SIGKILL);
        }
        load.stop();
        kafka_catch_up(dir, db, config);

        // Every committed row is there; a repeat is the same change (same position), and no
        // rolled-back row appears.
        std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> by_position;
        std::set<std::pair<int, int>> seen;
        for (const Event& e : committed_events(topic)) {
            const auto [it, inserted] = by_position.emplace(position_of(e), e.raw);
            if (!inserted) {
                CHECK(it->second == e.raw);
            }
            if (e.table == "load") {
                seen.insert({std::stoi(e.after->at("batch")), std::stoi(e.after->at("n"))});
            }
        }
        CHECK(seen == load.committed_rows);
    }
}
