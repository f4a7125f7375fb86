// The typed JSON form of every kind of PostgreSQL value (docs/event-format.md, "Values"). The
// input texts are what a PostgreSQL 15 server prints with DateStyle=ISO, TimeZone=UTC,
// IntervalStyle=iso_8601, extra_float_digits=3 and bytea_output=hex, as the replication
// connection sets them.

#include <catch2/catch.hpp>

#include <random>

#include "walbus/core/change_json.h"
#include "walbus/core/json_writer.h"
#include "walbus/core/pg_types.h"
#include "walbus/core/type_registry.h"

using namespace walbus;
using namespace walbus::pg;

namespace {

// Non-built-in types, as the catalog would describe them:
//   CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'very happy', 'a"b');
//   CREATE DOMAIN price AS numeric(12,2); CREATE DOMAIN intlist AS int[];
//   CREATE TYPE pair AS (a int, b text);
//   CREATE TYPE nest AS (p pair, tags text[], d date, n numeric);
//   CREATE TYPE empty_t AS (); CREATE TYPE shapes AS (b box, bs box[]);
//   CREATE TYPE floatrange AS RANGE (subtype = float8);
//   CREATE EXTENSION hstore; CREATE EXTENSION citext;
constexpr std::uint32_t kMood = 20001, kMoodArray = 20002;
constexpr std::uint32_t kPrice = 20003, kPriceArray = 20004;
constexpr std::uint32_t kIntList = 20005, kIntListArray = 20006;
constexpr std::uint32_t kPair = 20007, kPairArray = 20008;
constexpr std::uint32_t kNest = 20009, kNestArray = 20010;
constexpr std::uint32_t kHstore = 20011, kHstoreArray = 20012;
constexpr std::uint32_t kCitext = 20013, kCitextArray = 20014;
constexpr std::uint32_t kFloatRange = 20015, kFloatMultirange = 20016;
constexpr std::uint32_t kEmpty = 20017, kEmptyArray = 20018;
constexpr std::uint32_t kShapes = 20019;
constexpr std::uint32_t kPositivePrice = 20020;         // a domain over the domain price
constexpr std::uint32_t kLoopA = 20021, kLoopB = 20022; // domains over each other
constexpr std::uint32_t kSelf = 20023;         // a composite that (wrongly) contains itself
constexpr std::uint32_t kUnknownArray = 20024; // an array of a type nobody registered
constexpr std::uint32_t kUnknown = 29999;

TypeDesc type(std::uint32_t oid, std::string name, TypeKind kind, std::uint32_t element = 0,
              std::vector<std::pair<std::string, std::uint32_t>> attributes = {}) {
    TypeDesc t;
    t.oid = oid;
    t.schema = "public";
    t.name = std::move(name);
    t.kind = kind;
    t.element_oid = element;
    t.attributes = std::move(attributes);
    return t;
}

const TypeRegistry& test_types() {
    static const TypeRegistry registry = [] {
        TypeRegistry r;
        r.add(type(kMood, "mood", TypeKind::Enum));
        r.add(type(kMoodArray, "_mood", TypeKind::Array, kMood));
        r.add(type(kPrice, "price", TypeKind::Domain, kNumeric));
        r.add(type(kPriceArray, "_price", TypeKind::Array, kPrice));
        r.add(type(kIntList, "intlist", TypeKind::Domain, kInt4Array));
        r.add(type(kIntListArray, "_intlist", TypeKind::Array, kIntList));
        r.add(type(kPair, "pair", TypeKind::Composite, 0, {{"a", kInt4}, {"b", kText}}));
        r.add(type(kPairArray, "_pair", TypeKind::Array, kPair));
        r.add(type(kNest, "nest", TypeKind::Composite, 0,
                   {{"p", kPair}, {"tags", kTextArray}, {"d", kDate}, {"n", kNumeric}}));
        r.add(type(kNestArray, "_nest", TypeKind::Array, kNest));
        r.add(type(kHstore, "hstore", TypeKind::Base));
        r.add(type(kHstoreArray, "_hstore", TypeKind::Array, kHstore));
        r.add(type(kCitext, "citext", TypeKind::Base));
        r.add(type(kCitextArray, "_citext", TypeKind::Array, kCitext));
        r.add(type(kFloatRange, "floatrange", TypeKind::Range, kFloat8));
        r.add(type(kFloatMultirange, "floatmultirange", TypeKind::Multirange, kFloatRange));
        r.add(type(kEmpty, "empty_t", TypeKind::Composite));
        r.add(type(kEmptyArray, "_empty_t", TypeKind::Array, kEmpty));
        r.add(type(kShapes, "shapes", TypeKind::Composite, 0, {{"b", kBox}, {"bs", kBoxArray}}));
        r.add(type(kPositivePrice, "positive_price", TypeKind::Domain, kPrice));
        r.add(type(kLoopA, "loop_a", TypeKind::Domain, kLoopB));
        r.add(type(kLoopB, "loop_b", TypeKind::Domain, kLoopA));
        r.add(type(kSelf, "self", TypeKind::Composite, 0, {{"next", kSelf}}));
        r.add(type(kUnknownArray, "_mystery", TypeKind::Array, kUnknown));
        return r;
    }();
    return registry;
}

std::string json(std::uint32_t oid, std::string_view text, const JsonOptions& options = {}) {
    std::string out;
    append_value_json(out, oid, text, test_types(), options);
    return out;
}

// The text as a JSON string: what a value falls back to.
std::string as_string(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

// A strict JSON checker written independently of the code under test, for the fuzz cases.
class JsonCheck {
public:
    explicit JsonCheck(std::string_view s) : s_(s) {}
    bool valid() {
        bool ok = value(0);
        space();
        return ok && i_ == s_.size();
    }

private:
    bool value(int depth) {
        space();
        if (depth > 500 || i_ >= s_.size()) {
            return false;
        }
        char c = s_[i_];
        if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';
            ++i_;
            space();
            if (peek(close)) {
                ++i_;
                return true;
            }
            for (;;) {
                if (c == '{') {
                    space();
                    if (!peek('"') || !string()) {
                        return false;
                    }
                    space();
                    if (!peek(':')) {
                        return false;
                    }
                    ++i_;
                }
                if (!value(depth + 1)) {
                    return false;
                }
                space();
                if (peek(',')) {
                    ++i_;
                    continue;
                }
                if (peek(close)) {
                    ++i_;
                    return true;
                }
                return false;
            }
        }
        if (c == '"') {
            return string();
        }
        for (std::string_view word : {"true", "false", "null"}) {
            if (s_.substr(i_, word.size()) == word) {
                i_ += word.size();
                return true;
            }
        }
        std::size_t start = i_;
        while (i_ < s_.size() &&
               std::string_view("+-.eE0123456789").find(s_[i_]) != std::string_view::npos) {
            ++i_;
        }
        return i_ > start;
    }
    bool string() {
        ++i_;
        while (i_ < s_.size()) {
            auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                ++i_;
                return true;
            }
            if (c < 0x20) {
                return false;
            }
            i_ += c == '\\' ? 2 : 1;
        }
        return false;
    }
    bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
    void space() { // a line break would end the line of JSON Lines: not allowed here
        while (peek(' ') || peek('\t')) {
            ++i_;
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

} // namespace

TEST_CASE("type registry knows the built-in types", "[pg_types]") {
    const TypeRegistry& r = TypeRegistry::builtins();
    const TypeDesc* int4_array = r.find(kInt4Array);
    REQUIRE(int4_array != nullptr);
    CHECK(int4_array->name == "_int4");
    CHECK(int4_array->schema == "pg_catalog");
    CHECK(int4_array->kind == TypeKind::Array);
    CHECK(int4_array->element_oid == kInt4);
    for (std::uint32_t oid : {1000u, 1001u, 1009u, 1185u, 1231u, 2951u, 3807u}) {
        REQUIRE(r.find(oid) != nullptr);
        CHECK(r.find(oid)->kind == TypeKind::Array);
    }
    CHECK(r.find(kBox)->delimiter == ';');
    CHECK(r.find(kBoxArray)->delimiter == ';');
    CHECK(r.find(kInt4Range)->kind == TypeKind::Range);
    CHECK(r.find(kInt4Range)->element_oid == kInt4);
    CHECK(r.find(kTstzRange)->element_oid == kTimestamptz);
    CHECK(r.find(kNumMultirange)->kind == TypeKind::Multirange);
    CHECK(r.find(kNumMultirange)->element_oid == kNumRange);
    CHECK(r.find(6150)->element_oid == kInt4Multirange); // _int4multirange
    CHECK(r.find(3905)->element_oid == kInt4Range);      // _int4range
    CHECK(r.find(kPoint)->kind == TypeKind::Base);
    CHECK(r.find(kName)->kind == TypeKind::Base); // subscriptable, yet not an array
    CHECK(r.find(kNumeric)->name == "numeric");
    CHECK(r.find(0) == nullptr);
    CHECK(r.find(kMood) == nullptr);
    CHECK(r.find(4294967295u) == nullptr);
}

TEST_CASE("type registry adds, replaces and keeps built-ins fixed", "[pg_types]") {
    TypeRegistry r;
    r.add(type(30000, "hstore", TypeKind::Base));
    r.add(type(30001, "citext", TypeKind::Base));
    r.add(type(30002, "ltree", TypeKind::Base));
    CHECK(r.entry(30000)->form == JsonForm::Hstore);
    CHECK(r.entry(30001)->form == JsonForm::String);
    CHECK(r.entry(30002)->form == JsonForm::String);
    CHECK(r.entry(kInt4)->form == JsonForm::Integer);
    CHECK(r.entry(kTimestamptz)->form == JsonForm::Timestamptz);

    r.add(type(30003, "pair", TypeKind::Composite, 0, {{"a", kInt4}}));
    r.add(type(30003, "pair", TypeKind::Composite, 0, {{"a", kInt4}, {"b", kText}}));
    REQUIRE(r.find(30003) != nullptr);
    CHECK(r.find(30003)->attributes.size() == 2);

    r.add(type(kInt4, "int4", TypeKind::Enum)); // ignored
    CHECK(r.find(kInt4)->kind == TypeKind::Base);
    CHECK(TypeRegistry::builtins().find(30000) == nullptr);
}

TEST_CASE("bool", "[pg_types]") {
    CHECK(json(kBool, "t") == "true");
    CHECK(json(kBool, "f") == "false");
    CHECK(json(kBool, "true") == R"j("true")j"); // not PostgreSQL's output: kept as text
}

TEST_CASE("integers and oid-like types are numbers", "[pg_types]") {
    CHECK(json(kInt2, "-32768") == "-32768");
    CHECK(json(kInt4, "-2147483648") == "-2147483648");
    CHECK(json(kInt8, "-9223372036854775808") == "-9223372036854775808");
    CHECK(json(kInt8, "9223372036854775807") == "9223372036854775807");
    CHECK(json(kInt4, "0") == "0");
    CHECK(json(kOid, "4294967295") == "4294967295");
    CHECK(json(kXid, "4294967295") == "4294967295");
    CHECK(json(kCid, "4294967295") == "4294967295");
    CHECK(json(kXid8, "18446744073709551615") == "18446744073709551615");
    CHECK(json(kInt4, "12abc") == R"j("12abc")j");
    CHECK(json(kInt4, "") == R"j("")j");
    CHECK(json(kInt4, "007") == R"j("007")j");
}

TEST_CASE("floats are numbers, except NaN and infinities", "[pg_types]") {
    CHECK(json(kFloat8, "3.141592653589793") == "3.141592653589793");
    CHECK(json(kFloat8, "0.30000000000000004") == "0.30000000000000004");
    CHECK(json(kFloat8, "1e+300") == "1e+300");
    CHECK(json(kFloat8, "1.5e-07") == "1.5e-07");
    CHECK(json(kFloat8, "1e-320") == "1e-320");
    CHECK(json(kFloat8, "2.2250738585072014e-308") == "2.2250738585072014e-308");
    CHECK(json(kFloat8, "1.7976931348623157e+308") == "1.7976931348623157e+308");
    CHECK(json(kFloat8, "-0") == "-0");
    CHECK(json(kFloat4, "3.4e+38") == "3.4e+38");
    CHECK(json(kFloat4, "1.1754944e-38") == "1.1754944e-38");
    CHECK(json(kFloat4, "100") == "100");
    CHECK(json(kFloat8, "NaN") == R"j("NaN")j");
    CHECK(json(kFloat4, "Infinity") == R"j("Infinity")j");
    CHECK(json(kFloat8, "-Infinity") == R"j("-Infinity")j");
}

TEST_CASE("numeric keeps every digit", "[pg_types]") {
    const std::string big = std::string(500, '9') + "." + std::string(500, '1');
    CHECK(json(kNumeric, big) == "\"" + big + "\"");
    CHECK(json(kNumeric, "-123.4500") == R"j("-123.4500")j");
    CHECK(json(kNumeric, "0.00000000000000000001") == R"j("0.00000000000000000001")j");
    CHECK(json(kNumeric, "NaN") == R"j("NaN")j");
    CHECK(json(kNumeric, "Infinity") == R"j("Infinity")j");
    CHECK(json(kNumeric, "-Infinity") == R"j("-Infinity")j");

    JsonOptions numbers;
    numbers.numeric_as_number = true;
    CHECK(json(kNumeric, big, numbers) == big);
    CHECK(json(kNumeric, "-123.4500", numbers) == "-123.4500");
    CHECK(json(kNumeric, "0", numbers) == "0");
    CHECK(json(kNumeric, "NaN", numbers) == R"j("NaN")j");
    CHECK(json(kNumeric, "Infinity", numbers) == R"j("Infinity")j");
    CHECK(json(kNumeric, "-Infinity", numbers) == R"j("-Infinity")j");
    CHECK(json(kNumericArray, "{1.50,NaN,NULL}", numbers) == R"j([1.50,"NaN",null])j");
    CHECK(json(kNumericArray, "{1.50,NaN,NULL}") == R"j(["1.50","NaN",null])j");
}

TEST_CASE("money is its text", "[pg_types]") {
    CHECK(json(kMoney, "$92,233,720,368,547,758.07") == R"j("$92,233,720,368,547,758.07")j");
    CHECK(json(kMoney, "-$1,234.50") == R"j("-$1,234.50")j");
}

TEST_CASE("character types are strings", "[pg_types]") {
    CHECK(json(kText, "tab\t nl\n cr\r bs\\ q\" \xc3\xbc \xe2\x82\xac \xf0\x9f\x98\x80") ==
          "\"tab\\t nl\\n cr\\r bs\\\\ q\\\" \xc3\xbc \xe2\x82\xac \xf0\x9f\x98\x80\"");
    CHECK(json(kText, "\x01\x1f\x7f") == "\"\\u0001\\u001f\x7f\"");
    CHECK(json(kText, "") == R"j("")j");
    CHECK(json(kBpchar, "ab   ") == R"j("ab   ")j");
    CHECK(json(kVarchar, "vc ") == R"j("vc ")j");
    CHECK(json(kName, "nm") == R"j("nm")j");
    CHECK(json(kChar, "x") == R"j("x")j");
    CHECK(json(kChar, "\\303") == R"j("\\303")j"); // "char" prints a high byte in octal
    CHECK(json(kCitext, "MiXed Case") == R"j("MiXed Case")j");
    CHECK(json(kXml, R"j(<a b="c">d &amp; e</a>)j") == R"j("<a b=\"c\">d &amp; e</a>")j");
}

TEST_CASE("bytea as base64 or hex", "[pg_types]") {
    CHECK(json(kBytea, "\\x") == R"j("")j");
    CHECK(json(kBytea, "\\x00") == R"j("AA==")j");
    CHECK(json(kBytea, "\\x0001") == R"j("AAE=")j");
    CHECK(json(kBytea, "\\x000102") == R"j("AAEC")j");
    CHECK(json(kBytea, "\\xdeadbeefcafe") == R"j("3q2+78r+")j");
    CHECK(json(kBytea, "\\x00ff10") == R"j("AP8Q")j");

    JsonOptions hex;
    hex.bytea = JsonOptions::Bytes::Hex;
    CHECK(json(kBytea, "\\x", hex) == R"j("")j");
    CHECK(json(kBytea, "\\xdeadbeefcafe", hex) == R"j("deadbeefcafe")j");
    CHECK(json(kBytea, "\\xDEADBEEF", hex) == R"j("deadbeef")j");

    // Not hex output: the text, whichever form was asked for.
    CHECK(json(kBytea, "\\x0") == R"j("\\x0")j");
    CHECK(json(kBytea, "\\x0g") == R"j("\\x0g")j");
    CHECK(json(kBytea, "\\x0g", hex) == R"j("\\x0g")j");
    CHECK(json(kBytea, "abc\\000") == R"j("abc\\000")j"); // bytea_output=escape
    CHECK(json(kByteaArray, R"j({"\\x","\\xdeadbeef"})j") == R"j(["","3q2+7w=="])j");
}

TEST_CASE("json and jsonb are embedded", "[pg_types]") {
    CHECK(json(kJsonb, R"j({"a": [1, 2.5, null], "b": {"c": true}})j") ==
          R"j({"a": [1, 2.5, null], "b": {"c": true}})j");
    CHECK(json(kJsonb, "[1, 25000000000, 0, 100]") == "[1, 25000000000, 0, 100]");
    CHECK(json(kJson, R"j("str")j") == R"j("str")j");
    CHECK(json(kJsonb, "null") == "null");
    CHECK(json(kJson, "1e5") == "1e5");
    CHECK(json(kJson, "-0.0E-0") == "-0.0E-0");
    CHECK(json(kJson, R"j({"a":"\u0000","b":"\ud83d\ude00"})j") ==
          R"j({"a":"\u0000","b":"\ud83d\ude00"})j");
    CHECK(json(kJson, R"j({"a":1,"a":2})j") == R"j({"a":1,"a":2})j");
    CHECK(json(kJson, "  [ ]  ") == "  [ ]  ");
    // json keeps its input's formatting: line breaks between tokens become spaces.
    CHECK(json(kJson, "{\"a\":\n  1,\t\"b\" : \"x\\ny\"}\r\n") ==
          "{\"a\":   1,\t\"b\" : \"x\\ny\"}  ");
    const std::string deep = std::string(10000, '[') + std::string(10000, ']');
    CHECK(json(kJsonb, deep) == deep);

    // Not JSON: the text as a string.
    for (std::string_view bad :
         {"", "{", "[1,]", "01", "1.", ".5", "{\"a\" 1}", "[1] 2", "\"tab\there\"", "\"\\x\"",
          "nul", "{1:2}", "[}", "{]", "\"\\u12\"", "tru", "-", "1e"}) {
        CAPTURE(bad);
        CHECK(json(kJson, bad) == as_string(bad));
    }
    CHECK(json(kJson, std::string(10000, '[')) == as_string(std::string(10000, '[')));
    CHECK(json(kJsonbArray, R"j({"{\"a\": [1, \"x,y\"]}",NULL})j") ==
          R"j([{"a": [1, "x,y"]},null])j");
    CHECK(json(kJsonArray, R"j({"{\"a\":1}"})j") == R"j([{"a":1}])j");
}

TEST_CASE("other scalar types are their text", "[pg_types]") {
    CHECK(json(kUuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") ==
          R"j("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")j");
    CHECK(json(kInterval, "P1Y2M3DT4H5M6.789S") == R"j("P1Y2M3DT4H5M6.789S")j");
    CHECK(json(kInterval, "P-1Y-2M3DT-4H-5M-6S") == R"j("P-1Y-2M3DT-4H-5M-6S")j");
    CHECK(json(kInterval, "PT0S") == R"j("PT0S")j");
    CHECK(json(kTime, "23:59:59.999") == R"j("23:59:59.999")j");
    CHECK(json(kTime, "24:00:00") == R"j("24:00:00")j");
    CHECK(json(kInet, "2001:db8::1/64") == R"j("2001:db8::1/64")j");
    CHECK(json(kInet, "192.168.0.1/24") == R"j("192.168.0.1/24")j");
    CHECK(json(kCidr, "10.0.0.0/8") == R"j("10.0.0.0/8")j");
    CHECK(json(kMacaddr, "08:00:2b:01:02:03") == R"j("08:00:2b:01:02:03")j");
    CHECK(json(kMacaddr8, "08:00:2b:01:02:03:04:05") == R"j("08:00:2b:01:02:03:04:05")j");
    CHECK(json(kBit, "1010") == R"j("1010")j");
    CHECK(json(kVarbit, "101") == R"j("101")j");
    CHECK(json(kPgLsn, "0/16B3748") == R"j("0/16B3748")j");
    CHECK(json(kTsvector, "'a' 'cat' 'fat'") == R"j("'a' 'cat' 'fat'")j");
    CHECK(json(kTsquery, "'fat' & 'cat'") == R"j("'fat' & 'cat'")j");
    CHECK(json(kPoint, "(1,2)") == R"j("(1,2)")j");
    CHECK(json(kBox, "(1,1),(0,0)") == R"j("(1,1),(0,0)")j");
    CHECK(json(718, "<(1,1),2>") == R"j("<(1,1),2>")j");         // circle
    CHECK(json(602, "[(0,0),(1,1)]") == R"j("[(0,0),(1,1)]")j"); // path
    CHECK(json(kUnknown, "(1,2)") == R"j("(1,2)")j");
    CHECK(json(kMood, "very happy") == R"j("very happy")j");
}

TEST_CASE("dates are ISO 8601, with expanded years outside 0000-9999", "[pg_types]") {
    CHECK(json(kDate, "2026-11-22") == R"j("2026-11-22")j");
    CHECK(json(kDate, "0001-01-01") == R"j("0001-01-01")j");
    CHECK(json(kDate, "9999-12-31") == R"j("9999-12-31")j");
    CHECK(json(kDate, "0001-01-01 BC") == R"j("0000-01-01")j");
    CHECK(json(kDate, "0002-12-31 BC") == R"j("-0001-12-31")j");
    CHECK(json(kDate, "0044-03-15 BC") == R"j("-0043-03-15")j");
    CHECK(json(kDate, "4713-01-01 BC") == R"j("-4712-01-01")j");
    CHECK(json(kDate, "10000-01-01") == R"j("+10000-01-01")j");
    CHECK(json(kDate, "5874897-12-31") == R"j("+5874897-12-31")j");
    CHECK(json(kDate, "infinity") == R"j("infinity")j");
    CHECK(json(kDate, "-infinity") == R"j("-infinity")j");
    for (std::string_view bad : {"2026-13-01", "2026-1-01", "0000-01-01", "26-01-01",
                                 "2026-01-01 AD", "2026-01-01 BC ", "1234567890-01-01"}) {
        CAPTURE(bad);
        CHECK(json(kDate, bad) == as_string(bad));
    }
    CHECK(json(kDateArray, R"j({2026-01-01,"0001-01-01 BC",infinity})j") ==
          R"j(["2026-01-01","0000-01-01","infinity"])j");
}

TEST_CASE("timestamps are ISO 8601", "[pg_types]") {
    CHECK(json(kTimestamp, "2026-11-22 03:47:22.123456") == R"j("2026-11-22T03:47:22.123456")j");
    CHECK(json(kTimestamp, "2026-11-22 03:47:22") == R"j("2026-11-22T03:47:22")j");
    CHECK(json(kTimestamp, "0044-03-15 12:30:00 BC") == R"j("-0043-03-15T12:30:00")j");
    CHECK(json(kTimestamp, "294276-12-31 23:59:59.999999") ==
          R"j("+294276-12-31T23:59:59.999999")j");
    CHECK(json(kTimestamp, "-infinity") == R"j("-infinity")j");
    CHECK(json(kTimestamp, "2026-11-22T03:47:22") == R"j("2026-11-22T03:47:22")j"); // as text

    CHECK(json(kTimestamptz, "2026-11-22 08:47:22.5+00") == R"j("2026-11-22T08:47:22.5Z")j");
    CHECK(json(kTimestamptz, "0001-01-01 00:00:00+00 BC") == R"j("0000-01-01T00:00:00Z")j");
    CHECK(json(kTimestamptz, "294276-12-31 23:59:59.999999+00") ==
          R"j("+294276-12-31T23:59:59.999999Z")j");
    CHECK(json(kTimestamptz, "infinity") == R"j("infinity")j");
    // Another session time zone: converted to UTC, across day, year and era boundaries.
    CHECK(json(kTimestamptz, "1900-01-01 00:00:00+00:19:32") == R"j("1899-12-31T23:40:28Z")j");
    CHECK(json(kTimestamptz, "2024-02-29 23:30:00.25-01") == R"j("2024-03-01T00:30:00.25Z")j");
    CHECK(json(kTimestamptz, "0001-01-01 00:00:00.5+00:19:32") == R"j("0000-12-31T23:40:28.5Z")j");
    CHECK(json(kTimestamptz, "2026-01-01 00:00:00.5+00:19:32 BC") ==
          R"j("-2026-12-31T23:40:28.5Z")j");
    CHECK(json(kTimestamptz, "9999-12-31 23:00:00-02") == R"j("+10000-01-01T01:00:00Z")j");
    for (std::string_view bad :
         {"2026-11-22 08:47:22", "2026-11-22 08:47:22+", "2026-11-22", "2026-11-22 8:47:22+00",
          "2026-11-22 08:47:22.+00", "2026-11-22 08:47:22+00 AD", "2026-11-22 08:61:22+00"}) {
        CAPTURE(bad);
        CHECK(json(kTimestamptz, bad) == as_string(bad));
    }
    CHECK(json(kTimestamptzArray, R"j({"2026-01-01 00:00:00+00",infinity})j") ==
          R"j(["2026-01-01T00:00:00Z","infinity"])j");
    CHECK(json(kTimestampArray, R"j({"2026-01-01 10:00:00",NULL})j") ==
          R"j(["2026-01-01T10:00:00",null])j");
}

TEST_CASE("timetz keeps its offset", "[pg_types]") {
    CHECK(json(kTimetz, "12:00:00+05:30") == R"j("12:00:00+05:30")j");
    CHECK(json(kTimetz, "12:00:00.5-08") == R"j("12:00:00.5-08:00")j");
    CHECK(json(kTimetz, "12:00:00+05:30:15") == R"j("12:00:00+05:30:15")j");
    CHECK(json(kTimetz, "00:00:00+00") == R"j("00:00:00Z")j");
    CHECK(json(kTimetz, "12:00:00") == R"j("12:00:00")j");
    CHECK(json(1270, "{12:00:00.25+05:30,00:00:00+00}") ==
          R"j(["12:00:00.25+05:30","00:00:00Z"])j");
}

TEST_CASE("arrays are JSON arrays", "[pg_types]") {
    CHECK(json(kInt4Array, "{1,NULL,3}") == "[1,null,3]");
    CHECK(json(kInt4Array, "{}") == "[]");
    CHECK(json(kInt4Array, "{{1,2},{3,4}}") == "[[1,2],[3,4]]");
    CHECK(json(kInt4Array, "[0:1]={1,2}") == "[1,2]");
    CHECK(json(kInt4Array, "[-2:-1][1:2]={{1,2},{3,4}}") == "[[1,2],[3,4]]");
    CHECK(json(kInt4Array, "[0:1][1:1][-1:0]={{{1,2}},{{3,NULL}}}") == "[[[1,2]],[[3,null]]]");
    CHECK(json(kInt2Array, "{-32768,32767}") == "[-32768,32767]");
    CHECK(json(kInt8Array, "{9223372036854775807}") == "[9223372036854775807]");
    CHECK(json(kFloat8Array, "{1.5,NaN,-Infinity}") == R"j([1.5,"NaN","-Infinity"])j");
    CHECK(json(kBoolArray, "{t,f,NULL}") == "[true,false,null]");
    CHECK(json(kUuidArray, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}") ==
          R"j(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])j");

    // Quoting: quotes, backslashes, white space, delimiters, braces and the word NULL.
    CHECK(json(kTextArray,
               "{\"a b\",\"q\\\"x\",\"back\\\\slash\",\"\",\"NULL\",NULL,\"null\",\xc3\xa9\xe6\x97"
               "\xa5,\"tab\there\",\"{x}\",\"a,b\"}") ==
          "[\"a b\",\"q\\\"x\",\"back\\\\slash\",\"\",\"NULL\",null,\"null\",\"\xc3\xa9\xe6\x97"
          "\xa5\",\"tab\\there\",\"{x}\",\"a,b\"]");
    CHECK(json(kTextArray, "{\"a\\\\b\",\"x\ny\",\"  lead\",\"trail  \",\"{\",\"}\",\",\"}") ==
          R"j(["a\\b","x\ny","  lead","trail  ","{","}",","])j");
    CHECK(json(kTextArray, R"j({é,"NULL","null","Null"})j") == R"j(["é","NULL","null","Null"])j");
    CHECK(json(kTextArray, R"j({{"a b",NULL},{c,"d,e"}})j") == R"j([["a b",null],["c","d,e"]])j");
    CHECK(json(kVarcharArray, "{nul,NULLS,NuLl}") == R"j(["nul","NULLS",null])j");
    // array_in's leniency: white space around elements, escapes in unquoted elements.
    CHECK(json(kTextArray, "{ a , b\\,c , \"d\" , e\\ }") == R"j(["a","b,c","d","e "])j");
    CHECK(json(kTextArray, "{\\N\\U\\L\\L}") == R"j(["NULL"])j");

    // box separates its elements with ';'.
    CHECK(json(kBoxArray, "{(1,1),(0,0);(3,3),(2,2)}") == R"j(["(1,1),(0,0)","(3,3),(2,2)"])j");
    CHECK(json(kPointArray, R"j({"(1,2)"})j") == R"j(["(1,2)"])j");
    CHECK(json(kDateArray, "{}") == "[]");
    // An array of a type nobody registered: its elements as strings.
    CHECK(json(kUnknownArray, R"j({a,"b c",NULL})j") == R"j(["a","b c",null])j");
}

TEST_CASE("composite types are objects", "[pg_types]") {
    CHECK(json(kPair, R"j((1,"x y"))j") == R"j({"a":1,"b":"x y"})j");
    CHECK(json(kPair, R"j((,""))j") == R"j({"a":null,"b":""})j");
    CHECK(json(kPair, "(,)") == R"j({"a":null,"b":null})j");
    CHECK(json(kPair, R"j((2,"q""u\\b,(c)"))j") == R"j({"a":2,"b":"q\"u\\b,(c)"})j");
    // record_in's rules: quoted and unquoted parts mix, a backslash escapes anywhere.
    CHECK(json(kPair, R"j((3,a"b c"d\,e))j") == R"j({"a":3,"b":"ab cd,e"})j");
    CHECK(json(kNest, R"j(("(1,a)","{x,""y z""}",2026-01-01,1.50))j") ==
          R"j({"p":{"a":1,"b":"a"},"tags":["x","y z"],"d":"2026-01-01","n":"1.50"})j");
    CHECK(json(kNest, "(,,,)") == R"j({"p":null,"tags":null,"d":null,"n":null})j");
    CHECK(json(kEmpty, "()") == "{}");
    CHECK(json(kEmptyArray, "{()}") == "[{}]");
    CHECK(json(kShapes, R"j(("(1,1),(0,0)","{(1,1),(0,0)}"))j") ==
          R"j({"b":"(1,1),(0,0)","bs":["(1,1),(0,0)"]})j");

    // Arrays of composite values, with a composite nested in a quoted composite in an array.
    CHECK(json(kPairArray, R"j({"(1,\"x y\")",NULL,"(,)","(2,\"q\"\"u\\\\b\")"})j") ==
          R"j([{"a":1,"b":"x y"},null,{"a":null,"b":null},{"a":2,"b":"q\"u\\b"}])j");
    CHECK(
        json(
            kNestArray,
            R"j({"(\"(1,\"\"a \"\"\"\"q\"\"\"\"\"\")\",\"{x,\"\"y \\\\\"\"z\\\\\"\"\"\"}\",2026-01-01,1.50)"})j") ==
        R"j([{"p":{"a":1,"b":"a \"q\""},"tags":["x","y \"z\""],"d":"2026-01-01","n":"1.50"}])j");

    // The attribute list does not fit the value (a type changed since it was registered).
    CHECK(json(kPair, "(1)") == R"j("(1)")j");
    CHECK(json(kPair, "(1,a,b)") == R"j("(1,a,b)")j");
    CHECK(json(kEmpty, "(1)") == R"j("(1)")j");
}

