#include "contract.h"

#include <cstdio>
#include <cstdlib>

namespace walbus::metrics::detail {

void contract_violation(std::string_view message) {
    std::fprintf(stderr, "walbus: metrics: %.*s\n", static_cast<int>(message.size()),
                 message.data());
    std::abort();
}

} // namespace walbus::metrics::detail
