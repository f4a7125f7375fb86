#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace walbus {

// A PostgreSQL WAL location (XLogRecPtr), printed as PostgreSQL prints it: "16/B374D848".
struct Lsn {
    std::uint64_t value = 0;

    constexpr Lsn() = default;
    constexpr explicit Lsn(std::uint64_t v) : value(v) {}

    [[nodiscard]] static std::optional<Lsn> parse(std::string_view text);
    [[nodiscard]] std::string str() const;
    // Appends the same text, without a temporary string.
    void append_to(std::string& out) const;
    [[nodiscard]] constexpr bool valid() const { return value != 0; }

    friend constexpr auto operator<=>(Lsn, Lsn) = default;
};

using Xid = std::uint32_t;

// Where a change sits in the committed history: its transaction's commit LSN and its index
// inside that transaction. LSN alone is not unique (a multi-row statement gives many changes at
// one LSN); the pair is, and it orders every change in commit order.
struct Position {
    Lsn commit_lsn;
    std::uint64_t seq = 0;

    friend constexpr auto operator<=>(const Position&, const Position&) = default;
};

} // namespace walbus
