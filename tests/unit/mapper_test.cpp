// The mapping rules, data-driven: each directory under tests/data/mappers holds a configuration
// with rules (config.yaml), the changes to map (changes.jsonl) and the events expected of them
// (expected.jsonl); tests/data/mappers/README.md describes the formats. Plus the expression
// language's own cases.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <simdjson.h>

#include "walbus/config/config.h"
#include "walbus/core/integration_event.h"
#include "walbus/core/pg_types.h"
#include "walbus/mappers/expr.h"
#include "walbus/mappers/rules.h"
#include "walbus/pipeline/setup.h"

namespace fs = std::filesystem;
using namespace walbus;

namespace {

const fs::path kMapperDir = fs::path(WALBUS_TEST_DATA_DIR) / "mappers";

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) {
            out.push_back(line);
        }
    }
    return out;
}

std::uint32_t type_oid(std::string_view name) {
    static const std::map<std::string_view, std::uint32_t> kTypes{
        {"bool", pg::kBool}, {"int2", pg::kInt2},       {"int4", pg::kInt4},
        {"int8", pg::kInt8}, {"numeric", pg::kNumeric}, {"float8", pg::kFloat8},
        {"text", pg::kText}, {"varchar", pg::kVarchar}, {"uuid", pg::kUuid},
        {"json", pg::kJson}, {"jsonb", pg::kJsonb},     {"timestamptz", pg::kTimestamptz},
        {"date", pg::kDate}, {"bytea", pg::kBytea},     {"int4[]", pg::kInt4Array}};
    const auto it = kTypes.find(name);
    if (it == kTypes.end()) {
        FAIL("unknown type name in a test relation: " << name);
    }
    return it->second;
}

// Reads changes.jsonl: relation lines and change lines.
class ChangeReader {
public:
    std::vector<ChangeEvent> read(const std::string& text) {
        std::vector<ChangeEvent> out;
        std::uint64_t line_no = 0;
        for (const std::string& line : lines_of(text)) {
            ++line_no;
            INFO("changes.jsonl line " << line_no);
            simdjson::padded_string padded(line);
            simdjson::dom::element doc = parser_.parse(padded);
            if (doc["relation"].error() == simdjson::SUCCESS &&
                doc["columns"].error() == simdjson::SUCCESS) {
                add_relation(doc);
                continue;
            }
            out.push_back(change(doc, line_no));
        }
        return out;
    }

private:
    void add_relation(simdjson::dom::element doc) {
        auto rel = std::make_shared<Relation>();
        rel->schema = std::string(std::string_view(doc["schema"]));
        rel->table = std::string(std::string_view(doc["table"]));
        const std::string_view identity = doc["identity"];
        rel->identity = identity == "full" ? ReplicaIdentity::Full : ReplicaIdentity::Default;
        for (simdjson::dom::element c : doc["columns"].get_array()) {
            Column col;
            col.name = std::string(std::string_view(c["name"]));
            col.type_oid = type_oid(std::string_view(c["type"]));
            bool key = false;
            if (c["key"].get(key) != simdjson::SUCCESS) {
                key = false;
            }
            col.key = key || rel->identity == ReplicaIdentity::Full;
            rel->columns.push_back(std::move(col));
        }
        relations_[std::string(std::string_view(doc["relation"]))] = rel;
    }

    static void fill(Tuple& tuple, TupleKind kind, simdjson::dom::object values,
                     const Relation& rel) {
        tuple.kind = kind;
        tuple.values.assign(rel.columns.size(), Value{});
        for (std::size_t i = 0; i < rel.columns.size(); ++i) {
            simdjson::dom::element v;
            if (values[rel.columns[i].name].get(v) != simdjson::SUCCESS) {
                // Not given: unchanged TOAST in a new row, not logged in a key.
                tuple.values[i].kind = kind == TupleKind::New || kind == TupleKind::Old
                                           ? ValueKind::Unchanged
                                           : ValueKind::Null;
                continue;
            }
            if (v.is_null()) {
                tuple.values[i].kind = ValueKind::Null;
            } else if (v.is_string()) {
                tuple.values[i].kind = ValueKind::Text;
                tuple.values[i].data = std::string(std::string_view(v));
            } else {
                FAIL("a value in a test change must be a string (the text form) or null");
            }
        }
    }

