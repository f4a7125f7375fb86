#include "walbus/decoders/wal2json_decoder.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "wal2json/wal2json_text.h"
#include "walbus/core/pg_types.h"
#include "walbus/core/table_name.h"

namespace walbus::decoders {
namespace {

namespace od = simdjson::ondemand;

std::string_view action_name(std::string_view action) {
    if (action.size() == 1) {
        switch (action[0]) {
        case 'B': return "Begin";
        case 'C': return "Commit";
        case 'I': return "Insert";
        case 'U': return "Update";
        case 'D': return "Delete";
        case 'T': return "Truncate";
        case 'M': return "Message";
        default: break;
        }
    }
    return {};
}

// One entry of "columns", "identity" or "pk". The views point into the padded copy of the message
// or into the parser's string buffer; both live until the next message.
struct ParsedColumn {
    std::string_view name;
    std::string_view type;
    std::uint32_t type_oid = 0;
    bool has_name = false;
    bool has_type_oid = false;
    bool has_value = false;
    bool is_null = true;
    std::string_view text; // the value as wal2json printed it (bytea without its "\x")
};

// Everything a wal2json format-version 2 message can say, read in one pass.
struct ParsedMessage {
    std::string_view action;
    std::optional<std::uint64_t> xid;
    std::optional<std::string_view> timestamp;
    std::optional<std::string_view> lsn;
    std::optional<std::string_view> nextlsn;
    std::optional<std::string_view> schema;
    std::optional<std::string_view> table;
    bool has_columns = false;
    bool has_identity = false;
    bool has_pk = false;
    std::vector<ParsedColumn> columns;
    std::vector<ParsedColumn> identity;
    std::vector<ParsedColumn> pk;
    std::optional<bool> transactional;
    std::optional<std::string_view> prefix;
    std::optional<std::string_view> content;

    void reset() {
        action = {};
        xid.reset();
        timestamp.reset();
        lsn.reset();
        nextlsn.reset();
        schema.reset();
        table.reset();
        has_columns = has_identity = has_pk = false;
        columns.clear();
        identity.clear();
        pk.clear();
        transactional.reset();
        prefix.reset();
        content.reset();
    }
};

std::string json_error(simdjson::error_code e) {
    return std::string("invalid JSON: ") + simdjson::error_message(e);
}

// Which of `Keys` the raw (still escaped) key is, or Keys.size(). Unrolled, so that each
// comparison has a constant length and needs no call to memcmp.
template <const auto& Keys, std::size_t... I>
std::size_t raw_key_index(od::raw_json_string raw, std::index_sequence<I...>) {
    std::size_t found = Keys.size();
    (void)((raw.unsafe_is_equal(Keys[I]) ? (found = I, true) : false) || ...);
    return found;
}

// Which of `Keys` the field's key is: Keys.size() for another key, nullopt (with `error` set)
// when the key is not valid JSON. wal2json writes its keys without escapes, so they are compared
// in place first; a key written with escapes is unescaped and compared again.
template <const auto& Keys>
std::optional<std::size_t> key_index(od::field& field, std::string& error) {
    constexpr std::size_t n = Keys.size();
    if (std::size_t i = raw_key_index<Keys>(field.key(), std::make_index_sequence<n>{}); i < n) {
        return i;
    }
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) {
        error = json_error(e);
        return std::nullopt;
    }
    return static_cast<std::size_t>(std::find(Keys.begin(), Keys.end(), key) - Keys.begin());
}

std::string quoted(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out += s;
    out += '"';
    return out;
}

// A string, or null (then `out` is left empty).
std::string read_nullable_string(od::value v, std::string_view key,
                                 std::optional<std::string_view>& out) {
    od::json_type t;
    if (auto e = v.type().get(t)) {
        return json_error(e);
    }
    if (t == od::json_type::null) {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null); e || !is_null) {
            return json_error(e ? e : simdjson::N_ATOM_ERROR);
        }
        out.reset();
        return {};
    }
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) {
        return quoted(key) + " is not a string";
    }
    out = s;
    return {};
}

