#include "text_format.h"

#include <charconv>
#include <cmath>

namespace walbus::metrics::detail {

namespace {

bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

template <typename T> void append_integer(std::string& out, T value) {
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    out.append(buf, end);
}

} // namespace

bool is_metric_name(std::string_view name) {
    if (name.empty() || !(is_letter(name[0]) || name[0] == ':')) {
        return false;
    }
    for (char c : name) {
        if (!is_letter(c) && !is_digit(c) && c != ':') {
            return false;
        }
    }
    return true;
}

bool is_label_name(std::string_view name) {
    if (name.empty() || !is_letter(name[0]) || name.starts_with("__")) {
        return false;
    }
    for (char c : name) {
        if (!is_letter(c) && !is_digit(c)) {
            return false;
        }
    }
    return true;
}

void append_header(std::string& out, std::string_view name, std::string_view help,
                   std::string_view type) {
    out += "# HELP ";
    out += name;
    out += ' ';
    for (char c : help) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

namespace {

void append_label(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += "=\"";
    for (char c : value) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
    out += '"';
}

} // namespace

void append_series(std::string& out, std::string_view name, std::span<const std::string> names,
                   std::span<const std::string> values, std::string_view extra_name,
                   std::string_view extra_value) {
    out += name;
    if (!names.empty() || !extra_name.empty()) {
        out += '{';
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i > 0) {
                out += ',';
            }
            append_label(out, names[i], values[i]);
        }
        if (!extra_name.empty()) {
            if (!names.empty()) {
                out += ',';
            }
            append_label(out, extra_name, extra_value);
        }
        out += '}';
    }
    out += ' ';
}

void append_value(std::string& out, std::uint64_t value) {
    append_integer(out, value);
}
void append_value(std::string& out, std::int64_t value) {
    append_integer(out, value);
}

void append_value(std::string& out, double value) {
    if (std::isnan(value)) {
        out += "NaN";
    } else if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
    } else {
        char buf[32];
        auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
        out.append(buf, end);
    }
}

} // namespace walbus::metrics::detail
