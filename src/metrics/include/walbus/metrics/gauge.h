#pragma once

#include <atomic>
#include <cstdint>

namespace walbus::metrics {

// A value that goes up and down (bytes staged, replication lag). Every update is one relaxed
// atomic operation: no lock, no allocation, safe from any thread.
template <typename T> class BasicGauge {
public:
    static_assert(std::atomic<T>::is_always_lock_free);

    BasicGauge() = default;
    BasicGauge(const BasicGauge&) = delete;
    BasicGauge& operator=(const BasicGauge&) = delete;

    void set(T value) noexcept { value_.store(value, std::memory_order_relaxed); }
    void add(T delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
    void sub(T delta) noexcept { value_.fetch_sub(delta, std::memory_order_relaxed); }
    [[nodiscard]] T value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<T> value_{0};
};

using Gauge = BasicGauge<std::int64_t>;
using DoubleGauge = BasicGauge<double>;

} // namespace walbus::metrics
