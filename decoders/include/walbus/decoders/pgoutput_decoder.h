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

// Decodes pgoutput protocol version 1 (PostgreSQL 10+). Pure: no I/O, no logging. Keeps the
// protocol's state: the relations and types described so far and the transaction in progress,
// whose changes get their position (commit_lsn, seq) as they are decoded.
//
// Every read is bounds-checked; malformed or truncated bytes give an Error naming the message
// and its LSN. After an error the decoder's transaction state is reset (the caller reconnects
// and the server resends the transaction); relations described so far stay known.
class PgoutputDecoder {
public:
    [[nodiscard]] Result<void> decode(std::string_view message, Lsn wal_start, DecodedMessage& out);

    [[nodiscard]] bool in_transaction() const { return in_txn_; }
    [[nodiscard]] const TypeInfo* type(std::uint32_t oid) const;
    [[nodiscard]] std::shared_ptr<const Relation> relation(std::uint32_t oid) const;

    // Forgets the transaction in progress (a connection was lost mid-transaction).
    void reset_transaction();

private:
    Result<void> decode_impl(std::string_view message, Lsn wal_start, DecodedMessage& out);

    std::unordered_map<std::uint32_t, std::shared_ptr<const Relation>> relations_;
    std::unordered_map<std::uint32_t, TypeInfo> types_;

    bool in_txn_ = false;
    Xid xid_ = 0;
    Lsn final_lsn_;
    std::int64_t commit_time_us_ = 0;
    std::string origin_;
    std::uint64_t next_seq_ = 0;
};

// The PostgreSQL epoch (2000-01-01) in microseconds since the Unix epoch.
inline constexpr std::int64_t kPostgresEpochUnixUs = 946'684'800'000'000;

} // namespace walbus::decoders
