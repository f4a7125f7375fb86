#pragma once

#include <cstdint>

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

} // namespace walbus
