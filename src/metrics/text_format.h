#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

// Pieces of the Prometheus text format 0.0.4.
namespace walbus::metrics::detail {

// [a-zA-Z_:][a-zA-Z0-9_:]*
[[nodiscard]] bool is_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus' own labels).
[[nodiscard]] bool is_label_name(std::string_view name);

// "# HELP name help\n# TYPE name type\n"; in the help, '\' and line feed are escaped.
void append_header(std::string& out, std::string_view name, std::string_view help,
                   std::string_view type);

// `name{a="x",b="y"}` followed by a space; the braces only when there are labels. Label values
// are escaped ('\', '"' and line feed). `extra_name`/`extra_value`, when not empty, is one more
// label after the others (a histogram's "le").
void append_series(std::string& out, std::string_view name, std::span<const std::string> names,
                   std::span<const std::string> values, std::string_view extra_name = {},
                   std::string_view extra_value = {});

void append_value(std::string& out, std::uint64_t value);
void append_value(std::string& out, std::int64_t value);
// Shortest form that reads back exactly; "+Inf", "-Inf", "NaN" as the format spells them.
void append_value(std::string& out, double value);

} // namespace walbus::metrics::detail