TEST_CASE("ranges are objects with typed bounds", "[pg_types]") {
    CHECK(json(kInt4Range, "[1,5)") ==
          R"j({"lower":1,"upper":5,"lower_inc":true,"upper_inc":false})j");
    CHECK(json(kInt4Range, "(,5)") ==
          R"j({"lower":null,"upper":5,"lower_inc":false,"upper_inc":false})j");
    CHECK(json(kInt4Range, "[1,)") ==
          R"j({"lower":1,"upper":null,"lower_inc":true,"upper_inc":false})j");
    CHECK(json(kInt4Range, "(,)") ==
          R"j({"lower":null,"upper":null,"lower_inc":false,"upper_inc":false})j");
    CHECK(json(kInt4Range, "empty") == R"j({"empty":true})j");
    CHECK(json(kNumRange, "[1.5,2.5]") ==
          R"j({"lower":"1.5","upper":"2.5","lower_inc":true,"upper_inc":true})j");
    CHECK(json(kNumRange, "(-1.5,2.25]") ==
          R"j({"lower":"-1.5","upper":"2.25","lower_inc":false,"upper_inc":true})j");
    JsonOptions numbers;
    numbers.numeric_as_number = true;
    CHECK(json(kNumRange, "(-1.5,2.25]", numbers) ==
          R"j({"lower":-1.5,"upper":2.25,"lower_inc":false,"upper_inc":true})j");
    // An infinite value is not an absent bound.
    CHECK(
        json(kTstzRange, R"j(["2026-01-01 00:00:00+00",infinity))j") ==
        R"j({"lower":"2026-01-01T00:00:00Z","upper":"infinity","lower_inc":true,"upper_inc":false})j");
    CHECK(json(kTstzRange, R"j(["2026-01-01 00:00:00+00",))j") ==
          R"j({"lower":"2026-01-01T00:00:00Z","upper":null,"lower_inc":true,"upper_inc":false})j");
    CHECK(
        json(kTsRange, R"j(["2026-01-01 10:00:00","2026-01-02 00:00:00"))j") ==
        R"j({"lower":"2026-01-01T10:00:00","upper":"2026-01-02T00:00:00","lower_inc":true,"upper_inc":false})j");
    CHECK(json(kDateRange, "[2026-01-01,2026-02-01)") ==
          R"j({"lower":"2026-01-01","upper":"2026-02-01","lower_inc":true,"upper_inc":false})j");
    CHECK(json(kDateRange, "[-infinity,2026-01-01)") ==
          R"j({"lower":"-infinity","upper":"2026-01-01","lower_inc":true,"upper_inc":false})j");
    CHECK(
        json(kInt8Range, "[-9223372036854775808,9223372036854775807)") ==
        R"j({"lower":-9223372036854775808,"upper":9223372036854775807,"lower_inc":true,"upper_inc":false})j");
    CHECK(json(kFloatRange, "[-Infinity,1.5]") ==
          R"j({"lower":"-Infinity","upper":1.5,"lower_inc":true,"upper_inc":true})j");
    CHECK(json(kInt4RangeArray, R"j({"[1,5)",empty,NULL})j") ==
          R"j([{"lower":1,"upper":5,"lower_inc":true,"upper_inc":false},{"empty":true},null])j");
}

