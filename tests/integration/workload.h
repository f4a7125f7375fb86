#pragma once

// The write load of the crash tests: transactions of one to fifty rows (now and then three
// thousand) into `load`, each bumping one of five counters, about one in six rolled back;
// what was committed is recorded for the checks.

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "events.h"
#include "harness.h"

namespace walbus::test {

// How many times the crash tests kill walbus (WALBUS_CRASH_KILLS, default 10).
inline int kill_count() {
    const char* n = std::getenv("WALBUS_CRASH_KILLS");
    return n != nullptr ? std::atoi(n) : 10;
}

// The tables the load writes: load(batch, n, payload) and counters(id, v), ids 0 to 4.
inline const char* const kWorkloadSchema =
    "CREATE TABLE load (batch int, n int, payload text, PRIMARY KEY (batch, n));"
    "CREATE TABLE counters (id int PRIMARY KEY, v int NOT NULL);"
    "INSERT INTO counters SELECT g, 0 FROM generate_series(0, 4) g";

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

// The change events of a run under `load` are every committed change exactly once: no position
// twice and commit order kept, every committed row and none rolled back, and each counter's
// values 1, 2, 3, ... in commit order with no repeat and no gap.
inline void require_exactly_once(const std::vector<Event>& events, const Workload& load) {
    REQUIRE(strictly_ordered(events));
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
        INFO("counter " << id);
        REQUIRE(static_cast<int>(values.size()) == load.committed_bumps.at(id));
        for (std::size_t k = 0; k < values.size(); ++k) {
            CHECK(values[k] == static_cast<int>(k + 1));
        }
    }
}

} // namespace walbus::test
