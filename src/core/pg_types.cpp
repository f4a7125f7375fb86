#include "walbus/core/pg_types.h"

#include <chrono>
#include <cstdio>

#include "walbus/core/base64.h"
#include "walbus/core/json_writer.h"

namespace walbus::pg {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool all_digits(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (!is_digit(c)) {
            return false;
        }
    }
    return true;
}

// Plain JSON number grammar: what PostgreSQL prints for finite integers and floats.
bool is_json_number(std::string_view s) {
    std::size_t i = 0;
    if (i < s.size() && s[i] == '-') {
        ++i;
    }
    std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) {
        ++i;
    }
    if (i == start || (s[start] == '0' && i - start > 1)) {
        return false;
    }
    if (i < s.size() && s[i] == '.') {
        std::size_t f = ++i;
        while (i < s.size() && is_digit(s[i])) {
            ++i;
        }
        if (i == f) {
            return false;
        }
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
            ++i;
        }
        std::size_t e = i;
        while (i < s.size() && is_digit(s[i])) {
            ++i;
        }
        if (i == e) {
            return false;
        }
    }
    return i == s.size();
}

// "YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]" (ISO DateStyle) → ISO 8601. Returns false for
// anything else (infinity, BC dates), which is then emitted unchanged.
bool append_iso_timestamp(std::string& out, std::string_view t, bool with_zone) {
    auto space = t.find(' ');
    if (space == std::string_view::npos || space < 10) {
        return false;
    }
    std::string_view date = t.substr(0, space);
    std::string_view rest = t.substr(space + 1);
    if (!all_digits(date.substr(0, date.size() - 6)) || date[date.size() - 6] != '-' ||
        date[date.size() - 3] != '-') {
        return false;
    }
    std::size_t tz = with_zone ? rest.find_first_of("+-") : std::string_view::npos;
    std::string_view clock = rest.substr(0, tz);
    if (clock.size() < 8 || clock[2] != ':' || clock[5] != ':' ||
        (with_zone && tz == std::string_view::npos)) {
        return false;
    }
    out.push_back('"');
    out.append(date);
    out.push_back('T');
    out.append(clock);
    if (with_zone) {
        std::string_view zone = rest.substr(tz);
        if (zone == "+00") {
            out.push_back('Z');
        } else {
            out.append(zone);
            if (zone.size() == 3) {
                out.append(":00");
            }
        }
    }
    out.push_back('"');
    return true;
}

void append_bytea(std::string& out, std::string_view text) {
    if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
        append_json_string(out, text); // escape output format: keep the text
        return;
    }
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string bytes;
    bytes.reserve((text.size() - 2) / 2);
    for (std::size_t i = 2; i < text.size(); i += 2) {
        int hi = nibble(text[i]);
        int lo = nibble(text[i + 1]);
        if (hi < 0 || lo < 0) {
            append_json_string(out, text);
            return;
        }
        bytes.push_back(static_cast<char>((hi << 4) | lo));
    }
    out.push_back('"');
    append_base64(out, bytes);
    out.push_back('"');
}

} // namespace

void append_value_json(std::string& out, std::uint32_t type_oid, std::string_view text) {
    switch (type_oid) {
    case kBool:
        if (text == "t") {
            out.append("true");
            return;
        }
        if (text == "f") {
            out.append("false");
            return;
        }
        break;
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid:
    case kFloat4:
    case kFloat8:
        if (is_json_number(text)) {
            out.append(text);
            return;
        }
        break; // NaN, Infinity, -Infinity stay strings
    case kJson:
    case kJsonb:
        out.append(text); // the server only stores valid JSON
        return;
    case kBytea: append_bytea(out, text); return;
    case kTimestamp:
        if (append_iso_timestamp(out, text, false)) {
            return;
        }
        break;
    case kTimestamptz:
        if (append_iso_timestamp(out, text, true)) {
            return;
        }
        break;
    default: break;
    }
    append_json_string(out, text);
}

std::string format_utc_timestamp(std::int64_t unix_us) {
    // Every change of a transaction has the same commit time: format it once.
    thread_local std::int64_t last_us = 0;
    thread_local std::string last_text;
    if (unix_us == last_us && !last_text.empty()) {
        return last_text;
    }
    using namespace std::chrono;
    sys_time<microseconds> tp{microseconds{unix_us}};
    auto day = floor<days>(tp);
    year_month_day ymd{day};
    hh_mm_ss<microseconds> hms{tp - day};
    char buf[48];
    int n = std::snprintf(
        buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
        static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
        static_cast<int>(hms.seconds().count()), static_cast<long long>(hms.subseconds().count()));
    last_us = unix_us;
    last_text.assign(buf, static_cast<std::size_t>(n));
    return last_text;
}

} // namespace walbus::pg