TEST_CASE("multiranges are arrays of ranges", "[pg_types]") {
    CHECK(json(kInt4Multirange, "{[1,3),[5,7)}") ==
          R"j([{"lower":1,"upper":3,"lower_inc":true,"upper_inc":false},)j"
          R"j({"lower":5,"upper":7,"lower_inc":true,"upper_inc":false}])j");
    CHECK(json(kInt4Multirange, "{}") == "[]");
    CHECK(json(kInt8Multirange, "{(,5)}") ==
          R"j([{"lower":null,"upper":5,"lower_inc":false,"upper_inc":false}])j");
    CHECK(json(kTstzMultirange, R"j({["2026-01-01 00:00:00+00","2026-01-02 00:00:00+00")})j") ==
          R"j([{"lower":"2026-01-01T00:00:00Z","upper":"2026-01-02T00:00:00Z",)j"
          R"j("lower_inc":true,"upper_inc":false}])j");
    CHECK(json(kFloatMultirange, "{[1,2]}") ==
          R"j([{"lower":1,"upper":2,"lower_inc":true,"upper_inc":true}])j");
    CHECK(json(6150, R"j({"{[1,2),[3,4)}","{}"})j") == // _int4multirange
          R"j([[{"lower":1,"upper":2,"lower_inc":true,"upper_inc":false},)j"
          R"j({"lower":3,"upper":4,"lower_inc":true,"upper_inc":false}],[]])j");
}

