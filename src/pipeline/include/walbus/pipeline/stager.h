#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "walbus/core/error.h"
#include "walbus/core/lsn.h"

namespace walbus::pipeline {

// The messages of transactions the server streams while they are in progress (pgoutput protocol
// version 2), kept per toplevel xid from their stream blocks until Stream Commit replays them or
// Stream Abort drops them.
//
// Memory is bounded: `memory_budget` bytes over all staged transactions (each message counts
// its bytes plus a 17-byte record header; replaying from a file adds one 1 MiB read buffer). When
// an append goes beyond it, the transactions with the most bytes in memory are written to their
// spill file, `walbus-stage-<xid>.bin` in `dir` (the in-memory part is the write buffer), until
// the rest fits. The in-memory part is kept in chunks of at most 1 MiB (a larger message has one
// of its own) that never move once written, so growing it copies nothing and memory stays within
// the budget plus one chunk. So a transaction is a prefix in its file followed by a suffix
// in memory, and replay reads both in the order of the appends. Files hold length-prefixed records
// in host byte order: they only live as long as the process (the server resends unconfirmed
// transactions after a restart), so creating a Stager removes every `walbus-stage-*.bin` in `dir`
// left by a crash, and the destructor removes its own. `dir` must belong to one Stager.
//
// A subtransaction's abort drops its changes but keeps its Schema messages: pgoutput counts a
// Relation (or Type) sent in a streamed transaction as sent for the whole transaction, even when
// the subtransaction that sent it rolls back, and need not send it again. In memory the records
// are removed; in the file they are skipped at replay (the file is not rewritten, so disk_bytes()
// does not shrink).
class Stager {
public:
    // What a staged message is, for abort_sub(): Schema messages survive a subtransaction's abort.
    enum class Kind : std::uint8_t { Change, Schema };

    // Creates `dir` when missing and removes leftover spill files from it.
    [[nodiscard]] static Result<Stager> create(std::string dir, std::size_t memory_budget);

    Stager(Stager&& other) noexcept;
    Stager& operator=(Stager&& other) noexcept;
    Stager(const Stager&) = delete;
    Stager& operator=(const Stager&) = delete;
    ~Stager();

    // Stages one message of transaction `xid`, sent by its subtransaction `subxid` (== xid for
    // the toplevel), at WAL location `lsn`. Errors: a spill file cannot be created or written
    // (ErrorCode::Io, naming the file and the system's reason).
    [[nodiscard]] Result<void> append(Xid xid, Xid subxid, Lsn lsn, std::string_view bytes,
                                      Kind kind = Kind::Change);

    // Drops everything staged for `xid` and removes its file (a rolled-back transaction).
    [[nodiscard]] Result<void> abort(Xid xid);
    // Drops the Change messages of subtransaction `subxid` of `xid` (ROLLBACK TO SAVEPOINT);
    // `subxid == xid` is abort(xid).
    [[nodiscard]] Result<void> abort_sub(Xid xid, Xid subxid);

    // Calls `each` with every message staged for `xid` and not dropped, in the order they were
    // appended, then releases the transaction (memory and file) whatever happened. Stops at the
    // first error of `each` and returns it; read errors are ErrorCode::Io. A transaction never
    // staged replays nothing.
    using Visit = std::function<Result<void>(Lsn lsn, std::string_view bytes)>;
    [[nodiscard]] Result<void> replay(Xid xid, const Visit& each);

    // Drops every transaction and its file (the connection was lost: the server resends them).
    void clear();

    [[nodiscard]] std::size_t memory_bytes() const { return memory_bytes_; }
    [[nodiscard]] std::size_t disk_bytes() const { return disk_bytes_; }
    [[nodiscard]] std::size_t transactions() const { return txns_.size(); }
    [[nodiscard]] const std::string& directory() const { return dir_; }
    // The spill file of `xid` (whether it exists or not).
    [[nodiscard]] std::string file_path(Xid xid) const;

    static constexpr std::string_view kFilePrefix = "walbus-stage-";
    static constexpr std::string_view kFileSuffix = ".bin";

private:
    struct Txn {
        // Records not yet spilled, in chunks; a record never spans two.
        std::vector<std::string> memory;
        std::size_t memory_size = 0; // bytes in `memory`
        int fd = -1;                 // the spill file, once there is one
        std::size_t file_bytes = 0;
        // Aborted subtransactions: their Change records in the file before this offset are
        // skipped at replay.
        std::unordered_map<Xid, std::size_t> aborted_in_file;
    };

    Stager(std::string dir, std::size_t memory_budget);
    Result<void> spill(Xid xid, Txn& txn);
    Result<void> release(Xid xid, Txn& txn);

    std::string dir_;
    std::size_t budget_ = 0;
    std::size_t memory_bytes_ = 0;
    std::size_t disk_bytes_ = 0;
    std::unordered_map<Xid, Txn> txns_;
    std::vector<char> read_buffer_;
};

} // namespace walbus::pipeline
