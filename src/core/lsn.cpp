#include "walbus/core/lsn.h"

#include <charconv>
#include <cstdio>

namespace walbus {

std::optional<Lsn> Lsn::parse(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
        return std::nullopt;
    }
    std::uint32_t hi = 0;
    std::uint32_t lo = 0;
    auto hi_part = text.substr(0, slash);
    auto lo_part = text.substr(slash + 1);
    auto r1 = std::from_chars(hi_part.data(), hi_part.data() + hi_part.size(), hi, 16);
    auto r2 = std::from_chars(lo_part.data(), lo_part.data() + lo_part.size(), lo, 16);
    if (r1.ec != std::errc{} || r1.ptr != hi_part.data() + hi_part.size() ||
        r2.ec != std::errc{} || r2.ptr != lo_part.data() + lo_part.size()) {
        return std::nullopt;
    }
    return Lsn{(static_cast<std::uint64_t>(hi) << 32) | lo};
}

std::string Lsn::str() const {
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(value >> 32),
                          static_cast<unsigned>(value & 0xffffffffu));
    return std::string(buf, static_cast<std::size_t>(n));
}

} // namespace walbus
