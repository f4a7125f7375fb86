#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "walbus/core/change_event.h"
#include "walbus/core/lsn.h"

namespace walbus::decoders {

// What one plugin message was. Every decoder (pgoutput, wal2json) reports in these terms.
enum class MessageKind : std::uint8_t {
    Begin,
    Commit,
    Origin,
    Relation,
    Type,
    Insert,
    Update,
    Delete,
    Truncate,
    Message,
    // pgoutput protocol version 2: transactions streamed while in progress (PostgreSQL 14+)
    StreamStart,
    StreamStop,
    StreamCommit,
    StreamAbort,
    Streamed, // a message of a stream block, to be staged and replayed at its Stream Commit
};

// A type described by the stream (pgoutput's Type message: non-built-in types).
struct TypeInfo {
    std::uint32_t oid = 0;
    std::string schema;
    std::string name;
};

// What one decoded message means. `changes` is cleared and refilled by every call, so the
// caller can keep one instance and reuse its storage.
struct DecodedMessage {
    MessageKind kind = MessageKind::Begin;

    // Begin and Commit; StreamCommit fills the same fields. Stream messages: the toplevel xid of
    // the streamed transaction (for Streamed, the one of the current stream block).
    Xid xid = 0;
    Lsn commit_lsn;                  // Begin's final_lsn, Commit's commit_lsn
    Lsn end_lsn;                     // Commit: end of the commit record; the LSN to confirm
    std::int64_t commit_time_us = 0; // microseconds since the Unix epoch

    // StreamAbort: the subtransaction rolled back (== xid when the whole transaction is).
    // Streamed: the xid the message carries (a subtransaction's, or == xid).
    Xid subxid = 0;
    // StreamStart: the first block of this transaction.
    bool first_segment = false;
    // Streamed: the message in protocol version 1 form (without its xid), to be passed back to
    // decode() when the transaction is replayed, and what kind of message it is (Relation, Type,
    // Origin, Insert, Update, Delete, Truncate or Message).
    std::string streamed;
    MessageKind streamed_kind = MessageKind::Begin;

    // Relation: the new version of the table's description
    std::shared_ptr<const Relation> relation;

    // Insert, Update, Delete, Truncate (one per table), Message
    std::vector<ChangeEvent> changes;
};

} // namespace walbus::decoders
