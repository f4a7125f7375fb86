#include "value_parsing.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <optional>

namespace walbus::config::detail {
namespace {

struct Unit {
    std::string_view name;
    std::uint64_t factor;
};

// Largest first, so format_* can pick the biggest unit that divides a value exactly.
constexpr std::array<Unit, 4> kDurationUnits{{
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

constexpr std::array<Unit, 4> kSizeUnits{{
    {"GiB", 1024ULL * 1024 * 1024},
    {"MiB", 1024ULL * 1024},
    {"KiB", 1024},
    {"B", 1},
}};

// Spellings people write for a unit, mapped to the one walbus accepts. Compared ignoring case.
struct UnitAlias {
    std::string_view alias;
    std::string_view unit;
};

constexpr std::array<UnitAlias, 16> kDurationAliases{{
    {"msec", "ms"},
    {"msecs", "ms"},
    {"millisecond", "ms"},
    {"milliseconds", "ms"},
    {"sec", "s"},
    {"secs", "s"},
    {"second", "s"},
    {"seconds", "s"},
    {"min", "m"},
    {"mins", "m"},
    {"minute", "m"},
    {"minutes", "m"},
    {"hr", "h"},
    {"hrs", "h"},
    {"hour", "h"},
    {"hours", "h"},
}};

constexpr std::array<UnitAlias, 10> kSizeAliases{{
    {"b", "B"},
    {"k", "KiB"},
    {"kb", "KiB"},
    {"kib", "KiB"},
    {"m", "MiB"},
    {"mb", "MiB"},
    {"mib", "MiB"},
    {"g", "GiB"},
    {"gb", "GiB"},
    {"gib", "GiB"},
}};

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return std::ranges::equal(a, b, [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

struct NumberWithUnit {
    std::uint64_t number = 0;
    std::string_view digits;
    std::string_view unit; // empty when there is none
};

std::expected<NumberWithUnit, NumberProblem> split_number(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && is_digit(text[i])) {
        ++i;
    }
    if (i == 0) {
        return std::unexpected(NumberProblem{NumberError::Malformed, {}});
    }
    NumberWithUnit out;
    out.digits = text.substr(0, i);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + i, out.number);
    if (ec == std::errc::result_out_of_range) {
        return std::unexpected(NumberProblem{NumberError::Overflow, {}});
    }
    if (i < text.size() && text[i] == ' ') {
        ++i;
        if (i == text.size()) {
            return std::unexpected(NumberProblem{NumberError::Malformed, {}});
        }
    }
    out.unit = text.substr(i);
    if (!std::ranges::all_of(out.unit, is_letter)) {
        return std::unexpected(NumberProblem{NumberError::Malformed, {}});
    }
    return out;
}

template <std::size_t N, std::size_t M>
std::expected<std::uint64_t, NumberProblem>
apply_unit(const NumberWithUnit& parsed, const std::array<Unit, N>& units,
           const std::array<UnitAlias, M>& aliases, std::uint64_t limit) {
    for (const Unit& unit : units) {
        if (unit.name == parsed.unit) {
            if (parsed.number > limit / unit.factor) {
                return std::unexpected(NumberProblem{NumberError::Overflow, {}});
            }
            return parsed.number * unit.factor;
        }
    }
    NumberProblem problem{NumberError::UnknownUnit, {}};
    for (const Unit& unit : units) {
        if (equals_ignoring_case(unit.name, parsed.unit)) {
            problem.suggestion = std::string(parsed.digits) + std::string(unit.name);
        }
    }
    for (const UnitAlias& alias : aliases) {
        if (problem.suggestion.empty() && equals_ignoring_case(alias.alias, parsed.unit)) {
            problem.suggestion = std::string(parsed.digits) + std::string(alias.unit);
        }
    }
    return std::unexpected(std::move(problem));
}

template <std::size_t N>
std::string format_with_units(std::uint64_t value, const std::array<Unit, N>& units) {
    for (const Unit& unit : units) {
        if (value != 0 && value % unit.factor == 0) {
            return std::to_string(value / unit.factor) + std::string(unit.name);
        }
    }
    std::string zero(1, '0');
    zero += units.back().name;
    return zero;
}

bool is_variable_name(std::string_view name) {
    if (name.empty() || is_digit(name.front())) {
        return false;
    }
    return std::ranges::all_of(name,
                               [](char c) { return is_letter(c) || is_digit(c) || c == '_'; });
}

} // namespace

std::expected<std::chrono::milliseconds, NumberProblem> parse_duration(std::string_view text) {
    auto parsed = split_number(text);
    if (!parsed) {
        return std::unexpected(std::move(parsed.error()));
    }
    if (parsed->unit.empty()) {
        return std::unexpected(NumberProblem{NumberError::MissingUnit, {}});
    }
    constexpr auto kLimit =
        static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
    auto ms = apply_unit(*parsed, kDurationUnits, kDurationAliases, kLimit);
    if (!ms) {
        return std::unexpected(std::move(ms.error()));
    }
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*ms));
}

std::expected<std::uint64_t, NumberProblem> parse_size(std::string_view text) {
    auto parsed = split_number(text);
    if (!parsed) {
        return std::unexpected(std::move(parsed.error()));
    }
    if (parsed->unit.empty()) {
        return parsed->number;
    }
    return apply_unit(*parsed, kSizeUnits, kSizeAliases, std::numeric_limits<std::uint64_t>::max());
}

std::string format_duration(std::chrono::milliseconds value) {
    return format_with_units(static_cast<std::uint64_t>(value.count()), kDurationUnits);
}

std::string format_size(std::uint64_t bytes) {
    return format_with_units(bytes, kSizeUnits);
}

std::expected<bool, std::string> parse_bool(std::string_view text) {
    if (text == "true" || text == "True" || text == "TRUE") {
        return true;
    }
    if (text == "false" || text == "False" || text == "FALSE") {
        return false;
    }
    for (std::string_view yes : {"yes", "y", "on"}) {
        if (equals_ignoring_case(text, yes)) {
            return std::unexpected(std::string("true"));
        }
    }
    for (std::string_view no : {"no", "n", "off"}) {
        if (equals_ignoring_case(text, no)) {
            return std::unexpected(std::string("false"));
        }
    }
    return std::unexpected(std::string());
}

Expansion expand_env(std::string_view text, const EnvLookup& env) {
    Expansion out;
    out.text.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        if (text.substr(i, 3) == "$${") {
            out.text += "${";
            i += 3;
            continue;
        }
        if (text.substr(i, 2) != "${") {
            out.text += text[i];
            ++i;
            continue;
        }
        const std::size_t close = text.find('}', i + 2);
        if (close == std::string_view::npos) {
            out.problems.push_back({ExpansionError::Unterminated, {}});
            break;
        }
        const std::string_view name = text.substr(i + 2, close - (i + 2));
        i = close + 1;
        if (!is_variable_name(name)) {
            out.problems.push_back({ExpansionError::BadName, std::string(name)});
            continue;
        }
        std::optional<std::string> value;
        if (env) {
            value = env(name);
        }
        if (!value) {
            out.problems.push_back({ExpansionError::Unset, std::string(name)});
            continue;
        }
        out.text += *value;
    }
    return out;
}

} // namespace walbus::config::detail
