// WAL retention: while walbus streams a publication of one small table, a lot of WAL written to
// a table outside the publication must not stay pinned behind the slot. With nothing in flight
// walbus confirms the server's WAL end (confirmable_lsn in src/pipeline/pipeline.cpp), so soon
// after the writes stop the slot's confirmed_flush_lsn is close to pg_current_wal_lsn().

#include <catch2/catch.hpp>
#include <signal.h>

#include <fstream>
#include <optional>
#include <thread>

#include "events.h"
#include "harness.h"

using namespace walbus::test;
using namespace std::chrono_literals;

namespace {

constexpr long long kMiB = 1024 * 1024;
constexpr long long kWalToWrite = 500 * kMiB;
constexpr long long kRetainedLimit = 16 * kMiB;
constexpr auto kReleaseWithin = 10s;

// The file written by write_config with the standby status period set to `interval`.
void set_status_interval(const fs::path& config, const std::string& interval) {
    std::string text = read_file(config);
    const std::string from = "  status_interval: 1s\n";
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), "  status_interval: " + interval + "\n");
    std::ofstream(config, std::ios::trunc) << text;
}

long long retained_bytes(TestDb& db) {
    return std::stoll(
        db.conn().value("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                        "FROM pg_replication_slots WHERE slot_name = '" +
                        db.name() + "'"));
}

long long restart_retained_bytes(TestDb& db) {
    return std::stoll(
        db.conn().value("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
                        "FROM pg_replication_slots WHERE slot_name = '" +
                        db.name() + "'"));
}

long long wal_since(TestDb& db, const std::string& lsn) {
    return std::stoll(
        db.conn().value("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '" + lsn + "')::bigint"));
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

TEST_CASE("WAL written to tables outside the publication is released soon after the writes stop",
          "[wal_retention]") {
    TestDb db("wal_retention");
    auto& c = db.conn();
    c.exec("CREATE TABLE small (id int PRIMARY KEY, v text);"
           "CREATE TABLE bulk (id bigint, pad text) WITH (autovacuum_enabled = false)");
    TempDir dir;
    auto config = write_config(dir, db, with_tables({"small"}));
    set_status_interval(config, "200ms");
    catch_up(dir, db, config); // creates the slot and the publication of `small`

    Walbus walbus({"run", "--config", config.string()}, dir / "run.out", dir / "run.err");
    REQUIRE(slot_becomes_active(db));
    c.exec("INSERT INTO small VALUES (1, 'before')");

    // About 40 MB per transaction (rows of ~1 KB, below the TOAST threshold, so they are written
    // as they are), in as many transactions as it takes.
    const std::string start_lsn = db.current_wal_lsn();
    const auto writes_start = std::chrono::steady_clock::now();
    long long written = 0;
    long long peak_retained = 0;
    int transactions = 0;
    for (long long next_id = 0; written < kWalToWrite; ++transactions) {
        c.exec("INSERT INTO bulk SELECT g, repeat(md5(g::text), 30) FROM generate_series(" +
               std::to_string(next_id) + ", " + std::to_string(next_id + 39'999) + ") g");
        next_id += 40'000;
        written = wal_since(db, start_lsn);
        peak_retained = std::max(peak_retained, retained_bytes(db));
        REQUIRE(walbus.running());
    }
    const double write_seconds = seconds_since(writes_start);
    const long long retained_at_end = retained_bytes(db);
    peak_retained = std::max(peak_retained, retained_at_end);

    // confirmed_flush_lsn is what walbus moves; the server keeps WAL files from restart_lsn,
    // which follows at the next xl_running_xacts record the walsender decodes after the
    // confirmation (the background writer logs one every 15 s while there is WAL activity).
    // Both are measured; the assertion is on the first.
    const auto writes_end = std::chrono::steady_clock::now();
    long long retained = retained_at_end;
    long long restart_retained = restart_retained_bytes(db);
    std::optional<double> release_seconds;
    std::optional<double> restart_release_seconds;
    while (std::chrono::steady_clock::now() - writes_end < 30s) {
        if (!release_seconds && retained < kRetainedLimit) {
            release_seconds = seconds_since(writes_end);
        }
        if (!restart_release_seconds && restart_retained < kRetainedLimit) {
            restart_release_seconds = seconds_since(writes_end);
        }
        if (release_seconds && restart_release_seconds) {
            break;
        }
        std::this_thread::sleep_for(50ms);
        if (!release_seconds) {
            retained = retained_bytes(db);
        }
        if (!restart_release_seconds) {
            restart_retained = restart_retained_bytes(db);
        }
    }
    auto seconds_text = [](const std::optional<double>& s) {
        return s ? std::to_string(*s) + " s" : std::string("more than 30 s");
    };

    WARN("wrote " << written << " bytes (" << written / kMiB << " MiB) of WAL in " << transactions
                  << " transactions in " << write_seconds << " s; retained since "
                  << "confirmed_flush_lsn: peak " << peak_retained << " bytes ("
                  << peak_retained / kMiB << " MiB), " << retained_at_end
                  << " bytes when the writes stopped, below 16 MiB after "
                  << seconds_text(release_seconds) << " (" << retained
                  << " bytes); retained since restart_lsn below 16 MiB after "
                  << seconds_text(restart_release_seconds) << " (" << restart_retained
                  << " bytes)");
    INFO("walbus stderr:\n" << walbus.stderr_text());
    REQUIRE(walbus.running());
    CHECK(written >= kWalToWrite);
    CHECK(retained < kRetainedLimit);
    REQUIRE(release_seconds.has_value());
    CHECK(*release_seconds <= std::chrono::duration<double>(kReleaseWithin).count());

    // The published table still streams.
    c.exec("INSERT INTO small VALUES (2, 'after')");
    REQUIRE(eventually([&] { return parse_events(dir / "events.jsonl").size() == 2; }, 20s));
    walbus.signal(SIGTERM);
    CHECK(walbus.wait() == 0);
    auto events = parse_events(dir / "events.jsonl");
    REQUIRE(events.size() == 2);
    CHECK(events[0].table == "small");
    CHECK(events[1].table == "small");

    c.exec("DROP TABLE bulk"); // its 500 MB are of no further use on the shared server
}
