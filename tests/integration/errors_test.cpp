// Clear errors and exit codes for what users get wrong, and recovery from what goes away.

#include <catch2/catch.hpp>
#include <httplib.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "events.h"
#include "harness.h"

using namespace walbus::test;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A second throwaway server of the test's own (for settings the shared one must not have, and
// for stopping it).
class OwnServer {
public:
    explicit OwnServer(const std::string& extra_opts = "") {
        // The server runs as an unprivileged user, which must reach its directory.
        fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_read |
                                         fs::perms::group_exec | fs::perms::others_read |
                                         fs::perms::others_exec);
        std::string cmd = "WALBUS_PG_EXTRA_OPTS='" + extra_opts + "' " + script() + " start " +
                          (dir_ / "pg").string() + " >/dev/null";
        REQUIRE(std::system(cmd.c_str()) == 0);
        port_ = std::stoi(read_file(dir_ / "pg" / "port"));
    }
    ~OwnServer() { (void)std::system((script() + " stop " + (dir_ / "pg").string()).c_str()); }
    std::string dsn(const std::string& db = "postgres") const {
        return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + db;
    }
    void halt() {
        REQUIRE(std::system((script() + " halt " + (dir_ / "pg").string()).c_str()) == 0);
    }
    void resume() {
        REQUIRE(std::system((script() + " resume " + (dir_ / "pg").string()).c_str()) == 0);
    }

private:
    static std::string script() { return std::string(WALBUS_SCRIPTS_DIR) + "/pg-tmp.sh"; }
    TempDir dir_;
    int port_ = 0;
};

} // namespace

TEST_CASE("wal_level other than logical is explained", "[errors]") {
    OwnServer server("-c wal_level=replica");
    TestDb db("err_wal"); // only for its name; the config points at the other server
    TempDir dir;
    ConfigOptions o;
    o.dsn = server.dsn();
    o.tables = {"t"};
    auto r = run_walbus({"run", "-c", write_config(dir, db, o).string()}, dir);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "wal_level is 'replica' but logical replication needs 'logical'"));
    CHECK(contains(r.err, "ALTER SYSTEM SET wal_level = logical"));
}

TEST_CASE("missing slot, publication or table, not to be created", "[errors]") {
    TestDb db("err_missing");
    db.conn().exec(
        "CREATE TABLE present (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY)");
    TempDir dir;

    ConfigOptions o;
    o.tables = {"present"};
    o.create_publication = false;
    auto r = run_walbus({"run", "-c", write_config(dir, db, o).string()}, dir);
    CHECK(r.code == 1);
    CHECK(contains(r.err,
                   "publication \"walbus\" does not exist; create it with CREATE PUBLICATION "
                   "\"walbus\" FOR TABLE ... or set source.create_publication: true"));

    db.conn().exec("CREATE PUBLICATION walbus FOR TABLE other");
    r = run_walbus({"run", "-c", write_config(dir, db, o).string()}, dir);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "table public.present is not in publication \"walbus\"; run ALTER "
                          "PUBLICATION \"walbus\" ADD TABLE \"public\".\"present\""));

    db.conn().exec("ALTER PUBLICATION walbus ADD TABLE present");
    o.create_slot = false;
    r = run_walbus({"run", "-c", write_config(dir, db, o).string()}, dir);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "replication slot \"" + db.name() + "\" does not exist; create it with"));
    CHECK(contains(r.err, "or set source.create_slot: true"));

    o.tables = {"present", "nope.missing"};
    r = run_walbus({"run", "-c", write_config(dir, db, o).string()}, dir);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "table nope.missing does not exist in database " + db.name()));
    // Nothing was created on the way.
    CHECK(db.conn().value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" +
                          db.name() + "'") == "0");
}

