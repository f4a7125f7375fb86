#include "walbus/pipeline/backoff.h"

#include <algorithm>

namespace walbus {

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, std::uint64_t seed)
    : base_(base), cap_(cap), state_(seed | 1) {}

std::chrono::milliseconds Backoff::next() {
    // xorshift64*: enough randomness to spread reconnecting instances apart.
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    std::uint64_t random = state_ * 2685821657736338717ULL;

    std::int64_t ceiling = base_.count() << std::min(attempt_, 20);
    ceiling = std::min<std::int64_t>(ceiling, cap_.count());
    if (attempt_ < 62) {
        ++attempt_;
    }
    std::int64_t half = ceiling / 2;
    std::int64_t span = ceiling - half + 1;
    return std::chrono::milliseconds(
        half + static_cast<std::int64_t>(random % static_cast<std::uint64_t>(span)));
}

} // namespace walbus
