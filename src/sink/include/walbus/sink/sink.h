#pragma once

#include <cstdint>
#include <string_view>

#include "walbus/core/error.h"

namespace walbus {

// Where events go. Offsets count every byte ever appended (durable or not), so that the
// pipeline can mark where a transaction starts and take it back if the transaction is cut off.
// Only after flush() succeeds are the bytes durable and may the checkpoint move past them.
class Sink {
public:
    virtual ~Sink() = default;

    // Called once before the first append with the sink offset of the last checkpoint (0 when
    // there is none): output past it was written but never checkpointed and will be produced
    // again, so a sink that can, removes it.
    [[nodiscard]] virtual Result<void> recover(std::uint64_t durable_offset) = 0;

    virtual void append(std::string_view bytes) = 0;

    // The offset after everything appended so far.
    [[nodiscard]] virtual std::uint64_t end_offset() const = 0;

    // Bytes appended but not yet handed to the operating system.
    [[nodiscard]] virtual std::size_t buffered() const = 0;

    // Whether written bytes can be taken back (a file can be truncated; standard output cannot).
    [[nodiscard]] virtual bool can_rewind() const = 0;

    // Hands the buffered bytes to the operating system without making them durable, to bound
    // memory inside a large transaction. Only for sinks that can rewind.
    [[nodiscard]] virtual Result<void> write_out() = 0;

    // Drops everything after `offset`: the buffered bytes, and for a sink that can rewind, bytes
    // already written (even flushed ones: the checkpoint never points past a cut-off
    // transaction).
    [[nodiscard]] virtual Result<void> rewind(std::uint64_t offset) = 0;

    // Makes everything appended durable; returns the offset after it.
    [[nodiscard]] virtual Result<std::uint64_t> flush() = 0;
};

} // namespace walbus
