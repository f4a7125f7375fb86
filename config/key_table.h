#pragma once

// The one declaration of every configuration key. Parsing, validation and reference_markdown()
// all read this table; nothing else names a key's type, default, bounds or description.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "walbus/config/config.h"

namespace walbus::config::detail {

template <class... Ts> struct Overloaded : Ts... {
    using Ts::operator()...;
};
template <class... Ts> Overloaded(Ts...) -> Overloaded<Ts...>; // for compilers without CTAD here

// An extra rule for a string value (or for each element of a list). Returns an empty string
// when the value is acceptable, otherwise the complete diagnostic message. `key` is the dotted
// key name; the value must not be repeated in the message when `secret` is set.
using StringCheck = std::string (*)(std::string_view key, std::string_view value, bool secret);

// The value kinds. Each names the Config member it fills through a capture-less accessor, so
// the default shown in the documentation is read from a default-constructed Config: config.h
// stays the only place where defaults are written.
struct StringField {
    std::string& (*ref)(Config&);
    StringCheck check = nullptr; // every string must also be non-empty
};

struct BoolField {
    bool& (*ref)(Config&);
};

// A byte count: a whole number with an optional unit B, KiB, MiB or GiB.
struct SizeField {
    std::size_t& (*ref)(Config&);
    std::uint64_t min;
    std::uint64_t max;
};

// A whole number of things (events, ...), without a unit.
struct CountField {
    std::size_t& (*ref)(Config&);
    std::uint64_t min;
    std::uint64_t max;
};

// A whole number with a unit ms, s, m or h; a bare number is an error.
struct DurationField {
    std::chrono::milliseconds& (*ref)(Config&);
    std::chrono::milliseconds min;
    std::chrono::milliseconds max;
};

// One of a fixed set of words; values[i] is the enumerator whose underlying value is i.
struct EnumField {
    std::span<const std::string_view> values;
    std::size_t (*get)(const Config&);
    void (*set)(Config&, std::size_t index);
};

struct StringListField {
    std::vector<std::string>& (*ref)(Config&);
    StringCheck check = nullptr; // applied to each element; elements must be non-empty
};

// A map of string keys to string values, passed on as it is (sink.kafka.properties).
struct StringMapField {
    std::vector<MapEntry>& (*ref)(Config&);
};

using Field = std::variant<StringField, BoolField, SizeField, CountField, DurationField, EnumField,
                           StringListField, StringMapField>;

enum class Required {
    No,
    Yes,
    Conditional, // checked in code after all keys are read; `required_when` says when
};

struct KeyDecl {
    std::string_view name; // dotted path; the YAML nesting mirrors it: "source.slot"
    Field field;
    Required required = Required::No;
    std::string_view required_when; // for Required::Conditional, e.g. "sink.type is file"
    // Conditional, but required with the default settings: listed among the keys an empty
    // configuration needs.
    bool required_by_default = false;
    bool secret = false;          // never echoed in a diagnostic
    std::string_view example;     // a sample value, shown in docs and "is required" messages
    std::string_view description; // Markdown, one paragraph
};

// A map that groups keys ("source"). Every dotted prefix of a key must be declared here.
struct SectionDecl {
    std::string_view name;
    std::string_view description;
};

// "source" for "source.slot", empty for "name".
[[nodiscard]] std::string_view parent_of(std::string_view name);
// "slot" for "source.slot".
[[nodiscard]] std::string_view leaf_of(std::string_view name);

[[nodiscard]] std::span<const KeyDecl> keys();
[[nodiscard]] std::span<const SectionDecl> sections();

[[nodiscard]] const KeyDecl* find_key(std::string_view name);
[[nodiscard]] const SectionDecl* find_section(std::string_view name);

// The default as written in YAML ("10s", "4MiB", "walbus"), or empty when there is none.
[[nodiscard]] std::string default_text(const KeyDecl& decl);

// "string", "boolean", "duration", ... as used in messages and in the documentation.
[[nodiscard]] std::string_view type_name(const Field& field);

} // namespace walbus::config::detail
