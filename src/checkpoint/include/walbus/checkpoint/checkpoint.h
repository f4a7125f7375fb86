#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "walbus/core/error.h"
#include "walbus/core/lsn.h"

namespace walbus {

// What has durably reached the sink: every change at or before `position` is stored, the
// replication stream may resume from `end_lsn`, and the sink's durable output ends at
// `sink_offset` bytes (for sinks that can truncate back to it after a crash).
struct Checkpoint {
    Position position;
    Lsn end_lsn;
    std::uint64_t sink_offset = 0;
};

// The text form of a checkpoint, as the checkpoint file and the Kafka progress record hold it:
// a header line, then commit_lsn, seq, end_lsn and sink_offset as key=value lines.
[[nodiscard]] std::string format_checkpoint(const Checkpoint& checkpoint);
// Reads that form back; `where` (a file name, a topic) names the place in errors.
[[nodiscard]] Result<Checkpoint> parse_checkpoint(std::string_view text, const std::string& where);

} // namespace walbus
