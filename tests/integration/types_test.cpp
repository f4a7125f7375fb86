// Type torture: a column of every type walbus converts, rows of extreme values written in several
// session time zones, updated and deleted while walbus streams. Every column of every event is
// compared with the value the database holds, converted here, independently of walbus's own
// converter: PostgreSQL gives each value's text form in the settings walbus uses, and takes the
// structured types apart itself (unnest, attributes, range bounds, each), so that the rules
// below stay the few lines docs/event-format.md describes. The rows are SQL expressions kept
// next to the columns they fill, and every expected value comes from the database, so the case
// has no data files.

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.h"

using namespace walbus::test;

namespace {

// ---------------------------------------------------------------------------------------------
// JSON as walbus wrote it: numbers keep their token (a 1000-digit numeric is no double), strings
// are decoded. Two values are equal when their compact forms are.

struct Json {
    enum class Kind { Null, Bool, Number, String, Array, Object };
    Kind kind = Kind::Null;
    bool boolean = false;
    std::string text; // a number's token, or a string's decoded bytes
    std::vector<Json> items;
    std::vector<std::pair<std::string, Json>> members;

    const Json* find(std::string_view name) const {
        for (const auto& [k, v] : members) {
            if (k == name) {
                return &v;
            }
        }
        return nullptr;
    }
};

Json null_json() {
    return Json{};
}

Json bool_json(bool b) {
    Json j;
    j.kind = Json::Kind::Bool;
    j.boolean = b;
    return j;
}

Json number_json(std::string text) {
    Json j;
    j.kind = Json::Kind::Number;
    j.text = std::move(text);
    return j;
}

Json string_json(std::string text) {
    Json j;
    j.kind = Json::Kind::String;
    j.text = std::move(text);
    return j;
}

Json array_json() {
    Json j;
    j.kind = Json::Kind::Array;
    return j;
}

Json object_json() {
    Json j;
    j.kind = Json::Kind::Object;
    return j;
}

void quote_to(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\u00";
            out += kHex[(c >> 4) & 0xf];
            out += kHex[c & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
}

void show_to(std::string& out, const Json& j) {
    switch (j.kind) {
    case Json::Kind::Null: out += "null"; break;
    case Json::Kind::Bool: out += j.boolean ? "true" : "false"; break;
    case Json::Kind::Number: out += j.text; break;
    case Json::Kind::String: quote_to(out, j.text); break;
    case Json::Kind::Array:
        out += '[';
        for (std::size_t i = 0; i < j.items.size(); ++i) {
            out += i ? "," : "";
            show_to(out, j.items[i]);
        }
        out += ']';
        break;
    case Json::Kind::Object:
        out += '{';
        for (std::size_t i = 0; i < j.members.size(); ++i) {
            out += i ? "," : "";
            quote_to(out, j.members[i].first);
            out += ':';
            show_to(out, j.members[i].second);
        }
        out += '}';
        break;
    }
}

std::string show(const Json& j) {
    std::string out;
    show_to(out, j);
    return out;
}

// RFC 8259's number grammar: simdjson's On-Demand API hands out a number's token unchecked.
bool is_json_number(std::string_view token) {
    static const std::regex kNumber(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
    return std::regex_match(token.begin(), token.end(), kNumber);
}

Json tree_of(simdjson::ondemand::value v) {
    switch (v.type().value()) {
    case simdjson::ondemand::json_type::null: REQUIRE(v.is_null().value()); return null_json();
    case simdjson::ondemand::json_type::boolean: return bool_json(v.get_bool().value());
    case simdjson::ondemand::json_type::number: {
        std::string_view token = v.raw_json_token();
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t' ||
                                  token.back() == '\n' || token.back() == '\r')) {
            token.remove_suffix(1);
        }
        INFO("number token: " << token);
        CHECK(is_json_number(token));
        return number_json(std::string(token));
    }
    case simdjson::ondemand::json_type::string:
        return string_json(std::string(v.get_string().value()));
    case simdjson::ondemand::json_type::array: {
        Json out = array_json();
        for (auto item : v.get_array()) {
            out.items.push_back(tree_of(item.value()));
        }
        return out;
    }
    case simdjson::ondemand::json_type::object: {
        Json out = object_json();
        for (auto field : v.get_object()) {
            std::string name(field.unescaped_key().value());
            out.members.emplace_back(std::move(name), tree_of(field.value().value()));
        }
        return out;
    }
    }
    FAIL("unknown JSON type");
    return null_json();
}

// One JSON text (an event line, or a json/jsonb value's text form) as a tree. It is parsed as
// the only element of an array, so that scalar documents need no special path.
Json parse_json(const std::string& text) {
    INFO("JSON text: " << text);
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded("[" + text + "]");
    simdjson::ondemand::document doc;
    REQUIRE(parser.iterate(padded).get(doc) == simdjson::SUCCESS);
    std::vector<Json> items;
    try {
        for (auto item : doc.get_array()) {
            items.push_back(tree_of(item.value()));
        }
    } catch (const simdjson::simdjson_error& e) {
        FAIL("invalid JSON: " << e.what());
    }
    REQUIRE(items.size() == 1);
    return std::move(items[0]);
}

// ---------------------------------------------------------------------------------------------
// The types of the test table and how each is written (docs/event-format.md, "Values").

enum class Rule {
    Bool,        // t/f: true/false
    Integer,     // number, the text form's digits
    Float,       // number, the text form's digits; NaN and ±Infinity as strings
    Numeric,     // string (or number with format.numeric: number); NaN and ±Infinity strings
    Text,        // string: the text form, byte for byte
    Bytea,       // string: base64 of the bytes
    JsonDoc,     // the JSON value itself
    Date,        // ISO 8601, expanded years
    Timestamp,   // ISO 8601 with T, expanded years
    Timestamptz, // ISO 8601 in UTC with Z, expanded years
    Timetz,      // ISO 8601 with the value's own offset, Z when zero
    Array,       // nested arrays of the element type
    Composite,   // object of the attributes, in order
    Range,       // {lower, upper, lower_inc, upper_inc} or {empty: true}
    Multirange,  // array of ranges
    Hstore,      // object of strings and nulls
};

struct Type {
    Rule rule;
    const Type* element = nullptr; // Array: element; Range: subtype; Multirange: range type
    std::vector<std::pair<std::string, const Type*>> attributes; // Composite
};

bool from_text_form(const Type& t) {
    return t.rule != Rule::Array && t.rule != Rule::Composite && t.rule != Rule::Range &&
           t.rule != Rule::Multirange && t.rule != Rule::Hstore;
}

const Type kBool{Rule::Bool, nullptr, {}};
const Type kInteger{Rule::Integer, nullptr, {}};
const Type kFloat{Rule::Float, nullptr, {}};
const Type kNumeric{Rule::Numeric, nullptr, {}};
const Type kText{Rule::Text, nullptr, {}};
const Type kBytea{Rule::Bytea, nullptr, {}};
const Type kJson{Rule::JsonDoc, nullptr, {}};
const Type kDate{Rule::Date, nullptr, {}};
const Type kTimestamp{Rule::Timestamp, nullptr, {}};
const Type kTimestamptz{Rule::Timestamptz, nullptr, {}};
const Type kTimetz{Rule::Timetz, nullptr, {}};
const Type kHstore{Rule::Hstore, nullptr, {}};

const Type kInt4Range{Rule::Range, &kInteger, {}};
const Type kNumRange{Rule::Range, &kNumeric, {}};
const Type kTsRange{Rule::Range, &kTimestamp, {}};
const Type kTstzRange{Rule::Range, &kTimestamptz, {}};
const Type kDateRange{Rule::Range, &kDate, {}};
const Type kInt8Range{Rule::Range, &kInteger, {}};
const Type kFloatRange{Rule::Range, &kFloat, {}};
const Type kTextRange{Rule::Range, &kText, {}};
const Type kInner{Rule::Composite, nullptr, {{"a", &kInteger}, {"b", &kText}}};
const Type kInnerArray{Rule::Array, &kInner, {}};
const Type kPairRange{Rule::Range, &kInner, {}};
const Type kTextArray{Rule::Array, &kText, {}};
const Type kOuter{Rule::Composite,
                  nullptr,
                  {{"p", &kInner},
                   {"tags", &kTextArray},
                   {"d", &kDate},
                   {"n", &kNumeric},
                   {"items", &kInnerArray},
                   {"t", &kTimestamptz},
                   {"h", &kHstore},
                   {"span", &kTstzRange},
                   {"raw", &kBytea},
                   {"ok", &kBool},
                   {"Odd \"Name\" é", &kText}}};

const Type kInt4Multirange{Rule::Multirange, &kInt4Range, {}};
const Type kTstzMultirange{Rule::Multirange, &kTstzRange, {}};
const Type kDateMultirange{Rule::Multirange, &kDateRange, {}};
const Type kFloatMultirange{Rule::Multirange, &kFloatRange, {}};
const Type kTextMultirange{Rule::Multirange, &kTextRange, {}};

const Type kIntArray{Rule::Array, &kInteger, {}};
const Type kNumericArray{Rule::Array, &kNumeric, {}};
const Type kOuterArray{Rule::Array, &kOuter, {}};
const Type kTstzArray{Rule::Array, &kTimestamptz, {}};
const Type kDateArray{Rule::Array, &kDate, {}};
const Type kByteaArray{Rule::Array, &kBytea, {}};
const Type kJsonArray{Rule::Array, &kJson, {}};
const Type kFloatArray{Rule::Array, &kFloat, {}};
const Type kBoolArray{Rule::Array, &kBool, {}};
const Type kRangeArray{Rule::Array, &kInt4Range, {}};
const Type kHstoreArray{Rule::Array, &kHstore, {}};
const Type kTimetzArray{Rule::Array, &kTimetz, {}};
const Type kTstzRangeArray{Rule::Array, &kTstzRange, {}};

struct Column {
    const char* name;
    const char* sql_type;
    const Type* type;
};

// deep_17: deep_0 is (v int), each deep_n (x deep_n-1).
constexpr int kDeepLevels = 18;

const Type* deep_composite() {
    static std::array<Type, kDeepLevels> levels{};
    static const bool built = [] {
        levels[0] = Type{Rule::Composite, nullptr, {{"v", &kInteger}}};
        for (int i = 1; i < kDeepLevels; ++i) {
            levels[i] = Type{Rule::Composite, nullptr, {{"x", &levels[i - 1]}}};
        }
        return true;
    }();
    (void)built;
    return &levels[kDeepLevels - 1];
}

// Its value: ROW(ROW(...ROW(n)...)).
std::string deep_row(int n) {
    std::string out = std::to_string(n);
    for (int i = 0; i < kDeepLevels; ++i) {
        out = "ROW(" + out + ")";
    }
    return out;
}

const Type kEvolved{Rule::Composite, nullptr, {{"a", &kInteger}, {"b", &kText}, {"c", &kIntArray}}};
const Type kPairRow{Rule::Composite, nullptr, {{"x", &kInteger}, {"y", &kText}}};

// A column or attribute name as an SQL identifier.
std::string ident(const std::string& name) {
    std::string out = "\"";
    for (char ch : name) {
        out += ch == '"' ? "\"\"" : std::string(1, ch);
    }
    return out + "\"";
}

// The table's columns after `id int PRIMARY KEY`.
const std::vector<Column> kColumns = {
    {"bo", "bool", &kBool},
    {"i2", "int2", &kInteger},
    {"i4", "int4", &kInteger},
    {"i8", "int8", &kInteger},
    {"oi", "oid", &kInteger},
    {"f4", "float4", &kFloat},
    {"f8", "float8", &kFloat},
    {"nu", "numeric", &kNumeric},
    {"nd", "amount", &kNumeric}, // a domain over numeric
    {"ns", "numeric(12,4)", &kNumeric},
    {"mo", "money", &kText},
    {"tx", "text", &kText},
    {"vc", "varchar(200)", &kText},
    {"bp", "char(6)", &kText},
    {"nm", "name", &kText},
    {"ch", "\"char\"", &kText},
    {"ci", "citext", &kText},
    {"ba", "bytea", &kBytea},
    {"uu", "uuid", &kText},
    {"js", "json", &kJson},
    {"jb", "jsonb", &kJson},
    {"xm", "xml", &kText},
    {"da", "date", &kDate},
    {"tm", "time", &kText},
    {"tz", "timetz", &kTimetz},
    {"ts", "timestamp", &kTimestamp},
    {"tt", "timestamptz", &kTimestamptz},
    {"iv", "interval", &kText},
    {"ip", "inet", &kText},
    {"cr", "cidr", &kText},
    {"ma", "macaddr", &kText},
    {"m8", "macaddr8", &kText},
    {"bi", "bit(4)", &kText},
    {"vb", "varbit", &kText},
    {"ls", "pg_lsn", &kText},
    {"tv", "tsvector", &kText},
    {"tq", "tsquery", &kText},
    {"pt", "point", &kText},
    {"li", "line", &kText},
    {"sg", "lseg", &kText},
    {"bx", "box", &kText},
    {"pa", "path", &kText},
    {"pg", "polygon", &kText},
    {"cc", "circle", &kText},
    {"r4", "int4range", &kInt4Range},
    {"rn", "numrange", &kNumRange},
    {"rs", "tsrange", &kTsRange},
    {"rt", "tstzrange", &kTstzRange},
    {"rd", "daterange", &kDateRange},
    {"m4", "int4multirange", &kInt4Multirange},
    {"mt", "tstzmultirange", &kTstzMultirange},
    {"r8", "int8range", &kInt8Range},
    {"md", "datemultirange", &kDateMultirange},
    {"en", "mood", &kText},
    {"co", "outer_t", &kOuter},
    {"hs", "hstore", &kHstore},
    {"a_int", "int[]", &kIntArray},
    {"a_text", "text[]", &kTextArray},
    {"a_num", "numeric[][]", &kNumericArray},
    {"a_enum", "mood[]", &kTextArray},
    {"a_comp", "outer_t[]", &kOuterArray},
    {"a_tstz", "timestamptz[]", &kTstzArray},
    {"a_date", "date[]", &kDateArray},
    {"a_bytea", "bytea[]", &kByteaArray},
    {"a_jsonb", "jsonb[]", &kJsonArray},
    {"a_float", "float8[]", &kFloatArray},
    {"a_bool", "bool[]", &kBoolArray},
    {"a_range", "int4range[]", &kRangeArray},
    {"a_hstore", "hstore[]", &kHstoreArray},
    {"a_citext", "citext[]", &kTextArray},
    {"a_box", "box[]", &kTextArray},
    {"a_timetz", "timetz[]", &kTimetzArray},
    {"a_interval", "interval[]", &kTextArray},
    {"a_amount", "amount[]", &kNumericArray},
    {"il", "int_list", &kIntArray}, // a domain over int[]
    {"a_tstzrange", "tstzrange[]", &kTstzRangeArray},
    {"a_json", "json[]", &kJsonArray},
    {"a_money", "money[]", &kTextArray},
    {"a_point", "point[]", &kTextArray},
    {"a_char", "\"char\"[]", &kTextArray},
    {"xi", "xid", &kInteger},
    {"x8", "xid8", &kInteger},
    {"cd", "cid", &kInteger},
    {"i2v", "int2vector", &kText},
    {"rg", "regtype", &kText},
    {"dc", "inner_d", &kInner},        // a domain over a composite type
    {"n2", "small_amount", &kNumeric}, // a domain over a domain over numeric
    {"hd", "tags_h", &kHstore},        // a domain over hstore
    {"fr", "floatrange", &kFloatRange},
    {"fm", "floatmultirange", &kFloatMultirange},
    {"tr", "textrange", &kTextRange},
    {"tm_", "textmultirange", &kTextMultirange},
    {"prg", "pair_range", &kPairRange}, // a range of a composite type
    {"Odd \"Col\" é", "text", &kText},
    {"ev", "evolved_t", &kEvolved},      // a composite type with a dropped attribute
    {"pr", "pair_row", &kPairRow},       // a table's row type
    {"dd", "deep_int_17", &kInteger},    // 18 domains, each over the next, over int
    {"dk", "deep_17", deep_composite()}, // 18 composite types, each inside the next
    {"lt", "ltree", &kText},             // an extension type walbus does not know
    {"a_lt", "ltree[]", &kTextArray},
    {"cn", "information_schema.cardinal_number", &kInteger}, // built-in domains
    {"isd", "information_schema.time_stamp", &kTimestamptz},
};

constexpr const char* kTypes = R"sql(
CREATE EXTENSION hstore;
CREATE EXTENSION citext;
CREATE EXTENSION ltree;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'very happy', 'say "hi"', 'back\slash',
                          '{brace,comma}', 'é日本🎉', 'NULL');