std::string read_value(od::value v, ParsedColumn& c) {
    od::json_type t;
    if (auto e = v.type().get(t)) {
        return json_error(e);
    }
    c.has_value = true;
    c.is_null = false;
    switch (t) {
    case od::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null); e || !is_null) {
            return json_error(e ? e : simdjson::N_ATOM_ERROR);
        }
        c.is_null = true;
        c.text = {};
        return {};
    }
    case od::json_type::boolean: {
        bool b = false;
        if (auto e = v.get_bool().get(b)) {
            return json_error(e);
        }
        c.text = b ? "t" : "f";
        return {};
    }
    case od::json_type::number: {
        // Printed by the type's output function; wal2json checks it has only these characters.
        std::string_view raw = v.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                                raw.back() == '\r')) {
            raw.remove_suffix(1);
        }
        auto number_char = [](char ch) {
            return (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == 'e' || ch == 'E' ||
                   ch == '.';
        };
        if (raw.empty() || !std::all_of(raw.begin(), raw.end(), number_char)) {
            return "value of column " + quoted(c.name) + " is not a number";
        }
        c.text = raw;
        return {};
    }
    case od::json_type::string: {
        if (auto e = v.get_string().get(c.text)) {
            return json_error(e);
        }
        return {};
    }
    default: return "value of column " + quoted(c.name) + " is an array or an object";
    }
}

// The keys of an entry of "columns", "identity" or "pk".
constexpr std::array<std::string_view, 4> kColumnKeys{"name", "type", "typeoid", "value"};

// The keys of a message, in the order wal2json writes them.
enum class MessageKey : std::uint8_t {
    Action,
    Xid,
    Timestamp,
    Lsn,
    Schema,
    Table,
    Columns,
    Pk,
    Identity,
    NextLsn,
    Transactional,
    Prefix,
    Content,
};
constexpr std::array<std::string_view, 13> kMessageKeys{
    "action", "xid",      "timestamp", "lsn",           "schema", "table",  "columns",
    "pk",     "identity", "nextlsn",   "transactional", "prefix", "content"};

std::string read_columns(od::value v, std::string_view key, std::vector<ParsedColumn>& out) {
    out.clear();
    od::array array;
    if (v.get_array().get(array) != simdjson::SUCCESS) {
        return quoted(key) + " is not an array";
    }
    for (auto item : array) {
        od::object object;
        if (auto e = item.get_object().get(object)) {
            return e == simdjson::INCORRECT_TYPE
                       ? "an entry of " + quoted(key) + " is not an object"
                       : json_error(e);
        }
        ParsedColumn& c = out.emplace_back();
        for (auto field_result : object) {
            od::field field;
            if (auto e = std::move(field_result).get(field)) {
                return json_error(e);
            }
            std::string error;
            auto which = key_index<kColumnKeys>(field, error);
            if (!which) {
                return error;
            }
            od::value value = field.value();
            if (*which == 0) {
                if (value.get_string().get(c.name) != simdjson::SUCCESS) {
                    return "a column name in " + quoted(key) + " is not a string";
                }
                c.has_name = true;
            } else if (*which == 1) {
                if (value.get_string().get(c.type) != simdjson::SUCCESS) {
                    return "a column type in " + quoted(key) + " is not a string";
                }
            } else if (*which == 2) {
                // Printed with %d: OIDs above 2^31 come out negative.
                std::int64_t oid = 0;
                if (auto e = value.get_int64().get(oid); e || oid < INT32_MIN || oid > UINT32_MAX) {
                    return "a column type OID in " + quoted(key) + " is not an OID";
                }
                c.type_oid = static_cast<std::uint32_t>(oid);
                c.has_type_oid = true;
            } else if (*which == 3) {
                if (auto bad = read_value(value, c); !bad.empty()) {
                    return bad;
                }
            }
            // Other keys (optional, position, default) are not needed.
        }
        if (!c.has_name) {
            return "an entry of " + quoted(key) + " has no \"name\"";
        }
        if (!c.has_type_oid && key != "pk") {
            return "column " + quoted(c.name) + " in " + quoted(key) +
                   " has no \"typeoid\" (start wal2json with include-type-oids 1)";
        }
        if (!c.has_value && key != "pk") {
            return "column " + quoted(c.name) + " in " + quoted(key) + " has no \"value\"";
        }
    }
    return {};
}

