#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace walbus::pg {

// pg_type.typtype, with arrays (typcategory 'A') told apart from other base types.
enum class TypeKind : std::uint8_t { Base, Enum, Domain, Array, Composite, Range, Multirange };

// What walbus needs to know about one PostgreSQL type to write its values as typed JSON.
struct TypeDesc {
    std::uint32_t oid = 0;
    std::string schema;
    std::string name;
    TypeKind kind = TypeKind::Base;
    // Array: the element type; Range: the subtype; Multirange: its range type; Domain: the base
    // type. 0 otherwise.
    std::uint32_t element_oid = 0;
    // Array: the separator between elements (pg_type.typdelim of the array type, which
    // PostgreSQL copies from the element type: ';' for arrays of box, ',' for everything else).
    char delimiter = ',';
    // Composite: (attribute name, type oid) in attribute order, dropped attributes left out.
    std::vector<std::pair<std::string, std::uint32_t>> attributes;
};

// The JSON form of a type's values (docs/event-format.md, "Values"). Derived from the type when it
// is known: built-in types by OID, extension base types by name (hstore, citext).
enum class JsonForm : std::uint8_t {
    String,      // the text form as a JSON string
    Bool,        // true / false
    Integer,     // int2, int4, int8, oid, xid, cid, xid8: a number
    Float,       // float4, float8: a number; NaN and ±Infinity as strings
    Numeric,     // a string, or a number with JsonOptions::numeric_as_number
    Bytea,       // base64 or hex string (JsonOptions::bytea)
    Json,        // json, jsonb: embedded as JSON
    Date,        // ISO 8601 date, expanded years outside 0000-9999
    TimeTz,      // ISO 8601 time with offset
    Timestamp,   // ISO 8601 date and time
    Timestamptz, // ISO 8601 date and time in UTC, "Z"
    Hstore,      // an object of strings (or null)
    Domain,      // as the base type
    Array,       // a JSON array, nested for several dimensions
    Composite,   // an object of attribute name to value
    Range,       // {"lower","upper","lower_inc","upper_inc"} or {"empty":true}
    Multirange,  // an array of ranges
};

// The types whose values walbus can type. Every built-in type (base, array, range, multirange)
// is known from the start; enums, domains, composite types, extension types and their arrays are
// added from the catalog. A value of an OID the registry does not know is written as its text.
//
// Not synchronised: add every type before sharing the registry with threads that convert values.
class TypeRegistry {
public:
    struct Entry {
        TypeDesc desc;
        JsonForm form = JsonForm::String;
    };

    TypeRegistry() = default; // knows the built-in types

    // The registry of built-in types only, shared and immutable.
    [[nodiscard]] static const TypeRegistry& builtins();

    // Registers (or replaces) a non-built-in type. Built-in OIDs are fixed: adding one of them
    // has no effect.
    void add(TypeDesc type);

    // The type, or nullptr when it is unknown.
    [[nodiscard]] const TypeDesc* find(std::uint32_t oid) const;
    // The type with its JSON form, or nullptr when it is unknown.
    [[nodiscard]] const Entry* entry(std::uint32_t oid) const;

    // The form a type's values take, from its kind, OID (built-ins) or name (extension types).
    [[nodiscard]] static JsonForm form_of(const TypeDesc& type);

    // The form of a built-in type's values, without a registry: false when `oid` is not built in.
    [[nodiscard]] static bool builtin_form(std::uint32_t oid, JsonForm& form);

private:
    std::unordered_map<std::uint32_t, Entry> added_;
};

} // namespace walbus::pg
