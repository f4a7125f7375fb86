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

using namespace walbus::test;

namespace {

int kill_count() {
    const char* n = std::getenv("WALBUS_CRASH_KILLS");
    return n != nullptr ? std::atoi(n) : 10;
}

// Writes transactions until stopped: each inserts a batch of rows into `load` (one to fifty, or
// now and then three thousand) and bumps one of five counters; about one in six rolls back.
class Workload {
public:
    explicit Workload(std::string dsn) : dsn_(std::move(dsn)) {
        thread_ = std::thread([this] { run(); });
    }
    ~Workload() { stop(); }

    void stop() {
        stop_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    std::set<std::pair<int, int>> committed_rows; // (batch, row)
    std::map<int, int> committed_bumps;           // counter id → number of committed bumps
    int committed = 0;
    int rolled_back = 0;

private:
    void run() {
        Conn c(dsn_);
        std::mt19937 rng(12345);
        for (int batch = 1; !stop_; ++batch) {
            int rows = rng() % 20 == 0 ? 3000 : 1 + static_cast<int>(rng() % 50);
            int counter = batch % 5;
            bool rollback = rng() % 6 == 0;
            c.exec("BEGIN");
            c.exec("INSERT INTO load SELECT " + std::to_string(batch) +
                   ", g, md5(g::text) FROM generate_series(1, " + std::to_string(rows) + ") g");
            c.exec("UPDATE counters SET v = v + 1 WHERE id = " + std::to_string(counter));
            if (rollback) {
                c.exec("ROLLBACK");
                ++rolled_back;
                continue;
            }
            c.exec("COMMIT");
            ++committed;
            committed_bumps[counter]++;
            for (int r = 1; r <= rows; ++r) {
                committed_rows.insert({batch, r});
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 5));
        }
    }

    std::string dsn_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace

TEST_CASE("kill -9 at random moments under load: every committed change exactly once", "[crash]") {
    TestDb db("crash");
    db.conn().exec("CREATE TABLE load (batch int, n int, payload text, PRIMARY KEY (batch, n));"
                   "CREATE TABLE counters (id int PRIMARY KEY, v int NOT NULL);"
                   "INSERT INTO counters SELECT g, 0 FROM generate_series(0, 4) g");
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
        auto events = parse_events(dir / "events.jsonl");
        REQUIRE(strictly_ordered(events)); // no position twice, commit order kept

        std::set<std::pair<int, int>> seen;
        std::size_t load_inserts = 0;
        std::map<int, std::vector<int>> counter_values;
        for (const auto& e : events) {
            if (e.table == "load") {
                REQUIRE(e.op == "insert");
                ++load_inserts;
                seen.insert({std::stoi(e.after->at("batch")), std::stoi(e.after->at("n"))});
            } else if (e.table == "counters") {
                REQUIRE(e.op == "update");
                counter_values[std::stoi(e.after->at("id"))].push_back(std::stoi(e.after->at("v")));
            }
        }
        CHECK(load_inserts == seen.size()); // nothing twice
        CHECK(seen == load.committed_rows); // nothing missing, nothing rolled back
        for (const auto& [id, values] : counter_values) {
            // Per key, in commit order: v went 1, 2, 3, ... with no repeat and no gap.
            INFO("counter " << id);
            REQUIRE(static_cast<int>(values.size()) == load.committed_bumps[id]);
            for (std::size_t k = 0; k < values.size(); ++k) {
                CHECK(values[k] == static_cast<int>(k + 1));
            }
        }
    }
    // Most kills should have landed while walbus was writing, or the test proves little.
    CHECK(killed_with_pending_output >= kills / 2);
}
