#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "walbus/core/error.h"
#include "walbus/core/lsn.h"

namespace walbus::source {

struct SourceSettings {
    std::string dsn; // secret: never logged, never in error messages
    std::string slot;
    std::string publication;
    std::vector<std::string> tables; // "schema.table" or "table" (schema public)
    bool create_slot = true;
    bool create_publication = false;
    // A temporary slot (walbus tail): created at start, dropped by the server when the
    // connection ends; never an existing slot.
    bool temporary_slot = false;
    std::string application_name = "walbus";
    // The logical decoding plugin of the slot and the options START_REPLICATION passes to it.
    // For pgoutput, walbus adds proto_version, publication_names and messages itself.
    std::string plugin = "pgoutput";
    std::vector<std::pair<std::string, std::string>> plugin_options;
    // pgoutput only: protocol version 2 with streaming 'on' (PostgreSQL 14+), so the server
    // streams large transactions while they are in progress instead of spilling them to its disk.
    bool streaming = false;
};

struct SystemInfo {
    std::string system_id;
    int timeline = 0;
    Lsn xlog_pos;
    std::string database;
    int server_version = 0; // PQserverVersion, e.g. 150004
};

// One message from the walsender's CopyBoth stream.
struct StreamMessage {
    enum class Type { None, XLogData, Keepalive };
    Type type = Type::None;
    Lsn wal_start; // XLogData: LSN of the record the payload came from
    Lsn wal_end;   // the server's current end of WAL
    bool reply_requested = false;
    std::string_view data; // XLogData payload, valid until the next call to next()
};

// A libpq replication connection (replication=database) to one database: the checks and set-up
// walbus needs before streaming (wal_level, tables, publication, slot), START_REPLICATION, the
// stream of CopyData messages and standby status updates.
class ReplicationStream {
public:
    ~ReplicationStream();
    ReplicationStream(const ReplicationStream&) = delete;
    ReplicationStream& operator=(const ReplicationStream&) = delete;

    // Connects and runs IDENTIFY_SYSTEM. Values are sent in ISO/UTC forms whatever the server's
    // defaults (DateStyle, TimeZone, IntervalStyle, extra_float_digits, bytea_output).
    [[nodiscard]] static Result<std::unique_ptr<ReplicationStream>>
    connect(const SourceSettings& settings);

    [[nodiscard]] const SystemInfo& system() const { return system_; }

    // wal_level, configured tables, publication (created when asked), slot (created when
    // asked). Errors say what to change.
    [[nodiscard]] Result<void> prepare();
    // The checks of prepare() without creating anything (walbus check --connect): every
    // set-up problem (wal_level, a missing table, publication or slot, a table missing from
    // the publication) is appended to `problems`; the error is for a failed query.
    [[nodiscard]] Result<void> check(std::vector<std::string>& problems);

    // START_REPLICATION ... LOGICAL start (options): for pgoutput proto_version '1' (or '2' and
    // streaming 'on' with SourceSettings::streaming), publication_names and messages; for other
    // plugins SourceSettings::plugin_options.
    [[nodiscard]] Result<void> start(Lsn start);
    // Overrides SourceSettings::streaming for start(), once the server's version is known
    // (system().server_version): protocol version 2 needs PostgreSQL 14 or later.
    void set_streaming(bool on);

    // Waits up to `timeout` for one message; Type::None when none came (or a signal arrived).
    [[nodiscard]] Result<StreamMessage> next(std::chrono::milliseconds timeout);

    // Standby status update ('r'): written, flushed and applied LSNs.
    [[nodiscard]] Result<void> send_status(Lsn written, Lsn flushed, bool reply_requested);

private:
    struct Impl;
    explicit ReplicationStream(std::unique_ptr<Impl> impl);
    [[nodiscard]] Result<void>
    prepare_publication(const std::vector<std::pair<std::string, std::string>>& tables,
                        std::vector<std::string>* problems);
    [[nodiscard]] Result<void> prepare_or_check(std::vector<std::string>* problems);

    std::unique_ptr<Impl> impl_;
    SystemInfo system_;
};

// The SQL literal / identifier forms used to build the walsender's simple-protocol commands.
[[nodiscard]] std::string quote_literal(std::string_view text);
[[nodiscard]] std::string quote_ident(std::string_view text);

} // namespace walbus::source
