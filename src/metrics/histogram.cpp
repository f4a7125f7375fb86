#include "walbus/metrics/histogram.h"

#include <algorithm>
#include <cmath>

#include "contract.h"

namespace walbus::metrics {

void detail::check_bounds(std::span<const double> bounds) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
            contract_violation("histogram bucket bounds must be finite and strictly increasing");
        }
    }
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
    detail::check_bounds(bounds_);
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        counts_[i].store(0, std::memory_order_relaxed);
    }
}

void Histogram::observe(double value) noexcept {
    if (std::isnan(value)) {
        return;
    }
    // The first bound >= value: buckets are "less than or equal".
    auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    counts_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.buckets.resize(bounds_.size() + 1);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        total += counts_[i].load(std::memory_order_relaxed);
        s.buckets[i] = total;
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

} // namespace walbus::metrics