    ChangeEvent change(simdjson::dom::element doc, std::uint64_t line_no) {
        ChangeEvent c;
        const std::string_view op = doc["op"];
        static const std::map<std::string_view, Operation> kOps{{"insert", Operation::Insert},
                                                                {"update", Operation::Update},
                                                                {"delete", Operation::Delete},
                                                                {"truncate", Operation::Truncate},
                                                                {"message", Operation::Message}};
        REQUIRE(kOps.contains(op));
        c.op = kOps.at(op);
        c.xid = 700 + static_cast<Xid>(line_no);
        c.lsn = Lsn(0x16B3000 + line_no * 0x40);
        c.position = Position{Lsn(0x16B3000 + line_no * 0x40), line_no % 3};
        c.commit_time_us = 1'795'000'000'000'000 + static_cast<std::int64_t>(line_no) * 1000;
        if (c.op == Operation::Message) {
            c.prefix = std::string(std::string_view(doc["prefix"]));
            c.content = std::string(std::string_view(doc["content"]));
            bool transactional = true;
            if (doc["transactional"].get(transactional) != simdjson::SUCCESS) {
                transactional = true;
            }
            c.transactional = transactional;
            return c;
        }
        const std::string name{std::string_view(doc["relation"])};
        REQUIRE(relations_.contains(name));
        c.relation = relations_.at(name);
        const Relation& rel = *c.relation;
        simdjson::dom::object values;
        if (doc["new"].get(values) == simdjson::SUCCESS) {
            fill(c.after, TupleKind::New, values, rel);
        }
        if (doc["old"].get(values) == simdjson::SUCCESS) {
            fill(c.before, rel.identity == ReplicaIdentity::Full ? TupleKind::Old : TupleKind::Key,
                 values, rel);
        }
        return c;
    }

    simdjson::dom::parser parser_;
    std::map<std::string, std::shared_ptr<const Relation>> relations_;
};

std::vector<fs::path> case_dirs() {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(kMapperDir)) {
        if (entry.is_directory()) {
            out.push_back(entry.path());
        }
    }
    std::ranges::sort(out);
    return out;
}

// Maps every change; each event is a line, each failure "error: ...".
std::vector<std::string> run_case(const fs::path& dir) {
    const auto loaded = config::load_string(read_text(dir / "config.yaml"), "config.yaml",
                                            [](std::string_view) { return std::string("x"); });
    PreparedConfig prepared = prepare_config(loaded, "config.yaml");
    std::vector<std::string> out;
    for (const config::Diagnostic& d : prepared.diagnostics) {
        out.push_back(d.str());
    }
    if (!prepared.rules) {
        return out;
    }
    const config::Config& cfg = *prepared.config;
    pg::JsonOptions options;
    options.numeric_as_number = cfg.format.numeric == config::NumericFormat::Number;
    ChangeReader reader;
    const std::vector<ChangeEvent> changes = reader.read(read_text(dir / "changes.jsonl"));
    for (const ChangeEvent& c : changes) {
        auto events = prepared.rules->map(c, pg::TypeRegistry::builtins(), options);
        if (!events) {
            out.push_back("error: " + events.error().message);
            continue;
        }
        for (const IntegrationEvent& ev : *events) {
            std::string line;
            append_event_json(line, ev);
            out.push_back(std::move(line));
        }
    }
    return out;
}

} // namespace

TEST_CASE("mapping rules turn recorded changes into the expected events", "[mappers]") {
    const std::vector<fs::path> dirs = case_dirs();
    REQUIRE(dirs.size() >= 8);
    const bool regenerate = std::getenv("WALBUS_REGENERATE") != nullptr;
    for (const fs::path& dir : dirs) {
        INFO("case " << dir.filename().string());
        const std::vector<std::string> actual = run_case(dir);
        const fs::path expected_path = dir / "expected.jsonl";
        if (regenerate) {
            std::ofstream out(expected_path, std::ios::binary | std::ios::trunc);
            for (const std::string& line : actual) {
                out << line << "\n";
            }
            continue;
        }
        REQUIRE(fs::exists(expected_path));
        CHECK(actual == lines_of(read_text(expected_path)));
    }
}

