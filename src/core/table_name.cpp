#include "walbus/core/table_name.h"

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

} // namespace walbus
