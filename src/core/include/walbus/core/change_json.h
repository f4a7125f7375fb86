#pragma once

#include <string>

#include "walbus/core/change_event.h"

namespace walbus {

// Appends one change as a JSON object (no trailing newline) in the format documented in
// docs/event-format.md.
void append_change_json(std::string& out, const ChangeEvent& change);

} // namespace walbus
