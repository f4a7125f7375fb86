#include <catch2/catch.hpp>

#include "walbus/core/base64.h"
#include "walbus/core/change_json.h"
#include "walbus/core/json_writer.h"
#include "walbus/core/lsn.h"
#include "walbus/core/pg_types.h"
#include "walbus/core/table_name.h"

using namespace walbus;

TEST_CASE("lsn parses and prints as PostgreSQL does", "[core]") {
    auto lsn = Lsn::parse("16/B374D848");
    REQUIRE(lsn);
    CHECK(lsn->value == 0x16B374D848ULL);
    CHECK(lsn->str() == "16/B374D848");
    CHECK(Lsn{}.str() == "0/0");
    CHECK_FALSE(Lsn::parse(""));
    CHECK_FALSE(Lsn::parse("16"));
    CHECK_FALSE(Lsn::parse("/1"));
    CHECK_FALSE(Lsn::parse("1/"));
    CHECK_FALSE(Lsn::parse("1/xyz"));
    CHECK_FALSE(Lsn::parse("1/2/3"));
    CHECK_FALSE(Lsn::parse("100000000/0"));
}

TEST_CASE("positions order by commit lsn, then seq", "[core]") {
    Position a{Lsn{10}, 5};
    Position b{Lsn{10}, 6};
    Position c{Lsn{11}, 0};
    CHECK(a < b);
    CHECK(b < c);
    CHECK(Position{Lsn{10}, 5} == a);
}

TEST_CASE("json strings are escaped", "[core]") {
    std::string out;
    append_json_string(out, std::string_view("a\"b\\c\n\t\x01\x1f é", 12));
    CHECK(out == "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f é\"");
}

TEST_CASE("json writer places commas", "[core]") {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.key("a");
    w.number(std::int64_t{-1});
    w.key("b");
    w.begin_array();
    w.boolean(true);
    w.null();
    w.begin_object();
    w.end_object();
    w.end_array();
    w.key("c");
    w.string("x");
    w.end_object();
    CHECK(out == R"({"a":-1,"b":[true,null,{}],"c":"x"})");
}

TEST_CASE("utf-8 validation", "[core]") {
    CHECK(is_valid_utf8("plain"));
    CHECK(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    CHECK_FALSE(is_valid_utf8("\xc3"));
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));     // overlong
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80")); // surrogate
    CHECK_FALSE(is_valid_utf8("\xff"));
}

TEST_CASE("base64", "[core]") {
    auto enc = [](std::string_view s) {
        std::string out;
        append_base64(out, s);
        return out;
    };
    CHECK(enc("") == "");
    CHECK(enc("f") == "Zg==");
    CHECK(enc("fo") == "Zm8=");
    CHECK(enc("foo") == "Zm9v");
    CHECK(enc("foobar") == "Zm9vYmFy");
    CHECK(enc(std::string_view("\0\xff", 2)) == "AP8=");
}

namespace {
std::string value_json(std::uint32_t oid, std::string_view text) {
    std::string out;
    pg::append_value_json(out, oid, text);
    return out;
}
} // namespace