CREATE DOMAIN amount AS numeric;
CREATE DOMAIN int_list AS int[];
CREATE TYPE inner_t AS (a int, b text);
CREATE TYPE outer_t AS (p inner_t, tags text[], d date, n numeric, items inner_t[],
                        t timestamptz, h hstore, span tstzrange, raw bytea, ok bool,
                        "Odd ""Name"" é" text);
CREATE DOMAIN inner_d AS inner_t;
CREATE DOMAIN small_amount AS amount;
CREATE TYPE evolved_t AS (a int, gone text, b text);
ALTER TYPE evolved_t DROP ATTRIBUTE gone, ADD ATTRIBUTE c int[];
CREATE TABLE pair_row (x int, y text);
DO $$
BEGIN
    -- 18 domains, each over the one before, over int; 18 composite types, each holding the
    -- one before.
    CREATE DOMAIN deep_int_0 AS int;
    FOR i IN 1..17 LOOP
        EXECUTE format('CREATE DOMAIN deep_int_%s AS deep_int_%s', i, i - 1);
    END LOOP;
    CREATE TYPE deep_0 AS (v int);
    FOR i IN 1..17 LOOP
        EXECUTE format('CREATE TYPE deep_%s AS (x deep_%s)', i, i - 1);
    END LOOP;
