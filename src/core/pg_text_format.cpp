#include "pg_text_format.h"

namespace walbus::pg::text {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Unescaped text is taken straight from the input until the first quote or backslash; from
// there on it is built in the scratch buffer.
class Unescaper {
public:
    Unescaper(std::string_view s, std::size_t start, std::string& scratch)
        : s_(s), start_(start), scratch_(scratch) {}

    // Switches to copying: the scratch buffer gets the input read so far, up to `pos`.
    void begin_copy(std::size_t pos) {
        if (!copying_) {
            scratch_.assign(s_.data() + start_, pos - start_);
            copying_ = true;
        }
    }
    void push(char c) { scratch_.push_back(c); }
    // At a backslash at `pos`: takes the character it escapes and moves past both. False when the
    // backslash ends the input.
    [[nodiscard]] bool take_escaped(std::size_t& pos) {
        if (pos + 1 >= s_.size()) {
            return false;
        }
        begin_copy(pos);
        push(s_[pos + 1]);
        pos += 2;
        return true;
    }
    [[nodiscard]] bool copying() const { return copying_; }
    [[nodiscard]] std::string_view result(std::size_t end) const {
        return copying_ ? std::string_view(scratch_) : s_.substr(start_, end - start_);
    }

private:
    std::string_view s_;
    std::size_t start_;
    std::string& scratch_;
    bool copying_ = false;
};

bool skip_bound(std::string_view s, std::size_t& pos) {
    if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) {
        ++pos;
    }
    std::size_t digits = pos;
    while (pos < s.size() && is_digit(s[pos])) {
        ++pos;
    }
    return pos > digits;
}

} // namespace

void skip_space(std::string_view s, std::size_t& pos) {
    while (pos < s.size() && is_space(s[pos])) {
        ++pos;
    }
}

bool equals_word(std::string_view s, std::string_view lower_word) {
    if (s.size() != lower_word.size()) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != lower_word[i]) {
            return false;
        }
    }
    return true;
}

bool skip_array_dimensions(std::string_view s, std::size_t& pos) {
    if (pos >= s.size() || s[pos] != '[') {
        return true;
    }
    while (pos < s.size() && s[pos] == '[') {
        ++pos;
        if (!skip_bound(s, pos)) {
            return false;
        }
        if (pos < s.size() && s[pos] == ':') {
            ++pos;
            if (!skip_bound(s, pos)) {
                return false;
            }
        }
        if (pos >= s.size() || s[pos] != ']') {
            return false;
        }
        ++pos;
    }
    skip_space(s, pos);
    if (pos >= s.size() || s[pos] != '=') {
        return false;
    }
    ++pos;
    skip_space(s, pos);
    return true;
}

bool read_quoted(std::string_view s, std::size_t& pos, std::string& scratch,
                 std::string_view& text) {
    if (pos >= s.size() || s[pos] != '"') {
        return false;
    }
    ++pos;
    Unescaper u(s, pos, scratch);
    while (pos < s.size()) {
        char c = s[pos];
        if (c == '"') {
            text = u.result(pos);
            ++pos;
            return true;
        }
        if (c == '\\') {
            if (!u.take_escaped(pos)) {
                return false;
            }
            continue;
        }
        if (u.copying()) {
            u.push(c);
        }
        ++pos;
    }
    return false; // no closing quote
}

bool read_array_element(std::string_view s, std::size_t& pos, char delimiter, std::string& scratch,
                        Item& item) {
    skip_space(s, pos);
    if (pos >= s.size()) {
        return false;
    }
    item.null = false;
    if (s[pos] == '"') {
        if (!read_quoted(s, pos, scratch, item.text)) {
            return false;
        }
        skip_space(s, pos);
        return true;
    }
    // Unquoted: up to the delimiter or a brace; trailing white space is dropped unless escaped.
    std::size_t start = pos;
    Unescaper u(s, start, scratch);
    std::size_t significant_end = pos; // in the input, or in scratch once copying
    bool escaped = false;
    while (pos < s.size()) {
        char c = s[pos];
        if (c == delimiter || c == '{' || c == '}') {
            break;
        }
        if (c == '"') {
            return false; // a quote inside an unquoted element
        }
        if (c == '\\') {
            if (pos + 1 >= s.size()) {
                return false;
            }
            if (!u.copying()) {
                u.begin_copy(pos);
                significant_end -= start; // now an offset in scratch
            }
            u.push(s[pos + 1]);
            significant_end = scratch.size();
            escaped = true;
            pos += 2;
            continue;
        }
        if (u.copying()) {
            u.push(c);
            if (!is_space(c)) {
                significant_end = scratch.size();
            }
        } else if (!is_space(c)) {
            significant_end = pos + 1;
        }
        ++pos;
    }
    if (u.copying()) {
        scratch.resize(significant_end);
        item.text = scratch;
    } else {
        item.text = s.substr(start, significant_end - start);
    }
    if (item.text.empty() && !escaped) {
        return false; // array_out quotes empty strings
    }
    item.null = !escaped && equals_word(item.text, "null");
    return true;
}

bool read_field(std::string_view s, std::size_t& pos, std::string_view stops, std::string& scratch,
                Item& item) {
    std::size_t start = pos;
    Unescaper u(s, start, scratch);
    bool in_quotes = false;
    while (pos < s.size()) {
        char c = s[pos];
        if (!in_quotes && stops.find(c) != std::string_view::npos) {
            item.text = u.result(pos);
            item.null = pos == start;
            return true;
        }
        if (c == '\\') {
            if (!u.take_escaped(pos)) {
                return false;
            }
            continue;
        }
        if (c == '"') {
            u.begin_copy(pos);
            if (!in_quotes) {
                in_quotes = true;
            } else if (pos + 1 < s.size() && s[pos + 1] == '"') {
                u.push('"');
                ++pos;
            } else {
                in_quotes = false;
            }
            ++pos;
            continue;
        }
        if (u.copying()) {
            u.push(c);
        }
        ++pos;
    }
    return false; // the text ended before the field did
}

} // namespace walbus::pg::text
