// walbus status with the Kafka sink in exactly_once mode: the checkpoint is the pipeline's last
// committed progress record, read with read_committed, without fencing a running walbus.

#include <catch2/catch.hpp>
#include <signal.h>
#include <simdjson.h>

#include <fstream>
#include <regex>

#include "harness.h"
#include "kafka_harness.h"
#include "status_json.h"

using namespace walbus::test;

namespace {

fs::path write_status_kafka_config(const TempDir& dir, const TestDb& db, const std::string& topic,
                                   const std::string& progress_topic) {
    std::string yaml = "name: " + db.name() + "\n";
    yaml += "source:\n  dsn: \"" + db.dsn() + "\"\n  slot: " + db.name() +
            "\n  publication: walbus\n  create_publication: true\n  tables: [t]\n";
    yaml += "sink:\n  type: kafka\n  flush_interval: 20ms\n  kafka:\n    timeout: 10s\n"
            "    progress_topic: " +
            progress_topic + "\n    properties:\n      bootstrap.servers: \"" + kafka_bootstrap() +
            "\"\n";
    yaml += "mapping:\n  unmatched: raw\n  raw_topic: " + topic + "\n";
    const fs::path path = dir / "walbus.yaml";
    std::ofstream(path) << yaml;
    return path;
}

} // namespace

TEST_CASE("walbus status reads the progress record from Kafka without fencing walbus",
          "[status_kafka]") {
    TestDb db("status_kafka");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    const std::string topic = unique_topic("status_events");
    const std::string progress = unique_topic("status_progress");
    create_topic(topic, 1);
    TempDir dir;
    auto config = write_status_kafka_config(dir, db, topic, progress);
    simdjson::dom::parser parser;

    // Before any run: no progress topic, no checkpoint; still a report.
    auto before = run_walbus({"status", "--config", config.string(), "--json"}, dir);
    REQUIRE(before.code == 0);
    auto none = parse_json(parser, before.out);
    CHECK(str(none["checkpoint"]["type"]) == "kafka");
    CHECK(str(none["checkpoint"]["topic"]) == progress);
    CHECK_FALSE(none["checkpoint"]["topic_exists"].get_bool().value());
    CHECK_FALSE(none["checkpoint"]["exists"].get_bool().value());

    catch_up(dir, db, config); // slot, publication, progress topic
    db.conn().exec("INSERT INTO t SELECT g, 'v' FROM generate_series(1, 50) g");
    const std::string stop_at = db.current_wal_lsn();
    auto run = run_walbus({"run", "--config", config.string(), "--stop-at-lsn", stop_at}, dir);
    INFO("walbus run stderr:\n" << run.err);
    REQUIRE(run.code == 0);
    static const std::regex stopped(
        R"(stopped cleanly; checkpoint at commit_lsn (\S+) seq (\d+) end_lsn (\S+))");
    std::smatch m;
    REQUIRE(std::regex_search(run.err, m, stopped));
    const std::string commit_lsn = m[1];
    const std::string seq = m[2];
    const std::string end_lsn = m[3];

    auto text = run_walbus({"status", "--config", config.string()}, dir);
    INFO("walbus status printed:\n" << text.out << text.err);
    REQUIRE(text.code == 0);
    CHECK(text.out.find("Kafka progress topic " + progress + ", key " + db.name()) !=
          std::string::npos);
    CHECK(text.out.find("commit_lsn " + commit_lsn + " seq " + seq) != std::string::npos);
    CHECK(text.out.find("record timestamp ") != std::string::npos);

    auto json = run_walbus({"status", "--config", config.string(), "--json"}, dir);
    REQUIRE(json.code == 0);
    auto doc = parse_json(parser, json.out);
    auto cp = doc["checkpoint"];
    CHECK(cp["topic_exists"].get_bool().value());
    CHECK(cp["exists"].get_bool().value());
    CHECK(str(cp["key"]) == db.name());
    CHECK(str(cp["commit_lsn"]) == commit_lsn);
    CHECK(std::to_string(cp["seq"].get_uint64().value()) == seq);
    CHECK(str(cp["end_lsn"]) == end_lsn);
    CHECK(cp["offset"].get_int64().value() >= 0);
    CHECK(str(cp["timestamp"]).back() == 'Z');
    const double age = cp["age_seconds"].get_double().value();
    CHECK(age > -5.0); // the broker's clock is this machine's
    CHECK(age < 600.0);

    // A running walbus is not fenced by status: it goes on publishing.
    Walbus live({"run", "--config", config.string()}, dir / "live.out", dir / "live.err");
    REQUIRE(slot_becomes_active(db));
    auto during = run_walbus({"status", "--config", config.string(), "--json"}, dir);
    CHECK(during.code == 0);
    db.conn().exec("INSERT INTO t VALUES (51, 'after status')");
    REQUIRE(eventually(
        [&] {
            auto values = read_topic(topic, 1, "read_committed");
            return !values.empty() && values.back().find("after status") != std::string::npos;
        },
        std::chrono::seconds(30)));
    INFO("walbus stderr:\n" << live.stderr_text());
    REQUIRE(live.running());
    live.signal(SIGTERM);
    CHECK(live.wait() == 0);
}
