#pragma once

#include <chrono>
#include <cstdint>

namespace walbus {

// Capped exponential backoff with full jitter: attempt n waits a random time in
// [base·2^n / 2, base·2^n], never more than `cap`.
class Backoff {
public:
    Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, std::uint64_t seed);

    [[nodiscard]] std::chrono::milliseconds next();
    void reset() { attempt_ = 0; }

private:
    std::chrono::milliseconds base_;
    std::chrono::milliseconds cap_;
    std::uint64_t state_;
    int attempt_ = 0;
};

} // namespace walbus
