#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace walbus::pg {

// Built-in type OIDs (src/include/catalog/pg_type.dat), spelled as PostgreSQL names them.
inline constexpr std::uint32_t kBool = 16;
inline constexpr std::uint32_t kBytea = 17;
inline constexpr std::uint32_t kChar = 18;
inline constexpr std::uint32_t kName = 19;
inline constexpr std::uint32_t kInt8 = 20;
inline constexpr std::uint32_t kInt2 = 21;
inline constexpr std::uint32_t kInt4 = 23;
inline constexpr std::uint32_t kText = 25;
inline constexpr std::uint32_t kOid = 26;
inline constexpr std::uint32_t kJson = 114;
inline constexpr std::uint32_t kFloat4 = 700;
inline constexpr std::uint32_t kFloat8 = 701;
inline constexpr std::uint32_t kBpchar = 1042;
inline constexpr std::uint32_t kVarchar = 1043;
inline constexpr std::uint32_t kDate = 1082;
inline constexpr std::uint32_t kTime = 1083;
inline constexpr std::uint32_t kTimestamp = 1114;
inline constexpr std::uint32_t kTimestamptz = 1184;
inline constexpr std::uint32_t kNumeric = 1700;
inline constexpr std::uint32_t kUuid = 2950;
inline constexpr std::uint32_t kJsonb = 3802;

// Appends the JSON form of one column value, given as PostgreSQL's text output for its type
// (the replication connection runs with DateStyle=ISO, TimeZone=UTC, IntervalStyle=iso_8601,
// bytea_output=hex). Types without a dedicated form are emitted as their text, as a string.
void append_value_json(std::string& out, std::uint32_t type_oid, std::string_view text);

// "2026-11-22T03:47:22.123456Z" for microseconds since the Unix epoch.
[[nodiscard]] std::string format_utc_timestamp(std::int64_t unix_us);

} // namespace walbus::pg
