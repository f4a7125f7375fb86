#include "walbus/core/pg_types.h"

#include <array>
#include <chrono>
#include <cstdio>

#include "pg_datetime.h"
#include "pg_text_format.h"
#include "walbus/core/json_scan.h"
#include "walbus/core/json_writer.h"

namespace walbus::pg {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Plain JSON number grammar: what PostgreSQL prints for finite integers, floats and numerics.
bool is_json_number(std::string_view s) {
    std::size_t i = 0;
    if (i < s.size() && s[i] == '-') {
        ++i;
    }
    std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) {
        ++i;
    }
    if (i == start || (s[start] == '0' && i - start > 1)) {
        return false;
    }
    if (i < s.size() && s[i] == '.') {
        std::size_t f = ++i;
        while (i < s.size() && is_digit(s[i])) {
            ++i;
        }
        if (i == f) {
            return false;
        }
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
            ++i;
        }
        std::size_t e = i;
        while (i < s.size() && is_digit(s[i])) {
            ++i;
        }
        if (i == e) {
            return false;
        }
    }
    return i == s.size();
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// bytea in hex output ("\x00ff10"), decoded straight into base64 or re-written as bare hex.
// False (nothing kept in `out`) for anything else, such as bytea_output=escape.
bool append_bytea(std::string& out, std::string_view text, JsonOptions::Bytes form) {
    if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
        return false;
    }
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static constexpr char kHex[] = "0123456789abcdef";
    const std::size_t mark = out.size();
    std::string_view hex = text.substr(2);
    const std::size_t n = hex.size() / 2; // bytes
    out.push_back('"');
    if (form == JsonOptions::Bytes::Hex) {
        for (std::size_t i = 0; i < n; ++i) {
            int hi = hex_value(hex[2 * i]);
            int lo = hex_value(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                out.resize(mark);
                return false;
            }
            out.push_back(kHex[hi]);
            out.push_back(kHex[lo]);
        }
        out.push_back('"');
        return true;
    }
    std::uint32_t group = 0; // up to three bytes
    int held = 0;
    for (std::size_t i = 0; i < n; ++i) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            out.resize(mark);
            return false;
        }
        group = (group << 8) | static_cast<std::uint32_t>((hi << 4) | lo);
        if (++held == 3) {
            out.push_back(kAlphabet[(group >> 18) & 63]);
            out.push_back(kAlphabet[(group >> 12) & 63]);
            out.push_back(kAlphabet[(group >> 6) & 63]);
            out.push_back(kAlphabet[group & 63]);
            group = 0;
            held = 0;
        }
    }
    if (held == 1) {
        group <<= 16;
        out.push_back(kAlphabet[(group >> 18) & 63]);
        out.push_back(kAlphabet[(group >> 12) & 63]);
        out.append("==");
    } else if (held == 2) {
        group <<= 8;
        out.push_back(kAlphabet[(group >> 18) & 63]);
        out.push_back(kAlphabet[(group >> 12) & 63]);
        out.push_back(kAlphabet[(group >> 6) & 63]);
        out.push_back('=');
    }
    out.push_back('"');
    return true;
}

// Working space of one thread, kept between values so that structured values do not allocate
// once the buffers have grown: one unescaping buffer per nesting level (an item's text must
// survive while the items nested in it are converted) and the JSON scanner's stack.
struct Scratch {
    std::array<std::string, kMaxValueDepth> items;
};

Scratch& scratch() {
    thread_local Scratch s;
    return s;
}

// A domain's values are written as its base type's. Nullptr when the base type is unknown (or the
// registry holds a cycle of domains).
const TypeRegistry::Entry* resolve_domain(const TypeRegistry& types, const TypeRegistry::Entry* e) {
    for (int hops = 0; e != nullptr && e->form == JsonForm::Domain; ++hops) {
        e = hops < kMaxValueDepth ? types.entry(e->desc.element_oid) : nullptr;
    }
    return e;
}

bool is_scalar(JsonForm form) {
    switch (form) {
    case JsonForm::Domain:
    case JsonForm::Array:
    case JsonForm::Composite:
    case JsonForm::Range:
    case JsonForm::Multirange:
    case JsonForm::Hstore: return false;
    default: return true;
    }
}

