// walbus status against a real PostgreSQL: the slot, the WAL it holds back, the publication and
// the checkpoint, as text and as JSON.

#include <catch2/catch.hpp>
#include <signal.h>
#include <simdjson.h>

#include <fstream>
#include <regex>

#include "harness.h"
#include "status_json.h"

using namespace walbus::test;

namespace {

struct LoggedCheckpoint {
    std::string commit_lsn;
    std::string seq;
    std::string end_lsn;
};

// The checkpoint a clean `walbus run` logs when it stops.
LoggedCheckpoint logged_checkpoint(const std::string& err) {
    static const std::regex stopped(
        R"(stopped cleanly; checkpoint at commit_lsn (\S+) seq (\d+) end_lsn (\S+))");
    std::smatch m;
    INFO("walbus stderr:\n" << err);
    REQUIRE(std::regex_search(err, m, stopped));
    return {m[1], m[2], m[3]};
}

// The figure of the text line "retained WAL: 1.2 MiB (1234567 bytes) since confirmed_flush_lsn".
std::optional<long long> retained_in_text(const std::string& out) {
    static const std::regex retained(
        R"(retained WAL:\s+\S+ \S+ \((-?\d+) bytes\) since confirmed_flush_lsn)");
    std::smatch m;
    if (!std::regex_search(out, m, retained)) {
        return std::nullopt;
    }
    return std::stoll(m[1]);
}

// The value of the first text line "label:   value".
std::string field(const std::string& out, const std::string& label) {
    const std::regex line("(^|\n) *" + label + ": +([^\n]*)");
    std::smatch m;
    return std::regex_search(out, m, line) ? std::string(m[2]) : std::string("(no " + label + ")");
}

bool is_null(simdjson::dom::element e) {
    return e.is_null();
}

} // namespace

