#pragma once

// Text-to-value conversions for configuration scalars, and their inverse for the documentation.
// Pure functions: no YAML, no key names, no messages.

#include <chrono>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "walbus/config/config.h"
#include "walbus/core/text_match.h"

namespace walbus::config::detail {

enum class NumberError {
    Malformed,   // not "<digits><unit>"
    MissingUnit, // digits only, for a duration
    UnknownUnit, // digits followed by a word that is not a unit
    Overflow,
};

struct NumberProblem {
    NumberError error = NumberError::Malformed;
    std::string suggestion; // a corrected spelling ("10s", "4MiB") when one is obvious
};

// "200ms", "10s", "5m", "1h"; one optional space may separate the number and the unit.
[[nodiscard]] std::expected<std::chrono::milliseconds, NumberProblem>
parse_duration(std::string_view text);

// "4194304", "512KiB", "4MiB", "1GiB", "16B"; one optional space before the unit.
[[nodiscard]] std::expected<std::uint64_t, NumberProblem> parse_size(std::string_view text);

// The shortest exact spelling: 300000ms -> "5m", 200ms -> "200ms".
[[nodiscard]] std::string format_duration(std::chrono::milliseconds value);
// 4194304 -> "4MiB", 1000 -> "1000B".
[[nodiscard]] std::string format_size(std::uint64_t bytes);

// true, True, TRUE, false, False, FALSE (YAML 1.2 core schema). yes/no/on/off are not booleans.
[[nodiscard]] std::expected<bool, std::string> parse_bool(std::string_view text);

enum class ExpansionError {
    Unset,        // ${NAME} with NAME not in the environment
    Unterminated, // "${" without a closing "}"
    BadName,      // "${...}" whose content is not a variable name
};

struct ExpansionProblem {
    ExpansionError error = ExpansionError::Unset;
    std::string variable; // the text between the braces
};

struct Expansion {
    std::string text;
    std::vector<ExpansionProblem> problems; // when not empty, text is unusable
};

// Replaces each ${NAME} with the value of NAME; "$${" stands for a literal "${". A "$" not
// followed by "{" is kept as is. Names are letters, digits and underscores, not starting with a
// digit. An empty `env` means that no variable is set.
[[nodiscard]] Expansion expand_env(std::string_view text, const EnvLookup& env);

using walbus::closest_match; // walbus/core/text_match.h

} // namespace walbus::config::detail
