#include "pg_datetime.h"

#include <charconv>
#include <cstdint>

namespace walbus::pg {
namespace {

struct Date {
    std::int64_t year = 0; // astronomical: 1 BC is 0
    int month = 0;
    int day = 0;
};

struct Clock {
    int hour = 0;
    int minute = 0;
    int second = 0;
    std::string_view fraction; // ".123456" or empty
};

struct Offset {
    int seconds = 0; // east of Greenwich
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool fixed_digits(std::string_view s, std::size_t& pos, std::size_t n, int& value) {
    if (pos + n > s.size()) {
        return false;
    }
    value = 0;
    for (std::size_t i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (!is_digit(c)) {
            return false;
        }
        value = value * 10 + (c - '0');
    }
    pos += n;
    return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
    if (pos >= s.size() || s[pos] != c) {
        return false;
    }
    ++pos;
    return true;
}

// "YYYY-MM-DD" with four or more year digits (up to 9: PostgreSQL's dates end in 5874897).
bool parse_date(std::string_view s, std::size_t& pos, Date& d) {
    std::size_t start = pos;
    std::int64_t year = 0;
    while (pos < s.size() && is_digit(s[pos]) && pos - start < 9) {
        year = year * 10 + (s[pos] - '0');
        ++pos;
    }
    if (pos - start < 4 || year < 1) {
        return false;
    }
    if (!expect(s, pos, '-') || !fixed_digits(s, pos, 2, d.month) || !expect(s, pos, '-') ||
        !fixed_digits(s, pos, 2, d.day)) {
        return false;
    }
    d.year = year;
    return d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= 31;
}

// "HH:MM:SS" with an optional fraction.
bool parse_clock(std::string_view s, std::size_t& pos, Clock& c) {
    if (!fixed_digits(s, pos, 2, c.hour) || !expect(s, pos, ':') ||
        !fixed_digits(s, pos, 2, c.minute) || !expect(s, pos, ':') ||
        !fixed_digits(s, pos, 2, c.second)) {
        return false;
    }
    if (c.hour > 24 || c.minute > 59 || c.second > 60) {
        return false;
    }
    std::size_t start = pos;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        while (pos < s.size() && is_digit(s[pos])) {
            ++pos;
        }
        if (pos == start + 1) {
            return false;
        }
    }
    c.fraction = s.substr(start, pos - start);
    return true;
}

// "+HH", "-HH:MM" or "+HH:MM:SS".
bool parse_offset(std::string_view s, std::size_t& pos, Offset& o) {
    if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) {
        return false;
    }
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int h = 0;
    int m = 0;
    int sec = 0;
    if (!fixed_digits(s, pos, 2, h)) {
        return false;
    }
    if (pos < s.size() && s[pos] == ':') {
        ++pos;
        if (!fixed_digits(s, pos, 2, m)) {
            return false;
        }
        if (pos < s.size() && s[pos] == ':') {
            ++pos;
            if (!fixed_digits(s, pos, 2, sec)) {
                return false;
            }
        }
    }
    if (m > 59 || sec > 59) {
        return false;
    }
    o.seconds = sign * (h * 3600 + m * 60 + sec);
    return true;
}

// The " BC" suffix, then the end of the text. Turns the year astronomical.
bool parse_era(std::string_view s, std::size_t& pos, Date& d) {
    if (s.substr(pos) == " BC") {
        d.year = 1 - d.year;
        pos += 3;
    }
    return pos == s.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date, counted in 400-year eras of 146097 days
// whose years start on March 1 (so the leap day ends the year).
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t year_of_era = y - era * 400;                            // [0, 399]
    const std::int64_t month_from_march = m > 2 ? m - 3 : m + 9;               // [0, 11]
    const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1; // [0, 365]
    const std::int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year; // [0, 146096]
    return era * 146097 + day_of_era - 719468; // 719468: days from 0000-03-01 to 1970-01-01
}

Date civil_from_days(std::int64_t days) {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const std::int64_t day_of_era = days - era * 146097;
    const std::int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const std::int64_t day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;
    Date d;
    d.day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    d.month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    d.year = year_of_era + era * 400 + (d.month <= 2 ? 1 : 0);
    return d;
}

void append_padded(std::string& out, std::int64_t value, int width) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    for (auto n = static_cast<int>(r.ptr - buf); n < width; ++n) {
        out.push_back('0');
    }
    out.append(buf, r.ptr);
}

void append_date(std::string& out, const Date& d) {
    if (d.year < 0) {
        out.push_back('-');
        append_padded(out, -d.year, 4);
    } else {
        if (d.year > 9999) {
            out.push_back('+');
        }
        append_padded(out, d.year, 4);
    }
    out.push_back('-');
    append_padded(out, d.month, 2);
    out.push_back('-');
    append_padded(out, d.day, 2);
}

void append_clock(std::string& out, const Clock& c) {
    append_padded(out, c.hour, 2);
    out.push_back(':');
    append_padded(out, c.minute, 2);
    out.push_back(':');
    append_padded(out, c.second, 2);
    out.append(c.fraction);
}

