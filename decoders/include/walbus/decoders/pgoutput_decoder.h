#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "walbus/core/change_event.h"
#include "walbus/core/error.h"
#include "walbus/core/lsn.h"
#include "walbus/decoders/decoded_message.h"

namespace walbus::decoders {

// Decodes pgoutput protocol versions 1 and 2 (PostgreSQL 10+, 14+). Pure: no I/O, no logging.
// Keeps the protocol's state: the relations and types described so far and the transaction in
// progress, whose changes get their position (commit_lsn, seq) as they are decoded.
//
// Every read is bounds-checked; malformed or truncated bytes give an Error naming the message
// and its LSN. After an error the decoder's transaction state is reset (the caller reconnects
// and the server resends the transaction); relations described so far stay known.
//
// Protocol version 2 streams large transactions while they are in progress, in blocks between
// Stream Start and Stream Stop; non-streamed transactions may come between blocks. Inside a
// block, Relation, Type, Origin, Insert, Update, Delete, Truncate and Message come as
// MessageKind::Streamed: checked to be well-formed, but neither decoded nor applied (pgoutput
// counts a Relation sent in a streamed transaction as sent only once that transaction commits).
// The caller stages them per toplevel xid, drops them at Stream Abort (only the subtransaction's
// changes when subxid != xid) and, at Stream Commit, replays them as one transaction:
//
//   begin_replay(xid, commit_lsn, end_lsn, commit_time_us, out)   out is the Begin
//   decode(staged bytes, their WAL start, out)                     for each, in staged order
//   end_replay(out)                                                out is the Commit
//
// so that the changes get the positions (commit_lsn, 0), (commit_lsn, 1), ... and the values a
// non-streamed transaction would have had.
class PgoutputDecoder {
public:
    [[nodiscard]] Result<void> decode(std::string_view message, Lsn wal_start, DecodedMessage& out);

    // Replay of a streamed transaction (see above). begin_replay fails (ErrorCode::Internal)
    // when a transaction or a stream block is open, end_replay when no replay is.
    [[nodiscard]] Result<void> begin_replay(Xid xid, Lsn commit_lsn, Lsn end_lsn,
                                            std::int64_t commit_time_us, DecodedMessage& out);
    [[nodiscard]] Result<void> end_replay(DecodedMessage& out);

    // A transaction is open: between Begin and Commit, or between begin_replay and end_replay.
    [[nodiscard]] bool in_transaction() const { return in_txn_; }
    // Between Stream Start and Stream Stop.
    [[nodiscard]] bool in_stream() const { return in_stream_; }
    [[nodiscard]] bool replaying() const { return replaying_; }
    [[nodiscard]] const TypeInfo* type(std::uint32_t oid) const;
    [[nodiscard]] std::shared_ptr<const Relation> relation(std::uint32_t oid) const;

    // Forgets the transaction in progress, the stream block and any replay (a connection was
    // lost mid-transaction; whatever the caller staged must go too).
    void reset_transaction();

private:
    Result<void> decode_impl(std::string_view message, Lsn wal_start, DecodedMessage& out);
    Result<void> decode_streamed(char kind, std::string_view message, Lsn wal_start,
                                 DecodedMessage& out);

    std::unordered_map<std::uint32_t, std::shared_ptr<const Relation>> relations_;
    std::unordered_map<std::uint32_t, TypeInfo> types_;

    bool in_txn_ = false;
    Xid xid_ = 0;
    Lsn final_lsn_;
    std::int64_t commit_time_us_ = 0;
    std::string origin_;
    std::uint64_t next_seq_ = 0;

    bool in_stream_ = false;
    Xid stream_xid_ = 0;
    bool replaying_ = false;
    Lsn replay_end_lsn_;
};

// The PostgreSQL epoch (2000-01-01) in microseconds since the Unix epoch.
inline constexpr std::int64_t kPostgresEpochUnixUs = 946'684'800'000'000;

} // namespace walbus::decoders