TEST_CASE("docs/mapping-rules.md documents every rule key", "[mappers]") {
    const std::string doc = read_text(fs::path(WALBUS_DOCS_DIR) / "mapping-rules.md");
    for (const std::string& key : config::rule_reference_keys()) {
        INFO("key " << key);
        // Written as `key` in a table row of its section (outbox and message keys by leaf).
        const std::string leaf = key.substr(key.find('.') + 1);
        CHECK(doc.find("| `" + leaf + "` |") != std::string::npos);
    }
}

TEST_CASE("the same change gives the same event ids; another position or rule another",
          "[mappers]") {
    const std::string a = mappers::uuid_v5(mappers::kEventIdNamespace, "p/0/16B3748/0/r");
    CHECK(a == mappers::uuid_v5(mappers::kEventIdNamespace, "p/0/16B3748/0/r"));
    CHECK(a != mappers::uuid_v5(mappers::kEventIdNamespace, "p/0/16B3748/1/r"));
    CHECK(a != mappers::uuid_v5(mappers::kEventIdNamespace, "p/0/16B3748/0/s"));
    // RFC 9562's own example: the DNS namespace and "www.example.com".
    const std::array<unsigned char, 16> dns{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                            0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    CHECK(mappers::uuid_v5(dns, "www.example.com") == "2ed6657d-e927-568b-95e1-2665a8aea6a2");
}

TEST_CASE("an event id is the documented UUID of pipeline, rule and position", "[mappers]") {
    const fs::path dir = kMapperDir / "price_changed";
    const auto loaded = config::load_string(read_text(dir / "config.yaml"), "config.yaml",
                                            [](std::string_view) { return std::string("x"); });
    PreparedConfig prepared = prepare_config(loaded, "config.yaml");
    REQUIRE(prepared.rules);
    ChangeReader reader;
    const std::vector<ChangeEvent> changes = reader.read(read_text(dir / "changes.jsonl"));
    std::size_t checked = 0;
    for (const ChangeEvent& c : changes) {
        auto events = prepared.rules->map(c, pg::TypeRegistry::builtins(), {});
        REQUIRE(events);
        for (const IntegrationEvent& ev : *events) {
            // uuid_v5(uuid_v5(namespace, "<pipeline>/<rule>"), "<commit_lsn>:<seq>")
            const std::string position =
                c.position.commit_lsn.str() + ":" + std::to_string(c.position.seq);
            const auto ns = mappers::uuid_v5_bytes(mappers::kEventIdNamespace,
                                                   prepared.config->name + "/" + ev.rule);
            CHECK(ev.id == mappers::uuid_v5(ns, position));
            ++checked;
        }
    }
    CHECK(checked >= 1);
}

TEST_CASE("numbers compare exactly as decimals", "[mappers]") {
    auto cmp = [](std::string_view a, std::string_view b) {
        int r = 99;
        REQUIRE(mappers::compare_numbers(a, b, r));
        return r;
    };
    CHECK(cmp("19.99", "19.990") == 0);
    CHECK(cmp("19.99", "24.99") < 0);
    CHECK(cmp("-1", "-0.5") < 0);
    CHECK(cmp("0", "-0.000") == 0);
    CHECK(cmp("100", "99.999999999999999999999") > 0);
    CHECK(cmp("1e3", "1000") == 0);
    CHECK(cmp("1.5E-2", "0.015") == 0);
    CHECK(cmp("0.0012", "0.00119999") > 0);
    CHECK(cmp("12345678901234567890.5", "12345678901234567890.49") > 0);
    CHECK(cmp("NaN", "Infinity") > 0);
    CHECK(cmp("NaN", "NaN") == 0);
    CHECK(cmp("-Infinity", "-1e300") < 0);
    CHECK(cmp("Infinity", "1e300") > 0);
    int r = 0;
    CHECK_FALSE(mappers::compare_numbers("12a", "1", r));
    CHECK_FALSE(mappers::compare_numbers("", "1", r));
    CHECK_FALSE(mappers::compare_numbers(".", "1", r));
}

TEST_CASE("expressions evaluate with SQL-like rules", "[mappers]") {
    auto rel = std::make_shared<Relation>();
    rel->schema = "public";
    rel->table = "t";
    rel->identity = ReplicaIdentity::Default;
    rel->columns = {{"id", pg::kInt4, -1, true},
                    {"name", pg::kText, -1, false},
                    {"price", pg::kNumeric, -1, false},
                    {"doc", pg::kJsonb, -1, false},
                    {"flag", pg::kBool, -1, false}};
    ChangeEvent c;
    c.op = Operation::Insert;
    c.relation = rel;
    c.after.kind = TupleKind::New;
    c.after.values = {{ValueKind::Text, "7"},
                      {ValueKind::Text, "Ünïcode Mug"},
                      {ValueKind::Text, "19.90"},
                      {ValueKind::Text, R"({"a": 1})"},
                      {ValueKind::Null, ""}};
    mappers::CompileOptions opts;
    auto eval = [&](std::string_view text) {
        auto e = mappers::Expr::compile(text, opts);
        INFO(text);
        REQUIRE(e.has_value());
        mappers::Datum d;
        std::string error;
        REQUIRE(e->eval(c, pg::TypeRegistry::builtins(), d, error));
        std::string out;
        mappers::write_datum_json(out, d, pg::TypeRegistry::builtins(), pg::JsonOptions{});
        return out;
    };
    CHECK(eval("new.price = 19.9") == "true");
    CHECK(eval("new.price > 19.89 and new.price < 19.91") == "true");
    CHECK(eval("new.id in (1, 7, 9)") == "true");
    CHECK(eval("new.id not in (1, 9)") == "true");
    CHECK(eval("new.flag is null") == "true");
    CHECK(eval("new.flag = null") == "true");
    CHECK(eval("new.flag != true") == "true"); // null is not true
    CHECK(eval("new.name is not null and not (new.id <> 7)") == "true");
    CHECK(eval("lower(new.name)") == R"("Ünïcode mug")");
    CHECK(eval("upper('abc')") == R"("ABC")");
    CHECK(eval("length(new.name)") == "11");
    CHECK(eval("coalesce(new.flag, 'none')") == R"("none")");
    CHECK(eval("new.doc") == R"({"a": 1})");
    CHECK(eval("json('[1, 2]')") == "[1, 2]");
    CHECK(eval("new.price") == R"("19.90")");
    CHECK(eval("'it''s'") == R"("it's")");
    CHECK(eval("op") == R"("insert")");
    CHECK(eval("schema = 'public' and table = 't'") == "true");
    CHECK(eval("-1.5e2") == "-1.5e2");
    CHECK(eval("new.\"name\" = 'Ünïcode Mug'") == "true");

    // Errors at run time: a value of another type, a column the row does not have.
    auto fails = [&](std::string_view text, std::string_view needle) {
        auto e = mappers::Expr::compile(text, opts);
        INFO(text);
        REQUIRE(e.has_value());
        mappers::Datum d;
        std::string error;
        CHECK_FALSE(e->eval(c, pg::TypeRegistry::builtins(), d, error));
        CHECK(error.find(needle) != std::string::npos);
    };
    fails("new.price = 'abc'", "cannot compare a number with a string");

    // A long chain is one node (no recursion per operand); deep nesting is refused.
    std::string chain = "new.id = 7";
    for (int i = 0; i < 20000; ++i) {
        chain += i % 2 == 0 ? " and new.id > 1" : " or new.id < 0";
    }
    CHECK(eval(chain) == "true");
    const std::string deep = std::string(100, '(') + "true" + std::string(100, ')');
    auto nested = mappers::Expr::compile(deep, opts);
    REQUIRE_FALSE(nested.has_value());
    CHECK(nested.error().message.find("nested too deeply") != std::string::npos);
    fails("new.gone = 1", "has no column 'gone'");
    c.after.values[1].kind = ValueKind::Unchanged;
    fails("new.name = 'x'", "unchanged TOAST value");
}
