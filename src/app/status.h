#pragma once

#include <memory>
#include <ostream>

#include "walbus/config/config.h"

namespace walbus::mappers {
class RuleSet;
}

namespace walbus::app {

// walbus status: the replication slot (activity, positions, the WAL it holds back), the
// publication and the configured tables it lacks, the server's wal_level and version, and the
// last checkpoint (the checkpoint file, or the progress record in Kafka in exactly_once mode)
// with its age. Read-only: nothing is created, fenced or confirmed. Writes text for a person,
// or one JSON object with `json`, to `out`. The DSN and Kafka property values are never
// printed.
//
// Returns the exit code: 0 when everything could be read (a missing slot, publication or
// checkpoint is part of the report), 1 when the database or the progress topic could not be
// read, 2 when the configuration is unusable (e.g. a malformed DSN).
[[nodiscard]] int print_status(const config::Config& config,
                               const std::shared_ptr<mappers::RuleSet>& rules, bool json,
                               std::ostream& out);

} // namespace walbus::app
