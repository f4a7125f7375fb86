#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace walbus {

// Every expected failure has one of these codes. What to do about it (retry or stop, and with
// which exit code) is decided in code from the code, never by matching message text.
enum class ErrorCode {
    Config,          // invalid configuration or usage: exit 2
    Protocol,        // malformed replication protocol bytes
    Connection,      // the server went away or cannot be reached: retried with backoff
    SlotInUse,       // the replication slot is active for another process: retried
    Auth,            // authentication failed
    ServerSetup,     // wal_level, missing slot/publication/table: the user must act
    Server,          // any other error reported by PostgreSQL
    Io,              // local file system
    Mapping,         // a change that a mapping rule cannot map
    Sink,            // the sink refuses for good (fenced by a newer instance, not authorised)
    SinkUnavailable, // the sink is unreachable or aborted a transaction: retried
    Internal,
};

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

template <typename T> using Result = std::expected<T, Error>;

[[nodiscard]] inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
    return std::unexpected(Error{code, std::move(message)});
}

[[nodiscard]] std::string_view to_string(ErrorCode code);

// True for failures that go away by themselves (a restarted server, a slot still held by a
// process that is exiting); the pipeline retries those with capped, jittered backoff.
[[nodiscard]] bool is_retriable(ErrorCode code);

} // namespace walbus
