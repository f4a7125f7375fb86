#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "walbus/metrics/http_server.h"
#include "walbus/metrics/pipeline_metrics.h"
#include "walbus/metrics/readiness.h"
#include "walbus/metrics/registry.h"

using namespace walbus::metrics;

TEST_CASE("counters and gauges in the text format", "[metrics]") {
    Registry registry;
    Counter& changes = registry.counter("changes_received_total", "Row changes decoded.");
    DoubleCounter& cpu = registry.double_counter("cpu_seconds_total", "CPU time.");
    Gauge& staged = registry.gauge("staged_bytes", "Bytes held.");
    DoubleGauge& lag = registry.double_gauge("lag_seconds", "Lag.");
    Family<Counter>& published =
        registry.counter_family("events_published_total", "Events.", {"rule", "topic"});

    changes.inc();
    changes.inc(41);
    cpu.inc(0.25);
    cpu.inc(1.5);
    staged.set(100);
    staged.add(20);
    staged.sub(70);
    lag.set(-0.125);
    published.with({"orders", "shop.orders"}).inc(3);
    published.with({"baskets", "shop.baskets"}).inc();
    // The same label values give the same child.
    Counter& again = published.with({"orders", "shop.orders"});
    again.inc();
    CHECK(&again == &published.with({"orders", "shop.orders"}));
    std::vector<std::string> values = {"orders", "shop.orders"};
    CHECK(&published.with(values) == &again);

    CHECK(registry.expose() ==
          "# HELP walbus_changes_received_total Row changes decoded.\n"
          "# TYPE walbus_changes_received_total counter\n"
          "walbus_changes_received_total 42\n"
          "# HELP walbus_cpu_seconds_total CPU time.\n"
          "# TYPE walbus_cpu_seconds_total counter\n"
          "walbus_cpu_seconds_total 1.75\n"
          "# HELP walbus_staged_bytes Bytes held.\n"
          "# TYPE walbus_staged_bytes gauge\n"
          "walbus_staged_bytes 50\n"
          "# HELP walbus_lag_seconds Lag.\n"
          "# TYPE walbus_lag_seconds gauge\n"
          "walbus_lag_seconds -0.125\n"
          "# HELP walbus_events_published_total Events.\n"
          "# TYPE walbus_events_published_total counter\n"
          "walbus_events_published_total{rule=\"baskets\",topic=\"shop.baskets\"} 1\n"
          "walbus_events_published_total{rule=\"orders\",topic=\"shop.orders\"} 4\n");
}

TEST_CASE("a labelled family without children is not exposed", "[metrics]") {
    Registry registry;
    registry.counter_family("errors_total", "Errors.", {"kind"});
    CHECK(registry.expose().empty());
}

TEST_CASE("help text and label values are escaped", "[metrics]") {
    Registry registry;
    Family<Gauge>& g =
        registry.gauge_family("odd", "A back\\slash,\na new line and \"quotes\".", {"value"});
    g.with({"a\\b"}).set(1);
    g.with({"say \"hi\""}).set(2);
    g.with({"two\nlines"}).set(3);
    g.with({""}).set(4);
    // In help texts only '\' and line feed are escaped; in label values '"' too.
    CHECK(registry.expose() == "# HELP walbus_odd A back\\\\slash,\\na new line and \"quotes\".\n"
                               "# TYPE walbus_odd gauge\n"
                               "walbus_odd{value=\"\"} 4\n"
                               "walbus_odd{value=\"a\\\\b\"} 1\n"
                               "walbus_odd{value=\"say \\\"hi\\\"\"} 2\n"
                               "walbus_odd{value=\"two\\nlines\"} 3\n");
}

TEST_CASE("histogram buckets are cumulative and end with +Inf", "[metrics]") {
    Registry registry;
    const std::array<double, 3> bounds = {0.01, 0.125, 1};
    Histogram& h = registry.histogram("commit_seconds", "Commit time.", bounds);
    // Binary fractions, so that the sum is exact.
    h.observe(0.0078125);                                // <= 0.01
    h.observe(0.125);                                    // <= 0.125: bounds are inclusive
    h.observe(std::chrono::milliseconds(500));           // <= 1, as seconds
    h.observe(1.0);                                      // <= 1
    h.observe(7.0);                                      // +Inf only
    h.observe(std::numeric_limits<double>::quiet_NaN()); // ignored

    Histogram::Snapshot s = h.snapshot();
    CHECK(s.buckets == std::vector<std::uint64_t>{1, 2, 4, 5});
    CHECK(s.count() == 5);
    CHECK(s.sum == 8.6328125);

    Family<Histogram>& by_topic =
        registry.histogram_family("flush_seconds", "Flush time.", {"topic"}, std::array{0.5, 2.5});
    by_topic.with({"t"}).observe(0.25);
    by_topic.with({"t"}).observe(2.5);

    CHECK(registry.expose() == "# HELP walbus_commit_seconds Commit time.\n"
                               "# TYPE walbus_commit_seconds histogram\n"
                               "walbus_commit_seconds_bucket{le=\"0.01\"} 1\n"
                               "walbus_commit_seconds_bucket{le=\"0.125\"} 2\n"
                               "walbus_commit_seconds_bucket{le=\"1\"} 4\n"
                               "walbus_commit_seconds_bucket{le=\"+Inf\"} 5\n"
                               "walbus_commit_seconds_sum 8.6328125\n"
                               "walbus_commit_seconds_count 5\n"
                               "# HELP walbus_flush_seconds Flush time.\n"
                               "# TYPE walbus_flush_seconds histogram\n"
                               "walbus_flush_seconds_bucket{topic=\"t\",le=\"0.5\"} 1\n"
                               "walbus_flush_seconds_bucket{topic=\"t\",le=\"2.5\"} 2\n"
                               "walbus_flush_seconds_bucket{topic=\"t\",le=\"+Inf\"} 2\n"
                               "walbus_flush_seconds_sum{topic=\"t\"} 2.75\n"
                               "walbus_flush_seconds_count{topic=\"t\"} 2\n");
}

