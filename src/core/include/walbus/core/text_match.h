#pragma once

#include <cstddef>
#include <span>
#include <string_view>

// Names that are almost right: the "did you mean" of configuration keys, enum values, rule keys
// and column names.

namespace walbus {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo, else empty.
[[nodiscard]] std::string_view closest_match(std::string_view word,
                                             std::span<const std::string_view> candidates);

} // namespace walbus
