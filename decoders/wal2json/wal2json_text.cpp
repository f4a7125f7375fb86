#include "wal2json/wal2json_text.h"

#include <charconv>

namespace walbus::decoders {

bool can_be_toasted(std::uint32_t type_oid) {
    switch (type_oid) {
    case 16:   // bool
    case 18:   // char
    case 19:   // name
    case 20:   // int8
    case 21:   // int2
    case 23:   // int4
    case 24:   // regproc
    case 26:   // oid
    case 27:   // tid
    case 28:   // xid
    case 29:   // cid
    case 600:  // point
    case 601:  // lseg
    case 603:  // box
    case 628:  // line
    case 700:  // float4
    case 701:  // float8
    case 718:  // circle
    case 774:  // macaddr8
    case 790:  // money
    case 829:  // macaddr
    case 1082: // date
    case 1083: // time
    case 1114: // timestamp
    case 1184: // timestamptz
    case 1186: // interval
    case 1266: // timetz
    case 2202: // regprocedure
    case 2203: // regoper
    case 2204: // regoperator
    case 2205: // regclass
    case 2206: // regtype
    case 2950: // uuid
    case 3220: // pg_lsn
    case 3734: // regconfig
    case 3769: // regdictionary
    case 4089: // regnamespace
    case 4096: // regrole
    case 4191: // regcollation
    case 5069: // xid8
        return false;
    default: return true;
    }
}

namespace {

bool read_int(std::string_view& s, std::int64_t& v) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || ptr == s.data()) {
        return false;
    }
    s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
    return true;
}

// Exactly `n` digits.
bool read_digits(std::string_view& s, std::size_t n, int& v) {
    if (s.size() < n) {
        return false;
    }
    v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    s.remove_prefix(n);
    return true;
}

bool eat(std::string_view& s, char c) {
    if (s.empty() || s.front() != c) {
        return false;
    }
    s.remove_prefix(1);
    return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;
    const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

} // namespace

std::int32_t typmod_from_type_name(std::uint32_t type_oid, std::string_view type) {
    auto open = type.find('(');
    if (open == std::string_view::npos) {
        return -1;
    }
    std::string_view s = type.substr(open + 1);
    std::int64_t a = 0;
    std::int64_t b = 0;
    bool two = false;
    if (!read_int(s, a)) {
        return -1;
    }
    if (eat(s, ',')) {
        two = true;
        if (!read_int(s, b)) {
            return -1;
        }
    }
    if (!eat(s, ')') || a < 0 || a > (1 << 24)) {
        return -1;
    }
    switch (type_oid) {
    case 1700: // numeric: ((precision << 16) | (scale & 0x7ff)) + VARHDRSZ
    case 1231:
        if (a > 0xffff || b < -1000 || b > 1000) {
            return -1;
        }
        return static_cast<std::int32_t>(((a << 16) | (b & 0x7ff)) + 4);
    case 1043: // varchar, bpchar: length + VARHDRSZ
    case 1015:
    case 1042:
    case 1014: return two ? -1 : static_cast<std::int32_t>(a + 4);
    case 1560: // bit, varbit, time, timetz, timestamp, timestamptz: the number itself
    case 1561:
    case 1562:
    case 1563:
    case 1083:
    case 1183:
    case 1266:
    case 1270:
    case 1114:
    case 1115:
    case 1184:
    case 1185: return two ? -1 : static_cast<std::int32_t>(a);
    default: return -1;
    }
}

bool parse_timestamptz(std::string_view s, std::int64_t& unix_us) {
    // Year: four digits or more.
    std::size_t year_len = 0;
    while (year_len < s.size() && s[year_len] >= '0' && s[year_len] <= '9') {
        ++year_len;
    }
    if (year_len < 4 || year_len > 9) {
        return false;
    }
    int year = 0;
    int month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (!read_digits(s, year_len, year) || !eat(s, '-') || !read_digits(s, 2, month) ||
        !eat(s, '-') || !read_digits(s, 2, day) || !eat(s, ' ') || !read_digits(s, 2, hour) ||
        !eat(s, ':') || !read_digits(s, 2, minute) || !eat(s, ':') || !read_digits(s, 2, second)) {
        return false;
    }
    std::int64_t micros = 0;
    if (eat(s, '.')) {
        int digits = 0;
        while (!s.empty() && s.front() >= '0' && s.front() <= '9' && digits < 6) {
            micros = micros * 10 + (s.front() - '0');
            s.remove_prefix(1);
            ++digits;
        }
        if (digits == 0) {
            return false;
        }
        for (; digits < 6; ++digits) {
            micros *= 10;
        }
    }
    // Zone: +HH, +HH:MM or +HH:MM:SS.
    int sign = 0;
    if (eat(s, '+')) {
        sign = 1;
    } else if (eat(s, '-')) {
        sign = -1;
    } else {
        return false;
    }
    int zh = 0;
    int zm = 0;
    int zs = 0;
    if (!read_digits(s, 2, zh)) {
        return false;
    }
    if (eat(s, ':')) {
        if (!read_digits(s, 2, zm)) {
            return false;
        }
        if (eat(s, ':') && !read_digits(s, 2, zs)) {
            return false;
        }
    }
    if (!s.empty() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 ||
        second > 60 || zm > 59 || zs > 59) {
        return false;
    }
    const std::int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 +
                                 minute * 60 + second - sign * (zh * 3600 + zm * 60 + zs);
    unix_us = seconds * 1'000'000 + micros;
    return true;
}

void append_repaired_utf8(std::string& out, std::string_view in) {
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
    auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
        return i < in.size() && byte(i) >= lo && byte(i) <= hi;
    };
    std::size_t i = 0;
    while (i < in.size()) {
        const unsigned char c = byte(i);
        std::size_t len = 0;
        if (c < 0x80) {
            len = 1;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = cont(i + 1) ? 2 : 0;
        } else if (c >= 0xe0 && c <= 0xef) {
            const unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
            const unsigned char hi = c == 0xed ? 0x9f : 0xbf;
            len = cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
        } else if (c >= 0xf0 && c <= 0xf4) {
            const unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
            const unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
            len = cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
        }
        if (len == 0) {
            out += "\xef\xbf\xbd";
            ++i;
        } else {
            out.append(in.substr(i, len));
            i += len;
        }
    }
}

} // namespace walbus::decoders