// Reads the whole message object into `m`. Returns what is wrong, or an empty string.
std::string read_message(od::document& doc, ParsedMessage& m) {
    od::object object;
    if (auto e = doc.get_object().get(object)) {
        return e == simdjson::INCORRECT_TYPE ? "not a JSON object" : json_error(e);
    }
    for (auto field_result : object) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) {
            return json_error(e);
        }
        std::string bad;
        auto which = key_index<kMessageKeys>(field, bad);
        if (!which) {
            return bad;
        }
        od::value value = field.value();
        const std::string_view key =
            *which < kMessageKeys.size() ? kMessageKeys[*which] : std::string_view{};
        switch (static_cast<MessageKey>(*which)) {
        case MessageKey::Action:
            if (value.get_string().get(m.action) != simdjson::SUCCESS) {
                return "\"action\" is not a string";
            }
            break;
        case MessageKey::Xid: {
            od::json_type t;
            if (auto e = value.type().get(t)) {
                return json_error(e);
            }
            if (t == od::json_type::null) {
                bool is_null = false;
                if (auto e = value.is_null().get(is_null); e || !is_null) {
                    return json_error(e ? e : simdjson::N_ATOM_ERROR);
                }
                m.xid.reset();
            } else {
                std::uint64_t xid = 0;
                if (auto e = value.get_uint64().get(xid); e || xid > UINT32_MAX) {
                    return "\"xid\" is not a transaction id";
                }
                m.xid = xid;
            }
            break;
        }
        case MessageKey::Timestamp: bad = read_nullable_string(value, key, m.timestamp); break;
        case MessageKey::Lsn: bad = read_nullable_string(value, key, m.lsn); break;
        case MessageKey::NextLsn: bad = read_nullable_string(value, key, m.nextlsn); break;
        case MessageKey::Schema: bad = read_nullable_string(value, key, m.schema); break;
        case MessageKey::Table: bad = read_nullable_string(value, key, m.table); break;
        case MessageKey::Columns:
            m.has_columns = true;
            bad = read_columns(value, key, m.columns);
            break;
        case MessageKey::Identity:
            m.has_identity = true;
            bad = read_columns(value, key, m.identity);
            break;
        case MessageKey::Pk:
            m.has_pk = true;
            bad = read_columns(value, key, m.pk);
            break;
        case MessageKey::Transactional: {
            bool b = false;
            if (value.get_bool().get(b) != simdjson::SUCCESS) {
                return "\"transactional\" is not a boolean";
            }
            m.transactional = b;
            break;
        }
        case MessageKey::Prefix: bad = read_nullable_string(value, key, m.prefix); break;
        case MessageKey::Content: bad = read_nullable_string(value, key, m.content); break;
        default: break; // other keys (origin, with include-origin) are not needed
        }
        if (!bad.empty()) {
            return bad;
        }
    }
    const char* rest = nullptr;
    if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) {
        return "unexpected content after the JSON object";
    }
    return {};
}

// Which columns may be missing from a message, where the relation has them.
enum class Skip : std::uint8_t {
    None,      // INSERT: every column is sent
    Toastable, // UPDATE's new row: unchanged TOAST values are left out
    Any,       // identity: only the replica identity columns are sent
};

// Matches `cols` against the relation's columns in order. `index[i]` receives the relation
// column of cols[i]. False when a column is unknown, has another type, is out of order, or is
// missing where `skip` does not allow it.
bool match_columns(const Relation& rel, std::span<const ParsedColumn> cols, Skip skip,
                   std::vector<std::size_t>* index) {
    if (index != nullptr) {
        index->clear();
    }
    std::size_t j = 0;
    auto skippable = [&](const Column& c) {
        return skip == Skip::Any || (skip == Skip::Toastable && can_be_toasted(c.type_oid));
    };
    for (const ParsedColumn& c : cols) {
        while (j < rel.columns.size() && rel.columns[j].name != c.name) {
            if (!skippable(rel.columns[j])) {
                return false;
            }
            ++j;
        }
        if (j == rel.columns.size() || rel.columns[j].type_oid != c.type_oid) {
            return false;
        }
        if (index != nullptr) {
            index->push_back(j);
        }
        ++j;
    }
    for (; j < rel.columns.size(); ++j) {
        if (!skippable(rel.columns[j])) {
            return false;
        }
    }
    return true;
}

bool same_names(const std::vector<std::string>& names, std::span<const ParsedColumn> cols) {
    if (names.size() != cols.size()) {
        return false;
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] != cols[i].name) {
            return false;
        }
    }
    return true;
}

void assign_names(std::vector<std::string>& names, std::span<const ParsedColumn> cols) {
    names.resize(cols.size());
    for (std::size_t i = 0; i < cols.size(); ++i) {
        names[i].assign(cols[i].name);
    }
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
    for (const auto& n : names) {
        if (n == name) {
            return true;
        }
    }
    return false;
}

