#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>

#include "walbus/core/error.h"
#include "walbus/source/replication_stream.h"

namespace walbus::source {

// Writes a small non-transactional logical decoding message into the WAL every interval:
//
//     SELECT pg_logical_emit_message(false, 'walbus.heartbeat', '<UTC ISO 8601 time>')
//
// so that a slot whose tables are quiet still sees its database's WAL move: the walsender
// sends the message (pgoutput with messages 'true'), the pipeline confirms past it, and the
// server can recycle WAL that other databases or unpublished tables wrote.
//
// It runs on its own thread with its own ordinary (non-replication) connection. A failure never
// ends it: the connection is dropped and opened again after a capped, growing wait, and
// `on_failure` is called once per streak of failures (the first), `on_recovery` when one
// succeeds again. Both are called on the heartbeat's thread and must not block for long.
class Heartbeat {
public:
    static constexpr std::string_view kPrefix = "walbus.heartbeat";

    struct Callbacks {
        std::function<void(const Error&)> on_failure;
        std::function<void()> on_recovery;
    };

    // `interval` 0 turns it off: start() then does nothing.
    Heartbeat(SourceSettings settings, std::chrono::milliseconds interval, Callbacks callbacks = {},
              std::chrono::milliseconds backoff_max = std::chrono::seconds(30));
    ~Heartbeat(); // stop()
    Heartbeat(const Heartbeat&) = delete;
    Heartbeat& operator=(const Heartbeat&) = delete;

    // Starts the thread; the first message is written at once. Does nothing when running or off.
    void start();
    // Wakes the thread (even inside a query or a wait), closes its connection and joins it.
    void stop();

    [[nodiscard]] bool running() const { return thread_.joinable(); }
    // Messages written, and failed attempts (a connection or a query), since construction.
    [[nodiscard]] std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t failures() const {
        return failures_.load(std::memory_order_relaxed);
    }

private:
    struct Impl;
    void loop();

    std::unique_ptr<Impl> impl_;
    std::thread thread_;
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> failures_{0};
};

} // namespace walbus::source
