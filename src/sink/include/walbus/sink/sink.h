#pragma once

#include <cstdint>
#include <string_view>

#include "walbus/core/error.h"

namespace walbus {

// Where events go. The pipeline appends whole transactions, then calls flush(); only after
// flush() succeeds are those transactions durable and may the checkpoint move past them.
class Sink {
public:
    virtual ~Sink() = default;

    // Called once before the first append with the sink offset of the last checkpoint (0 when
    // there is none): output past it was written but never checkpointed and will be produced
    // again, so a sink that can, removes it.
    [[nodiscard]] virtual Result<void> recover(std::uint64_t durable_offset) = 0;

    virtual void append(std::string_view bytes) = 0;

    // Bytes appended since the last flush.
    [[nodiscard]] virtual std::size_t buffered() const = 0;

    // Makes everything appended durable; returns the sink offset after it.
    [[nodiscard]] virtual Result<std::uint64_t> flush() = 0;
};

} // namespace walbus