TEST_CASE("callback gauges are read at each scrape", "[metrics]") {
    Registry registry;
    std::atomic<double> lag{0};
    registry.callback_gauge("replication_lag_bytes", "Lag.", [&lag] { return lag.load(); });
    registry.callback_gauge("infinite", "Inf.", [] { return 1.0 / 0.0; });
    lag = 1024;
    CHECK(registry.expose() == "# HELP walbus_replication_lag_bytes Lag.\n"
                               "# TYPE walbus_replication_lag_bytes gauge\n"
                               "walbus_replication_lag_bytes 1024\n"
                               "# HELP walbus_infinite Inf.\n"
                               "# TYPE walbus_infinite gauge\n"
                               "walbus_infinite +Inf\n");
    lag = 1e21;
    CHECK(registry.expose().find("walbus_replication_lag_bytes 1e+21\n") != std::string::npos);
}

TEST_CASE("concurrent updates add up", "[metrics]") {
    Registry registry;
    Counter& counter = registry.counter("c_total", "C.");
    DoubleCounter& seconds = registry.double_counter("s_total", "S.");
    Gauge& gauge = registry.gauge("g", "G.");
    const std::array<double, 2> bounds = {1, 2};
    Histogram& histogram = registry.histogram("h", "H.", bounds);
    Family<Counter>& family = registry.counter_family("f_total", "F.", {"worker"});

    constexpr int kThreads = 4;
    constexpr int kPerThread = 100000;
    std::atomic<bool> done{false};
    std::atomic<int> bad_scrapes{0};
    // A scraper runs all along, as the HTTP thread would (Catch's assertions are for the main
    // thread only: it counts what it finds wrong).
    std::thread scraper([&] {
        while (!done) {
            std::string text = registry.expose();
            if (text.find("walbus_c_total ") == std::string::npos) {
                ++bad_scrapes;
            }
        }
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            Counter& mine = family.with({t % 2 == 0 ? "even" : "odd"});
            for (int i = 0; i < kPerThread; ++i) {
                counter.inc();
                seconds.inc(0.5);
                gauge.add(3);
                gauge.sub(1);
                histogram.observe(static_cast<double>(i % 3)); // 0, 1, 2
                mine.inc();
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    done = true;
    scraper.join();

    constexpr std::uint64_t kTotal = std::uint64_t{kThreads} * kPerThread;
    CHECK(counter.value() == kTotal);
    CHECK(seconds.value() == 0.5 * kTotal); // exact: halves add up without rounding here
    CHECK(gauge.value() == static_cast<std::int64_t>(2 * kTotal));
    Histogram::Snapshot s = histogram.snapshot();
    CHECK(s.count() == kTotal);
    // Per thread, i % 3 is 0 for 33334 values of i, 1 and 2 for 33333 each.
    CHECK(s.buckets == std::vector<std::uint64_t>{kThreads * 66667ULL, kTotal, kTotal});
    CHECK(s.sum == kThreads * 99999.0);
    CHECK(bad_scrapes == 0);
    CHECK(family.with({"even"}).value() == kTotal / 2);
    CHECK(family.with({"odd"}).value() == kTotal / 2);
}

TEST_CASE("walbus metrics are declared once with their children", "[metrics]") {
    Registry registry;
    PipelineMetrics m(registry, "1.2.3");
    m.changes_received_total.inc(5);
    m.events_published_total.with({"orders", "shop.orders"}).inc(2);
    m.kafka_commit_seconds.observe(0.003);
    m.staged_bytes_memory.set(4096);
    m.errors(walbus::ErrorCode::Connection).inc();

    std::string text = registry.expose();
    for (const char* line : {
             "# TYPE walbus_changes_received_total counter\n",
             "walbus_changes_received_total 5\n",
             "walbus_events_published_total{rule=\"orders\",topic=\"shop.orders\"} 2\n",
             "walbus_transactions_committed_total 0\n",
             "walbus_bytes_received_total 0\n",
             "# TYPE walbus_replication_lag_bytes gauge\n",
             "walbus_replication_lag_seconds 0\n",
             "# TYPE walbus_kafka_commit_seconds histogram\n",
             "walbus_kafka_commit_seconds_bucket{le=\"0.0025\"} 0\n",
             "walbus_kafka_commit_seconds_bucket{le=\"0.005\"} 1\n",
             "walbus_kafka_commit_seconds_bucket{le=\"10\"} 1\n",
             "walbus_kafka_commit_seconds_bucket{le=\"+Inf\"} 1\n",
             "walbus_kafka_commit_seconds_count 1\n",
             "walbus_staged_bytes{where=\"disk\"} 0\n",
             "walbus_staged_bytes{where=\"memory\"} 4096\n",
             "walbus_reconnects_total 0\n",
             "walbus_errors_total{kind=\"connection\"} 1\n",
             "walbus_errors_total{kind=\"sink_unavailable\"} 0\n",
             "# TYPE walbus_build_info gauge\n",
             "walbus_build_info{version=\"1.2.3\"} 1\n",
         }) {
        INFO(line);
        CHECK(text.find(line) != std::string::npos);
    }
    // Every help text is one line and says something.
    std::size_t helps = 0;
    for (std::size_t at = text.find("# HELP "); at != std::string::npos;
         at = text.find("# HELP ", at + 1)) {
        std::size_t end = text.find('\n', at);
        std::string line = text.substr(at, end - at);
        INFO(line);
        CHECK(line.size() > 40);
        ++helps;
    }
    CHECK(helps == 11);
}

namespace {

httplib::Client client(std::uint16_t port) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    return c;
}

} // namespace

TEST_CASE("the HTTP server serves /metrics, /healthz and /readyz", "[metrics]") {
    Registry registry;
    registry.counter("changes_received_total", "Row changes decoded.").inc(7);
    Readiness readiness;
    HttpServer server(HttpServerOptions{"127.0.0.1", 0}, registry, readiness);
    CHECK(server.port() == 0);
    auto started = server.start();
    REQUIRE(started);
    REQUIRE(server.port() != 0);
    CHECK(server.address() == "127.0.0.1:" + std::to_string(server.port()));

    httplib::Client c = client(server.port());
    auto metrics = c.Get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->status == 200);
    CHECK(metrics->get_header_value("Content-Type") == std::string(kTextContentType));
    CHECK(metrics->body == "# HELP walbus_changes_received_total Row changes decoded.\n"
                           "# TYPE walbus_changes_received_total counter\n"
                           "walbus_changes_received_total 7\n");

    auto health = c.Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(health->body == "ok\n");

    // Not ready until the pipeline says so.
    auto starting = c.Get("/readyz");
    REQUIRE(starting);
    CHECK(starting->status == 503);
    CHECK(starting->body == "starting\n");

    readiness.set_ready();
    auto ready = c.Get("/readyz");
    REQUIRE(ready);
    CHECK(ready->status == 200);
    CHECK(ready->body == "ready\n");

    readiness.set_not_ready("backing off after: connection refused\nretrying in 2 s");
    auto backing_off = c.Get("/readyz");
    REQUIRE(backing_off);
    CHECK(backing_off->status == 503);
    CHECK(backing_off->body == "backing off after: connection refused retrying in 2 s\n");

    auto missing = c.Get("/nothing");
    REQUIRE(missing);
    CHECK(missing->status == 404);

    // A scraper that keeps its connection open does not hold up stop().
    httplib::Client keep = client(server.port());
    keep.set_keep_alive(true);
    REQUIRE(keep.Get("/healthz"));
    auto t0 = std::chrono::steady_clock::now();
    server.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    server.stop(); // idempotent
    httplib::Client after = client(server.port());
    after.set_connection_timeout(1);
    CHECK_FALSE(after.Get("/healthz"));
}

TEST_CASE("the HTTP server names the address it cannot bind", "[metrics]") {
    Registry registry;
    Readiness readiness;
    HttpServer first(HttpServerOptions{"127.0.0.1", 0}, registry, readiness);
    REQUIRE(first.start());

    HttpServer second(HttpServerOptions{"127.0.0.1", first.port()}, registry, readiness);
    auto r = second.start();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == walbus::ErrorCode::Config);
    INFO(r.error().message);
    CHECK(r.error().message.find("127.0.0.1:" + std::to_string(first.port())) != std::string::npos);
    CHECK(r.error().message.find("address already in use") != std::string::npos);

    // The first one still serves.
    auto health = client(first.port()).Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);

    HttpServer nowhere(HttpServerOptions{"192.0.2.1", 0}, registry, readiness); // not on this host
    auto not_here = nowhere.start();
    REQUIRE_FALSE(not_here);
    CHECK(not_here.error().message.find("192.0.2.1:0") != std::string::npos);
}

TEST_CASE("the HTTP server stops from its destructor right after starting", "[metrics]") {
    Registry registry;
    Readiness readiness;
    for (int i = 0; i < 20; ++i) {
        HttpServer server(HttpServerOptions{"127.0.0.1", 0}, registry, readiness);
        REQUIRE(server.start());
    }
}
