#include "walbus/metrics/readiness.h"

namespace walbus::metrics {

void Readiness::set_ready() {
    std::lock_guard lock(mutex_);
    state_.ready = true;
    state_.reason.clear();
}

void Readiness::set_not_ready(std::string_view reason) {
    std::string line(reason);
    for (char& c : line) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    std::lock_guard lock(mutex_);
    state_.ready = false;
    state_.reason = std::move(line);
}

Readiness::State Readiness::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

bool Readiness::ready() const {
    std::lock_guard lock(mutex_);
    return state_.ready;
}

} // namespace walbus::metrics