END $$;
CREATE DOMAIN tags_h AS hstore;
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE TYPE textrange AS RANGE (subtype = text, collation = "C");
CREATE TYPE pair_range AS RANGE (subtype = inner_t);
)sql";

// Every row version of both tables is kept, in change order, by a trigger: the events are
// compared with these. The history tables are not published.
constexpr const char* kHistory = R"sql(
ALTER TABLE torture_full REPLICA IDENTITY FULL;
CREATE SEQUENCE history_seq;
CREATE TABLE history_torture (seq bigint, op text, old_r torture, new_r torture);
CREATE TABLE history_torture_full (seq bigint, op text, old_r torture_full, new_r torture_full);
CREATE FUNCTION remember() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I VALUES (nextval(''history_seq''), $1, $2, $3)',
                   'history_' || TG_TABLE_NAME) USING TG_OP, OLD, NEW;
    RETURN NULL;
END $$;
CREATE TRIGGER remember AFTER INSERT OR UPDATE OR DELETE ON torture
    FOR EACH ROW EXECUTE FUNCTION remember();
CREATE TRIGGER remember AFTER INSERT OR UPDATE OR DELETE ON torture_full
    FOR EACH ROW EXECUTE FUNCTION remember();
)sql";

// A row to insert: SQL expressions by column, written in the session time zone `zone`.
struct Row {
    int id;
    const char* zone;
    std::vector<std::pair<std::string, std::string>> values;
};

