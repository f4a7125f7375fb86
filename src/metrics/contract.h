#pragma once

#include <span>
#include <string_view>

namespace walbus::metrics::detail {

// A broken precondition of this module's API: a malformed or repeated metric name, a wrong
// number of label values, histogram bounds out of order. These are programmer errors (names
// are constants in the code), never user input: print the message and abort.
[[noreturn]] void contract_violation(std::string_view message);

// Histogram bounds must be finite and strictly increasing (+Inf is implicit).
void check_bounds(std::span<const double> bounds);

} // namespace walbus::metrics::detail
