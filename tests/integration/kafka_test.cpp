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

// Runs walbus until everything committed so far is published. A long soak run leaves a large
// backlog (100 kills: about 6 million changes, which the test's 50ms flush interval publishes at
// about 27,000 a second): allow three seconds per kill.
void kafka_catch_up(const TempDir& dir, TestDb& db, const fs::path& config) {
    catch_up(dir, db, config, std::chrono::seconds(120 + 3 * kill_count()));
}

// A table t(id, v) whose changes walbus publishes to a topic of their own; walbus has run once,
// so its slot and progress record exist.
struct PublishedTable {
    TestDb db;
    std::string topic;
    TempDir dir;
    fs::path config;

    explicit PublishedTable(const std::string& name) : db(name), topic(unique_topic(name)) {
        db.conn().exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
        create_topic(topic, 1);
        config = write_kafka_config(dir, db, topic, {"t"});
        kafka_catch_up(dir, db, config);
    }

    // Inserts rows first..last of t, tagged `v`, through `conn` (by default the test's own).
    void insert(int first, int last, const std::string& v, Conn* conn = nullptr) {
        (conn != nullptr ? *conn : db.conn())
            .exec("INSERT INTO t SELECT g, '" + v + "' FROM generate_series(" +
                  std::to_string(first) + ", " + std::to_string(last) + ") g");
    }

    // Waits until `count` events are visible, stops `w` cleanly, and requires exactly `count`
    // in commit order: nothing lost, nothing twice.
    void stop_and_require_exactly(Walbus& w, std::size_t count) {
        INFO("walbus stderr:\n" << w.stderr_text());
        REQUIRE(eventually([&] { return committed_events(topic).size() >= count; },
                           std::chrono::seconds(120)));
        REQUIRE(w.running());
        w.signal(SIGTERM);
        REQUIRE(w.wait() == 0);
        const auto events = committed_events(topic);
        REQUIRE(events.size() == count);
        CHECK(strictly_ordered(events));
    }
};

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
    PublishedTable t("kafka_fence");
    Walbus first({"run", "-c", t.config.string()}, t.dir / "first.out", t.dir / "first.err");
    REQUIRE(slot_becomes_active(t.db));
    t.insert(1, 100, "a");
    REQUIRE(eventually([&] { return committed_events(t.topic).size() == 100; }));

    // Same pipeline name: the same transactional.id. The second one fences the first at once,
    // then waits for the slot the first one still holds.
    Walbus second({"run", "-c", t.config.string()}, t.dir / "second.out", t.dir / "second.err");
    REQUIRE(eventually([&] {
        return second.stderr_text().find("resuming from the progress record") != std::string::npos;
    }));
    // The first one learns that it is fenced at its next transaction.
    t.insert(101, 200, "b");
    const auto code = first.wait(std::chrono::seconds(60));
    INFO("first stderr:\n" << first.stderr_text());
    INFO("second stderr:\n" << second.stderr_text());
    REQUIRE(code == 1);
    CHECK(first.stderr_text().find("fenced") != std::string::npos);

    // The second one takes over and publishes the rest, once.
    t.insert(201, 300, "c");
    t.stop_and_require_exactly(second, 300);
}

TEST_CASE("kafka: a broker restart mid-stream loses and duplicates nothing", "[kafka]") {
    PublishedTable t("kafka_broker");
    Walbus w({"run", "-c", t.config.string()}, t.dir / "walbus.out", t.dir / "walbus.err");
    REQUIRE(slot_becomes_active(t.db));
    t.insert(1, 500, "before");
    REQUIRE(eventually([&] { return committed_events(t.topic).size() == 500; }));

    // The broker goes away while changes keep coming, and comes back on the same port.
    kafka_restart([&] {
        for (int i = 0; i < 5; ++i) {
            t.insert(501 + i * 100, 600 + i * 100, "during");
        }
    });
    t.insert(1001, 1500, "after");
    t.stop_and_require_exactly(w, 1500);
}

TEST_CASE("kafka: a PostgreSQL restart mid-stream loses and duplicates nothing", "[kafka]") {
    PublishedTable t("kafka_pgrestart");
    Walbus w({"run", "-c", t.config.string()}, t.dir / "walbus.out", t.dir / "walbus.err");
    REQUIRE(slot_becomes_active(t.db));
    t.insert(1, 500, "before");
    REQUIRE(eventually([&] { return committed_events(t.topic).size() == 500; }));

    // The fixture's server stops (fast shutdown: walbus's connection is cut) and starts again
    // on its port; these tests run alone.
    server_restart([] { std::this_thread::sleep_for(std::chrono::seconds(1)); });
    Conn again(t.db.dsn());
    t.insert(501, 1000, "after", &again);
    t.stop_and_require_exactly(w, 1000);
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