const std::vector<Row> kRows = {
    {1,
     "Europe/Paris",
     {
         {"bo", "true"},
         {"i2", "7"},
         {"i4", "42"},
         {"i8", "1234567890123"},
         {"oi", "4242"},
         {"f4", "1.5"},
         {"f8", "0.1"},
         {"nu", "19.99"},
         {"nd", "19.90"},
         {"ns", "3.14159"},
         {"mo", "1234.5"},
         {"tx", "'hello'"},
         {"vc", "'varchar'"},
         {"bp", "'ab'"},
         {"nm", "'a_name'"},
         {"ch", "'x'"},
         {"ci", "'MiXeD'"},
         {"ba", R"('\x00ff10')"},
         {"uu", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"},
         {"js", R"('{"a": [1, 2.5, null], "b": {"c": "d"}}')"},
         {"jb", R"('{"a": [1, 2.50, null], "b": {"c": "d"}}')"},
         {"xm", R"('<a b="c">d &amp; e</a>')"},
         {"da", "'2026-11-22'"},
         {"tm", "'23:59:59.999'"},
         {"tz", "'12:00:00+05:30'"},
         {"ts", "'2026-11-22 03:47:22.123456'"},
         {"tt", "'2026-11-22 09:47:22.5'"},
         {"iv", "'1 year 2 mons 3 days 04:05:06.5'"},
         {"ip", "'192.168.0.1/24'"},
         {"cr", "'10.0.0.0/8'"},
         {"ma", "'08:00:2b:01:02:03'"},
         {"m8", "'08:00:2b:01:02:03:04:05'"},
         {"bi", "B'1010'"},
         {"vb", "B'10'"},
         {"ls", "'16/B374D848'"},
         {"tv", "'a fat cat sat'"},
         {"tq", "'fat & (cat | !rat)'"},
         {"pt", "'(1,2)'"},
         {"li", "'{1,-1,0}'"},
         {"sg", "'[(0,0),(1,1)]'"},
         {"bx", "'((0,0),(1,1))'"},
         {"pa", "'[(0,0),(1,1),(2,0)]'"},
         {"pg", "'((0,0),(1,1),(1,0))'"},
         {"cc", "'<(0,0),2>'"},
         {"r4", "'[1,10)'"},
         {"rn", "'[1.5,2.5]'"},
         {"rs", "'[2026-01-01 00:00,2026-02-01 00:00)'"},
         {"rt", "'[2026-01-01 00:00+00,infinity)'"},
         {"rd", "'[2026-01-01,)'"},
         {"m4", "'{[1,3),[5,7)}'"},
         {"mt", "'{[2026-01-01 00:00+00,2026-01-02 00:00+00)}'"},
         {"r8", "'(1,10]'"},
         {"md", "'{[2026-01-01,2026-02-01)}'"},
         {"en", "'happy'"},
         {"co",
          "ROW(ROW(1, 'a'), ARRAY['x', 'y z'], '2026-01-01', 1.50, ARRAY[ROW(2, 'b')::inner_t],"
          " '2026-01-01 12:00', 'k=>v', '[2026-01-01 00:00+00,infinity)', '\\x00ff', true,"
          " 'odd')"},
         {"hs", "'a=>1, b=>2'"},
         {"a_int", "'{1,2,3}'"},
         {"a_text", "'{a,b}'"},
         {"a_num", "'{{1.5,2},{3,4}}'"},
         {"a_enum", "'{sad,happy}'"},
         {"a_comp", "ARRAY[ROW(ROW(3, 'c'), ARRAY['t'], '2026-01-02', 2, NULL, '2026-01-02 00:00',"
                    " '', 'empty', '\\x', false, '')::outer_t]"},
         {"a_tstz", "'{2026-01-01 00:00:00+00,infinity}'"},
         {"a_date", "'{2026-01-01}'"},
         {"a_bytea", R"(ARRAY['\x00ff'::bytea])"},
         {"a_jsonb", R"(ARRAY['{"a": 1}'::jsonb])"},
         {"a_float", "'{1.5,-2.25}'"},
         {"a_bool", "'{t,f}'"},
         {"a_range", "'{\"[1,3)\"}'"},
         {"a_hstore", "ARRAY['a=>1'::hstore]"},
         {"a_citext", "'{Ab}'"},
         {"a_box", "'{(1,1),(0,0);(3,3),(2,2)}'"},
         {"a_timetz", "'{12:00+01}'"},
         {"a_interval", "'{1 day}'"},
         {"a_amount", "'{1.50}'"},
         {"il", "'{1,2}'"},
         {"a_tstzrange", "'{\"[2026-01-01 00:00+00,2026-01-02 00:00+00)\"}'"},
         {"a_json", R"(ARRAY[E'{\r\n  "a": [1,\n 2]\r\n}'::json, '"x"'])"},
         {"a_money", "'{1234.5,-0.01}'"},
         {"a_point", "'{\"(1,2)\",\"(3.5,-4)\"}'"},
         {"a_char", "'{a,b}'"},
         {"xi", "'4242'"},
         {"x8", "'4242'"},
         {"cd", "'7'"},
         {"i2v", "'1 2 3'"},
         {"rg", "'integer'"},
         {"ev", "ROW(1, 'b', '{1,2}')"},
         {"pr", "ROW(1, 'y')"},
         {"dd", "5"},
         {"dk", deep_row(7)},
         {"lt", "'top.science.astronomy'"},
         {"a_lt", "'{a.b,c}'"},
         {"cn", "5"},
         {"isd", "'2026-01-01 12:34:56.78+02'"},
         {"dc", "ROW(5, 'dom')"},
         {"n2", "1.25"},
         {"hd", "'a=>b'"},
         {"fr", "'[1.5,2.5)'"},
         {"fm", "'{[1,2),[3,4)}'"},
         {"tr", "'[a,b)'"},
         {"tm_", R"('{["a,b",c), ("x\"y",)}')"},
         {"prg", R"(pair_range(ROW(1, 'a, b')::inner_t, ROW(2, 'q"x\y')::inner_t, '[]'))"},
         {"Odd \"Col\" é", "'odd'"},
     }},
    // The largest values, in a zone 5:45 ahead of UTC.
    {2,
     "Asia/Kathmandu",
     {
         {"bo", "false"},
         {"i2", "32767"},
         {"i4", "2147483647"},
         {"i8", "9223372036854775807"},
         {"oi", "4294967295"},
         {"f4", "'3.4028235e38'"},
         {"f8", "'1.7976931348623157e308'"},
         {"nu", "repeat('9', 1000)::numeric"},
         {"nd", "(repeat('9', 500) || '.' || repeat('1', 500))::numeric"},
         {"ns", "99999999.9999"},
         {"mo", "'92233720368547758.07'"},
         {"tx", R"(E'\u00e9 \u65e5\u672c \U0001F389 \u2028 \u2029 \uFEFF \u00a0 \U0010FFFF')"},
         {"vc", "repeat('é', 200)"},
         {"bp", "'é'"},
         {"nm", "repeat('n', 63)"},
         {"ch", "'é'"},
         {"ci", "'日本'"},
         {"ba", "(SELECT decode(string_agg(lpad(to_hex(b), 2, '0'), '' ORDER BY b), 'hex')"
                " FROM generate_series(0, 255) b)"},
         {"uu", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"},
         {"js", R"('{
  "deep": [[[[{"x": [1e308, -1.5e-300, 0.0, -0, 12345678901234567890123]}]]]],
  "u": "\u00e9\ud83c\udf89 \"q\" \\ \/ \b\f\n\r\t \u0000",
  "dup": 1, "dup": 2
}')"},
         {"jb", R"('{"big": 123456789012345678901234567890, "tiny": 1e-20, "s": "\u00e9\t\u0001",)"
                R"( "nested": {"a": {"b": {"c": []}}}, "e": {}}')"},
         {"xm", "E'<r>\\n  <x attr=\"''\">é &lt;</x>\\n</r>'"},
         {"da", "'5874897-12-31'"},
         {"tm", "'24:00:00'"},
         {"tz", "'24:00:00-15:59'"},
         {"ts", "'294276-12-31 23:59:59.999999'"},
         {"tt", "'294276-12-31 23:59:59.999999+00'"},
         {"iv", "'178000000 years 11 mons 30 days 23:59:59.999999'"},
         {"ip", "'2001:db8::1/64'"},
         {"cr", "'2001:db8::/32'"},
         {"ma", "'ff:ff:ff:ff:ff:ff'"},
         {"m8", "'ff:ff:ff:ff:ff:ff:ff:ff'"},
         {"bi", "B'1111'"},
         {"vb", "repeat('1', 100)::varbit"},
         {"ls", "'FFFFFFFF/FFFFFFFF'"},
         {"tv", R"($$'it''s' 'back\\slash' 'é':1A,2B 'q"x'$$)"},
         {"tq", R"($$'it''s' <-> 'é' & !'q"x'$$)"},
         {"pt", "'(1e+300,-1e-300)'"},
         {"li", "'{1e300,-1,0.5}'"},
         {"sg", "'[(1e300,1e300),(-1e300,-1e300)]'"},
         {"bx", "'((1e300,1e300),(-1e300,-1e300))'"},
         {"pa", "'((0,0),(1,1),(2,0))'"},
         {"pg", "'((0,0),(1e300,1),(1,0),(0.5,0.25))'"},
         {"cc", "'<(1.5,-2.5),1e10>'"},
         {"r4", "'[-2147483648,2147483647)'"},
         {"rn", "'[-Infinity,Infinity]'"},
         {"rs", "'[10000-01-01 00:00,294276-12-31 23:59:59.999999]'"},
         {"rt", "'[-infinity,infinity]'"},
         {"rd", "'[10000-01-01,5874897-12-31)'"},
         {"m4", "'{[1,2),[3,4),[5,6)}'"},
         {"mt", "'{(,2026-01-01 00:00+00),[2027-01-01 00:00+00,)}'"},
         {"r8", "'[-9223372036854775808,9223372036854775807)'"},
         {"md", "'{[10000-01-01,)}'"},
         {"en", "'é日本🎉'"},
         {"co",
          R"(ROW(ROW(2147483647, E'q"x\\y,(z)'), ARRAY['{}', ',', '"', '\', 'NULL', NULL, ''],)"
          R"( '5874897-12-31', repeat('9', 300)::numeric, ARRAY[ROW(-1, '')::inner_t, NULL,)"
          R"( ROW(NULL, NULL)::inner_t], '294276-12-31 23:59:59.999999+00',)"
          R"( '"q\"k"=>"v\\w", n=>NULL', '("2026-01-01 00:00:00+00","2026-01-02 00:00:00+00"]',)"
          R"( '\x5c2228297b7d2c', NULL, E'(\\"\n\x01,)'))"},
         {"hs",
          R"('"q\"k"=>"v\\w", ""=>"", "é"=>"日本", "NULL"=>"NULL", "n"=>NULL, "a,b"=>"c}d"')"},
         {"a_int", "'{{{1,2},{3,4}},{{5,6},{7,8}}}'"},
         {"a_text", "ARRAY[repeat('x', 300), 'é日本🎉']"},
         {"a_num", "ARRAY[[repeat('9', 1000)::numeric, 1], [2, 3]]"},
         {"a_enum", R"(ARRAY['é日本🎉', '{brace,comma}', 'back\slash']::mood[])"},
         {"a_comp",
          R"(ARRAY[ROW(ROW(1, '(x,y)'), ARRAY['"', ''], '10000-01-01', 'NaN',)"
          R"( ARRAY[ROW(1, 'a')::inner_t], 'infinity', 'x=>NULL', '(,)', '\x', true, NULL)::outer_t,)"
          R"( ROW(NULL, '{}', NULL, NULL, '{}', NULL, '', NULL, NULL, NULL, '')::outer_t])"},
         {"a_tstz", "'{294276-12-31 23:59:59.999999+00,\"10000-01-01 00:00:00+05:45\"}'"},
         {"a_date", "'{5874897-12-31,10000-01-01}'"},
         {"a_bytea",
          R"(ARRAY[(SELECT decode(string_agg(lpad(to_hex(b), 2, '0'), '' ORDER BY b), 'hex'))"
          R"( FROM generate_series(255, 0, -1) b), '\x01'::bytea])"},
         {"a_jsonb", R"(ARRAY['[1, {"a": null}]'::jsonb, '"s,\"q}"', '1e-5', 'true'])"},
         {"a_float", "'{1.7976931348623157e308,3.4e38,1e22,123456789012345680000}'"},
         {"a_bool", "'{{t,f},{f,t}}'"},
         {"a_range", "'{\"[-2147483648,2147483647)\",\"(,)\"}'"},
         {"a_hstore", R"(ARRAY['"a,b"=>"c}d", "x y"=>NULL'::hstore, '"{"=>"}"'])"},
         {"a_citext", "ARRAY['Q\"x', '日本']::citext[]"},
         {"a_box", "'{(1e300,1e300),(0,0);(3,3),(2,2)}'"},
         {"a_timetz", "'{24:00:00-15:59,\"00:00:00+15:59\"}'"},
         {"a_interval", "'{178000000 years,\"-178000000 years\"}'"},
         {"a_amount", "ARRAY[repeat('9', 1000)::amount]"},
         {"il", "'{2147483647,-2147483648}'"},
         {"a_tstzrange",
          "ARRAY['[-infinity,infinity]'::tstzrange, '(,294276-12-31 23:59:59.999999+00]']"},
         {"a_json",
          R"(ARRAY[E'[1,\n2]'::json, NULL, '"quoted \"x\" {}"', E'{"k":\r\n"v"}', '1e400'])"},
         {"a_money", "ARRAY['92233720368547758.07'::money, '-92233720368547758.08']"},
         {"a_point", "'{\"(1e+300,-1e-300)\",\"(NaN,-0)\"}'"},
         {"a_char", R"(ARRAY['é', '\', '"', ',', '', '{']::"char"[])"},
         {"xi", "'4294967295'"},
         {"x8", "'18446744073709551615'"},
         {"cd", "'4294967295'"},
         {"i2v", "'32767 -32768'"},
         {"rg", "'timestamp with time zone'"},
         {"ev", R"(ROW(NULL, '(",")', '[-1:0]={NULL,3}'))"},
         {"pr", "ROW(NULL, NULL)"},
         {"dd", "-2147483648"},
         {"dk", deep_row(-1)},
         {"lt", "''"},
         {"a_lt", "ARRAY[NULL, '']::ltree[]"},
         {"cn", "2147483647"},
         {"isd", "'infinity'"},
         {"dc", "ROW(NULL, NULL)"},
         {"n2", "repeat('9', 1000)::numeric"},
         {"hd", R"('"a b"=>NULL, "=>"=>","')"},
         {"fr", "'[-Infinity,Infinity]'"},
         {"fm", "'{(,-1e300),[1e300,)}'"},
         {"tr", R"('[" a,b","q\"x\\y(]")')"},
         {"Odd \"Col\" é", "'é'"},
     }},
    // The smallest values, in a zone 3:30 behind UTC.
    {3,
     "America/St_Johns",
     {
         {"bo", "false"},
         {"i2", "-32768"},
         {"i4", "-2147483648"},
         {"i8", "-9223372036854775808"},
         {"oi", "0"},
         {"f4", "'1e-45'"},
         {"f8", "'5e-324'"},
         {"nu", "('-0.' || repeat('0', 999) || '1')::numeric"},
         {"nd", "-0.0000000001"},
         {"ns", "-99999999.9999"},
         {"mo", "'-92233720368547758.08'"},
         {"tx", "(SELECT string_agg(chr(c), '' ORDER BY c) FROM generate_series(1, 31) c)"
                " || E'\\x7f quote \" backslash \\\\ slash / apostrophe '''"},
         {"vc", R"('q"\')"},
         {"bp", "''"},
         {"nm", "''"},
         {"ch", "''"},
         {"ci", "''"},
         {"ba", R"('\x')"},
         {"uu", "'00000000-0000-0000-0000-000000000000'"},
         {"js", "'null'"},
         {"jb", R"('"ctl \u0001 \n \u001f"')"},
         {"xm", "''"},
         {"da", "'4714-11-24 BC'"},
         {"tm", "'00:00:00'"},
         {"tz", "'00:00:00+00'"},
         {"ts", "'4714-11-24 00:00:00 BC'"},
         {"tt", "'4714-11-24 00:00:00+00 BC'"},
         {"iv", "'-178000000 years -1 microsecond'"},
         {"ip", "'0.0.0.0/0'"},
         {"cr", "'0.0.0.0/0'"},
         {"ma", "'00:00:00:00:00:00'"},
         {"m8", "'00:00:00:00:00:00:00:00'"},
         {"bi", "B'0000'"},
         {"vb", "B''"},
         {"ls", "'0/0'"},
         {"tv", "''"},
         {"tq", "'x'"},
         {"pt", "'(-0,0)'"},
         {"li", "'{0,1,0}'"},
         {"sg", "'[(0,0),(0,0)]'"},
         {"bx", "'((0,0),(0,0))'"},
         {"pa", "'[(0,0)]'"},
         {"pg", "'((0,0))'"},
         {"cc", "'<(0,0),0>'"},
         {"r4", "'(,)'"},
         {"rn", "'(,0]'"},
         {"rs", "'(,)'"},
         {"rt", "'empty'"},
         {"rd", "'[4714-11-24 BC,0044-03-15 BC)'"},
         {"m4", "'{}'"},
         {"mt", "'{}'"},
         {"r8", "'empty'"},
         {"md", "'{[4714-11-24 BC,0001-01-01 BC]}'"},
         {"en", "'sad'"},
         {"co", "ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"},
         {"hs", "''"},
         {"a_int", "'{}'"},
         {"a_text", "'{\"\"}'"},
         {"a_num", "'{}'"},
         {"a_enum", "'{}'"},
         {"a_comp", "'{}'"},
         {"a_tstz", "'{}'"},
         {"a_date", "'{\"4714-11-24 BC\"}'"},
         {"a_bytea", R"(ARRAY['\x'::bytea])"},
         {"a_jsonb", "'{}'"},
         {"a_float", "'{5e-324,-5e-324,1e-45}'"},
         {"a_bool", "'{}'"},
         {"a_range", "'{empty}'"},
         {"a_hstore", "ARRAY[''::hstore]"},
         {"a_citext", "'{}'"},
         {"a_box", "'{}'"},
         {"a_timetz", "'{}'"},
         {"a_interval", "'{PT0S}'"},
         {"a_amount", "'{}'"},
         {"il", "'{}'"},
         {"a_tstzrange", "'{}'"},
         {"a_json", "'{}'"},
         {"a_money", "'{}'"},
         {"a_point", "'{}'"},
         {"a_char", "'{}'"},
         {"xi", "'0'"},
         {"x8", "'0'"},
         {"cd", "'0'"},
         {"i2v", "''"},
         {"fr", "'(,0]'"},
         {"fm", "'{}'"},
         {"tr", "'empty'"},
         {"tm_", "'{}'"},
         {"prg", "pair_range(NULL, ROW(NULL, NULL)::inner_t)"},
         {"Odd \"Col\" é", "''"},
     }},
    // NaN, infinities, years around 1 AD; local times of an old date in India, whose offset then
    // had seconds (local mean time).
    {4,
     "Asia/Kolkata",
     {
         {"f4", "'NaN'"},
         {"f8", "'-Infinity'"},
         {"nu", "'NaN'"},
         {"nd", "'Infinity'"},
         {"ns", "'NaN'"},
         {"mo", "0"},
         {"tx", "''"},
         {"vc", "''"},
         {"js", "'[]'"},
         {"jb", "'{}'"},
         {"da", "'infinity'"},
         {"tm", "'12:34:56.5'"},
         {"tz", "'12:00:00+05:53:28'"},
         {"ts", "'-infinity'"},
         {"tt", "'infinity'"},
         {"iv", "'-1 day'"},
         {"pt", "'(NaN,Infinity)'"},
         {"r4", "'empty'"},
         {"rn", "'[-1e-10,NaN]'"},
         {"rs", "'[0001-01-01 00:00 BC,0001-01-01 00:00)'"},
         {"rt", "'[1900-01-01 00:00,1950-01-01 00:00)'"},
         {"rd", "'[0002-01-01 BC,0001-01-01 BC]'"},
         {"m4", "'{(,0),[10,)}'"},
         {"mt", "'{[-infinity,1900-01-01 00:00)}'"},
         {"co",
          "ROW(NULL, '[-5:-4]={x,y}', '0001-01-01 BC', 'Infinity', '{}', '1900-01-01 00:00', NULL,"
          " '[-infinity,\"0044-03-15 12:00 BC\")', NULL, NULL, 'NULL')"},
         {"rg", "'mood[]'"},
         {"n2", "'NaN'"},
         {"fr", "'[0,NaN]'"},
         {"fm", "'{[-Infinity,0),[5e-324,1)}'"},
         {"tr", R"('(,"")')"},
         {"a_int", "'{{{{{{1,2}}}}},{{{{{3,NULL}}}}}}'"},
         {"a_num", "'{{NaN,Infinity},{-Infinity,0.000}}'"},
         {"a_tstz", "'{infinity,-infinity,\"0044-03-15 12:00:00 BC\",\"1900-01-01 00:00\"}'"},
         {"a_date", "'{infinity,-infinity,\"0001-01-01 BC\",\"0002-01-01 BC\",0001-01-01}'"},
         {"a_float", "'{NaN,Infinity,-Infinity,-0,0}'"},
         {"a_timetz", "'{12:00:00+05:53:28,12:00-00:00:01}'"},
         {"a_interval", "'{-1 day -00:00:00.000001,P1Y-2M3DT-4H5M-6.5S}'"},
         {"a_amount", "'{NaN,-Infinity}'"},
     }},
    // NULL in every column (information_schema.time_stamp has a default: it is given as NULL).
    {5, "UTC", {{"isd", "NULL"}}},
    // Arrays with NULLs and elements that need quoting; text that needs escaping.
    {6,
     "Pacific/Chatham",
     {
         {"tx", "E'line1\\r\\nline2 \\u2028 \"\\\\\" \\x1b[0m'"},
         {"ci", "'ÉÉ'"},
         {"en", "'NULL'"},
         {"js", R"('"\u00e9 \ud83c\udf89"')"},
         {"jb", R"('[null, "null", [], {}, -0.0, 1.0e+2]')"},
         {"tt", "'2024-02-29 12:00:00.000001'"},
         {"ts", "'0044-03-15 12:00:00 BC'"},
         {"da", "'0001-01-01 BC'"},
         {"tz", "'12:00:00.5-08'"},
         {"co", R"(ROW(NULL, ARRAY[NULL, 'NULL', '"', 'a b', E'\t'], NULL, 'NaN',)"
                R"( ARRAY[NULL, ROW(NULL, NULL)::inner_t, ROW(0, 'NULL')::inner_t], 'infinity',)"
                R"( '"a"=>NULL, "b"=>"NULL"', 'empty', '\x', false, ' '))"},
         {"hs", R"('"key with spaces"=>"value, with => arrow", "back\\slash"=>"\"", x=>NULL')"},
         {"a_int", "'{{1,NULL},{NULL,4}}'"},
         {"a_text", R"(ARRAY['a b', 'q"x', 'NULL', NULL, '', 'back\slash', '{}', ',', 'é日本🎉',)"
                    R"( E'tab\t nl\n', ' lead ', 'null', '"'])"},
         {"a_num", "'{{1.5,NULL},{NULL,-0.001}}'"},
         {"a_enum", R"(ARRAY['sad', 'very happy', NULL, 'say "hi"', 'back\slash', '{brace,comma}',)"
                    R"( 'NULL']::mood[])"},
         {"a_comp",
          R"(ARRAY[NULL, ROW(ROW(NULL, 'x'), ARRAY[NULL], NULL, NULL, '{}', NULL, NULL, NULL,)"
          R"( '\x22', NULL, '"')::outer_t, ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,)"
          R"( NULL, NULL, NULL)::outer_t])"},
         {"a_tstz", "'{NULL,\"2026-01-01 00:00:00\"}'"},
         {"a_date", "'{NULL}'"},
         {"a_bytea", R"(ARRAY['\x00'::bytea, NULL, '\x'::bytea, '\x5c22'::bytea])"},
         {"a_jsonb", R"(ARRAY['null'::jsonb, NULL, '"s,\"q"', '[1, {"a": null}]', '{}'])"},
         {"a_float", "'{1,NULL,-1.5e-300}'"},
         {"a_bool", "'{t,NULL,f}'"},
         {"a_range", "ARRAY['[1,3)'::int4range, 'empty', '(,)', NULL]"},
         {"a_hstore", R"(ARRAY['"a,b"=>"c}d", x=>NULL'::hstore, NULL, ''])"},
         {"a_citext", R"(ARRAY['Q"x', NULL, '', 'NULL']::citext[])"},
         {"a_box", "ARRAY['((0,0),(1,1))'::box, NULL]"},
         {"a_timetz", "ARRAY['12:00:00.5-08'::timetz, NULL, '00:00+00']"},
         {"a_interval", "ARRAY['P-1D'::interval, '0', NULL, '-00:00:00.000001']"},
         {"a_amount", "ARRAY[1.50, NULL]::amount[]"},
         {"il", "'[0:2]={1,NULL,3}'"},
         {"a_tstzrange", R"(ARRAY['empty'::tstzrange, NULL, '["0044-03-15 12:00 BC",)'])"},
         {"a_json", "ARRAY['null'::json, NULL, '{}']"},
         {"a_money", "ARRAY[NULL, 0::money]"},
         {"a_point", "ARRAY[NULL, '(0,0)'::point]"},
         {"a_char", R"(ARRAY[NULL, 'N']::"char"[])"},
         {"rg", R"('"char"')"},
         {"f4", "'0.1'"},
         {"f8", "'123456789.125'"},
     }},
    // Values large enough to be stored out of line (TOAST), and old times in New York, whose
    // offset then was local mean time (-4:56:02).
    {7,
     "America/New_York",
     {
         {"tx", "(SELECT string_agg(md5(g::text), ' ') FROM generate_series(1, 3000) g)"},
         {"jb",
          "(SELECT jsonb_object_agg('k' || g, md5(g::text)) FROM generate_series(1, 2000) g)"},
         {"hs", "(SELECT hstore(array_agg(md5(g::text)), array_agg(CASE WHEN g % 7 = 0 THEN NULL"
                " ELSE g::text END)) FROM generate_series(1, 2000) g)"},
         {"a_int", "(SELECT array_agg((g * 7919) % 100003) FROM generate_series(1, 10000) g)"},
         {"a_text", "(SELECT array_agg(CASE WHEN g % 5 = 0 THEN NULL ELSE md5(g::text) || '\"'"
                    " END) FROM generate_series(1, 3000) g)"},
         {"tt", "'1800-01-01 00:00'"},
         {"ts", "'1800-01-01 00:00'"},
         {"a_tstz", "ARRAY['1800-01-01 00:00'::timestamptz, '1883-11-18 12:03:57']"},
         {"i4", "1"},
         {"js", "(repeat('[{\"a\": ', 50) || 'null' || repeat('}]', 50))::json"},
     }},
};

// After the inserts: changes in other time zones, a row copied into the all-NULL one, a row set
// to NULL, a key change, a delete. {t} is the table.
std::vector<std::pair<const char*, std::string>> changes() {
    std::string copy_cols;
    std::string nulls;
    for (const auto& c : kColumns) {
        copy_cols += std::string(copy_cols.empty() ? "" : ", ") + ident(c.name);
        nulls += std::string(nulls.empty() ? "" : ", ") + ident(c.name) + " = NULL";
    }
    return {
        {"Pacific/Chatham",
         "UPDATE {t} SET tt = '2026-06-01 12:00:00', tx = 'changed', a_int = '{9,8}',"
         " co.n = 2.5, nu = nu + 1, a_tstz = '{\"2026-06-01 12:00:00\"}' WHERE id = 1"},
        {"America/Los_Angeles", "UPDATE {t} SET (" + copy_cols + ") = (SELECT " + copy_cols +
                                    " FROM {t} WHERE id = 1) WHERE id = 5"},
        {"UTC", "UPDATE {t} SET " + nulls + " WHERE id = 2"},
        {"UTC", "UPDATE {t} SET id = 60 WHERE id = 6"},
        {"UTC", "UPDATE {t} SET i4 = 2 WHERE id = 7"}, // leaves the TOASTed values unchanged
        {"UTC", "DELETE FROM {t} WHERE id = 3"},
    };
}

std::string replace_table(std::string sql, const std::string& table) {
    for (auto at = sql.find("{t}"); at != std::string::npos; at = sql.find("{t}")) {
        sql.replace(at, 3, table);
    }
    return sql;
}

void write_rows(Conn& c, const std::string& table) {
    for (const auto& row : kRows) {
        std::string cols = "id";
        std::string values = std::to_string(row.id);
        for (const auto& [col, value] : row.values) {
            cols += ", " + ident(col);
            values += std::string(", ") + value;
        }
        c.exec(std::string("SET TimeZone = '") + row.zone + "'");
        c.exec("INSERT INTO " + table + " (" + cols + ") VALUES (" + values + ")");
    }
    for (const auto& [zone, sql] : changes()) {
        c.exec(std::string("SET TimeZone = '") + zone + "'");
        c.exec(replace_table(sql, table));
    }
}

// ---------------------------------------------------------------------------------------------
// The expected JSON, from the database.

bool special_number(const std::string& s) {
    return s == "NaN" || s == "Infinity" || s == "-Infinity";
}

std::string base64(const std::string& bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t n = static_cast<std::uint8_t>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) {
            n |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
        }
        if (i + 2 < bytes.size()) {
            n |= static_cast<std::uint8_t>(bytes[i + 2]);
        }
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
    }
    return out;
}

// bytea_output=hex: "\x" and two hex digits a byte.
std::string unhex(const std::string& text) {
    REQUIRE(text.rfind("\\x", 0) == 0);
    REQUIRE(text.size() % 2 == 0);
    std::string out;
    for (std::size_t i = 2; i < text.size(); i += 2) {
        out += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
    }
    return out;
}

// Drops a trailing " BC"; tells whether there was one.
bool strip_bc(std::string& s) {
    if (s.size() > 3 && s.compare(s.size() - 3, 3, " BC") == 0) {
        s.resize(s.size() - 3);
        return true;
    }
    return false;
}

// "YYYY-MM-DD" (year of 4 or more digits), of an era, as ISO 8601: year 1 BC is 0000, 2 BC is
// -0001; years after 9999 carry a +.
std::string iso_date(const std::string& ymd, bool bc) {
    auto dash = ymd.find('-');
    REQUIRE(dash != std::string::npos);
    long year = std::stol(ymd.substr(0, dash));
    if (bc) {
        year = 1 - year;
    }
    auto padded = [](long y) {
        std::string digits = std::to_string(y);
        return std::string(digits.size() < 4 ? 4 - digits.size() : 0, '0') + digits;
    };
    std::string rest = ymd.substr(dash);
    if (year < 0) {
        return "-" + padded(-year) + rest;
    }
    if (year > 9999) {
        return "+" + std::to_string(year) + rest;
    }
    return padded(year) + rest;
}

std::string iso_date(std::string text) {
    if (text == "infinity" || text == "-infinity") {
        return text;
    }
    bool bc = strip_bc(text);
    return iso_date(text, bc);
}

// "YYYY-MM-DD HH:MM:SS[.f][+00][ BC]"; with_zone: the zone, UTC here, is "+00" and becomes "Z".
std::string iso_timestamp(std::string text, bool with_zone) {
    if (text == "infinity" || text == "-infinity") {
        return text;
    }
    bool bc = strip_bc(text);
    auto space = text.find(' ');
    REQUIRE(space != std::string::npos);
    std::string time = text.substr(space + 1);
    if (with_zone) {
        REQUIRE(time.size() > 3);
        REQUIRE(time.compare(time.size() - 3, 3, "+00") == 0);
        time = time.substr(0, time.size() - 3) + "Z";
    }
    return iso_date(text.substr(0, space), bc) + "T" + time;
}

// "HH:MM:SS[.f]±HH[:MM[:SS]]": the offset as ±HH:MM[:SS], Z when it is zero.
std::string iso_timetz(const std::string& text) {
    auto sign = text.find_last_of("+-");
    REQUIRE(sign != std::string::npos);
    std::string time = text.substr(0, sign);
    std::string offset = text.substr(sign);
    if (offset.find_first_not_of("+-0:") == std::string::npos) {
        return time + "Z";
    }
    if (offset.size() == 3) {
        offset += ":00";
    }
    return time + offset;
}

class Expected {
public:
    Expected(Conn& conn, bool numeric_as_number, std::string history, std::string seq)
        : conn_(conn), numeric_as_number_(numeric_as_number), from_(" FROM " + history + " h"),
          where_(" WHERE h.seq = " + seq) {}

    // The JSON walbus must write for the value of `expr`, an SQL expression over the history
    // row h.
    Json of(const std::string& expr, const Type& type) {
        if (from_text_form(type)) {
            return from_text(query("(" + expr + ")")[0], type);
        }
        if (!query("(" + expr + ")")[0]) {
            return null_json();
        }
        switch (type.rule) {
        case Rule::Array: return array(expr, type);
        case Rule::Composite: {
            Json out = object_json();
            for (const auto& [name, attr] : type.attributes) {
                out.members.emplace_back(name, of("(" + expr + ")." + ident(name), *attr));
            }
            return out;
        }
        case Rule::Range: return range(expr, type);
        case Rule::Multirange: {
            Json out = array_json();
            auto n = std::stoi(*query("(SELECT count(*) FROM unnest(" + expr + "))")[0]);
            for (int i = 1; i <= n; ++i) {
                out.items.push_back(of(range_of(expr, i), *type.element));
            }
            return out;
        }
        case Rule::Hstore: {
            Json out = object_json();
            auto rows = conn_.rows("SELECT e.key, e.value" + from_ + ", each(" + expr +
                                   ") WITH ORDINALITY e(key, value, i)" + where_ + " ORDER BY e.i");
            for (auto& r : rows) {
                out.members.emplace_back(*r[0], r[1] ? string_json(*r[1]) : null_json());
            }
            return out;
        }
        default: FAIL("unreachable"); return null_json();
        }
    }

    Json from_text(const std::optional<std::string>& text, const Type& type) const {
        if (!text) {
            return null_json();
        }
        const std::string& s = *text;
        switch (type.rule) {
        case Rule::Bool: REQUIRE((s == "t" || s == "f")); return bool_json(s == "t");
        case Rule::Integer: return number_json(s);
        case Rule::Float: return special_number(s) ? string_json(s) : number_json(s);
        case Rule::Numeric:
            return special_number(s) || !numeric_as_number_ ? string_json(s) : number_json(s);
        case Rule::Text: return string_json(s);
        case Rule::Bytea: return string_json(base64(unhex(s)));
        case Rule::JsonDoc: return parse_json(s);
        case Rule::Date: return string_json(iso_date(s));
        case Rule::Timestamp: return string_json(iso_timestamp(s, false));
        case Rule::Timestamptz: return string_json(iso_timestamp(s, true));
        case Rule::Timetz: return string_json(iso_timetz(s));
        default: FAIL("not a text-form rule"); return null_json();
        }
    }

private:
    std::vector<std::optional<std::string>> query(const std::string& select_list) {
        auto rows = conn_.rows("SELECT " + select_list + from_ + where_);
        REQUIRE(rows.size() == 1);
        return rows[0];
    }

    // The n-th range (from 1) of a multirange.
    static std::string range_of(const std::string& expr, int n) {
        return "(SELECT x.u FROM unnest(" + expr +
               ") WITH ORDINALITY x(u, i) WHERE x.i = " + std::to_string(n) + ")";
    }

    // An array's elements, flattened in storage order (unnest's order), then nested by its
    // dimensions. Elements of structured types are taken by subscript (unnest in FROM would
    // spread a composite element over columns).
    Json array(const std::string& expr, const Type& type) {
        std::vector<long> lower;
        std::vector<std::size_t> lengths;
        for (auto& r : conn_.rows("SELECT array_lower(" + expr + ", d), array_length(" + expr +
                                  ", d)" + from_ + ", generate_series(1, array_ndims(" + expr +
                                  ")) d" + where_ + " ORDER BY d")) {
            lower.push_back(std::stol(*r[0]));
            lengths.push_back(std::stoul(*r[1]));
        }
        if (lengths.empty()) {
            return array_json(); // '{}' has no dimensions
        }
        std::size_t count = 1;
        for (auto l : lengths) {
            count *= l;
        }
        std::vector<Json> flat;
        if (from_text_form(*type.element)) {
            for (auto& r : conn_.rows("SELECT x.u" + from_ + ", unnest(" + expr +
                                      ") WITH ORDINALITY x(u, i)" + where_ + " ORDER BY x.i")) {
                flat.push_back(from_text(r[0], *type.element));
            }
        } else {
            for (std::size_t k = 0; k < count; ++k) {
                std::string subscripts;
                std::size_t rest = k;
                for (std::size_t d = lengths.size(); d-- > 0;) {
                    subscripts = "[" +
                                 std::to_string(lower[d] + static_cast<long>(rest % lengths[d])) +
                                 "]" + subscripts;
                    rest /= lengths[d];
                }
                flat.push_back(of("(" + expr + ")" + subscripts, *type.element));
            }
        }
        REQUIRE(flat.size() == count);
        std::size_t next = 0;
        return nest(flat, lengths, 0, next);
    }

    static Json nest(const std::vector<Json>& flat, const std::vector<std::size_t>& lengths,
                     std::size_t dim, std::size_t& next) {
        Json out = array_json();
        for (std::size_t i = 0; i < lengths[dim]; ++i) {
            if (dim + 1 < lengths.size()) {
                out.items.push_back(nest(flat, lengths, dim + 1, next));
            } else {
                REQUIRE(next < flat.size());
                out.items.push_back(flat[next++]);
            }
        }
        return out;
    }

    Json range(const std::string& expr, const Type& type) {
        auto r = query("isempty(" + expr + "), lower(" + expr + "), upper(" + expr +
                       "), lower_inc(" + expr + "), upper_inc(" + expr + ")");
        Json out = object_json();
        if (r[0] == "t") {
            out.members.emplace_back("empty", bool_json(true));
            return out;
        }
        const Type& subtype = *type.element;
        if (from_text_form(subtype)) {
            out.members.emplace_back("lower", from_text(r[1], subtype));
            out.members.emplace_back("upper", from_text(r[2], subtype));
        } else {
            out.members.emplace_back("lower", of("lower(" + expr + ")", subtype));
            out.members.emplace_back("upper", of("upper(" + expr + ")", subtype));
        }
        out.members.emplace_back("lower_inc", bool_json(r[3] == "t"));
        out.members.emplace_back("upper_inc", bool_json(r[4] == "t"));
        return out;
    }

    Conn& conn_;
    bool numeric_as_number_;
    std::string from_;
    std::string where_;
};

// ---------------------------------------------------------------------------------------------
// The events against the history.

bool listed(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

// Compares a row image (`after` or `before`) with the history's new_r or old_r. A column whose
// TOASTed value an UPDATE left unchanged must be absent and really unchanged.
void check_row(Conn& reader, Expected& expected, const Json& actual, const std::string& image,
               const std::vector<std::string>& unchanged_toast, const std::string& history,
               const std::string& seq) {
    REQUIRE(actual.kind == Json::Kind::Object);
    std::vector<std::string> names;
    for (const auto& [name, value] : actual.members) {
        names.push_back(name);
    }
    std::vector<std::string> expected_names{"id"};
    for (const auto& c : kColumns) {
        if (!listed(unchanged_toast, c.name)) {
            expected_names.emplace_back(c.name);
        }
    }
    CHECK(names == expected_names);
    auto check_column = [&](const std::string& name, const Type& type) {
        INFO((image == "new_r" ? "after." : "before.") << name);
        if (listed(unchanged_toast, name)) {
            CHECK(actual.find(name) == nullptr);
            CHECK(reader.value("SELECT ((h.old_r)." + ident(name) +
                               ")::text IS NOT DISTINCT FROM ((h.new_r)." + ident(name) +
                               ")::text FROM " + history + " h WHERE h.seq = " + seq) == "t");
            return;
        }
        const Json* value = actual.find(name);
        REQUIRE(value != nullptr);
        const std::string written = show(*value);
        const std::string from_database =
            show(expected.of("(h." + image + ")." + ident(name), type));
        INFO("left: what walbus wrote; right: the value in the database, converted here");
        CHECK(written == from_database);
    };
    check_column("id", kInteger);
    for (const auto& c : kColumns) {
        check_column(c.name, *c.type);
    }
}

std::vector<std::string> strings_of(const Json* array) {
    std::vector<std::string> out;
    if (array != nullptr) {
        REQUIRE(array->kind == Json::Kind::Array);
        for (const auto& item : array->items) {
            out.push_back(item.text);
        }
    }
    return out;
}

Json id_object(const std::string& id) {
    Json out = object_json();
    out.members.emplace_back("id", number_json(id));
    return out;
}

void check_events(Conn& reader, const fs::path& jsonl, bool numeric_as_number) {
    auto lines = read_lines(jsonl);
    auto history = reader.rows(
        "SELECT 'torture', seq, op, (old_r).id, (new_r).id FROM history_torture UNION ALL "
        "SELECT 'torture_full', seq, op, (old_r).id, (new_r).id FROM history_torture_full "
        "ORDER BY seq");
    REQUIRE(lines.size() == history.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string table = *history[i][0];
        const std::string seq = *history[i][1];
        const std::string op = *history[i][2];
        const std::string old_id = history[i][3].value_or("");
        const std::string new_id = history[i][4].value_or("");
        const std::string history_table = "history_" + table;
        INFO("format.numeric: " << (numeric_as_number ? "number" : "string") << "; event " << i
                                << ": " << op << " of " << table << " row id "
                                << (op == "DELETE" ? old_id : new_id)
                                << (old_id != new_id && op == "UPDATE" ? " (was " + old_id + ")"
                                                                       : ""));
        Json event = parse_json(lines[i]);
        REQUIRE(event.kind == Json::Kind::Object);
        const Json* source = event.find("source");
        REQUIRE(source != nullptr);
        REQUIRE(source->find("table") != nullptr);
        CHECK(source->find("table")->text == table);
        REQUIRE(event.find("op") != nullptr);
        const std::string expected_op =
            op == "INSERT" ? "insert" : (op == "UPDATE" ? "update" : "delete");
        REQUIRE(event.find("op")->text == expected_op);
        const Json* key = event.find("key");
        const Json* before = event.find("before");
        const Json* after = event.find("after");
        REQUIRE(key != nullptr);
        REQUIRE(before != nullptr);
        REQUIRE(after != nullptr);
        auto unchanged = strings_of(source->find("unchanged_toast"));
        Expected expected(reader, numeric_as_number, history_table, seq);

        if (op == "DELETE") {
            CHECK(after->kind == Json::Kind::Null);
        } else {
            check_row(reader, expected, *after, "new_r", unchanged, history_table, seq);
        }
        if (table == "torture") {
            // REPLICA IDENTITY DEFAULT: the key; the old key only for a delete or a key change.
            CHECK(show(*key) == show(id_object(op == "DELETE" ? old_id : new_id)));
            if (op == "DELETE" || (op == "UPDATE" && old_id != new_id)) {
                CHECK(show(*before) == show(id_object(old_id)));
            } else {
                CHECK(before->kind == Json::Kind::Null);
            }
        } else {
            // REPLICA IDENTITY FULL: the whole old row, and every column in the key.
            if (op == "INSERT") {
                CHECK(before->kind == Json::Kind::Null);
            } else {
                check_row(reader, expected, *before, "old_r", {}, history_table, seq);
            }
            const Json& image = op == "DELETE" ? *before : *after;
            REQUIRE(key->kind == Json::Kind::Object);
            CHECK(key->members.size() == kColumns.size() + 1);
            for (const auto& [name, value] : key->members) {
                INFO("key column " << name);
                // An unchanged TOASTed value is in the key but not in `after`: the old one.
                const Json* in_image = image.find(name);
                if (in_image == nullptr && listed(unchanged, name)) {
                    in_image = before->find(name);
                }
                REQUIRE(in_image != nullptr);
                CHECK(show(value) == show(*in_image));
            }
        }
    }
}

// Drops the test's replication slots at the end, so that they hold no WAL and leave room for
// other tests on the same server.
class SlotsDropped {
public:
    SlotsDropped(Conn& conn, std::vector<std::string> slots)
        : conn_(conn), slots_(std::move(slots)) {}
    ~SlotsDropped() {
        for (const auto& slot : slots_) {
            (void)conn_.try_exec("SELECT pg_drop_replication_slot(slot_name) FROM "
                                 "pg_replication_slots WHERE slot_name = '" +
                                 slot + "' AND NOT active");
        }
    }
    SlotsDropped(const SlotsDropped&) = delete;
    SlotsDropped& operator=(const SlotsDropped&) = delete;

private:
    Conn& conn_;
    std::vector<std::string> slots_;
};

} // namespace

TEST_CASE("every type walbus knows, at its extremes, as documented", "[types]") {
    TestDb db("types");
    auto& c = db.conn();
    c.exec(kTypes);
    // Both tables have a dropped column among the others.
    std::string columns = "id int PRIMARY KEY";
    for (std::size_t i = 0; i < kColumns.size(); ++i) {
        columns += ", " + ident(kColumns[i].name) + " " + kColumns[i].sql_type;
        columns += i == kColumns.size() / 2 ? ", gone text" : "";
    }
    for (const char* table : {"torture", "torture_full"}) {
        c.exec(std::string("CREATE TABLE ") + table + " (" + columns + "); ALTER TABLE " + table +
               " DROP COLUMN gone");
    }
    c.exec(kHistory);

    // Two slots, one with the default format and one with numeric values as JSON numbers;
    // both exist before the changes.
    TempDir strings_dir;
    ConfigOptions strings = with_tables({"torture", "torture_full"});
    strings.slot = db.name() + "_strings";
    auto strings_config = write_config(strings_dir, db, strings);
    TempDir numbers_dir;
    ConfigOptions numbers = with_tables({"torture", "torture_full"});
    numbers.slot = db.name() + "_numbers";
    auto numbers_config = write_config(numbers_dir, db, numbers);
    std::ofstream(numbers_config, std::ios::app) << "format:\n  numeric: number\n";
    SlotsDropped drop_slots(c, {strings.slot, numbers.slot});
    catch_up(strings_dir, db, strings_config);
    catch_up(numbers_dir, db, numbers_config);

    write_rows(c, "torture");
    write_rows(c, "torture_full");
    catch_up(strings_dir, db, strings_config);
    catch_up(numbers_dir, db, numbers_config);

    Conn reader(db.dsn());
    reader.exec("SET DateStyle = ISO; SET TimeZone = UTC; SET IntervalStyle = iso_8601;"
                "SET extra_float_digits = 3; SET bytea_output = hex");
    REQUIRE(reader.value("SELECT count(*) FROM history_torture") == "13");
    check_events(reader, strings_dir / "events.jsonl", false);
    check_events(reader, numbers_dir / "events.jsonl", true);
}
