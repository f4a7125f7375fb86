// kill -9 of walbus during a steady write load, restarted again and again: the union of
// everything it wrote must be every committed change exactly once, in commit order.

#include <catch2/catch.hpp>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "events.h"
#include "harness.h"
#include "workload.h"

using namespace walbus::test;

TEST_CASE("kill -9 at random moments under load: every committed change exactly once", "[crash]") {
    TestDb db("crash");
    db.conn().exec(kWorkloadSchema);
    TempDir dir;
    ConfigOptions o;
    o.tables = {"load", "counters"};
    o.flush_interval = "20ms";
    o.flush_bytes = "64KiB"; // large transactions reach the file before their Commit
    auto config = write_config(dir, db, o);
    catch_up(dir, db, config);

    std::mt19937 rng(std::random_device{}());
    const int kills = kill_count();
    int killed_with_pending_output = 0;
    {
        Workload load(db.dsn());
        for (int i = 0; i < kills; ++i) {
            Walbus w({"run", "-c", config.string()}, dir / "walbus.out", dir / "walbus.err");
            auto before = std::filesystem::exists(dir / "events.jsonl")
                              ? std::filesystem::file_size(dir / "events.jsonl")
                              : 0;
            std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1500));
            INFO("walbus stderr:\n" << w.stderr_text());
            REQUIRE(w.running());
            w.signal(SIGKILL);
            REQUIRE(w.wait() == 128 + SIGKILL);
            auto after = std::filesystem::file_size(dir / "events.jsonl");
            killed_with_pending_output += after > before ? 1 : 0;
        }
        load.stop();
        INFO("committed " << load.committed << ", rolled back " << load.rolled_back);
        REQUIRE(load.committed > kills);
        REQUIRE(load.rolled_back > 0);

        // Let walbus finish what was committed, then compare.
        catch_up(dir, db, config);
        require_exactly_once(parse_events(dir / "events.jsonl"), load);
    }
    // Most kills should have landed while walbus was writing, or the test proves little.
    CHECK(killed_with_pending_output >= kills / 2);
}
