#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace walbus {

// A table name as users write it in the config ("schema.table", or "table" for schema public)
// → {schema, table}, by PostgreSQL's identifier rules: unquoted names fold to lower case;
// "Quoted"."Names" keep their case, may contain dots and write a quote as "".
[[nodiscard]] std::pair<std::string, std::string> split_table_name(std::string_view name);

// The name as SQL writes it: as it is when PostgreSQL would read it back unchanged (lower-case
// letters, digits and underscores, not starting with a digit), else in double quotes with
// quotes doubled. split_table_name reads "schema.table" made of these back.
[[nodiscard]] std::string sql_identifier(std::string_view name);

// "schema.table" made of sql_identifier()s.
[[nodiscard]] std::string sql_table_name(std::string_view schema, std::string_view table);

} // namespace walbus
