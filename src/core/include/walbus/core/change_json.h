#pragma once

#include <string>

#include "walbus/core/change_event.h"
#include "walbus/core/pg_types.h"
#include "walbus/core/type_registry.h"

namespace walbus {

// Appends one change as a JSON object (no trailing newline) in the format documented in
// docs/event-format.md, typing each value by its column's type as `types` describes it.
void append_change_json(std::string& out, const ChangeEvent& change, const pg::TypeRegistry& types,
                        const pg::JsonOptions& options);

// The same with the built-in types only and default options.
void append_change_json(std::string& out, const ChangeEvent& change);

} // namespace walbus
