#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "walbus/core/error.h"
#include "walbus/core/lsn.h"
#include "walbus/source/replication_stream.h"

namespace walbus::source {

// The replication slot as pg_replication_slots shows it, with the WAL it holds back.
struct SlotStatus {
    std::string name;
    bool exists = false;
    std::string plugin;
    std::string slot_type; // "logical" or "physical"
    std::string database;  // the slot's database (logical slots)
    bool temporary = false;
    bool active = false;
    std::optional<int> active_pid;
    std::optional<Lsn> restart_lsn;
    std::optional<Lsn> confirmed_flush_lsn;
    std::string wal_status;                    // reserved, extended, unreserved, lost (PG 13+)
    std::optional<std::int64_t> safe_wal_size; // bytes before the slot is at risk (PG 13+)
    // pg_wal_lsn_diff(current WAL LSN, confirmed_flush_lsn): WAL written since walbus last
    // confirmed; what an idle pipeline should keep near zero.
    std::optional<std::int64_t> retained_bytes;
    // pg_wal_lsn_diff(current WAL LSN, restart_lsn): WAL the server must keep for the slot.
    std::optional<std::int64_t> restart_retained_bytes;
};

// A configured table and whether the publication has it.
struct PublicationTable {
    std::string schema;
    std::string table;
    bool exists = true; // the table itself exists in the database
};

struct PublicationStatus {
    std::string name;
    bool exists = false;
    bool all_tables = false;
    std::vector<std::pair<std::string, std::string>> tables; // {schema, table}, sorted
    std::vector<PublicationTable> missing; // configured tables the publication lacks
};

struct ServerStatus {
    std::string version; // server_version, e.g. "15.4 (Debian 15.4-1)"
    int version_num = 0; // server_version_num, e.g. 150004
    std::string wal_level;
    std::string database;
    bool in_recovery = false;
    Lsn current_wal_lsn; // pg_current_wal_lsn(), or the last replayed LSN on a standby
    SlotStatus slot;
    // Only for the pgoutput plugin: other plugins choose tables through their options.
    std::optional<PublicationStatus> publication;
};

// Reads the server's set-up, the slot and the publication over an ordinary (non-replication)
// connection, read-only: nothing is created or changed. `tables` are the configured tables
// ("schema.table" or "table") whose membership in the publication is checked. The error is for
// a server that cannot be reached or queried; a missing slot or publication is a status.
[[nodiscard]] Result<ServerStatus> read_server_status(const SourceSettings& settings,
                                                      const std::vector<std::string>& tables);

} // namespace walbus::source
