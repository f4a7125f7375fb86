#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "walbus/core/change_event.h"
#include "walbus/core/pg_types.h"
#include "walbus/core/type_registry.h"

// The expression language of mapping rules (docs/mapping-rules.md, "Expressions"): conditions
// (`when`), payload values, event ids and the `{...}` parts of templates.
//
//   changed(price) and new.price > 0 and lower(new.status) in ('paid', 'shipped')
//
// An expression is compiled once, when the rules are loaded; evaluating it reads the change in
// place and allocates nothing once its scratch buffers have grown to the data's size.

namespace walbus::mappers {

// What a value is, as far as comparisons and JSON output care.
enum class ValueType : std::uint8_t { Unknown, Null, Bool, Number, String, Json };

[[nodiscard]] std::string_view to_string(ValueType type);

// The value type of a column of this PostgreSQL type (domains as their base type).
[[nodiscard]] ValueType value_type_of(std::uint32_t type_oid, const pg::TypeRegistry& types);

// What the names in an expression refer to.
enum class Scope : std::uint8_t {
    Row,     // a row change: new.<col>, old.<col>, changed(col), op, schema, table, xid, ...
    Message, // a logical decoding message: prefix, content, transactional, xid, lsn, ...
};

struct CompileOptions {
    Scope scope = Scope::Row;
    bool allow_new = true;  // the rule matches inserts or updates
    bool allow_old = false; // the rule matches updates or deletes
    // The table, when it is known (walbus check --connect): unknown columns, type mismatches and
    // old values that the table's REPLICA IDENTITY does not provide are compile errors.
    const Relation* relation = nullptr;
    const pg::TypeRegistry* types = nullptr; // with `relation`; built-in types when null
    // When set, the expression may read no column, and this says why (mapping.raw_topic).
    std::string_view no_columns;
};

struct ExprError {
    std::size_t offset = 0; // of the offending token in the expression text
    std::string message;
};

// A column an expression reads.
struct ColumnUse {
    std::string name;
    bool old = false;       // old.<col>, or changed(col)
    std::size_t offset = 0; // in the expression text
};

// A value while an expression runs: a view into the change, into the expression's text or into
// one of its scratch buffers, valid until the next evaluation.
struct Datum {
    ValueType type = ValueType::Null;
    bool boolean = false;
    std::string_view text;      // Number: decimal text; String: the text; Json: JSON text
    std::uint32_t type_oid = 0; // a column's type (written through the type converter), else 0
};

// Compares two numbers given as decimal text ("-12.50", "1e3", "NaN", "Infinity") exactly:
// <0, 0 or >0 like strcmp. False when either is not a number.
[[nodiscard]] bool compare_numbers(std::string_view a, std::string_view b, int& result);

class Expr {
public:
    [[nodiscard]] static std::expected<Expr, ExprError> compile(std::string_view text,
                                                                const CompileOptions& options);

    Expr(Expr&&) noexcept;
    Expr& operator=(Expr&&) noexcept;
    ~Expr();

    // The type the expression is known to have (Unknown when it depends on columns whose types
    // were not known when it was compiled).
    [[nodiscard]] ValueType type() const;
    [[nodiscard]] const std::vector<ColumnUse>& columns() const;
    [[nodiscard]] std::string_view text() const;

    // Evaluates against `change`. False, with `error` set, when it cannot: a column the row does
    // not have (dropped by an ALTER TABLE), an unchanged TOAST value, an old value the replica
    // identity does not provide, values of different types compared.
    [[nodiscard]] bool eval(const ChangeEvent& change, const pg::TypeRegistry& types, Datum& out,
                            std::string& error);
    // A condition: true only for a true value (null is false).
    [[nodiscard]] bool test(const ChangeEvent& change, const pg::TypeRegistry& types, bool& out,
                            std::string& error);

    struct Impl; // defined in expr.cpp

private:
    explicit Expr(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Writes a value as JSON: columns as their type's JSON form (docs/event-format.md), literals and
// computed values by their type.
void write_datum_json(std::string& out, const Datum& value, const pg::TypeRegistry& types,
                      const pg::JsonOptions& options);

// Appends a value as text, for templates: strings as they are, numbers and JSON as their text,
// booleans as true/false, null as nothing.
void append_datum_text(std::string& out, const Datum& value);

} // namespace walbus::mappers