TEST_CASE("hstore is an object of strings", "[pg_types]") {
    CHECK(json(kHstore, R"j(""=>"", "a"=>"1", "b"=>NULL, "c d"=>"x\"y\\z", "NULL"=>"null")j") ==
          R"j({"":"","a":"1","b":null,"c d":"x\"y\\z","NULL":"null"})j");
    CHECK(json(kHstore, "") == "{}");
    CHECK(json(kHstore, R"j("a\\b"=>"c\"d", "日本"=>"é")j") == R"j({"a\\b":"c\"d","日本":"é"})j");
    CHECK(json(kHstore, R"j("k"=>"with, comma => arrow")j") == R"j({"k":"with, comma => arrow"})j");
    CHECK(json(kHstoreArray, R"j({"\"k\"=>\"v\"","\"x\"=>NULL"})j") ==
          R"j([{"k":"v"},{"x":null}])j");
}

TEST_CASE("enums, domains and their arrays", "[pg_types]") {
    CHECK(json(kMoodArray, R"j({sad,"very happy","a\"b"})j") == R"j(["sad","very happy","a\"b"])j");
    CHECK(json(kPrice, "19.99") == R"j("19.99")j");
    JsonOptions numbers;
    numbers.numeric_as_number = true;
    CHECK(json(kPrice, "19.99", numbers) == "19.99");
    CHECK(json(kPositivePrice, "19.99", numbers) == "19.99");
    CHECK(json(kPriceArray, "{19.99,NULL}", numbers) == "[19.99,null]");
    CHECK(json(kIntList, "{1,2}") == "[1,2]");
    CHECK(json(kIntListArray, R"j({"{1,2}","{3}"})j") == "[[1,2],[3]]");
    CHECK(json(kCitextArray, R"j({abc,"a b"})j") == R"j(["abc","a b"])j");
    // A domain over domains that never reaches a base type: the text.
    CHECK(json(kLoopA, "1") == R"j("1")j");
}

