#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "walbus/core/type_registry.h"

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
inline constexpr std::uint32_t kXid = 28;
inline constexpr std::uint32_t kCid = 29;
inline constexpr std::uint32_t kJson = 114;
inline constexpr std::uint32_t kXml = 142;
inline constexpr std::uint32_t kJsonArray = 199;
inline constexpr std::uint32_t kPoint = 600;
inline constexpr std::uint32_t kBox = 603;
inline constexpr std::uint32_t kCidr = 650;
inline constexpr std::uint32_t kFloat4 = 700;
inline constexpr std::uint32_t kFloat8 = 701;
inline constexpr std::uint32_t kMacaddr8 = 774;
inline constexpr std::uint32_t kMoney = 790;
inline constexpr std::uint32_t kMacaddr = 829;
inline constexpr std::uint32_t kInet = 869;
inline constexpr std::uint32_t kBoolArray = 1000;
inline constexpr std::uint32_t kByteaArray = 1001;
inline constexpr std::uint32_t kInt2Array = 1005;
inline constexpr std::uint32_t kInt4Array = 1007;
inline constexpr std::uint32_t kTextArray = 1009;
inline constexpr std::uint32_t kVarcharArray = 1015;
inline constexpr std::uint32_t kInt8Array = 1016;
inline constexpr std::uint32_t kPointArray = 1017;
inline constexpr std::uint32_t kBoxArray = 1020;
inline constexpr std::uint32_t kFloat4Array = 1021;
inline constexpr std::uint32_t kFloat8Array = 1022;
inline constexpr std::uint32_t kBpchar = 1042;
inline constexpr std::uint32_t kVarchar = 1043;
inline constexpr std::uint32_t kDate = 1082;
inline constexpr std::uint32_t kTime = 1083;
inline constexpr std::uint32_t kTimestamp = 1114;
inline constexpr std::uint32_t kTimestampArray = 1115;
inline constexpr std::uint32_t kDateArray = 1182;
inline constexpr std::uint32_t kTimestamptz = 1184;
inline constexpr std::uint32_t kTimestamptzArray = 1185;
inline constexpr std::uint32_t kInterval = 1186;
inline constexpr std::uint32_t kNumericArray = 1231;
inline constexpr std::uint32_t kTimetz = 1266;
inline constexpr std::uint32_t kBit = 1560;
inline constexpr std::uint32_t kVarbit = 1562;
inline constexpr std::uint32_t kNumeric = 1700;
inline constexpr std::uint32_t kUuid = 2950;
inline constexpr std::uint32_t kUuidArray = 2951;
inline constexpr std::uint32_t kPgLsn = 3220;
inline constexpr std::uint32_t kTsvector = 3614;
inline constexpr std::uint32_t kTsquery = 3615;
inline constexpr std::uint32_t kJsonb = 3802;
inline constexpr std::uint32_t kJsonbArray = 3807;
inline constexpr std::uint32_t kInt4Range = 3904;
inline constexpr std::uint32_t kNumRange = 3906;
inline constexpr std::uint32_t kTsRange = 3908;
inline constexpr std::uint32_t kTstzRange = 3910;
inline constexpr std::uint32_t kDateRange = 3912;
inline constexpr std::uint32_t kInt8Range = 3926;
inline constexpr std::uint32_t kInt4RangeArray = 3905;
inline constexpr std::uint32_t kInt4Multirange = 4451;
inline constexpr std::uint32_t kNumMultirange = 4532;
inline constexpr std::uint32_t kTsMultirange = 4533;
inline constexpr std::uint32_t kTstzMultirange = 4534;
inline constexpr std::uint32_t kDateMultirange = 4535;
inline constexpr std::uint32_t kInt8Multirange = 4536;
inline constexpr std::uint32_t kXid8 = 5069;

// Choices in how values are written (docs/event-format.md, "Values").
struct JsonOptions {
    // numeric as a JSON number ("19.99" → 19.99) instead of a string; NaN and ±Infinity stay
    // strings. Off by default: many JSON readers turn numbers into doubles and lose digits.
    bool numeric_as_number = false;
    // bytea as base64 (RFC 4648, padded) or as lower-case hex digits without the "\x" prefix.
    enum class Bytes : std::uint8_t { Base64, Hex };
    Bytes bytea = Bytes::Base64;
    // An unchanged TOAST column appears in `after` as {"unchanged_toast":true} instead of being
    // left out (it is listed in source.unchanged_toast either way).
    bool unchanged_toast_marker = false;
};

// Levels of nesting one value may have (array dimensions, composite values, ranges, hstore, one
// level each); a value nested deeper is written as its text. PostgreSQL allows 6 dimensions.
inline constexpr int kMaxValueDepth = 64;

// Appends the JSON form of one non-null value, given as PostgreSQL's text output for its type
// (the replication connection runs with DateStyle=ISO, TimeZone=UTC, IntervalStyle=iso_8601,
// extra_float_digits=3, bytea_output=hex). Types the registry does not know, types without a
// dedicated form, and text that is not in the form its type produces are written as the text,
// as a JSON string; nothing is read outside `text`.
void append_value_json(std::string& out, std::uint32_t type_oid, std::string_view text,
                       const TypeRegistry& types, const JsonOptions& options);

// The same with the built-in types only and default options.
void append_value_json(std::string& out, std::uint32_t type_oid, std::string_view text);

// "2026-11-22T03:47:22.123456Z" for microseconds since the Unix epoch. The text is the calling
// thread's cached copy (every change of a transaction has the same commit time), valid until
// its next call: copy it before calling again.
[[nodiscard]] const std::string& format_utc_timestamp(std::int64_t unix_us);

} // namespace walbus::pg