void append_offset(std::string& out, const Offset& o) {
    if (o.seconds == 0) {
        out.push_back('Z');
        return;
    }
    int v = o.seconds < 0 ? -o.seconds : o.seconds;
    out.push_back(o.seconds < 0 ? '-' : '+');
    append_padded(out, v / 3600, 2);
    out.push_back(':');
    append_padded(out, v / 60 % 60, 2);
    if (v % 60 != 0) {
        out.push_back(':'); // not ISO 8601, which has no seconds in offsets; kept to be exact
        append_padded(out, v % 60, 2);
    }
}

int two_digits(std::string_view s, std::size_t at) {
    return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

// The common case: "YYYY-MM-DD" with a year from 0001 to 9999, then (for timestamps)
// " HH:MM:SS" and an optional fraction, and nothing else. These only need the space replaced.
bool is_plain(std::string_view s, bool with_clock) {
    static constexpr std::string_view kDate = "dddd-dd-dd";
    static constexpr std::string_view kDateTime = "dddd-dd-dd dd:dd:dd";
    const std::string_view pattern = with_clock ? kDateTime : kDate;
    if (s.size() < pattern.size()) {
        return false;
    }
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == 'd' ? !is_digit(s[i]) : s[i] != pattern[i]) {
            return false;
        }
    }
    if (s.substr(0, 4) == "0000") {
        return false;
    }
    const int month = two_digits(s, 5);
    const int day = two_digits(s, 8);
    if (month < 1 || month > 12 || day < 1 || day > 31) {
        return false;
    }
    if (!with_clock) {
        return s.size() == pattern.size();
    }
    if (two_digits(s, 11) > 24 || two_digits(s, 14) > 59 || two_digits(s, 17) > 60) {
        return false;
    }
    std::size_t pos = pattern.size();
    if (pos == s.size()) {
        return true;
    }
    if (s[pos] != '.' || pos + 1 == s.size()) {
        return false;
    }
    for (++pos; pos < s.size(); ++pos) {
        if (!is_digit(s[pos])) {
            return false;
        }
    }
    return true;
}

void append_plain(std::string& out, std::string_view s, bool utc) {
    out.push_back('"');
    out.append(s.substr(0, 10));
    out.push_back('T');
    out.append(s.substr(11));
    if (utc) {
        out.push_back('Z');
    }
    out.push_back('"');
}

} // namespace

bool append_iso_date(std::string& out, std::string_view text) {
    if (is_plain(text, false)) {
        out.push_back('"');
        out.append(text);
        out.push_back('"');
        return true;
    }
    std::size_t pos = 0;
    Date d;
    if (!parse_date(text, pos, d) || !parse_era(text, pos, d)) {
        return false;
    }
    out.push_back('"');
    append_date(out, d);
    out.push_back('"');
    return true;
}

bool append_iso_timestamp(std::string& out, std::string_view text) {
    if (is_plain(text, true)) {
        append_plain(out, text, false);
        return true;
    }
    std::size_t pos = 0;
    Date d;
    Clock c;
    if (!parse_date(text, pos, d) || !expect(text, pos, ' ') || !parse_clock(text, pos, c) ||
        !parse_era(text, pos, d)) {
        return false;
    }
    out.push_back('"');
    append_date(out, d);
    out.push_back('T');
    append_clock(out, c);
    out.push_back('"');
    return true;
}

bool append_iso_timestamptz(std::string& out, std::string_view text) {
    if (text.ends_with("+00") && is_plain(text.substr(0, text.size() - 3), true)) {
        append_plain(out, text.substr(0, text.size() - 3), true);
        return true;
    }
    std::size_t pos = 0;
    Date d;
    Clock c;
    Offset o;
    if (!parse_date(text, pos, d) || !expect(text, pos, ' ') || !parse_clock(text, pos, c) ||
        !parse_offset(text, pos, o) || !parse_era(text, pos, d)) {
        return false;
    }
    if (o.seconds != 0) {
        std::int64_t days = days_from_civil(d.year, d.month, d.day);
        std::int64_t secs = c.hour * 3600 + c.minute * 60 + c.second - o.seconds;
        std::int64_t shift = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
        secs -= shift * 86400;
        d = civil_from_days(days + shift);
        c.hour = static_cast<int>(secs / 3600);
        c.minute = static_cast<int>(secs / 60 % 60);
        c.second = static_cast<int>(secs % 60);
    }
    out.push_back('"');
    append_date(out, d);
    out.push_back('T');
    append_clock(out, c);
    out.push_back('Z');
    out.push_back('"');
    return true;
}

bool append_iso_timetz(std::string& out, std::string_view text) {
    std::size_t pos = 0;
    Clock c;
    Offset o;
    if (!parse_clock(text, pos, c) || !parse_offset(text, pos, o) || pos != text.size()) {
        return false;
    }
    out.push_back('"');
    append_clock(out, c);
    append_offset(out, o);
    out.push_back('"');
    return true;
}

} // namespace walbus::pg
