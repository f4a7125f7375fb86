#include "walbus/core/change_json.h"

#include "walbus/core/base64.h"
#include "walbus/core/json_writer.h"
#include "walbus/core/pg_types.h"

namespace walbus {

std::string_view to_string(Operation op) {
    switch (op) {
    case Operation::Insert: return "insert";
    case Operation::Update: return "update";
    case Operation::Delete: return "delete";
    case Operation::Truncate: return "truncate";
    case Operation::Message: return "message";
    }
    return "unknown";
}

namespace {

// What the conversion of a change needs besides the change.
struct Context {
    JsonWriter& w;
    std::string& out;
    const pg::TypeRegistry& types;
    const pg::JsonOptions& options;
};

void write_value(const Context& cx, const Column& column, const Value& value) {
    JsonWriter& w = cx.w;
    switch (value.kind) {
    case ValueKind::Null: w.null(); return;
    case ValueKind::Binary: {
        std::string encoded;
        append_base64(encoded, value.data);
        w.string(encoded);
        return;
    }
    case ValueKind::Unchanged: // written only with JsonOptions::unchanged_toast_marker
        w.raw(R"({"unchanged_toast":true})");
        return;
    case ValueKind::Text:
        w.value_prefix();
        pg::append_value_json(cx.out, column.type_oid, value.data, cx.types, cx.options);
        return;
    }
}

// Writes the tuple as an object of the columns it carries. A key-only image ('K') carries the
// replica identity columns; unchanged TOAST values are left out (listed in source.unchanged_toast)
// or, with JsonOptions::unchanged_toast_marker, written as a marker object.
void write_tuple(const Context& cx, const Relation& rel, const Tuple& tuple) {
    JsonWriter& w = cx.w;
    if (!tuple.present()) {
        w.null();
        return;
    }
    w.begin_object();
    for (std::size_t i = 0; i < tuple.values.size() && i < rel.columns.size(); ++i) {
        const Value& v = tuple.values[i];
        if (v.kind == ValueKind::Unchanged && !cx.options.unchanged_toast_marker) {
            continue;
        }
        if (tuple.kind == TupleKind::Key && !rel.columns[i].key) {
            continue;
        }
        w.key(rel.columns[i].name);
        write_value(cx, rel.columns[i], v);
    }
    w.end_object();
}

// The key: the replica identity columns, taken from the new row, or from the old image for a
// delete (or when the new row did not carry them, as with an unchanged TOASTed key).
void write_key(const Context& cx, const ChangeEvent& c) {
    JsonWriter& w = cx.w;
    const Relation& rel = *c.relation;
    bool any_key = false;
    for (const Column& col : rel.columns) {
        any_key = any_key || col.key;
    }
    if (!any_key || c.op == Operation::Truncate) {
        w.null();
        return;
    }
    w.begin_object();
    for (std::size_t i = 0; i < rel.columns.size(); ++i) {
        if (!rel.columns[i].key) {
            continue;
        }
        const Value* v = nullptr;
        if (c.after.present() && i < c.after.values.size() &&
            c.after.values[i].kind != ValueKind::Unchanged) {
            v = &c.after.values[i];
        } else if (c.before.present() && i < c.before.values.size() &&
                   c.before.values[i].kind != ValueKind::Unchanged) {
            v = &c.before.values[i];
        }
        if (v == nullptr) {
            continue;
        }
        w.key(rel.columns[i].name);
        write_value(cx, rel.columns[i], *v);
    }
    w.end_object();
}

} // namespace

void append_change_json(std::string& out, const ChangeEvent& c) {
    static const pg::JsonOptions kDefaults;
    append_change_json(out, c, pg::TypeRegistry::builtins(), kDefaults);
}

void append_change_json(std::string& out, const ChangeEvent& c, const pg::TypeRegistry& types,
                        const pg::JsonOptions& options) {
    JsonWriter w(out);
    const Context cx{w, out, types, options};
    w.begin_object();
    w.key("op");
    w.string(to_string(c.op));

    w.key("source");
    w.begin_object();
    if (c.relation) {
        w.key("schema");
        w.string(c.relation->schema);
        w.key("table");
        w.string(c.relation->table);
    }
    w.key("lsn");
    w.string(c.lsn.str());
    w.key("commit_lsn");
    w.string(c.position.commit_lsn.str());
    w.key("seq");
    w.number(c.position.seq);
    if (c.op != Operation::Message || c.transactional) {
        w.key("xid");
        w.number(static_cast<std::uint64_t>(c.xid));
    }
    if (c.commit_time_us != 0) {
        w.key("commit_time");
        w.string(pg::format_utc_timestamp(c.commit_time_us));
    }
    if (!c.origin.empty()) {
        w.key("origin");
        w.string(c.origin);
    }
    if (c.relation && c.after.present()) {
        bool any = false;
        for (std::size_t i = 0; i < c.after.values.size() && i < c.relation->columns.size(); ++i) {
            if (c.after.values[i].kind != ValueKind::Unchanged) {
                continue;
            }
            if (!any) {
                w.key("unchanged_toast");
                w.begin_array();
                any = true;
            }
            w.string(c.relation->columns[i].name);
        }
        if (any) {
            w.end_array();
        }
    }
    w.end_object();

    if (c.op == Operation::Message) {
        w.key("message");
        w.begin_object();
        w.key("transactional");
        w.boolean(c.transactional);
        w.key("prefix");
        w.string(c.prefix);
        if (is_valid_utf8(c.content)) {
            w.key("content");
            w.string(c.content);
        } else {
            std::string encoded;
            append_base64(encoded, c.content);
            w.key("content_base64");
            w.string(encoded);
        }
        w.end_object();
        w.end_object();
        return;
    }
    if (c.op == Operation::Truncate) {
        w.key("truncate");
        w.begin_object();
        w.key("cascade");
        w.boolean(c.truncate_cascade);
        w.key("restart_identity");
        w.boolean(c.truncate_restart_identity);
        w.end_object();
    }
    w.key("key");
    write_key(cx, c);
    w.key("before");
    write_tuple(cx, *c.relation, c.before);
    w.key("after");
    write_tuple(cx, *c.relation, c.after);
    w.end_object();
}

} // namespace walbus
