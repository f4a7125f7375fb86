#include "walbus/core/json_scan.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace walbus {
namespace {

// Byte classes for the scanner's inner loops.
enum : std::uint8_t {
    kPlain = 0,      // any other byte
    kStringStop = 1, // ends a run of string content: '"', '\\', control characters
    kSpace = 2,      // ' ', '\t'
    kLineBreak = 4,  // '\n', '\r' (white space too)
    kDigit = 8,
    kHex = 16,
};

constexpr std::array<std::uint8_t, 256> kClass = [] {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) {
        t[static_cast<std::size_t>(c)] = kStringStop;
    }
    t['"'] = kStringStop;
    t['\\'] = kStringStop;
    t[' '] = kSpace;
    t['\t'] |= kSpace;
    t['\n'] |= kLineBreak;
    t['\r'] |= kLineBreak;
    for (int c = '0'; c <= '9'; ++c) {
        t[static_cast<std::size_t>(c)] = kDigit | kHex;
    }
    for (int c = 'a'; c <= 'f'; ++c) {
        t[static_cast<std::size_t>(c)] = kHex;
        t[static_cast<std::size_t>(c - 'a' + 'A')] = kHex;
    }
    return t;
}();

std::uint8_t klass(char c) {
    return kClass[static_cast<unsigned char>(c)];
}

// Eight bytes at a time: whether a word has a byte below 0x20, a '"' or a '\\' (bytes from
// 0x80 up never match, so UTF-8 text passes at full speed).
constexpr std::uint64_t kOnes = 0x0101010101010101;
constexpr std::uint64_t kHighBits = 0x8080808080808080;

bool has_string_stop(std::uint64_t w) {
    auto below = [](std::uint64_t x, unsigned char n) { return (x - kOnes * n) & ~x & kHighBits; };
    return (below(w, 0x20) | below(w ^ (kOnes * '"'), 1) | below(w ^ (kOnes * '\\'), 1)) != 0;
}

// Containers deeper than 64 levels keep their kinds in the caller's string; the first 64 in
// the bits of a word (1 for an object).
class Nesting {
public:
    explicit Nesting(std::string& overflow) : overflow_(overflow) { overflow_.clear(); }

    void push(bool object) {
        if (depth_ < 64) {
            bits_ = object ? bits_ | (std::uint64_t{1} << depth_)
                           : bits_ & ~(std::uint64_t{1} << depth_);
        } else {
            overflow_.push_back(object ? '{' : '[');
        }
        ++depth_;
    }
    void pop() {
        --depth_;
        if (depth_ >= 64) {
            overflow_.pop_back();
        }
    }
    [[nodiscard]] bool empty() const { return depth_ == 0; }
    [[nodiscard]] bool in_object() const {
        return depth_ <= 64 ? (bits_ >> (depth_ - 1)) & 1 : overflow_.back() == '{';
    }

private:
    std::string& overflow_;
    std::uint64_t bits_ = 0;
    std::size_t depth_ = 0;
};

class Scanner {
public:
    Scanner(std::string_view s, std::string& overflow)
        : p_(s.data()), end_(s.data() + s.size()), nesting_(overflow) {}

    bool run() {
        for (;;) {
            if (!value()) {
                return false;
            }
            // After a value: close containers, or go on to the next member or element.
            for (;;) {
                space();
                if (nesting_.empty()) {
                    return p_ == end_;
                }
                if (p_ == end_) {
                    return false;
                }
                const char c = *p_++;
                if (c == ',') {
                    if (nesting_.in_object() && !key()) {
                        return false;
                    }
                    break;
                }
                if (c != (nesting_.in_object() ? '}' : ']')) {
                    return false;
                }
                nesting_.pop();
            }
        }
    }