TEST_CASE("walbus status shows the slot, the retained WAL, the publication and the checkpoint",
          "[status]") {
    TestDb db("status_report");
    auto& c = db.conn();
    c.exec("CREATE TABLE items (id int PRIMARY KEY, name text)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"items"}));
    catch_up(dir, db, config); // creates the slot and the publication

    c.exec("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g");
    const std::string stop_at = db.current_wal_lsn();
    auto run = run_walbus({"run", "--config", config.string(), "--stop-at-lsn", stop_at}, dir);
    INFO("walbus run stderr:\n" << run.err);
    REQUIRE(run.code == 0);
    const LoggedCheckpoint logged = logged_checkpoint(run.err);
    CHECK(logged.commit_lsn != "0/0");

    auto text = run_walbus({"status", "--config", config.string()}, dir);
    INFO("walbus status printed:\n" << text.out << text.err);
    REQUIRE(text.code == 0);
    CHECK(text.out.find("slot:") != std::string::npos);
    CHECK(text.out.find(db.name()) != std::string::npos);
    CHECK(field(text.out, "slot") == db.name());
    CHECK(field(text.out, "exists") == "yes");
    CHECK(field(text.out, "plugin") == "pgoutput");
    CHECK(field(text.out, "wal_level") == "logical");
    CHECK(field(text.out, "position") == "commit_lsn " + logged.commit_lsn + " seq " + logged.seq);
    CHECK(field(text.out, "end_lsn") == logged.end_lsn);
    CHECK(text.out.find("public.items") != std::string::npos);
    CHECK(text.out.find("missing") == std::string::npos);
    CHECK(text.out.find("host=") == std::string::npos); // never the DSN

    // Rows written after the run: WAL the slot holds until walbus confirms it.
    c.exec("INSERT INTO items SELECT g, repeat('x', 200) FROM generate_series(101, 2100) g");
    auto after = run_walbus({"status", "--config", config.string()}, dir);
    INFO("walbus status printed:\n" << after.out);
    REQUIRE(after.code == 0);
    auto retained = retained_in_text(after.out);
    REQUIRE(retained.has_value());
    CHECK(*retained > 2000 * 200);

    auto json = run_walbus({"status", "--config", config.string(), "--json"}, dir);
    REQUIRE(json.code == 0);
    simdjson::dom::parser parser;
    auto doc = parse_json(parser, json.out);
    CHECK(str(doc["pipeline"]) == "test");
    CHECK(doc["server"]["reachable"].get_bool().value());
    CHECK(str(doc["server"]["wal_level"]) == "logical");
    CHECK(str(doc["server"]["database"]) == db.name());
    CHECK(doc["server"]["version_num"].get_int64().value() >= 100000);

    auto slot = doc["slot"];
    CHECK(str(slot["name"]) == db.name());
    CHECK(slot["exists"].get_bool().value());
    CHECK_FALSE(slot["active"].get_bool().value());
    CHECK(is_null(slot["active_pid"].value()));
    CHECK(str(slot["plugin"]) == "pgoutput");
    CHECK(str(slot["slot_type"]) == "logical");
    CHECK(str(slot["confirmed_flush_lsn"]).find('/') != std::string::npos);
    CHECK(str(slot["restart_lsn"]).find('/') != std::string::npos);
    CHECK(str(slot["wal_status"]) == "reserved");
    const std::int64_t retained_json = slot["retained_wal_bytes"].get_int64().value();
    CHECK(retained_json > 2000 * 200);
    CHECK(slot["restart_lsn_retained_wal_bytes"].get_int64().value() >= retained_json);

    auto pub = doc["publication"];
    CHECK(str(pub["name"]) == "walbus");
    CHECK(pub["exists"].get_bool().value());
    CHECK_FALSE(pub["all_tables"].get_bool().value());
    auto tables = pub["tables"].get_array().value();
    REQUIRE(tables.size() == 1);
    CHECK(str(tables.at(0).value()) == "public.items");
    CHECK(pub["missing_tables"].get_array().value().size() == 0);

    auto cp = doc["checkpoint"];
    CHECK(str(cp["type"]) == "file");
    CHECK(str(cp["path"]) == (dir / "checkpoint").string());
    CHECK(is_null(cp["error"].value()));
    CHECK(cp["exists"].get_bool().value());
    CHECK(str(cp["commit_lsn"]) == logged.commit_lsn);
    CHECK(std::to_string(cp["seq"].get_uint64().value()) == logged.seq);
    CHECK(str(cp["end_lsn"]) == logged.end_lsn);
    const double age = cp["age_seconds"].get_double().value();
    CHECK(age >= 0.0);
    CHECK(age < 600.0);
    CHECK(str(cp["modified"]).back() == 'Z');

    // While walbus streams, the slot is active, held by a walsender.
    Walbus live({"run", "--config", config.string()}, dir / "live.out", dir / "live.err");
    REQUIRE(slot_becomes_active(db));
    auto active = run_walbus({"status", "--config", config.string(), "--json"}, dir);
    REQUIRE(active.code == 0);
    auto live_doc = parse_json(parser, active.out);
    CHECK(live_doc["slot"]["active"].get_bool().value());
    CHECK(live_doc["slot"]["active_pid"].get_int64().value() > 0);
    live.signal(SIGTERM);
    REQUIRE(live.wait() == 0);
}

TEST_CASE("walbus status reports a slot and a publication that do not exist", "[status]") {
    TestDb db("status_unknown");
    db.conn().exec("CREATE TABLE items (id int PRIMARY KEY)");
    TempDir dir;
    ConfigOptions o = with_tables({"items"});
    o.slot = "walbus_status_no_such_slot";
    o.publication = "no_such_publication";
    o.create_slot = false;
    o.create_publication = false;
    auto config = write_config(dir, db, o);

    auto text = run_walbus({"status", "--config", config.string()}, dir);
    INFO("walbus status printed:\n" << text.out << text.err);
    CHECK(text.code == 0);
    CHECK(text.out.find("replication slot \"walbus_status_no_such_slot\" does not exist") !=
          std::string::npos);
    CHECK(text.out.find("pg_create_logical_replication_slot('walbus_status_no_such_slot', "
                        "'pgoutput')") != std::string::npos);
    CHECK(text.out.find("no_such_publication: does not exist") != std::string::npos);
    CHECK(field(text.out, "position").starts_with("none"));

    auto json = run_walbus({"status", "--config", config.string(), "--json"}, dir);
    CHECK(json.code == 0);
    simdjson::dom::parser parser;
    auto doc = parse_json(parser, json.out);
    CHECK(str(doc["slot"]["name"]) == "walbus_status_no_such_slot");
    CHECK_FALSE(doc["slot"]["exists"].get_bool().value());
    CHECK_FALSE(doc["publication"]["exists"].get_bool().value());
    CHECK_FALSE(doc["checkpoint"]["exists"].get_bool().value());
}

TEST_CASE("walbus status exits 1 without the database and 2 with a bad configuration", "[status]") {
    TestDb db("status_errors");
    TempDir dir;
    ConfigOptions o;
    o.dsn = server_dsn("walbus_status_no_such_db", "password=s3cr3t-status-pw");
    o.create_publication = false;
    auto config = write_config(dir, db, o);

    auto text = run_walbus({"status", "--config", config.string()}, dir);
    INFO("walbus status printed:\n" << text.out << text.err);
    CHECK(text.code == 1);
    CHECK(field(text.out, "server").starts_with("unreachable: cannot connect to PostgreSQL"));
    CHECK(text.out.find("checkpoint:") != std::string::npos);
    CHECK((text.out + text.err).find("s3cr3t-status-pw") == std::string::npos);

    auto json = run_walbus({"status", "--config", config.string(), "--json"}, dir);
    CHECK(json.code == 1);
    CHECK(json.out.find("s3cr3t-status-pw") == std::string::npos);
    simdjson::dom::parser parser;
    auto doc = parse_json(parser, json.out);
    CHECK_FALSE(doc["server"]["reachable"].get_bool().value());
    CHECK(str(doc["server"]["error"]).find("walbus_status_no_such_db") != std::string::npos);
    CHECK(is_null(doc["slot"].value()));

    std::ofstream(dir / "bad.yaml") << "source:\n  slot: Not-A-Slot\n";
    auto bad = run_walbus({"status", "--config", (dir / "bad.yaml").string()}, dir);
    CHECK(bad.code == 2);
    CHECK(bad.err.find("error:") != std::string::npos);
}
