#include "walbus/core/table_name.h"

#include <algorithm>
#include <vector>

namespace walbus {

std::pair<std::string, std::string> split_table_name(std::string_view name) {
    // PostgreSQL's identifier rules: an unquoted part folds to lower case and ends at a dot; a
    // quoted part keeps its case, may hold dots, and writes a quote as "".
    std::vector<std::string> parts(1);
    bool quoted = false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (quoted) {
            if (c == '"' && i + 1 < name.size() && name[i + 1] == '"') {
                parts.back().push_back('"');
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                parts.back().push_back(c);
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == '.') {
            parts.emplace_back();
        } else {
            parts.back().push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
        }
    }
    if (parts.size() == 1) {
        return {"public", parts[0]};
    }
    // More than one dot outside quotes: keep the last part as the table, the rest as schema.
    std::string schema = parts[0];
    for (std::size_t i = 1; i + 1 < parts.size(); ++i) {
        schema += "." + parts[i];
    }
    return {schema, parts.back()};
}

std::string sql_identifier(std::string_view name) {
    const bool plain = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                       std::ranges::all_of(name, [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                       });
    if (plain) {
        return std::string(name);
    }
    std::string out = "\"";
    for (char c : name) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

std::string sql_table_name(std::string_view schema, std::string_view table) {
    return sql_identifier(schema) + "." + sql_identifier(table);
}

} // namespace walbus
