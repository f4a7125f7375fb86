#pragma once

#include <atomic>
#include <cstdint>

namespace walbus::metrics {

// A value that only goes up (events published, bytes received). Updating it is one relaxed
// atomic add: no lock, no allocation, safe from any thread. A scrape reads it with a relaxed
// load, so it may miss increments made at the same moment, never count one twice.
template <typename T> class BasicCounter {
public:
    static_assert(std::atomic<T>::is_always_lock_free);

    BasicCounter() = default;
    BasicCounter(const BasicCounter&) = delete;
    BasicCounter& operator=(const BasicCounter&) = delete;

    // `n` must not be negative (a counter that goes down is a gauge).
    void inc(T n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    [[nodiscard]] T value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<T> value_{0};
};

using Counter = BasicCounter<std::uint64_t>;
using DoubleCounter = BasicCounter<double>;

} // namespace walbus::metrics
