// source::Heartbeat against a real PostgreSQL: its messages as a test_decoding slot sees them,
// stop(), and reconnecting after its connection is cut or cannot be made.

#include <catch2/catch.hpp>

#include <atomic>
#include <optional>
#include <regex>
#include <thread>

#include "harness.h"
#include "walbus/source/heartbeat.h"

using namespace walbus::test;
using namespace std::chrono_literals;
using walbus::source::Heartbeat;

namespace {

// How test_decoding prints a non-transactional message with the heartbeat's prefix.
constexpr const char* kHeartbeatFilter =
    "data LIKE 'message: transactional: 0 prefix: walbus.heartbeat, sz: %'";

struct Counters {
    std::atomic<int> failures{0};
    std::atomic<int> recoveries{0};
    std::string first_error; // written before failures is raised
};

Heartbeat::Callbacks callbacks(Counters& counters) {
    return Heartbeat::Callbacks{
        .on_failure =
            [&counters](const walbus::Error& e) {
                if (counters.failures.load() == 0) {
                    counters.first_error = e.message;
                }
                counters.failures.fetch_add(1);
            },
        .on_recovery = [&counters] { counters.recoveries.fetch_add(1); },
    };
}

// A test_decoding slot in the test's database: it sees every message written after it.
class MessageSlot {
public:
    explicit MessageSlot(TestDb& db) : db_(db), name_(db.name() + "_td") {
        db_.conn().exec("SELECT pg_create_logical_replication_slot('" + name_ +
                        "', 'test_decoding')");
    }
    ~MessageSlot() { db_.conn().try_exec("SELECT pg_drop_replication_slot('" + name_ + "')"); }

    int heartbeats() {
        return std::stoi(db_.conn().value("SELECT count(*) FROM pg_logical_slot_peek_changes('" +
                                          name_ + "', NULL, NULL) WHERE " + kHeartbeatFilter));
    }
    std::vector<std::string> contents() {
        std::vector<std::string> out;
        for (const auto& row :
             db_.conn().rows("SELECT data FROM pg_logical_slot_peek_changes('" + name_ +
                             "', NULL, NULL) WHERE " + kHeartbeatFilter)) {
            out.push_back(row[0].value_or(""));
        }
        return out;
    }

private:
    TestDb& db_;
    std::string name_;
};

walbus::source::SourceSettings settings_for(const std::string& dsn) {
    walbus::source::SourceSettings s;
    s.dsn = dsn;
    s.application_name = "walbus_hb_test";
    return s;
}

int heartbeat_backends(TestDb& db) {
    return std::stoi(db.conn().value("SELECT count(*) FROM pg_stat_activity WHERE "
                                     "application_name = 'walbus_hb_test heartbeat'"));
}

} // namespace

TEST_CASE("the heartbeat writes walbus.heartbeat messages every interval until stopped",
          "[heartbeat]") {
    TestDb db("heartbeat_emit");
    MessageSlot slot(db);
    Counters counters;
    Heartbeat hb(settings_for(db.dsn()), 200ms, callbacks(counters));
    CHECK_FALSE(hb.running());

    const auto started = std::chrono::steady_clock::now();
    hb.start();
    CHECK(hb.running());
    REQUIRE(eventually([&] { return slot.heartbeats() >= 5; }, 3s));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    INFO("5 heartbeats after " << seconds << " s");
    CHECK(seconds < 3.0);
    CHECK(hb.sent() >= 5);
    CHECK(hb.failures() == 0);
    CHECK(counters.failures.load() == 0);
    CHECK(heartbeat_backends(db) == 1);

    // The content is the UTC time in ISO 8601.
    static const std::regex content(R"(content:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$)");
    for (const std::string& line : slot.contents()) {
        INFO(line);
        CHECK(std::regex_search(line, content));
    }

    hb.stop();
    const double ran =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    CHECK_FALSE(hb.running());
    // Every message sent is decoded (once the WAL writer has flushed the last one: a message
    // outside a transaction does not flush WAL by itself), and none comes after stop().
    const auto sent_at_stop = hb.sent();
    CHECK(eventually([&] { return slot.heartbeats() == static_cast<int>(sent_at_stop); }, 3s));
    const int at_stop = slot.heartbeats();
    std::this_thread::sleep_for(800ms);
    CHECK(slot.heartbeats() == at_stop);
    CHECK(hb.sent() == sent_at_stop);
    CHECK(eventually([&] { return heartbeat_backends(db) == 0; }, 5s));

    // Not too many either: one at start, then one every 200 ms.
    INFO("ran " << ran << " s");
    CHECK(at_stop <= static_cast<int>(ran / 0.2) + 2);
}

TEST_CASE("the heartbeat reconnects after its connection is cut, reporting it once",
          "[heartbeat]") {
    TestDb db("heartbeat_reconnect");
    MessageSlot slot(db);
    Counters counters;
    Heartbeat hb(settings_for(db.dsn()), 200ms, callbacks(counters));
    hb.start();
    REQUIRE(eventually([&] { return hb.sent() >= 2; }, 3s));

    db.conn().exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                   "application_name = 'walbus_hb_test heartbeat'");
    REQUIRE(eventually([&] { return counters.failures.load() >= 1; }, 3s));
    const auto sent_after_cut = hb.sent();
    REQUIRE(eventually([&] { return hb.sent() >= sent_after_cut + 3; }, 5s));
    INFO("first error: " << counters.first_error);
    CHECK(counters.failures.load() == 1); // once per streak
    CHECK(counters.recoveries.load() == 1);
    CHECK(hb.failures() >= 1);
    CHECK(heartbeat_backends(db) == 1);
    hb.stop();
}

TEST_CASE("a heartbeat that cannot connect keeps trying and stops at once", "[heartbeat]") {
    TestDb db("heartbeat_unreachable");
    Counters counters;
    std::optional<Heartbeat> hb;
    hb.emplace(settings_for(server_dsn("walbus_hb_no_such_db", "password=hb-s3cret")), 200ms,
               callbacks(counters), 400ms);
    hb->start();
    REQUIRE(eventually([&] { return hb->failures() >= 4; }, 5s));
    CHECK(hb->sent() == 0);
    CHECK(counters.failures.load() == 1); // once per streak
    CHECK(counters.first_error.find("walbus_hb_no_such_db") != std::string::npos);
    CHECK(counters.first_error.find("hb-s3cret") == std::string::npos);
    // The destructor stops it, without waiting for the next attempt.
    const auto stopping = std::chrono::steady_clock::now();
    hb.reset();
    CHECK(std::chrono::steady_clock::now() - stopping < 300ms);
    CHECK(counters.recoveries.load() == 0);
}

TEST_CASE("a heartbeat with interval 0 does not start", "[heartbeat]") {
    TestDb db("heartbeat_off");
    Heartbeat hb(settings_for(db.dsn()), 0ms);
    hb.start();
    CHECK_FALSE(hb.running());
    hb.stop();
}
