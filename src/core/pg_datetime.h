#pragma once

// PostgreSQL's ISO DateStyle output (DateStyle=ISO) as ISO 8601 JSON strings. Each function
// appends the quoted JSON string and returns true, or appends nothing and returns false when the
// text is not in the form it expects (infinity, a malformed value): the caller then writes the
// text as it is.
//
// Years: PostgreSQL writes "0044-03-15 BC"; ISO 8601 counts astronomically (1 BC is year 0), so
// that is "-0043-03-15". Years outside 0000-9999 carry a sign: "-4712-01-01", "+10000-01-01".

#include <string>
#include <string_view>

namespace walbus::pg {

// "2026-11-22", "0001-01-01 BC" → "2026-11-22", "0000-01-01".
[[nodiscard]] bool append_iso_date(std::string& out, std::string_view text);

// "2026-11-22 03:47:22.5" → "2026-11-22T03:47:22.5".
[[nodiscard]] bool append_iso_timestamp(std::string& out, std::string_view text);

// "2026-11-22 03:47:22.5+00" → "2026-11-22T03:47:22.5Z". A value with another offset (a session
// not in UTC) is converted to UTC.
[[nodiscard]] bool append_iso_timestamptz(std::string& out, std::string_view text);

// "03:47:22.5+05:30" → "03:47:22.5+05:30", "12:00:00-08" → "12:00:00-08:00",
// "12:00:00+00" → "12:00:00Z". The offset is part of the value and is kept.
[[nodiscard]] bool append_iso_timetz(std::string& out, std::string_view text);

} // namespace walbus::pg
