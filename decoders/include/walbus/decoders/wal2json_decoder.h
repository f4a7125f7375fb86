#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "walbus/core/change_event.h"
#include "walbus/core/error.h"
#include "walbus/core/lsn.h"
#include "walbus/decoders/decoded_message.h"

namespace walbus::decoders {

// One wal2json plugin option, as passed to START_REPLICATION or pg_logical_slot_get_changes.
struct Wal2jsonOption {
    std::string_view name;
    std::string_view value;
};

// The options walbus starts wal2json with; add `add-tables` (wal2json_add_tables) to them.
// Wal2jsonDecoder needs format-version 2 (one message per action), include-lsn (the commit LSN
// of each transaction, so positions equal pgoutput's) and include-type-oids (values are turned
// back into PostgreSQL's text form by their type). include-schemas, include-types and
// include-transaction are left at their defaults (on).
inline constexpr std::array<Wal2jsonOption, 7> kWal2jsonOptions{{
    {"format-version", "2"},
    {"include-xids", "1"},
    {"include-timestamp", "1"},
    {"include-lsn", "1"},
    {"include-pk", "1"},
    {"include-type-oids", "1"},
    {"include-typmod", "1"},
}};

// The value of wal2json's `add-tables` option for tables named as in source.tables
// ("schema.table" or "table", by PostgreSQL's identifier rules: see split_table_name). wal2json
// splits the list at commas and whitespace, schema from table at the first dot, and treats `*`
// as a wildcard; a backslash makes the next character literal, so every such character in a
// name is escaped.
[[nodiscard]] std::string wal2json_add_tables(std::span<const std::string> tables);

// A column as a wal2json message names it.
struct MessageColumn {
    std::string_view name;
    std::uint32_t type_oid = 0;
    std::string_view type; // wal2json's "type": format_type_with_typemod, e.g. "numeric(10,2)"
};

// What wal2json does not say about a table: every column (an UPDATE leaves out unchanged TOAST
// values), the replica identity and its columns, typmods and the OID. The pipeline implements it
// with catalog queries; tests implement it from recorded catalog snapshots.
class RelationCatalog {
public:
    virtual ~RelationCatalog() = default;

    // The table's description: every column in order (attnum, without dropped ones), with `key`
    // set on the replica identity columns (every column under REPLICA IDENTITY FULL); or null
    // when the table is unknown. `seen` lists the columns of the message being decoded, in
    // order; they are a subsequence of the table's columns unless the catalog has changed since
    // the change was written. The decoder calls this only when its cached description does not
    // fit a message, so an implementation may query the server each time.
    virtual std::shared_ptr<const Relation> find(std::string_view schema, std::string_view table,
                                                 std::span<const MessageColumn> seen) = 0;
};

// Decodes wal2json format-version 2 messages (started with kWal2jsonOptions) into the same
// DecodedMessages PgoutputDecoder gives for the same transactions: Begin and Commit bracket a
// transaction and carry its commit LSN and end LSN; each change gets its position (commit_lsn,
// seq), xid, commit time and LSN; values are PostgreSQL's text form (ValueKind::Text) or Null;
// columns an UPDATE left out because their TOASTed value did not change are ValueKind::Unchanged.
//
// wal2json has no Relation messages: the decoder keeps one Relation per table, taken from the
// RelationCatalog (when given) or built from the message's columns, "pk" and "identity", and
// reuses it while messages fit it. `out.relation` is set (and `out.kind` stays the change's)
// when a message made the decoder take a new description of its table.
//
// Pure: no I/O, no logging. Malformed or truncated JSON gives an ErrorCode::Protocol error naming
// the LSN; after an error the transaction in progress is dropped, known tables stay.
class Wal2jsonDecoder {
public:
    // `catalog` is not owned and must outlive the decoder; null builds descriptions from the
    // messages alone (see decoders/README.md for what that cannot know).
    explicit Wal2jsonDecoder(RelationCatalog* catalog = nullptr);
    ~Wal2jsonDecoder();
    // A copy has the same tables and transaction state (and the same catalog) and its own parser.
    Wal2jsonDecoder(const Wal2jsonDecoder& other);
    Wal2jsonDecoder& operator=(const Wal2jsonDecoder& other);
    Wal2jsonDecoder(Wal2jsonDecoder&& other) noexcept;
    Wal2jsonDecoder& operator=(Wal2jsonDecoder&& other) noexcept;

    [[nodiscard]] Result<void> decode(std::string_view message, Lsn wal_start, DecodedMessage& out);

    [[nodiscard]] bool in_transaction() const;
    [[nodiscard]] std::shared_ptr<const Relation> relation(std::string_view schema,
                                                           std::string_view table) const;

    // Forgets the transaction in progress (a connection was lost mid-transaction).
    void reset_transaction();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace walbus::decoders
