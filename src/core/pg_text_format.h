#pragma once

// Lexing of PostgreSQL's text forms of structured values: arrays (array_out), composite values
// (record_out), ranges (range_out) and hstore (hstore_out). Every function reads within the
// given view only and reports malformed text by returning false; none allocates unless an item
// needs unescaping, and then only into the caller's reusable scratch buffer.

#include <cstddef>
#include <string>
#include <string_view>

namespace walbus::pg::text {

// One array element, composite attribute or range bound.
struct Item {
    std::string_view text; // unescaped: points into the input or into the scratch buffer
    bool null = false;
};

// array_isspace: the white space array_in skips around elements.
[[nodiscard]] constexpr bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void skip_space(std::string_view s, std::size_t& pos);

// Skips the dimension decoration "[lower:upper]...=" that array_out writes before the braces
// when a lower bound is not 1. Leaves `pos` unchanged when there is none.
[[nodiscard]] bool skip_array_dimensions(std::string_view s, std::size_t& pos);

// Reads one array element at `pos` by array_in's rules: a double-quoted string with backslash
// escapes, or an unquoted run up to `delimiter` or a brace, without the white space around it.
// An unquoted NULL (any case) is SQL NULL. Leaves `pos` after the element and the white space
// that follows it.
[[nodiscard]] bool read_array_element(std::string_view s, std::size_t& pos, char delimiter,
                                      std::string& scratch, Item& item);

// Reads one composite attribute or range bound at `pos` by record_in's and range_in's rules:
// the characters up to one of `stops` outside double quotes; inside quotes "" stands for a
// quote; a backslash takes the next character literally. Nothing at all is SQL NULL (an empty
// string is written ""). Leaves `pos` on the stop character.
[[nodiscard]] bool read_field(std::string_view s, std::size_t& pos, std::string_view stops,
                              std::string& scratch, Item& item);

// Reads a double-quoted string with backslash escapes (hstore keys and values) starting at the
// quote at `pos`. Leaves `pos` after the closing quote.
[[nodiscard]] bool read_quoted(std::string_view s, std::size_t& pos, std::string& scratch,
                               std::string_view& text);

// ASCII case-insensitive comparison with a lower-case word ("null", "empty").
[[nodiscard]] bool equals_word(std::string_view s, std::string_view lower_word);

} // namespace walbus::pg::text
