#include "walbus/core/lsn.h"

#include <charconv>

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
    if (r1.ec != std::errc{} || r1.ptr != hi_part.data() + hi_part.size() || r2.ec != std::errc{} ||
        r2.ptr != lo_part.data() + lo_part.size()) {
        return std::nullopt;
    }
    return Lsn{(static_cast<std::uint64_t>(hi) << 32) | lo};
}

namespace {

// Upper-case hex without leading zeros, as PostgreSQL's "%X/%X" prints each half.
char* put_hex(char* p, std::uint32_t v) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    int shift = 28;
    while (shift > 0 && ((v >> shift) & 0xf) == 0) {
        shift -= 4;
    }
    for (; shift >= 0; shift -= 4) {
        *p++ = kHex[(v >> shift) & 0xf];
    }
    return p;
}

} // namespace

std::string Lsn::str() const {
    std::string out;
    append_to(out);
    return out;
}

void Lsn::append_to(std::string& out) const {
    char buf[24];
    char* p = put_hex(buf, static_cast<std::uint32_t>(value >> 32));
    *p++ = '/';
    p = put_hex(p, static_cast<std::uint32_t>(value));
    out.append(buf, static_cast<std::size_t>(p - buf));
}

} // namespace walbus
