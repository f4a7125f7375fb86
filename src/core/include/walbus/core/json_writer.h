#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace walbus {

// Appends compact JSON to a caller-owned buffer, inserting commas itself. No allocation beyond
// the buffer's own growth, so a reused buffer serialises rows without touching the heap.
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    void begin_object() { open('{'); }
    void end_object() { close('}'); }
    void begin_array() { open('['); }
    void end_array() { close(']'); }

    void key(std::string_view name);
    // A key already written as a JSON string literal, quotes included (made once, reused).
    void quoted_key(std::string_view json_string);
    void string(std::string_view text);
    void raw(std::string_view json); // an already valid JSON value
    void number(std::int64_t v);
    void number(std::uint64_t v);
    void boolean(bool v) { raw(v ? "true" : "false"); }
    // Writes the separator for a value the caller then appends to the buffer itself.
    void value_prefix() { separate(); }
    void null() { raw("null"); }

private:
    void open(char c);
    void close(char c);
    void separate();

    std::string& out_;
    std::uint64_t first_ = 1; // bit per nesting level: nothing written yet at that level
    int depth_ = 0;
    bool after_key_ = false;
};

// Appends `text` as a JSON string literal (with quotes), escaping what JSON requires.
void append_json_string(std::string& out, std::string_view text);

[[nodiscard]] bool is_valid_utf8(std::string_view text);

} // namespace walbus
