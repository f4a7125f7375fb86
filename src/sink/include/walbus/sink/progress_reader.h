#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "walbus/checkpoint/checkpoint.h"
#include "walbus/core/error.h"

namespace walbus {

// A pipeline's last committed progress record, as a read_committed consumer of the progress
// topic sees it.
struct ProgressRecord {
    Checkpoint checkpoint;
    std::int64_t offset = 0;
    // The record's timestamp (CreateTime unless the topic logs append time), milliseconds since
    // the Unix epoch; nullopt when the broker gave none.
    std::optional<std::int64_t> timestamp_ms;
};

struct ProgressTopicState {
    bool topic_exists = false;
    std::int64_t low = 0;               // the partition's first offset
    std::int64_t high = 0;              // the partition's end (high watermark)
    std::optional<ProgressRecord> last; // the pipeline's last committed record, if any
};

// Reads the progress topic (partition 0) from its start to its committed end with
// isolation.level=read_committed, without producing, fencing or joining a consumer group, so a
// running walbus is not disturbed: for `walbus status`. The last record keyed by `pipeline`
// wins. A transaction still open on the topic ends the read at the last stable offset: what it
// holds is not committed yet.
[[nodiscard]] Result<ProgressTopicState>
read_progress_topic(const std::vector<std::pair<std::string, std::string>>& properties,
                    const std::string& topic, const std::string& pipeline,
                    std::chrono::milliseconds timeout);

} // namespace walbus
