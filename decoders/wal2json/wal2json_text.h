#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// Text forms in wal2json messages that the decoder turns back into what pgoutput reports.

namespace walbus::decoders {

// False for the built-in fixed-length types, whose values are never TOASTed: an UPDATE that
// leaves out such a column means the table's columns changed, not an unchanged TOAST value.
[[nodiscard]] bool can_be_toasted(std::uint32_t type_oid);

// The typmod behind format_type_with_typemod's text ("numeric(10,2)" → 655366,
// "character varying(20)" → 24, "timestamp(3) without time zone" → 3) for the built-in types
// that take one, and their arrays; -1 otherwise (no modifier, interval, other types).
[[nodiscard]] std::int32_t typmod_from_type_name(std::uint32_t type_oid, std::string_view type);

// timestamptz_to_str's ISO text ("2026-11-22 04:00:16.977838+00", in the session's time zone)
// → microseconds since the Unix epoch. False when it is not one.
[[nodiscard]] bool parse_timestamptz(std::string_view text, std::int64_t& unix_us);

// Appends `in` with every byte sequence that is not valid UTF-8 replaced by U+FFFD.
void append_repaired_utf8(std::string& out, std::string_view in);

} // namespace walbus::decoders
