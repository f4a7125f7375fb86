#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace walbus {

// A table name as users write it in the config ("schema.table", or "table" for schema public)
// → {schema, table}, by PostgreSQL's identifier rules: unquoted names fold to lower case;
// "Quoted"."Names" keep their case, may contain dots and write a quote as "".
[[nodiscard]] std::pair<std::string, std::string> split_table_name(std::string_view name);

} // namespace walbus