// Scalars never fail: text not in its type's form is written as a string.
void append_scalar(std::string& out, JsonForm form, std::string_view text,
                   const JsonOptions& options) {
    switch (form) {
    case JsonForm::Bool:
        if (text == "t") {
            out.append("true");
            return;
        }
        if (text == "f") {
            out.append("false");
            return;
        }
        break;
    case JsonForm::Integer:
    case JsonForm::Float:
        if (is_json_number(text)) {
            out.append(text);
            return;
        }
        break; // NaN, Infinity, -Infinity stay strings
    case JsonForm::Numeric:
        if (options.numeric_as_number && is_json_number(text)) {
            out.append(text);
            return;
        }
        break;
    case JsonForm::Bytea:
        if (append_bytea(out, text, options.bytea)) {
            return;
        }
        break;
    case JsonForm::Json:
        if (append_json_value(out, text)) {
            return;
        }
        break;
    case JsonForm::Date:
        if (append_iso_date(out, text)) {
            return;
        }
        break; // infinity, -infinity
    case JsonForm::TimeTz:
        if (append_iso_timetz(out, text)) {
            return;
        }
        break;
    case JsonForm::Timestamp:
        if (append_iso_timestamp(out, text)) {
            return;
        }
        break;
    case JsonForm::Timestamptz:
        if (append_iso_timestamptz(out, text)) {
            return;
        }
        break;
    default: break;
    }
    append_json_string(out, text);
}

// Writes structured values while reading their text. A false return means the text is malformed;
// the caller then discards everything written for the value and writes the text instead.
class Converter {
public:
    Converter(std::string& out, const TypeRegistry& types, const JsonOptions& options)
        : out_(out), types_(types), options_(options), scratch_(scratch()) {}

    bool value(const TypeRegistry::Entry& entry, std::string_view s, int depth) {
        if (depth >= kMaxValueDepth) {
            return false;
        }
        const TypeRegistry::Entry* e = resolve_domain(types_, &entry);
        if (e == nullptr) {
            append_json_string(out_, s);
            return true;
        }
        switch (e->form) {
        case JsonForm::Array: return array(e->desc, s, depth);
        case JsonForm::Composite: return composite(e->desc, s, depth);
        case JsonForm::Range: return whole_range(resolve(e->desc.element_oid), s, depth);
        case JsonForm::Multirange: return multirange(e->desc.element_oid, s, depth);
        case JsonForm::Hstore: return hstore(s, depth);
        default: append_scalar(out_, e->form, s, options_); return true;
        }
    }

private:
    // The entry to convert a type's values with: domains resolved; nullptr when unknown.
    const TypeRegistry::Entry* resolve(std::uint32_t oid) const {
        return resolve_domain(types_, types_.entry(oid));
    }

    // An array element, composite attribute or range bound, of the type `e` (nullptr: unknown).
    bool item(const TypeRegistry::Entry* e, const text::Item& it, int depth) {
        if (it.null) {
            out_.append("null");
            return true;
        }
        if (e == nullptr) {
            append_json_string(out_, it.text);
            return true;
        }
        if (is_scalar(e->form)) {
            append_scalar(out_, e->form, it.text, options_);
            return true;
        }
        return value(*e, it.text, depth);
    }

    bool array(const TypeDesc& type, std::string_view s, int depth) {
        std::size_t pos = 0;
        text::skip_space(s, pos);
        if (!text::skip_array_dimensions(s, pos) || pos >= s.size() || s[pos] != '{' ||
            !array_level(resolve(type.element_oid), type.delimiter, s, pos, depth)) {
            return false;
        }
        text::skip_space(s, pos);
        return pos == s.size();
    }