TEST_CASE("a bad DSN or password: clear message, never the password", "[errors]") {
    TestDb db("err_auth");
    db.conn().try_exec("CREATE ROLE walbus_pw LOGIN REPLICATION PASSWORD 'right-one'");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY)");
    db.conn().exec("CREATE PUBLICATION walbus FOR TABLE t");
    TempDir dir;
    ConfigOptions o;
    o.tables = {"t"};
    o.create_publication = false;

    // Not a connection string at all: a configuration error.
    o.dsn = "host=127.0.0.1 password=Sup3rSecretPw port";
    auto r = run_walbus({"run", "-c", write_config(dir, db, o).string()}, dir);
    CHECK(r.code == 2);
    CHECK(contains(r.err, "source.dsn is not a valid libpq connection string"));
    CHECK_FALSE(contains(r.err, "Sup3rSecretPw"));

    // A wrong password: a runtime failure that says so.
    o.dsn = "host=127.0.0.1 port=" + std::to_string(server_port()) +
            " user=walbus_pw dbname=" + db.name() + " password=Wr0ngSecretPw";
    r = run_walbus({"run", "-c", write_config(dir, db, o).string()}, dir);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "password authentication failed for user \"walbus_pw\""));
    CHECK(contains(r.err, "check the user and password in source.dsn"));
    CHECK_FALSE(contains(r.err, "Wr0ngSecretPw"));

    // The password from the environment, right this time.
    o.dsn = "host=127.0.0.1 port=" + std::to_string(server_port()) +
            " user=walbus_pw dbname=" + db.name() + " password=${PW}";
    r = run_walbus(
        {"run", "-c", write_config(dir, db, o).string(), "--stop-at-lsn", db.current_wal_lsn()},
        dir, {{"PW", "right-one"}});
    INFO(r.err);
    CHECK(r.code == 0);

    // A database that does not exist.
    o.dsn = server_dsn("no_such_database");
    r = run_walbus({"run", "-c", write_config(dir, db, o).string()}, dir);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "database \"no_such_database\" does not exist"));
}

TEST_CASE("invalid configuration exits 2 with file:line:col", "[errors]") {
    TempDir dir;
    auto path = dir / "bad.yaml";
    std::ofstream(path) << "source:\n  dsn: x\n  slott: y\ncheckpoint:\n  path: /tmp/x\n";
    auto r = run_walbus({"run", "-c", path.string()}, dir);
    CHECK(r.code == 2);
    CHECK(contains(r.err, path.string() + ":3:3: error: unknown key 'slott'"));
    r = run_walbus({"check", "-c", path.string()}, dir);
    CHECK(r.code == 2);
    r = run_walbus({"run"}, dir);
    CHECK(r.code == 2); // usage
    r = run_walbus({"--help"}, dir);
    CHECK(r.code == 0);
    CHECK(contains(r.out, "run"));
    CHECK(contains(r.out, "check"));
}