// The text PostgreSQL's output function gave: wal2json strips bytea's "\x".
void assign_value(Value& v, const ParsedColumn& c) {
    if (c.is_null) {
        v.kind = ValueKind::Null;
        v.data.clear();
        return;
    }
    v.kind = ValueKind::Text;
    if (c.type_oid == pg::kBytea) {
        v.data.assign("\\x");
        v.data.append(c.text);
    } else {
        v.data.assign(c.text);
    }
}

bool same_value(const Value& v, const ParsedColumn& c) {
    if (c.is_null) {
        return v.kind == ValueKind::Null;
    }
    if (v.kind != ValueKind::Text) {
        return false;
    }
    if (c.type_oid == pg::kBytea) {
        return v.data.size() == c.text.size() + 2 && v.data.starts_with("\\x") &&
               std::string_view(v.data).substr(2) == c.text;
    }
    return v.data == c.text;
}

// Clears a reused change without giving back its storage.
void reset_change(ChangeEvent& c) {
    c.op = Operation::Insert;
    c.relation.reset();
    c.before.kind = TupleKind::None;
    c.before.values.clear();
    c.after.kind = TupleKind::None;
    c.xid = 0;
    c.lsn = Lsn{};
    c.position = Position{};
    c.commit_time_us = 0;
    c.origin.clear();
    c.truncate_cascade = false;
    c.truncate_restart_identity = false;
    c.transactional = true;
    c.prefix.clear();
    c.content.clear();
}

struct TableKey {
    std::string schema;
    std::string table;
};

struct TableKeyView {
    std::string_view schema;
    std::string_view table;
};

struct TableKeyHash {
    using is_transparent = void;
    std::size_t operator()(const TableKeyView& k) const noexcept {
        std::size_t h = std::hash<std::string_view>{}(k.schema);
        return h ^ (std::hash<std::string_view>{}(k.table) + 0x9e3779b97f4a7c15ULL + (h << 6) +
                    (h >> 2));
    }
    std::size_t operator()(const TableKey& k) const noexcept {
        return (*this)(TableKeyView{k.schema, k.table});
    }
};

struct TableKeyEq {
    using is_transparent = void;
    static TableKeyView view(const TableKey& k) { return {k.schema, k.table}; }
    static TableKeyView view(const TableKeyView& k) { return k; }
    template <typename A, typename B> bool operator()(const A& a, const B& b) const noexcept {
        return view(a).schema == view(b).schema && view(a).table == view(b).table;
    }
};

// What the decoder knows about one table.
struct TableState {
    std::shared_ptr<const Relation> relation;
    bool from_catalog = false;
    // What the messages said about the key, for descriptions built without a catalog.
    std::vector<std::string> pk;
    std::vector<std::string> identity;
    bool identity_seen = false;
};

} // namespace

struct Wal2jsonDecoder::Impl {
    // State that a copy of the decoder keeps.
    struct State {
        RelationCatalog* catalog = nullptr;
        std::unordered_map<TableKey, TableState, TableKeyHash, TableKeyEq> tables;
        bool in_txn = false;
        Xid xid = 0;
        Lsn final_lsn;
        std::int64_t commit_time_us = 0;
        std::uint64_t next_seq = 0;
    } state;

    // Reused per message; not copied.
    od::parser parser;
    std::string buffer;   // the message, followed by SIMDJSON_PADDING bytes
    std::string repaired; // the message with invalid UTF-8 replaced, when it had any
    ParsedMessage msg;
    std::vector<MessageColumn> seen;
    std::vector<std::size_t> index;
    std::vector<std::size_t> identity_index;

    explicit Impl(RelationCatalog* catalog) { state.catalog = catalog; }
    explicit Impl(const State& s) : state(s) {}

    Result<void> decode(std::string_view message, Lsn wal_start, DecodedMessage& out);
    std::string resolve_relation(TableState& ts, std::string_view action, DecodedMessage& out);
    void reset_transaction() {
        state.in_txn = false;
        state.xid = 0;
        state.final_lsn = Lsn{};
        state.commit_time_us = 0;
        state.next_seq = 0;
    }
};

