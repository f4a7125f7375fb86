#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace walbus::metrics {

// Observations counted in fixed buckets, as Prometheus histograms are: bucket i counts the
// observations <= bounds[i]; one more bucket (+Inf) counts them all. observe() is a search over
// the bounds and two relaxed atomic adds: no lock, no allocation, safe from any thread.
class Histogram {
public:
    // `bounds`: finite and strictly increasing (checked; a violation aborts). The histogram
    // keeps a view of them, so they must outlive it (a Family owns the bounds of its children).
    explicit Histogram(std::span<const double> bounds);
    Histogram(const Histogram&) = delete;
    Histogram& operator=(const Histogram&) = delete;

    // NaN is ignored: it belongs in no bucket and would turn the sum into NaN for good.
    void observe(double value) noexcept;
    // A duration, observed in seconds.
    template <typename Rep, typename Period>
    void observe(std::chrono::duration<Rep, Period> duration) noexcept {
        observe(std::chrono::duration<double>(duration).count());
    }

    struct Snapshot {
        // Cumulative: buckets[i] counts the observations <= bounds[i]; the last entry (one past
        // the bounds) is the +Inf bucket, that is the number of observations.
        std::vector<std::uint64_t> buckets;
        double sum = 0;

        [[nodiscard]] std::uint64_t count() const { return buckets.back(); }
    };
    // Taken while others may observe: each bucket is read once, so the buckets are cumulative
    // and the count is the +Inf bucket; the sum may include an observation the buckets miss.
    [[nodiscard]] Snapshot snapshot() const;
    [[nodiscard]] std::span<const double> bounds() const { return bounds_; }

private:
    std::span<const double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_; // not cumulative; [bounds_.size()]: +Inf
    std::atomic<double> sum_{0};
};

} // namespace walbus::metrics
