#include "walbus/core/json_writer.h"

#include <cstdint>
#include <cstring>

#include <charconv>

namespace walbus {

void JsonWriter::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    std::uint64_t bit = std::uint64_t{1} << depth_;
    if (first_ & bit) {
        first_ &= ~bit;
    } else {
        out_.push_back(',');
    }
}

void JsonWriter::open(char c) {
    separate();
    out_.push_back(c);
    ++depth_;
    first_ |= std::uint64_t{1} << depth_;
}

void JsonWriter::close(char c) {
    --depth_;
    out_.push_back(c);
}

void JsonWriter::key(std::string_view name) {
    separate();
    append_json_string(out_, name);
    out_.push_back(':');
    after_key_ = true;
}

void JsonWriter::quoted_key(std::string_view json_string) {
    separate();
    out_.append(json_string);
    out_.push_back(':');
    after_key_ = true;
}

void JsonWriter::string(std::string_view text) {
    separate();
    append_json_string(out_, text);
}

void JsonWriter::raw(std::string_view json) {
    separate();
    out_.append(json);
}

void JsonWriter::number(std::int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    raw(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

void JsonWriter::number(std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    raw(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

namespace {

// Whether any of the 8 bytes of `w` is below 0x20, a '"' or a '\\': a byte JSON must escape.
constexpr bool needs_escape(std::uint64_t w) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    // A zero byte of x shows as a high bit of (x - 1) & ~x; below 0x20 as a high bit of
    // (w - 0x20) & ~w (bytes of 0x80 and more have their own high bit, masked by ~w).
    const std::uint64_t quote = w ^ (kOnes * '"');
    const std::uint64_t backslash = w ^ (kOnes * '\\');
    const std::uint64_t found =
        ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash);
    return (found & kHigh) != 0;
}

} // namespace

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0; // start of the current run of characters needing no escape
    for (std::size_t i = 0; i < text.size(); ++i) {
        // Eight characters at a time while none needs an escape.
        while (i + 8 <= text.size()) {
            std::uint64_t w = 0;
            std::memcpy(&w, text.data() + i, 8);
            if (needs_escape(w)) {
                break;
            }
            i += 8;
        }
        if (i == text.size()) {
            break;
        }
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out.append(text.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
            out.append("\\u00");
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
        }
    }
    out.append(text.data() + run, text.size() - run);
    out.push_back('"');
}

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) {
            return false;
        }
        for (std::size_t k = 1; k < len; ++k) {
            auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3f);
        }
        static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += len;
    }
    return true;
}

} // namespace walbus