    // One brace level, at its '{': either all sub-arrays or all elements.
    bool array_level(const TypeRegistry::Entry* element, char delimiter, std::string_view s,
                     std::size_t& pos, int depth) {
        if (depth >= kMaxValueDepth) {
            return false;
        }
        ++pos;
        out_.push_back('[');
        text::skip_space(s, pos);
        if (pos < s.size() && s[pos] == '}') {
            ++pos;
            out_.push_back(']');
            return true;
        }
        const bool nested = pos < s.size() && s[pos] == '{';
        for (bool first = true;; first = false) {
            if (!first) {
                out_.push_back(',');
            }
            text::skip_space(s, pos);
            if (nested) {
                if (pos >= s.size() || s[pos] != '{' ||
                    !array_level(element, delimiter, s, pos, depth + 1)) {
                    return false;
                }
                text::skip_space(s, pos);
            } else {
                text::Item element_text;
                if (!text::read_array_element(s, pos, delimiter, scratch_.items[depth],
                                              element_text) ||
                    !item(element, element_text, depth + 1)) {
                    return false;
                }
            }
            if (pos >= s.size()) {
                return false;
            }
            if (s[pos] == delimiter) {
                ++pos;
                continue;
            }
            if (s[pos] == '}') {
                ++pos;
                out_.push_back(']');
                return true;
            }
            return false;
        }
    }

    bool composite(const TypeDesc& type, std::string_view s, int depth) {
        std::size_t pos = 0;
        text::skip_space(s, pos);
        if (pos >= s.size() || s[pos] != '(') {
            return false;
        }
        ++pos;
        out_.push_back('{');
        const auto& attributes = type.attributes;
        if (attributes.empty()) {
            if (pos >= s.size() || s[pos] != ')') {
                return false;
            }
            ++pos;
        }
        for (std::size_t i = 0; i < attributes.size(); ++i) {
            text::Item field;
            if (!text::read_field(s, pos, ",)", scratch_.items[depth], field)) {
                return false;
            }
            if (i > 0) {
                out_.push_back(',');
            }
            append_json_string(out_, attributes[i].first);
            out_.push_back(':');
            if (!item(resolve(attributes[i].second), field, depth + 1)) {
                return false;
            }
            const char end = i + 1 < attributes.size() ? ',' : ')';
            if (s[pos] != end) { // read_field stops on ',' or ')'
                return false;
            }
            ++pos;
        }
        out_.push_back('}');
        text::skip_space(s, pos);
        return pos == s.size();
    }

    bool whole_range(const TypeRegistry::Entry* subtype, std::string_view s, int depth) {
        std::size_t pos = 0;
        if (!range(subtype, s, pos, depth)) {
            return false;
        }
        text::skip_space(s, pos);
        return pos == s.size();
    }

    // One range at `pos`: "empty", or bounds between '['/'(' and ']'/')'.
    bool range(const TypeRegistry::Entry* subtype, std::string_view s, std::size_t& pos,
               int depth) {
        if (depth >= kMaxValueDepth) {
            return false;
        }
        text::skip_space(s, pos);
        if (text::equals_word(s.substr(pos, 5), "empty")) {
            pos += 5;
            out_.append(R"({"empty":true})");
            return true;
        }
        if (pos >= s.size() || (s[pos] != '[' && s[pos] != '(')) {
            return false;
        }
        const bool lower_inc = s[pos] == '[';
        ++pos;
        text::Item bound;
        out_.append(R"({"lower":)");
        if (!text::read_field(s, pos, ",])", scratch_.items[depth], bound) ||
            !item(subtype, bound, depth + 1) || s[pos] != ',') {
            return false;
        }
        ++pos;
        out_.append(R"(,"upper":)");
        if (!text::read_field(s, pos, ",])", scratch_.items[depth], bound) ||
            !item(subtype, bound, depth + 1) || s[pos] == ',') {
            return false;
        }
        const bool upper_inc = s[pos] == ']';
        ++pos;
        out_.append(lower_inc ? R"(,"lower_inc":true)" : R"(,"lower_inc":false)");
        out_.append(upper_inc ? R"(,"upper_inc":true})" : R"(,"upper_inc":false})");
        return true;
    }