TEST_CASE("malformed structured text falls back to the text", "[pg_types]") {
    const std::pair<std::uint32_t, std::string_view> cases[] = {
        {kInt4Array, "{1,2"},
        {kInt4Array, "1,2}"},
        {kInt4Array, "{1,2}}"},
        {kInt4Array, "{{1,2},3}"},
        {kInt4Array, "{1,{2}}"},
        {kInt4Array, "{1,,2}"},
        {kInt4Array, "{,}"},
        {kInt4Array, "{1,2} x"},
        {kInt4Array, "[0:1]{1,2}"},
        {kInt4Array, "[0:1="},
        {kInt4Array, "[a:1]={1}"},
        {kInt4Array, "[0:1]="},
        {kInt4Array, ""},
        {kInt4Array, "{"},
        {kTextArray, R"j({"abc})j"},
        {kTextArray, R"j({"abc\"})j"},
        {kTextArray, R"j({"a"b})j"},
        {kTextArray, R"j({a"b"})j"},
        {kTextArray, "{abc\\"},
        {kTextArray, "{\"\\"},
        {kPair, "(1,\"x"},
        {kPair, "(1,x"},
        {kPair, "1,x)"},
        {kPair, "(1,x)y"},
        {kPair, "(1,x\\"},
        {kPair, ""},
        {kNest, R"j(("(1,a","{x}",2026-01-01,1))j"},
        {kPairArray, R"j({"(1,\"x y)"})j"},
        {kInt4Range, "[1,5"},
        {kInt4Range, "[1 5)"},
        {kInt4Range, "[1,5,6)"},
        {kInt4Range, "1,5)"},
        {kInt4Range, "[1,5) x"},
        {kInt4Range, "emptyish"},
        {kInt4Range, "[\"1,5)"},
        {kInt4Range, ""},
        {kInt4Multirange, "{[1,3)"},
        {kInt4Multirange, "{[1,3);[5,7)}"},
        {kInt4Multirange, "[1,3)"},
        {kInt4Multirange, "{[1,3),}"},
        {kHstore, R"j("a"=>)j"},
        {kHstore, R"j("a"=>"b)j"},
        {kHstore, R"j("a"="b")j"},
        {kHstore, R"j("a"=>"b" "c"=>"d")j"},
        {kHstore, R"j("a"=>"b",)j"},
        {kHstore, R"j(a=>b)j"},
        {kHstore, R"j("a\)j"},
    };
    for (const auto& [oid, text] : cases) {
        CAPTURE(oid, text);
        CHECK(json(oid, text) == as_string(text));
    }
}