TEST_CASE("values are typed by their PostgreSQL type", "[core]") {
    CHECK(value_json(pg::kBool, "t") == "true");
    CHECK(value_json(pg::kBool, "f") == "false");
    CHECK(value_json(pg::kInt2, "-32768") == "-32768");
    CHECK(value_json(pg::kInt8, "9223372036854775807") == "9223372036854775807");
    CHECK(value_json(pg::kFloat8, "1.5e+300") == "1.5e+300");
    CHECK(value_json(pg::kFloat8, "NaN") == "\"NaN\"");
    CHECK(value_json(pg::kFloat4, "-Infinity") == "\"-Infinity\"");
    CHECK(value_json(pg::kNumeric, "19.990") == "\"19.990\"");
    CHECK(value_json(pg::kText, "say \"hi\"") == "\"say \\\"hi\\\"\"");
    CHECK(value_json(pg::kJsonb, R"({"a": [1, 2]})") == R"({"a": [1, 2]})");
    CHECK(value_json(pg::kUuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") ==
          "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
    CHECK(value_json(pg::kDate, "2026-11-22") == "\"2026-11-22\"");
    CHECK(value_json(pg::kTimestamp, "2026-11-22 03:47:22.5") == "\"2026-11-22T03:47:22.5\"");
    CHECK(value_json(pg::kTimestamptz, "2026-11-22 03:47:22.123456+00") ==
          "\"2026-11-22T03:47:22.123456Z\"");
    // Another offset (a session not in UTC) is converted to UTC.
    CHECK(value_json(pg::kTimestamptz, "2026-11-22 03:47:22+05:30") == "\"2026-11-21T22:17:22Z\"");
    CHECK(value_json(pg::kTimestamptz, "2026-11-22 03:47:22-08") == "\"2026-11-22T11:47:22Z\"");
    CHECK(value_json(pg::kTimestamptz, "infinity") == "\"infinity\"");
    CHECK(value_json(pg::kBytea, "\\x00ff10") == "\"AP8Q\"");
    CHECK(value_json(pg::kBytea, "\\x0") == "\"\\\\x0\"");
    CHECK(value_json(12345, "(1,2)") == "\"(1,2)\"");
}

TEST_CASE("utc timestamps", "[core]") {
    CHECK(pg::format_utc_timestamp(0) == "1970-01-01T00:00:00.000000Z");
    CHECK(pg::format_utc_timestamp(946'684'800'000'001) == "2000-01-01T00:00:00.000001Z");
    CHECK(pg::format_utc_timestamp(-1) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("a change event as a json line", "[core]") {
    auto rel = std::make_shared<Relation>();
    rel->oid = 16384;
    rel->schema = "public";
    rel->table = "catalog_items";
    rel->columns = {{"id", pg::kInt4, -1, true},
                    {"price", pg::kNumeric, -1, false},
                    {"blob", pg::kText, -1, false}};
    ChangeEvent c;
    c.op = Operation::Update;
    c.relation = rel;
    c.xid = 42;
    c.lsn = Lsn{0x100};
    c.position = Position{Lsn{0x200}, 3};
    c.commit_time_us = 946'684'800'000'000;
    c.before = Tuple{TupleKind::Key,
                     {{ValueKind::Text, "7"}, {ValueKind::Null, ""}, {ValueKind::Null, ""}}};
    c.after =
        Tuple{TupleKind::New,
              {{ValueKind::Text, "7"}, {ValueKind::Text, "19.99"}, {ValueKind::Unchanged, ""}}};
    std::string out;
    append_change_json(out, c);
    CHECK(out == R"({"op":"update","source":{"schema":"public","table":"catalog_items",)"
                 R"("lsn":"0/100","commit_lsn":"0/200","seq":3,"xid":42,)"
                 R"("commit_time":"2000-01-01T00:00:00.000000Z","unchanged_toast":["blob"]},)"
                 R"("key":{"id":7},"before":{"id":7},"after":{"id":7,"price":"19.99"}})");
}

using Names = std::pair<std::string, std::string>;

TEST_CASE("table names follow PostgreSQL's identifier rules", "[core]") {
    CHECK(split_table_name("orders") == Names{"public", "orders"});
    CHECK(split_table_name("sales.orders") == Names{"sales", "orders"});
    CHECK(split_table_name("Sales.Orders") == Names{"sales", "orders"});
    CHECK(split_table_name("\"Sales\".\"Q1.totals\"") == Names{"Sales", "Q1.totals"});
    CHECK(split_table_name("\"say \"\"hi\"\"\"") == Names{"public", "say \"hi\""});
}

TEST_CASE("identifiers are quoted only when PostgreSQL would change them", "[core]") {
    CHECK(walbus::sql_identifier("catalog_items") == "catalog_items");
    CHECK(walbus::sql_identifier("IntegrationEventLog") == "\"IntegrationEventLog\"");
    CHECK(walbus::sql_identifier("1st") == "\"1st\"");
    CHECK(walbus::sql_identifier("we\"ird.name") == "\"we\"\"ird.name\"");
    // What split_table_name reads back.
    for (const auto& [schema, table] : {Names{"public", "IntegrationEventLog"},
                                        Names{"Odd Schema", "we\"ird.tab,le*"}, Names{"s", "t"}}) {
        CHECK(split_table_name(walbus::sql_table_name(schema, table)) == Names{schema, table});
    }
}

TEST_CASE("JSON strings escape the same characters wherever they are in a long text", "[core]") {
    // One character at a time, as the JSON spec says, against append_json_string's word-wise scan.
    auto reference = [](std::string_view text) {
        std::string out = "\"";
        for (unsigned char c : text) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    static constexpr char kHex[] = "0123456789abcdef";
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xf];
                } else {
                    out += static_cast<char>(c);
                }
            }
        }
        return out + "\"";
    };
    const std::string specials = std::string("\"\\\n\x01\x1f\x7f\x80\xff ~!", 12);
    for (std::size_t length : {0, 1, 7, 8, 9, 15, 16, 17, 40}) {
        for (std::size_t at = 0; at < length; ++at) {
            for (char special : specials) {
                std::string text(length, 'x');
                text[at] = special;
                std::string out;
                append_json_string(out, text);
                INFO("length " << length << ", byte " << static_cast<int>(special) << " at " << at);
                REQUIRE(out == reference(text));
            }
        }
    }
}