    bool multirange(std::uint32_t range_type, std::string_view s, int depth) {
        const TypeRegistry::Entry* subtype = nullptr; // bounds as text when the range is unknown
        if (const TypeRegistry::Entry* r = resolve(range_type);
            r != nullptr && r->form == JsonForm::Range) {
            subtype = resolve(r->desc.element_oid);
        }
        std::size_t pos = 0;
        text::skip_space(s, pos);
        if (pos >= s.size() || s[pos] != '{') {
            return false;
        }
        ++pos;
        out_.push_back('[');
        text::skip_space(s, pos);
        if (pos < s.size() && s[pos] == '}') {
            ++pos;
        } else {
            for (bool first = true;; first = false) {
                if (!first) {
                    out_.push_back(',');
                }
                if (!range(subtype, s, pos, depth + 1)) {
                    return false;
                }
                text::skip_space(s, pos);
                if (pos >= s.size()) {
                    return false;
                }
                if (s[pos++] == '}') {
                    break;
                }
                if (s[pos - 1] != ',') {
                    return false;
                }
            }
        }
        out_.push_back(']');
        text::skip_space(s, pos);
        return pos == s.size();
    }

    // "k"=>"v", "k2"=>NULL
    bool hstore(std::string_view s, int depth) {
        std::string& buffer = scratch_.items[depth];
        std::size_t pos = 0;
        out_.push_back('{');
        text::skip_space(s, pos);
        for (bool first = true; pos < s.size(); first = false) {
            if (!first) {
                if (s[pos] != ',') {
                    return false;
                }
                ++pos;
                text::skip_space(s, pos);
                out_.push_back(',');
            }
            std::string_view part;
            if (!text::read_quoted(s, pos, buffer, part)) {
                return false;
            }
            append_json_string(out_, part);
            out_.push_back(':');
            text::skip_space(s, pos);
            if (s.substr(pos, 2) != "=>") {
                return false;
            }
            pos += 2;
            text::skip_space(s, pos);
            if (text::equals_word(s.substr(pos, 4), "null")) {
                pos += 4;
                out_.append("null");
            } else if (text::read_quoted(s, pos, buffer, part)) {
                append_json_string(out_, part);
            } else {
                return false;
            }
            text::skip_space(s, pos);
        }
        out_.push_back('}');
        return true;
    }

    std::string& out_;
    const TypeRegistry& types_;
    const JsonOptions& options_;
    Scratch& scratch_;
};

} // namespace

void append_value_json(std::string& out, std::uint32_t type_oid, std::string_view text,
                       const TypeRegistry& types, const JsonOptions& options) {
    // Most columns have a built-in scalar type: no registry lookup for those.
    if (JsonForm form{}; TypeRegistry::builtin_form(type_oid, form) && is_scalar(form)) {
        append_scalar(out, form, text, options);
        return;
    }
    const TypeRegistry::Entry* e = resolve_domain(types, types.entry(type_oid));
    if (e == nullptr) {
        append_json_string(out, text);
        return;
    }
    if (is_scalar(e->form)) {
        append_scalar(out, e->form, text, options);
        return;
    }
    const std::size_t mark = out.size();
    Converter converter(out, types, options);
    if (!converter.value(*e, text, 0)) {
        out.resize(mark);
        append_json_string(out, text);
    }
}

void append_value_json(std::string& out, std::uint32_t type_oid, std::string_view text) {
    static constexpr JsonOptions kDefaults{};
    if (JsonForm form{}; TypeRegistry::builtin_form(type_oid, form) && is_scalar(form)) {
        append_scalar(out, form, text, kDefaults);
        return;
    }
    append_value_json(out, type_oid, text, TypeRegistry::builtins(), kDefaults);
}

const std::string& format_utc_timestamp(std::int64_t unix_us) {
    // Every change of a transaction has the same commit time: format it once.
    thread_local std::int64_t last_us = 0;
    thread_local std::string last_text;
    if (unix_us == last_us && !last_text.empty()) {
        return last_text;
    }
    using namespace std::chrono;
    sys_time<microseconds> tp{microseconds{unix_us}};
    auto day = floor<days>(tp);
    year_month_day ymd{day};
    hh_mm_ss<microseconds> hms{tp - day};
    char buf[48];
    int n = std::snprintf(
        buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
        static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
        static_cast<int>(hms.seconds().count()), static_cast<long long>(hms.subseconds().count()));
    last_us = unix_us;
    last_text.assign(buf, static_cast<std::size_t>(n));
    return last_text;
}

} // namespace walbus::pg