    [[nodiscard]] bool line_break() const { return line_break_; }

private:
    void space() {
        while (p_ < end_) {
            const std::uint8_t k = klass(*p_);
            if ((k & (kSpace | kLineBreak)) == 0) {
                return;
            }
            line_break_ = line_break_ || (k & kLineBreak) != 0;
            ++p_;
        }
    }

    // A value, or the opening of a container up to its first member or element. Leaves the
    // scanner after the value (or after the key of an object's first member).
    bool value() {
        for (;;) {
            space();
            if (p_ == end_) {
                return false;
            }
            const char c = *p_;
            if (c == '{' || c == '[') {
                ++p_;
                space();
                const char close = c == '{' ? '}' : ']';
                if (p_ < end_ && *p_ == close) {
                    ++p_;
                    return true;
                }
                nesting_.push(c == '{');
                if (c == '{' && !key()) {
                    return false;
                }
                continue; // the first element or member value
            }
            switch (c) {
            case '"': return string();
            case 't': return literal("true");
            case 'f': return literal("false");
            case 'n': return literal("null");
            default: return number();
            }
        }
    }

    // `"name" :`
    bool key() {
        space();
        if (p_ == end_ || *p_ != '"' || !string()) {
            return false;
        }
        space();
        if (p_ == end_ || *p_ != ':') {
            return false;
        }
        ++p_;
        return true;
    }

    // At the opening quote.
    bool string() {
        ++p_;
        for (;;) {
            while (end_ - p_ >= 8) {
                std::uint64_t w;
                std::memcpy(&w, p_, 8);
                if (has_string_stop(w)) {
                    break;
                }
                p_ += 8;
            }
            while (p_ < end_ && (klass(*p_) & kStringStop) == 0) {
                ++p_;
            }
            if (p_ == end_) {
                return false;
            }
            const char c = *p_;
            if (c == '"') {
                ++p_;
                return true;
            }
            if (c != '\\' || end_ - p_ < 2) {
                return false; // a control character, or a backslash at the end
            }
            const char e = p_[1];
            if (e == 'u') {
                if (end_ - p_ < 6 ||
                    (klass(p_[2]) & klass(p_[3]) & klass(p_[4]) & klass(p_[5]) & kHex) == 0) {
                    return false;
                }
                p_ += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p_ += 2;
            } else {
                return false;
            }
        }
    }

    bool number() {
        if (p_ < end_ && *p_ == '-') {
            ++p_;
        }
        if (p_ < end_ && *p_ == '0') {
            ++p_;
        } else if (!digits()) {
            return false;
        }
        if (p_ < end_ && *p_ == '.') {
            ++p_;
            if (!digits()) {
                return false;
            }
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) {
                ++p_;
            }
            if (!digits()) {
                return false;
            }
        }
        return true;
    }

    bool digits() {
        const char* start = p_;
        while (p_ < end_ && (klass(*p_) & kDigit) != 0) {
            ++p_;
        }
        return p_ > start;
    }

    bool literal(std::string_view word) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() ||
            std::string_view(p_, word.size()) != word) {
            return false;
        }
        p_ += word.size();
        return true;
    }

    const char* p_;
    const char* end_;
    Nesting nesting_;
    bool line_break_ = false;
};

} // namespace

bool is_json_value(std::string_view text, std::string& stack, bool& line_break) {
    Scanner sc(text, stack);
    if (!sc.run()) {
        return false;
    }
    line_break = sc.line_break();
    return true;
}

bool append_json_value(std::string& out, std::string_view text) {
    thread_local std::string stack;
    bool line_break = false;
    if (!is_json_value(text, stack, line_break)) {
        return false;
    }
    const std::size_t start = out.size();
    out.append(text);
    if (line_break) {
        // Inside strings JSON escapes them, so every raw line break is between tokens.
        for (std::size_t i = start; i < out.size(); ++i) {
            if (out[i] == '\n' || out[i] == '\r') {
                out[i] = ' ';
            }
        }
    }
    return true;
}

} // namespace walbus
