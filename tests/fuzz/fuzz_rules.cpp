// libFuzzer target for the rule parser: the expression language, the reading of `rules` and
// `mapping`, and rule compilation. The input is split at its first NUL byte:
//   - the bytes before it are an expression, compiled as each kind of rule sees it (inserts only,
//     deletes only, updates only, every operation, a message rule, and with the table known, as
//     walbus check --connect compiles it) and, when it compiles, evaluated against fixed changes
//     of that table;
//   - the bytes after it are a configuration, loaded and prepared as walbus check does; when its
//     rules compile, they map the same changes.
// An input without a NUL byte is used as both, so expressions and configuration files alike are
// seeds (tests/data/fuzz_rules). Aborts when a contract is broken: a compile error must be placed
// inside the expression and say what is wrong, and a failed evaluation or mapping must say why.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "walbus/config/config.h"
#include "walbus/core/change_event.h"
#include "walbus/core/integration_event.h"
#include "walbus/core/pg_types.h"
#include "walbus/core/type_registry.h"
#include "walbus/mappers/expr.h"
#include "walbus/mappers/rules.h"
#include "walbus/pipeline/setup.h"

namespace {

using walbus::ChangeEvent;
using walbus::Column;
using walbus::Operation;
using walbus::Relation;
using walbus::ReplicaIdentity;
using walbus::TupleKind;
using walbus::Value;
using walbus::ValueKind;

constexpr std::uint32_t kInt4 = 23;
constexpr std::uint32_t kNumeric = 1700;
constexpr std::uint32_t kText = 25;
constexpr std::uint32_t kBool = 16;
constexpr std::uint32_t kJsonb = 3802;

std::shared_ptr<Relation> orders(ReplicaIdentity identity) {
    auto rel = std::make_shared<Relation>();
    rel->oid = 16384;
    rel->schema = "public";
    rel->table = "orders";
    rel->identity = identity;
    const bool full = identity == ReplicaIdentity::Full;
    rel->columns.push_back(Column{"id", kInt4, -1, true});
    rel->columns.push_back(Column{"price", kNumeric, -1, full});
    rel->columns.push_back(Column{"name", kText, -1, full});
    rel->columns.push_back(Column{"active", kBool, -1, full});
    rel->columns.push_back(Column{"attrs", kJsonb, -1, full});
    rel->columns.push_back(Column{"note", kText, -1, full});
    rel->columns.push_back(Column{"Mixed Case", kText, -1, full});
    return rel;
}

Value text(std::string data) {
    return Value{ValueKind::Text, std::move(data)};
}
Value null() {
    return Value{ValueKind::Null, {}};
}
Value unchanged() {
    return Value{ValueKind::Unchanged, {}};
}

ChangeEvent change(Operation op, std::shared_ptr<const Relation> relation, std::uint64_t seq) {
    ChangeEvent c;
    c.op = op;
    c.relation = std::move(relation);
    c.xid = 771;
    c.lsn = walbus::Lsn{0x16B3748 + seq};
    c.position = walbus::Position{walbus::Lsn{0x16B3800}, seq};
    c.commit_time_us = 1'700'000'000'123'456;
    return c;
}

// Changes of public.orders as the decoders produce them: every operation, old images under both
// replica identities, an unchanged TOAST value, and a description of the table that has lost
// columns since the rules were written.
std::vector<ChangeEvent> make_changes() {
    const auto by_default = orders(ReplicaIdentity::Default);
    const auto full = orders(ReplicaIdentity::Full);
    std::vector<ChangeEvent> out;

    ChangeEvent insert = change(Operation::Insert, by_default, 0);
    insert.after = {TupleKind::New,
                    {text("1"), text("19.99"), text("Widget"), text("t"),
                     text(R"({"tags": ["a", "b"], "size": 3})"), null(), text("x")}};
    out.push_back(insert);

    ChangeEvent update_full = change(Operation::Update, full, 1);
    update_full.before = {TupleKind::Old,
                          {text("1"), text("19.99"), text("Widget"), text("t"),
                           text(R"({"tags": []})"), text("old note"), null()}};
    update_full.after = {TupleKind::New,
                         {text("1"), text("NaN"), text("Widget \"XL\" \xC3\xA9"), text("f"),
                          text("[1, 2.5, null]"), unchanged(), text("")}};
    out.push_back(update_full);

    ChangeEvent update_key = change(Operation::Update, by_default, 2);
    update_key.after = {
        TupleKind::New,
        {text("2"), text("-0.50"), null(), null(), text("null"), unchanged(), text("y")}};
    out.push_back(update_key);

    ChangeEvent update_new_key = change(Operation::Update, by_default, 3);
    update_new_key.before = {TupleKind::Key,
                             {text("2"), null(), null(), null(), null(), null(), null()}};
    update_new_key.after = {TupleKind::New,
                            {text("3"), text("1000000000000000000000.000001"), text("b"), text("t"),
                             text("{}"), text("n"), null()}};
    out.push_back(update_new_key);

    ChangeEvent remove = change(Operation::Delete, by_default, 4);
    remove.before = {TupleKind::Key, {text("3"), null(), null(), null(), null(), null(), null()}};
    out.push_back(remove);

    ChangeEvent remove_full = change(Operation::Delete, full, 5);
    remove_full.before = {TupleKind::Old,
                          {text("1"), text("Infinity"), text("Widget"), text("f"),
                           text(R"({"a": {"b": [true]}})"), unchanged(), text("z")}};
    out.push_back(remove_full);

    ChangeEvent truncate = change(Operation::Truncate, by_default, 6);
    truncate.truncate_cascade = true;
    out.push_back(truncate);

    ChangeEvent message = change(Operation::Message, nullptr, 7);
    message.prefix = "orders";
    message.content = R"({"id": 1, "status": "paid"})";
    out.push_back(message);

    ChangeEvent message_text = change(Operation::Message, nullptr, 8);
    message_text.transactional = false;
    message_text.prefix = "audit";
    message_text.content = "not json {";
    out.push_back(message_text);

    // The table after an ALTER TABLE dropped every column but these two.
    auto narrower = std::make_shared<Relation>(*by_default);
    narrower->columns = {Column{"id", kInt4, -1, true}, Column{"name", kText, -1, false}};
    ChangeEvent insert_narrow = change(Operation::Insert, narrower, 9);
    insert_narrow.after = {TupleKind::New, {text("4"), text("Gadget")}};
    out.push_back(insert_narrow);
    return out;
}

const std::vector<ChangeEvent>& changes() {
    static const std::vector<ChangeEvent> all = make_changes();
    return all;
}

const Relation& known_table() {
    static const std::shared_ptr<Relation> rel = orders(ReplicaIdentity::Default);
    return *rel;
}

void check_message(const std::string& message) {
    if (message.empty()) {
        std::abort();
    }
}

void compile_and_eval(std::string_view text, const walbus::mappers::CompileOptions& options) {
    auto expr = walbus::mappers::Expr::compile(text, options);
    if (!expr) {
        if (expr.error().offset > text.size()) {
            std::abort();
        }
        check_message(expr.error().message);
        return;
    }
    const walbus::pg::TypeRegistry& types = walbus::pg::TypeRegistry::builtins();
    walbus::pg::JsonOptions json_options;
    std::string json;
    std::string rendered;
    std::string error;
    for (int pass = 0; pass < 2; ++pass) {
        json_options.numeric_as_number = pass == 1;
        for (const ChangeEvent& c : changes()) {
            walbus::mappers::Datum value;
            error.clear();
            if (expr->eval(c, types, value, error)) {
                json.clear();
                rendered.clear();
                walbus::mappers::write_datum_json(json, value, types, json_options);
                walbus::mappers::append_datum_text(rendered, value);
            } else {
                check_message(error);
            }
            bool truth = false;
            error.clear();
            if (!expr->test(c, types, truth, error)) {
                check_message(error);
            }
        }
    }
}

void fuzz_expression(std::string_view text) {
    using walbus::mappers::CompileOptions;
    using walbus::mappers::Scope;
    CompileOptions options;
    // The four kinds of row rule: inserts (new only), deletes (old only), updates (both), and a
    // mix that has neither.
    for (const auto [allow_new, allow_old] : std::array<std::array<bool, 2>, 4>{
             {{true, false}, {false, true}, {true, true}, {false, false}}}) {
        options.scope = Scope::Row;
        options.allow_new = allow_new;
        options.allow_old = allow_old;
        compile_and_eval(text, options);
    }
    // Checked against the table, as walbus check --connect does.
    options.allow_new = true;
    options.allow_old = true;
    options.relation = &known_table();
    compile_and_eval(text, options);
    // A rule on logical decoding messages.
    options = CompileOptions{};
    options.scope = Scope::Message;
    options.allow_new = false;
    compile_and_eval(text, options);
}

std::optional<std::string> fake_env(std::string_view name) {
    if (name == "DSN") {
        return "dbname=shop";
    }
    if (name == "TOPIC") {
        return "orders.events";
    }
    if (name == "EMPTY") {
        return "";
    }
    return std::nullopt;
}

void fuzz_config(std::string_view yaml) {
    walbus::PreparedConfig prepared = walbus::prepare_config(
        walbus::config::load_string(yaml, "fuzz.yaml", fake_env), "fuzz.yaml");
    for (const walbus::config::Diagnostic& d : prepared.diagnostics) {
        check_message(d.message);
    }
    if (prepared.diagnostics.empty() != prepared.config.has_value()) {
        std::abort();
    }
    if (!prepared.rules) {
        return;
    }
    const walbus::pg::TypeRegistry& types = walbus::pg::TypeRegistry::builtins();
    walbus::pg::JsonOptions json_options;
    std::string json;
    for (const ChangeEvent& c : changes()) {
        auto mapped = prepared.rules->map(c, types, json_options);
        if (!mapped) {
            check_message(mapped.error().message);
            continue;
        }
        for (const walbus::IntegrationEvent& ev : *mapped) {
            json.clear();
            walbus::append_event_json(json, ev);
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = input.find('\0');
    fuzz_expression(input.substr(0, nul));
    fuzz_config(nul == std::string_view::npos ? input : input.substr(nul + 1));
    return 0;
}