TEST_CASE("nesting is bounded", "[pg_types]") {
    // PostgreSQL allows 6 dimensions; 64 levels of braces are still read, 65 are not.
    std::string ok = std::string(64, '{') + "1" + std::string(64, '}');
    CHECK(json(kInt4Array, ok) == std::string(64, '[') + "1" + std::string(64, ']'));
    for (std::size_t n : {65, 100000}) {
        std::string deep = std::string(n, '{') + "1" + std::string(n, '}');
        CHECK(json(kInt4Array, deep) == as_string(deep));
    }
    // A composite that contains itself (impossible in PostgreSQL, possible in a registry).
    CHECK(json(kSelf, "()") == R"j({"next":null})j");
    std::string nested = "()";
    for (int i = 0; i < 10; ++i) {
        std::string quoted = "(\"";
        for (char c : nested) {
            if (c == '"' || c == '\\') {
                quoted.push_back(c);
            }
            quoted.push_back(c);
        }
        nested = quoted + "\")";
    }
    std::string expected;
    for (int i = 0; i < 11; ++i) {
        expected += R"j({"next":)j";
    }
    expected += "null" + std::string(11, '}');
    CHECK(json(kSelf, nested) == expected);
    std::string deep_self = std::string(200, '(') + std::string(200, ')');
    CHECK(json(kSelf, deep_self) == as_string(deep_self));
}