TEST_CASE("a slot in use is reported and waited for: a standby takes over when the active "
          "instance dies",
          "[errors]") {
    TestDb db("err_inuse");
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY)");
    TempDir dir;
    ConfigOptions o;
    o.tables = {"t"};
    auto config = write_config(dir, db, o);
    catch_up(dir, db, config);
    Walbus first({"run", "-c", config.string()}, dir / "first.out", dir / "first.err");
    REQUIRE(slot_becomes_active(db));

    // The standby: reconnect_timeout is far shorter than the wait, which must not end it.
    TempDir dir2;
    o.extra_source = "  reconnect_timeout: 1s\n  reconnect_backoff_max: 300ms\n";
    const auto standby_config = write_config(dir2, db, o);
    const int port = free_port();
    {
        std::ofstream f(standby_config, std::ios::app);
        f << "metrics:\n  port: " << port << "\n";
    }
    Walbus standby({"run", "-c", standby_config.string()}, dir2 / "w.out", dir2 / "w.err");
    REQUIRE(
        eventually([&] { return contains(standby.stderr_text(), "is in use by another process"); },
                   std::chrono::seconds(10)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    INFO("standby stderr:\n" << standby.stderr_text());
    CHECK(contains(standby.stderr_text(),
                   "replication slot \"" + db.name() + "\" is in use by another process"));
    CHECK(contains(standby.stderr_text(), "retrying in"));
    REQUIRE(standby.running()); // still waiting, past reconnect_timeout
    REQUIRE(first.running());
    // Alive, not ready, and saying why.
    httplib::Client http("127.0.0.1", port);
    auto health = http.Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    auto waiting = http.Get("/readyz");
    REQUIRE(waiting);
    CHECK(waiting->status == 503);
    CHECK(contains(waiting->body, "is in use by another process"));

    // The active instance dies; the standby gets the slot and publishes what follows.
    first.signal(SIGKILL);
    CHECK(first.wait() == 128 + SIGKILL);
    REQUIRE(eventually([&] { return contains(standby.stderr_text(), "streaming slot"); },
                       std::chrono::seconds(15)));
    auto ready = http.Get("/readyz");
    REQUIRE(ready);
    CHECK(ready->status == 200);
    db.conn().exec("INSERT INTO t VALUES (7)");
    REQUIRE(eventually(
        [&] {
            for (const auto& ev : parse_events(dir2 / "events.jsonl")) {
                if (ev.after && ev.after->at("id") == "7") {
                    return true;
                }
            }
            return false;
        },
        std::chrono::seconds(15)));
    standby.signal(SIGTERM);
    CHECK(standby.wait() == 0);
}

TEST_CASE("the server going away: reconnect, then give up after reconnect_timeout", "[errors]") {
    OwnServer server;
    Conn admin(server.dsn());
    admin.exec("CREATE DATABASE app");
    auto conn = std::make_unique<Conn>(server.dsn("app"));
    conn->exec("CREATE TABLE t (id int PRIMARY KEY)");
    TestDb db("err_restart"); // only for its name
    TempDir dir;
    ConfigOptions o;
    o.dsn = server.dsn("app");
    o.tables = {"t"};
    o.extra_source = "  reconnect_timeout: 8s\n  reconnect_backoff_max: 500ms\n";
    auto config = write_config(dir, db, o);
    {
        auto lsn = conn->value("SELECT pg_current_wal_lsn()");
        auto r = run_walbus({"run", "-c", config.string(), "--stop-at-lsn", lsn}, dir);
        REQUIRE(r.code == 0);
    }
    Walbus w({"run", "-c", config.string()}, dir / "w.out", dir / "w.err");
    for (int i = 0; i < 50; ++i) {
        conn->exec("INSERT INTO t VALUES (" + std::to_string(i) + ")");
    }
    REQUIRE(eventually([&] { return parse_events(dir / "events.jsonl").size() == 50; }));
    conn.reset();
    server.halt();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    server.resume();
    conn = std::make_unique<Conn>(server.dsn("app"));
    for (int i = 50; i < 100; ++i) {
        conn->exec("INSERT INTO t VALUES (" + std::to_string(i) + ")");
    }
    REQUIRE(eventually([&] { return parse_events(dir / "events.jsonl").size() >= 100; }));
    CHECK(w.running());
    auto events = parse_events(dir / "events.jsonl");
    CHECK(events.size() == 100);
    CHECK(strictly_ordered(events));
    CHECK(contains(w.stderr_text(), "retrying in"));

    // Gone for longer than reconnect_timeout: walbus gives up with exit code 1.
    conn.reset();
    server.halt();
    auto code = w.wait(std::chrono::seconds(30));
    CHECK(code == 1);
    CHECK(contains(w.stderr_text(), "gave up after retrying for 8s"));
    server.resume();
}

TEST_CASE("a connection cut inside a large transaction: its partial output is taken back",
          "[errors]") {
    TestDb db("err_cut");
    db.conn().exec("CREATE TABLE big (id int PRIMARY KEY, pad text)");
    TempDir dir;
    ConfigOptions o;
    o.tables = {"big"};
    o.flush_bytes = "256KiB";
    o.extra_source = "  reconnect_backoff_max: 200ms\n";
    auto config = write_config(dir, db, o);
    catch_up(dir, db, config);
    const int rows = 200000;
    db.conn().exec("INSERT INTO big SELECT g, repeat('x', 40) FROM generate_series(1, " +
                   std::to_string(rows) + ") g");
    db.conn().exec("INSERT INTO big VALUES (0, 'last')");

    Walbus w({"run", "-c", config.string()}, dir / "w.out", dir / "w.err");
    // Cut the walsender's connection while the transaction is on its way, several times.
    int cuts = 0;
    for (int attempt = 0; attempt < 200 && cuts < 3; ++attempt) {
        auto size = fs::exists(dir / "events.jsonl") ? fs::file_size(dir / "events.jsonl") : 0;
        if (size > 0 && db.conn().value("SELECT count(*) FROM pg_stat_replication WHERE "
                                        "application_name = 'test'") == "1") {
            db.conn().exec("SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE "
                           "application_name = 'test'");
            ++cuts;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    CHECK(cuts > 0);
    REQUIRE(eventually([&] { return read_lines(dir / "events.jsonl").size() >= rows + 1; },
                       std::chrono::seconds(120)));
    w.signal(SIGTERM);
    REQUIRE(w.wait() == 0);
    auto events = parse_events(dir / "events.jsonl");
    CHECK(events.size() == rows + 1);
    CHECK(strictly_ordered(events));
    CHECK(contains(w.stderr_text(), "retrying in"));
}
