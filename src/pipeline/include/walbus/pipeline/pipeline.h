#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "walbus/config/config.h"
#include "walbus/core/error.h"
#include "walbus/core/lsn.h"

namespace walbus::mappers {
class RuleSet;
}
namespace walbus::metrics {
struct PipelineMetrics;
class Readiness;
} // namespace walbus::metrics

namespace walbus {

struct RunOptions {
    // The compiled mapping rules; without them every change is written as a change event.
    std::shared_ptr<mappers::RuleSet> rules;
    // walbus tail: a temporary slot from the current end of the WAL, standard output, no
    // checkpoint, nothing created on the server but that slot, no reconnecting.
    bool tail = false;
    // Stop (cleanly, checkpoint stored) once everything up to this LSN has been written.
    std::optional<Lsn> stop_at;
    // Where the pipeline counts what it does and says whether it is streaming (the metrics
    // endpoint's /metrics and /readyz). Both outlive the pipeline; without them it keeps its own.
    metrics::PipelineMetrics* metrics = nullptr;
    metrics::Readiness* readiness = nullptr;
};

// Wires source → decoder → transaction assembly → sink → checkpoint, and runs until asked to
// stop or until a failure that retrying cannot fix.
class Pipeline {
public:
    Pipeline(config::Config config, RunOptions options);
    ~Pipeline();

    // Returns after a clean stop (the flag was raised, or stop_at was reached): the transaction
    // in hand finished, the checkpoint stored. Returns an Error for a failure that retrying with
    // backoff could not fix; committed work is checkpointed first.
    [[nodiscard]] Result<void> run(const std::atomic<bool>& stop);

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace walbus