TEST_CASE("arbitrary text never breaks the JSON", "[pg_types]") {
    const std::uint32_t oids[] = {
        kBool,
        kInt4,
        kFloat8,
        kNumeric,
        kBytea,
        kJson,
        kDate,
        kTimestamp,
        kTimestamptz,
        kTimetz,
        kText,
        kInt4Array,
        kTextArray,
        kBoxArray,
        kJsonbArray,
        kInt4Range,
        kTstzRange,
        kNumMultirange,
        kPair,
        kNest,
        kPairArray,
        kNestArray,
        kHstore,
        kHstoreArray,
        kIntListArray,
        kMoodArray,
        kEmptyArray,
        kFloatMultirange,
        kTimestamptzArray,
        kUnknownArray,
        kSelf,
        kInt4RangeArray,
    };
    // Texts built from the characters that matter to the parsers.
    const std::string_view alphabet = "{}()[],;\"\\ =>NUL1-:.e+tfxBC\n";
    std::mt19937 rng(12345);
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::uniform_int_distribution<std::size_t> length(0, 24);
    JsonOptions other;
    other.bytea = JsonOptions::Bytes::Hex;
    other.numeric_as_number = true;
    for (int round = 0; round < 20000; ++round) {
        std::string text;
        for (std::size_t n = length(rng); n > 0; --n) {
            text.push_back(alphabet[pick(rng)]);
        }
        for (std::uint32_t oid : oids) {
            std::string out = json(oid, text, round % 2 == 0 ? JsonOptions{} : other);
            if (!JsonCheck(out).valid()) {
                CAPTURE(oid, text, out);
                FAIL("not JSON");
            }
        }
    }
    // Every prefix of valid values (truncated text).
    const std::pair<std::uint32_t, std::string_view> whole[] = {
        {kNestArray,
         R"j({"(\"(1,\"\"a \"\"\"\"q\"\"\"\"\"\")\",\"{x,\"\"y \\\\\"\"z\\\\\"\"\"\"}\",2026-01-01,1.50)"})j"},
        {kTstzMultirange, R"j({["2026-01-01 00:00:00+00","2026-01-02 00:00:00+00")})j"},
        {kInt4Array, "[0:1][1:1][-1:0]={{{1,2}},{{3,NULL}}}"},
        {kJsonb, R"j({"a": [1, 2.5, null], "b": {"c": "\u00e9"}})j"},
        {kHstore, R"j("a\\b"=>"c\"d", "x"=>NULL)j"},
    };
    for (const auto& [oid, text] : whole) {
        REQUIRE(json(oid, text).front() != '"');
        for (std::size_t n = 0; n < text.size(); ++n) {
            std::string out = json(oid, text.substr(0, n));
            CAPTURE(oid, n, out);
            CHECK(JsonCheck(out).valid());
            if (oid != kHstore) { // a prefix of hstore can be whole: "a"=>"b" before ", ..."
                CHECK(out == as_string(text.substr(0, n)));
            }
        }
    }
}