namespace {

std::unexpected<Error> malformed(std::string_view action, Lsn lsn, const std::string& what) {
    std::string kind(action_name(action));
    return fail(ErrorCode::Protocol, "malformed wal2json " + (kind.empty() ? "" : kind + " ") +
                                         "message at LSN " + lsn.str() + ": " + what);
}

// The first element of out.changes, reused when there is one.
ChangeEvent& fresh_change(DecodedMessage& out) {
    if (out.changes.empty()) {
        return out.changes.emplace_back();
    }
    out.changes.resize(1);
    reset_change(out.changes.front());
    return out.changes.front();
}

// The replica identity and key columns the messages told about a table with these columns: the
// last "identity" seen (every column: REPLICA IDENTITY FULL; the primary key: DEFAULT; others:
// USING INDEX), else the primary key from "pk".
ReplicaIdentity inferred_identity(const TableState& ts, const std::vector<Column>& columns) {
    if (!ts.identity_seen || ts.identity == ts.pk) {
        return ReplicaIdentity::Default;
    }
    bool all = ts.identity.size() == columns.size();
    for (std::size_t i = 0; all && i < columns.size(); ++i) {
        all = columns[i].name == ts.identity[i];
    }
    return all ? ReplicaIdentity::Full : ReplicaIdentity::Index;
}

bool is_key(const TableState& ts, std::string_view name) {
    return contains(ts.identity_seen ? ts.identity : ts.pk, name);
}

bool key_agrees(const TableState& ts, const Relation& rel) {
    if (rel.identity != inferred_identity(ts, rel.columns)) {
        return false;
    }
    for (const Column& col : rel.columns) {
        if (col.key != is_key(ts, col.name)) {
            return false;
        }
    }
    return true;
}

// A description built from a message's columns, or from `like`'s columns, with the key as the
// messages told it.
std::shared_ptr<const Relation> build_relation(const TableState& ts, std::string_view schema,
                                               std::string_view table,
                                               std::span<const ParsedColumn> cols,
                                               const Relation* like) {
    auto rel = std::make_shared<Relation>();
    rel->schema.assign(schema);
    rel->table.assign(table);
    if (like != nullptr) {
        rel->oid = like->oid;
        rel->columns = like->columns;
    } else {
        rel->columns.reserve(cols.size());
        for (const ParsedColumn& c : cols) {
            Column& col = rel->columns.emplace_back();
            col.name.assign(c.name);
            col.type_oid = c.type_oid;
            col.typmod = typmod_from_type_name(c.type_oid, c.type);
        }
    }
    for (Column& col : rel->columns) {
        col.key = is_key(ts, col.name);
    }
    rel->identity = inferred_identity(ts, rel->columns);
    return rel;
}

} // namespace

// Makes ts.relation fit the message in `msg`: keeps it when it does, else asks the catalog, else
// builds one from the message. Returns what is wrong, or an empty string.
std::string Wal2jsonDecoder::Impl::resolve_relation(TableState& ts, std::string_view action,
                                                    DecodedMessage& out) {
    const ParsedMessage& m = msg;
    const Skip column_skip = action == "U" ? Skip::Toastable : Skip::None;
    auto fits = [&](const Relation& rel) {
        return (!m.has_columns || match_columns(rel, m.columns, column_skip, nullptr)) &&
               (!m.has_identity || match_columns(rel, m.identity, Skip::Any, nullptr));
    };

    // What the message says about the key, for descriptions built without a catalog.
    if (m.has_pk && !same_names(ts.pk, m.pk)) {
        assign_names(ts.pk, m.pk);
    }
    if (m.has_identity && (!ts.identity_seen || !same_names(ts.identity, m.identity))) {
        assign_names(ts.identity, m.identity);
        ts.identity_seen = true;
    }

    const bool fit = ts.relation && fits(*ts.relation);
    if (fit && (ts.from_catalog || key_agrees(ts, *ts.relation))) {
        return {};
    }
    // The longer of the new row and the identity: the whole old row under REPLICA IDENTITY FULL
    // (when an UPDATE left TOASTed values out of the new row), else the new row.
    std::span<const ParsedColumn> cols = m.columns;
    if (m.identity.size() > m.columns.size()) {
        cols = m.identity;
    }
    if (!fit && state.catalog != nullptr) {
        seen.clear();
        for (const ParsedColumn& c : cols) {
            seen.push_back(MessageColumn{c.name, c.type_oid, c.type});
        }
        auto rel = state.catalog->find(*m.schema, *m.table, seen);
        if (rel && fits(*rel)) {
            ts.relation = std::move(rel);
            ts.from_catalog = true;
            out.relation = ts.relation;
            return {};
        }
    }
    auto rel = fit ? build_relation(ts, *m.schema, *m.table, {}, ts.relation.get())
                   : build_relation(ts, *m.schema, *m.table, cols, nullptr);
    if (!fits(*rel)) {
        return "the identity columns are not columns of the row";
    }
    ts.relation = std::move(rel);
    ts.from_catalog = false;
    out.relation = ts.relation;
    return {};
}

