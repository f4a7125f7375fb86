#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "walbus/core/lsn.h"

namespace walbus {

enum class Operation : std::uint8_t { Insert, Update, Delete, Truncate, Message };

[[nodiscard]] std::string_view to_string(Operation op);

// pg_class.relreplident
enum class ReplicaIdentity : char { Default = 'd', Nothing = 'n', Full = 'f', Index = 'i' };

struct Column {
    std::string name;
    std::uint32_t type_oid = 0;
    std::int32_t typmod = -1;
    bool key = false; // part of the replica identity (every column under REPLICA IDENTITY FULL)
};

// A table as the replication stream last described it. Changes keep a pointer to the version
// that was current when they were decoded, so an ALTER TABLE mid-stream never reinterprets
// earlier changes.
struct Relation {
    std::uint32_t oid = 0;
    std::string schema;
    std::string table;
    ReplicaIdentity identity = ReplicaIdentity::Default;
    std::vector<Column> columns;
};

// pgoutput tuple column kinds: 'n' null, 'u' unchanged TOAST (the server did not send the
// value; it is never turned into null), 't' text form, 'b' binary form.
enum class ValueKind : std::uint8_t { Null, Unchanged, Text, Binary };

struct Value {
    ValueKind kind = ValueKind::Null;
    std::string data;
};

// Which image a tuple is: none, only the replica identity columns ('K'), the whole old row
// ('O', REPLICA IDENTITY FULL), or the new row.
enum class TupleKind : std::uint8_t { None, Key, Old, New };

struct Tuple {
    TupleKind kind = TupleKind::None;
    std::vector<Value> values; // one per relation column, in relation order

    [[nodiscard]] bool present() const { return kind != TupleKind::None; }
};

// One committed low-level change, neutral of the plugin that decoded it.
struct ChangeEvent {
    Operation op = Operation::Insert;
    std::shared_ptr<const Relation> relation; // null for Message
    Tuple before;
    Tuple after;

    Xid xid = 0;
    Lsn lsn;                         // WAL location of the change itself
    Position position;               // (commit LSN of its transaction, index in it)
    std::int64_t commit_time_us = 0; // microseconds since the Unix epoch, UTC
    std::string origin;              // replication origin, when the transaction had one

    // Truncate
    bool truncate_cascade = false;
    bool truncate_restart_identity = false;

    // Message (pg_logical_emit_message)
    bool transactional = true;
    std::string prefix;
    std::string content;
};

} // namespace walbus