TEST_CASE("the built-in form of append_value_json", "[pg_types]") {
    std::string out;
    append_value_json(out, kInt4Array, "{1,NULL,3}");
    CHECK(out == "[1,null,3]");
    out.clear();
    append_value_json(out, kPair, "(1,x)"); // not a built-in type
    CHECK(out == R"j("(1,x)")j");
    out = "[";
    append_value_json(out, kTextArray, "{a");
    CHECK(out == R"j(["{a")j"); // what was in the buffer before the value stays
}

TEST_CASE("a change with registry types and options", "[pg_types]") {
    auto rel = std::make_shared<Relation>();
    rel->schema = "public";
    rel->table = "orders";
    rel->columns = {{"id", kInt4, -1, true},
                    {"total", kPrice, -1, false},
                    {"lines", kPairArray, -1, false},
                    {"notes", kText, -1, false},
                    {"blob", kBytea, -1, false}};
    ChangeEvent c;
    c.op = Operation::Update;
    c.relation = rel;
    c.xid = 7;
    c.lsn = Lsn{0x10};
    c.position = Position{Lsn{0x20}, 0};
    c.after = Tuple{TupleKind::New,
                    {{ValueKind::Text, "1"},
                     {ValueKind::Text, "19.99"},
                     {ValueKind::Text, R"j({"(1,\"x y\")"})j"},
                     {ValueKind::Unchanged, ""},
                     {ValueKind::Text, "\\x00ff10"}}};

    std::string plain;
    append_change_json(plain, c, test_types(), JsonOptions{});
    CHECK(plain ==
          R"j({"op":"update","source":{"schema":"public","table":"orders","lsn":"0/10",)j"
          R"j("commit_lsn":"0/20","seq":0,"xid":7,"unchanged_toast":["notes"]},)j"
          R"j("key":{"id":1},"before":null,)j"
          R"j("after":{"id":1,"total":"19.99","lines":[{"a":1,"b":"x y"}],"blob":"AP8Q"}})j");

    JsonOptions options;
    options.numeric_as_number = true;
    options.bytea = JsonOptions::Bytes::Hex;
    options.unchanged_toast_marker = true;
    std::string marked;
    append_change_json(marked, c, test_types(), options);
    CHECK(marked == R"j({"op":"update","source":{"schema":"public","table":"orders","lsn":"0/10",)j"
                    R"j("commit_lsn":"0/20","seq":0,"xid":7,"unchanged_toast":["notes"]},)j"
                    R"j("key":{"id":1},"before":null,)j"
                    R"j("after":{"id":1,"total":19.99,"lines":[{"a":1,"b":"x y"}],)j"
                    R"j("notes":{"unchanged_toast":true},"blob":"00ff10"}})j");

    // Without the registry, the composite array and the domain are text.
    std::string builtin;
    append_change_json(builtin, c);
    CHECK(builtin.find(R"j("total":"19.99","lines":"{\"(1,\\\"x y\\\")\"}")j") !=
          std::string::npos);
}