Result<void> Wal2jsonDecoder::Impl::decode(std::string_view message, Lsn wal_start,
                                           DecodedMessage& out) {
    // out.changes is cleared for Begin and Commit; a change reuses its first element.
    out.relation.reset();
    if (message.empty()) {
        return malformed({}, wal_start, "empty message");
    }

    // simdjson reads up to SIMDJSON_PADDING bytes past the end: parse a padded copy.
    const std::size_t need = message.size() + simdjson::SIMDJSON_PADDING;
    if (buffer.size() < need) {
        buffer.resize(need);
    }
    std::memcpy(buffer.data(), message.data(), message.size());
    // Zeroed padding, as simdjson's own padded strings have: a '}' left there by a longer earlier
    // message makes simdjson scan the whole document for balance before reading it.
    std::memset(buffer.data() + message.size(), 0, simdjson::SIMDJSON_PADDING);
    const char* json = buffer.data();
    std::size_t capacity = buffer.size();

    od::document doc;
    auto e = parser.iterate(json, message.size(), capacity).get(doc);
    if (e == simdjson::UTF8_ERROR) {
        // wal2json copies pg_logical_emit_message content as it is, even when it is not UTF-8.
        repaired.clear();
        append_repaired_utf8(repaired, message);
        repaired.append(simdjson::SIMDJSON_PADDING, '\0');
        json = repaired.data();
        capacity = repaired.size();
        e = parser.iterate(json, repaired.size() - simdjson::SIMDJSON_PADDING, capacity).get(doc);
    }
    if (e) {
        return malformed({}, wal_start, json_error(e));
    }
    msg.reset();
    if (auto bad = read_message(doc, msg); !bad.empty()) {
        return malformed(msg.action, wal_start, bad);
    }
    const ParsedMessage& m = msg;
    const std::string_view action = m.action;
    auto bad = [&](const std::string& what) { return malformed(action, wal_start, what); };
    auto parse_lsn = [&](std::optional<std::string_view> text, std::string_view key,
                         Lsn& lsn) -> std::string {
        auto parsed = text ? Lsn::parse(*text) : std::nullopt;
        if (!parsed) {
            return text ? quoted(key) + " is not an LSN: " + quoted(*text)
                        : "no " + quoted(key) + " (start wal2json with include-lsn 1)";
        }
        lsn = *parsed;
        return {};
    };
    auto check_xid = [&]() -> std::string {
        if (m.xid && *m.xid != state.xid) {
            return "xid " + std::to_string(*m.xid) + " differs from Begin's " +
                   std::to_string(state.xid);
        }
        return {};
    };
    auto commit_time = [&](std::int64_t& us) -> std::string {
        us = 0;
        if (m.timestamp && !parse_timestamptz(*m.timestamp, us)) {
            return "\"timestamp\" is not a timestamp: " + quoted(*m.timestamp);
        }
        return {};
    };
    if (action.empty()) {
        return bad("no \"action\"");
    }
    if (action_name(action).empty()) {
        return bad("unknown action " + quoted(action));
    }

    switch (action[0]) {
    case 'B': {
        out.kind = MessageKind::Begin;
        out.changes.clear();
        Lsn final_lsn;
        std::int64_t ts = 0;
        if (auto what = parse_lsn(m.lsn, "lsn", final_lsn); !what.empty()) return bad(what);
        if (auto what = commit_time(ts); !what.empty()) return bad(what);
        if (state.in_txn) {
            return bad("Begin inside an open transaction");
        }
        state.in_txn = true;
        state.xid = m.xid ? static_cast<Xid>(*m.xid) : 0;
        state.final_lsn = final_lsn;
        state.commit_time_us = ts;
        state.next_seq = 0;
        out.xid = state.xid;
        out.commit_lsn = final_lsn;
        out.commit_time_us = ts;
        return {};
    }
    case 'C': {
        out.kind = MessageKind::Commit;
        out.changes.clear();
        Lsn commit_lsn;
        Lsn end_lsn = wal_start; // a Commit is sent at the end of its commit record
        std::int64_t ts = 0;
        if (auto what = parse_lsn(m.lsn, "lsn", commit_lsn); !what.empty()) return bad(what);
        if (m.nextlsn) {
            if (auto what = parse_lsn(m.nextlsn, "nextlsn", end_lsn); !what.empty()) {
                return bad(what);
            }
        }
        if (auto what = commit_time(ts); !what.empty()) return bad(what);
        if (!state.in_txn) {
            return bad("Commit without a Begin");
        }
        if (auto what = check_xid(); !what.empty()) return bad(what);
        if (commit_lsn != state.final_lsn) {
            return bad("commit LSN " + commit_lsn.str() + " differs from Begin's " +
                       state.final_lsn.str());
        }
        out.xid = state.xid;
        out.commit_lsn = commit_lsn;
        out.end_lsn = end_lsn;
        out.commit_time_us = ts;
        state.in_txn = false;
        return {};
    }
    case 'M': {
        out.kind = MessageKind::Message;
        if (!m.transactional || !m.prefix || !m.content) {
            return bad("a message needs \"transactional\", \"prefix\" and \"content\"");
        }
        Lsn lsn = wal_start;
        if (m.lsn) {
            if (auto what = parse_lsn(m.lsn, "lsn", lsn); !what.empty()) return bad(what);
        }
        ChangeEvent& c = fresh_change(out);
        c.after.values.clear();
        c.op = Operation::Message;
        c.lsn = lsn;
        if (*m.transactional) {
            if (!state.in_txn) {
                return bad("change outside a transaction (no Begin)");
            }
            if (auto what = check_xid(); !what.empty()) return bad(what);
            c.xid = state.xid;
            c.position = Position{state.final_lsn, state.next_seq++};
            c.commit_time_us = state.commit_time_us;
        } else {
            // Sent as soon as it is decoded, outside any transaction: it is its own unit.
            c.position = Position{lsn, 0};
        }
        c.transactional = *m.transactional;
        c.prefix.assign(*m.prefix);
        c.content.assign(*m.content);
        return {};
    }
    default: break;
    }

    // I, U, D, T: a change to a table.
    switch (action[0]) {
    case 'I': out.kind = MessageKind::Insert; break;
    case 'U': out.kind = MessageKind::Update; break;
    case 'D': out.kind = MessageKind::Delete; break;
    default: out.kind = MessageKind::Truncate; break;
    }
    if (!state.in_txn) {
        return bad("change outside a transaction (no Begin)");
    }
    if (auto what = check_xid(); !what.empty()) return bad(what);
    if (!m.schema || !m.table) {
        return bad("no \"schema\" or \"table\"");
    }
    if ((action == "I" || action == "U") && !m.has_columns) {
        return bad("no \"columns\"");
    }
    Lsn lsn = wal_start;
    if (m.lsn) {
        if (auto what = parse_lsn(m.lsn, "lsn", lsn); !what.empty()) return bad(what);
    }

    auto it = state.tables.find(TableKeyView{*m.schema, *m.table});
    if (it == state.tables.end()) {
        it = state.tables
                 .emplace(TableKey{std::string(*m.schema), std::string(*m.table)}, TableState{})
                 .first;
    }
    TableState& ts = it->second;

    ChangeEvent& c = fresh_change(out);
    c.xid = state.xid;
    c.lsn = lsn;
    c.commit_time_us = state.commit_time_us;

    if (action == "T") {
        if (!ts.relation) {
            std::shared_ptr<const Relation> rel;
            if (state.catalog != nullptr) {
                rel = state.catalog->find(*m.schema, *m.table, {});
            }
            ts.from_catalog = rel != nullptr;
            if (!rel) {
                rel = build_relation(ts, *m.schema, *m.table, {}, nullptr);
            }
            ts.relation = std::move(rel);
            out.relation = ts.relation;
        }
        // wal2json does not say whether CASCADE or RESTART IDENTITY was given.
        c.after.values.clear();
        c.op = Operation::Truncate;
        c.relation = ts.relation;
        c.position = Position{state.final_lsn, state.next_seq++};
        return {};
    }

    if (auto what = resolve_relation(ts, action, out); !what.empty()) {
        return bad(what);
    }
    const Relation& rel = *ts.relation;
    c.relation = ts.relation;
    c.op = action == "I"   ? Operation::Insert
           : action == "U" ? Operation::Update
                           : Operation::Delete;
    c.position = Position{state.final_lsn, state.next_seq++};

    if (m.has_columns && action != "D") {
        match_columns(rel, m.columns, action == "U" ? Skip::Toastable : Skip::None, &index);
        c.after.kind = TupleKind::New;
        c.after.values.resize(rel.columns.size());
        std::size_t next = 0;
        for (std::size_t i = 0; i < index.size(); ++i) {
            for (; next < index[i]; ++next) {
                c.after.values[next].kind = ValueKind::Unchanged;
                c.after.values[next].data.clear();
            }
            assign_value(c.after.values[next++], m.columns[i]);
        }
        for (; next < rel.columns.size(); ++next) {
            c.after.values[next].kind = ValueKind::Unchanged;
            c.after.values[next].data.clear();
        }
    } else {
        c.after.values.clear();
    }

    if (m.has_identity && (action == "U" || action == "D")) {
        match_columns(rel, m.identity, Skip::Any, &identity_index);
        const bool full = rel.identity == ReplicaIdentity::Full;
        if (action == "U" && !full) {
            // wal2json prints the identity from the new row when PostgreSQL logged no old key:
            // pgoutput sends an old key only when it changed.
            bool changed = false;
            for (std::size_t i = 0; i < identity_index.size() && !changed; ++i) {
                changed = !same_value(c.after.values[identity_index[i]], m.identity[i]);
            }
            if (!changed) {
                return {};
            }
        }
        c.before.kind = full ? TupleKind::Old : TupleKind::Key;
        c.before.values.resize(rel.columns.size());
        for (auto& v : c.before.values) {
            v.kind = full ? ValueKind::Unchanged : ValueKind::Null;
            v.data.clear();
        }
        for (std::size_t i = 0; i < identity_index.size(); ++i) {
            assign_value(c.before.values[identity_index[i]], m.identity[i]);
        }
    }
    return {};
}

