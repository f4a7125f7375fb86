#pragma once

#include <mutex>
#include <string>
#include <string_view>

namespace walbus::metrics {

// Whether the pipeline is doing its job (streaming, or idle and caught up), and when not, why:
// the pipeline sets it on each change of state; the HTTP server's /readyz reads it. Not for the
// hot path: both sides take a lock.
class Readiness {
public:
    struct State {
        bool ready = false;
        std::string reason; // empty when ready
    };

    // Starts not ready, with the reason "starting".
    Readiness() = default;
    Readiness(const Readiness&) = delete;
    Readiness& operator=(const Readiness&) = delete;

    void set_ready();
    // `reason` says what the pipeline is waiting for or recovering from, for example "backing
    // off after: connection refused". It is served as one line: line breaks become spaces.
    void set_not_ready(std::string_view reason);

    [[nodiscard]] State state() const;
    [[nodiscard]] bool ready() const;

private:
    mutable std::mutex mutex_;
    State state_{false, "starting"};
};

} // namespace walbus::metrics
