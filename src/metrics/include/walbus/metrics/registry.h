#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "walbus/metrics/counter.h"
#include "walbus/metrics/family.h"
#include "walbus/metrics/gauge.h"
#include "walbus/metrics/histogram.h"

namespace walbus::metrics {

// The Content-Type of the text format that Registry::expose writes.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// Every metric of the process, exposed in the Prometheus text format 0.0.4.
//
// Metrics are registered once, at start-up, under a name without the prefix ("walbus_" is
// added): letters, digits and '_' (not starting with a digit); label names likewise, not
// starting with "__" ("le" is reserved for histograms). A malformed or repeated name, or
// histogram bounds that are not finite and strictly increasing, are programmer errors and abort.
// Histogram bounds are copied. Registration returns a reference that stays valid for the life
// of the registry; the caller keeps it and updates it without locks.
//
// Families are exposed in the order they were registered, children in the order of their label
// values. Registering and scraping may happen on different threads.
class Registry {
public:
    explicit Registry(std::string prefix = "walbus_");
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;
    ~Registry();

    Counter& counter(std::string_view name, std::string_view help);
    DoubleCounter& double_counter(std::string_view name, std::string_view help);
    Gauge& gauge(std::string_view name, std::string_view help);
    DoubleGauge& double_gauge(std::string_view name, std::string_view help);
    Histogram& histogram(std::string_view name, std::string_view help,
                         std::span<const double> bounds);

    Family<Counter>& counter_family(std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names);
    Family<DoubleCounter>& double_counter_family(std::string_view name, std::string_view help,
                                                 std::vector<std::string> label_names);
    Family<Gauge>& gauge_family(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names);
    Family<DoubleGauge>& double_gauge_family(std::string_view name, std::string_view help,
                                             std::vector<std::string> label_names);
    Family<Histogram>& histogram_family(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names,
                                        std::span<const double> bounds);

    // A gauge whose value is computed at each scrape (replication lag, queue depth owned by
    // another component). `read` runs on the thread that calls expose() — the HTTP server's —
    // while the registry's lock is held: it must be thread-safe with respect to whatever it
    // reads, must not throw, and must not register metrics.
    void callback_gauge(std::string_view name, std::string_view help, std::function<double()> read);

    // The text format 0.0.4 of every metric that has at least one child.
    [[nodiscard]] std::string expose() const;

    [[nodiscard]] const std::string& prefix() const { return prefix_; }

private:
    template <typename M>
    Family<M>& add(std::string_view name, std::string_view help,
                   std::vector<std::string> label_names, std::span<const double> bounds);
    std::string checked_name(std::string_view name) const; // with the prefix; lock held

    std::string prefix_;
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<FamilyBase>> families_;
};

} // namespace walbus::metrics