std::string wal2json_add_tables(std::span<const std::string> tables) {
    std::string out;
    auto append_escaped = [&](std::string_view part) {
        for (char ch : part) {
            switch (ch) {
            case '\\':
            case ',':
            case '.':
            case '*':
            case ' ':
            case '\t':
            case '\n':
            case '\v':
            case '\f':
            case '\r': out += '\\'; break;
            default: break;
            }
            out += ch;
        }
    };
    for (const std::string& name : tables) {
        if (!out.empty()) {
            out += ',';
        }
        const auto [schema, table] = split_table_name(name);
        append_escaped(schema);
        out += '.';
        append_escaped(table);
    }
    return out;
}

Wal2jsonDecoder::Wal2jsonDecoder(RelationCatalog* catalog)
    : impl_(std::make_unique<Impl>(catalog)) {}

Wal2jsonDecoder::~Wal2jsonDecoder() = default;

Wal2jsonDecoder::Wal2jsonDecoder(const Wal2jsonDecoder& other)
    : impl_(std::make_unique<Impl>(other.impl_->state)) {}

Wal2jsonDecoder& Wal2jsonDecoder::operator=(const Wal2jsonDecoder& other) {
    if (this != &other) {
        impl_ = std::make_unique<Impl>(other.impl_->state);
    }
    return *this;
}

Wal2jsonDecoder::Wal2jsonDecoder(Wal2jsonDecoder&& other) noexcept = default;
Wal2jsonDecoder& Wal2jsonDecoder::operator=(Wal2jsonDecoder&& other) noexcept = default;

Result<void> Wal2jsonDecoder::decode(std::string_view message, Lsn wal_start, DecodedMessage& out) {
    auto result = impl_->decode(message, wal_start, out);
    if (!result) {
        impl_->reset_transaction();
        out.changes.clear();
    }
    return result;
}

bool Wal2jsonDecoder::in_transaction() const {
    return impl_->state.in_txn;
}

std::shared_ptr<const Relation> Wal2jsonDecoder::relation(std::string_view schema,
                                                          std::string_view table) const {
    auto it = impl_->state.tables.find(TableKeyView{schema, table});
    return it == impl_->state.tables.end() ? nullptr : it->second.relation;
}

void Wal2jsonDecoder::reset_transaction() {
    impl_->reset_transaction();
}

} // namespace walbus::decoders
