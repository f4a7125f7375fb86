// Decoder tests on wal2json messages recorded from a real server (tests/data/wal2json/*.bin and
// *.catalog, made by tests/data/wal2json/record.sh), truncated and corrupted variants of every
// message, and the same workloads decoded from the pgoutput recordings: both decoders must give
// the same events.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "recording.h"
#include "walbus/core/change_json.h"
#include "walbus/core/json_writer.h"
#include "walbus/decoders/pgoutput_decoder.h"
#include "walbus/decoders/wal2json_decoder.h"

using namespace walbus;
using walbus::test::read_recording;
using walbus::test::read_text;
using namespace walbus::decoders;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        auto end = text.find(sep, start);
        parts.push_back(text.substr(start, end - start));
        if (end == std::string::npos) {
            return parts;
        }
        start = end + 1;
    }
}

// The catalog snapshots record.sh took: every version of every table, one per line:
// schema, table, oid, relreplident, then name, type OID, typmod, "key" or "-" per column; tabs
// between. find() gives the version whose columns are the message's, else the first one the
// message's columns fit in (an UPDATE leaves out unchanged TOAST values).
class RecordedCatalog final : public RelationCatalog {
public:
    explicit RecordedCatalog(const fs::path& path) {
        std::istringstream in(read_text(path));
        std::string line;
        while (std::getline(in, line)) {
            auto f = split(line, '\t');
            REQUIRE(f.size() >= 4);
            REQUIRE((f.size() - 4) % 4 == 0);
            auto rel = std::make_shared<Relation>();
            rel->schema = f[0];
            rel->table = f[1];
            rel->oid = static_cast<std::uint32_t>(std::stoul(f[2]));
            REQUIRE(f[3].size() == 1);
            rel->identity = static_cast<ReplicaIdentity>(f[3][0]);
            for (std::size_t i = 4; i < f.size(); i += 4) {
                Column& c = rel->columns.emplace_back();
                c.name = f[i];
                c.type_oid = static_cast<std::uint32_t>(std::stoul(f[i + 1]));
                c.typmod = std::stoi(f[i + 2]);
                c.key = f[i + 3] == "key";
            }
            versions_.push_back(std::move(rel));
        }
    }

    std::shared_ptr<const Relation> find(std::string_view schema, std::string_view table,
                                         std::span<const MessageColumn> seen) override {
        ++calls;
        std::shared_ptr<const Relation> fitting;
        for (const auto& rel : versions_) {
            if (rel->schema != schema || rel->table != table) {
                continue;
            }
            bool fits = true;
            std::size_t j = 0;
            for (const MessageColumn& c : seen) {
                while (j < rel->columns.size() && rel->columns[j].name != c.name) {
                    ++j;
                }
                if (j == rel->columns.size()) {
                    fits = false;
                    break;
                }
                ++j;
            }
            const bool exact = fits && seen.size() == rel->columns.size();
            if (exact && fits) {
                return rel;
            }
            if (fits && !fitting) {
                fitting = rel;
            }
        }
        return fitting;
    }

    ReplicaIdentity identity(std::string_view table) const {
        for (const auto& rel : versions_) {
            if (rel->table == table) {
                return rel->identity;
            }
        }
        return ReplicaIdentity::Default;
    }

    int calls = 0;

private:
    std::vector<std::shared_ptr<const Relation>> versions_;
};

void describe_relation(std::string& out, const Relation& r) {
    out += "RELATION " + r.schema + "." + r.table +
           " identity=" + std::string(1, static_cast<char>(r.identity)) + " columns=";
    for (std::size_t i = 0; i < r.columns.size(); ++i) {
        const Column& c = r.columns[i];
        out += (i ? "," : "") + c.name + ":" + std::to_string(c.type_oid) +
               (c.typmod >= 0 ? "(" + std::to_string(c.typmod) + ")" : "") + (c.key ? ":key" : "");
    }
    out += "\n";
}

// One line per message, as the pgoutput decoder test writes them: Begin and Commit in a compact
// form, a new table description as a RELATION line, changes as their JSON lines.
void describe(std::string& out, const DecodedMessage& m) {
    switch (m.kind) {
    case MessageKind::Begin:
        out += "BEGIN xid=" + std::to_string(m.xid) + " commit_lsn=" + m.commit_lsn.str() + "\n";
        return;
    case MessageKind::Commit:
        out += "COMMIT commit_lsn=" + m.commit_lsn.str() + " end_lsn=" + m.end_lsn.str() + "\n";
        return;
    case MessageKind::Relation: describe_relation(out, *m.relation); return;
    case MessageKind::Type: out += "TYPE\n"; return;
    case MessageKind::Origin: out += "ORIGIN\n"; return;
    default:
        if (m.relation) {
            describe_relation(out, *m.relation);
        }
        for (const auto& c : m.changes) {
            append_change_json(out, c);
            out += "\n";
        }
    }
}

fs::path data_dir(std::string_view plugin) {
    return fs::path(WALBUS_TEST_DATA_DIR) / plugin;
}

std::vector<fs::path> recordings() {
    return walbus::test::recordings("wal2json");
}

std::string decode_wal2json(const fs::path& bin, RelationCatalog* catalog) {
    Wal2jsonDecoder decoder(catalog);
    DecodedMessage m;
    std::string text;
    for (const auto& rec : read_recording(bin)) {
        auto ok = decoder.decode(rec.data, rec.wal_start, m);
        INFO(bin.filename().string() << " message at " << rec.wal_start.str());
        if (!ok) {
            FAIL(ok.error().message);
        }
        describe(text, m);
    }
    return text;
}

std::string decode_pgoutput(const fs::path& bin) {
    PgoutputDecoder decoder;
    DecodedMessage m;
    std::string text;
    for (const auto& rec : read_recording(bin)) {
        auto ok = decoder.decode(rec.data, rec.wal_start, m);
        REQUIRE(ok);
        describe(text, m);
    }
    return text;
}

// The lines both decoders must agree on: table descriptions (when they change: pgoutput also
// describes a table again after a TRUNCATE) and changes. Begin and Commit are left out (wal2json
// also reports transactions without changes to the chosen tables), and so are TYPE and ORIGIN
// (pgoutput only).
std::vector<std::string> comparable_lines(const std::string& text) {
    std::map<std::string, std::string> described;
    std::vector<std::string> out;
    for (auto& line : split(text, '\n')) {
        if (line.starts_with("RELATION ")) {
            auto& last = described[line.substr(0, line.find(" identity="))];
            if (last != line) {
                last = line;
                out.push_back(line);
            }
        } else if (line.starts_with("{")) {
            out.push_back(line);
        }
    }
    return out;
}

std::vector<std::string> change_lines(const std::string& text) {
    std::vector<std::string> out;
    for (auto& line : split(text, '\n')) {
        if (line.starts_with("{")) {
            out.push_back(line);
        }
    }
    return out;
}

// Where `"key":` starts in a JSON line, and where its value ends (a string, a number, null or
// an object without nested objects), or npos.
std::pair<std::size_t, std::size_t> find_field(const std::string& line, std::string_view key,
                                               std::size_t from = 0) {
    const std::string prefix = "\"" + std::string(key) + "\":";
    auto start = line.find(prefix, from);
    if (start == std::string::npos) {
        return {std::string::npos, std::string::npos};
    }
    auto value = start + prefix.size();
    std::size_t end = value;
    if (value < line.size() && line[value] == '"') {
        end = value + 1;
        while (end < line.size() && line[end] != '"') {
            end += line[end] == '\\' ? 2 : 1;
        }
        ++end;
    } else if (value < line.size() && line[value] == '{') {
        end = line.find('}', value) + 1;
    } else {
        end = line.find_first_of(",}", value);
    }
    return {start, std::min(end, line.size())};
}

// Replaces the value of every `"key":` with `value` (or removes the field, with its comma,
// when `value` is empty).
std::string replace_field(std::string line, std::string_view key, std::string_view value) {
    for (std::size_t from = 0;;) {
        auto [start, end] = find_field(line, key, from);
        if (start == std::string::npos) {
            return line;
        }
        if (value.empty()) {
            if (end < line.size() && line[end] == ',') {
                ++end;
            } else if (start > 0 && line[start - 1] == ',') {
                --start;
            }
            line.erase(start, end - start);
            from = start;
        } else {
            const std::string field = "\"" + std::string(key) + "\":" + std::string(value);
            line.replace(start, end - start, field);
            from = start + field.size();
        }
    }
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
    for (auto pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
        text.replace(pos, from.size(), to);
    }
    return text;
}

// What differs between two recordings of one workload, or what wal2json cannot say (see
// decoders/README.md): LSNs, xids and commit times; OIDs of types created by the workload; the
// origin's name; TRUNCATE's options.
std::string normalise(std::string line) {
    if (line.starts_with("RELATION ")) {
        // columns=name:type_oid[(typmod)][:key],...
        const std::string marker = " columns=";
        auto at = line.find(marker);
        REQUIRE(at != std::string::npos);
        std::string out = line.substr(0, at + marker.size());
        auto columns = split(line.substr(at + marker.size()), ',');
        for (std::size_t i = 0; i < columns.size(); ++i) {
            auto parts = split(columns[i], ':');
            if (parts.size() >= 2 && !parts[1].empty() &&
                std::stoul(parts[1].substr(0, parts[1].find('('))) >= 16384) {
                parts[1] = "user-type";
            }
            for (std::size_t j = 0; j < parts.size(); ++j) {
                out += (j == 0 ? (i == 0 ? "" : ",") : ":") + parts[j];
            }
        }
        return out;
    }
    line = replace_field(line, "lsn", R"("*")");
    line = replace_field(line, "commit_lsn", R"("*")");
    line = replace_field(line, "xid", "*");
    line = replace_field(line, "commit_time", R"("*")");
    line = replace_field(line, "origin", "");
    return replace_field(line, "truncate", "{}");
}

std::string from_base64(std::string_view text) {
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        auto v = kAlphabet.find(c);
        if (v == std::string_view::npos) {
            continue; // padding
        }
        bits = (bits << 6) | static_cast<std::uint32_t>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    return out;
}

// Each byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
std::string repaired_utf8(std::string_view bytes) {
    std::string out;
    for (std::size_t i = 0; i < bytes.size();) {
        std::size_t len = 1;
        while (len <= 4 && i + len <= bytes.size() && !is_valid_utf8(bytes.substr(i, len))) {
            ++len;
        }
        if (len > 4 || i + len > bytes.size()) {
            out += "\xef\xbf\xbd";
            ++i;
        } else {
            out += bytes.substr(i, len);
            i += len;
        }
    }
    return out;
}

// pgoutput's forms of values wal2json prints differently: NaN and infinities of numeric types
// (null in wal2json), and message contents that are not UTF-8 text (wal2json passes the bytes
// up to the first NUL; the decoder replaces what is not UTF-8).
std::string as_wal2json_prints_it(std::string line) {
    for (std::string_view special : {"NaN", "Infinity", "-Infinity"}) {
        line = replace_all(line, ":\"" + std::string(special) + "\"", ":null");
    }
    auto [start, end] = find_field(line, "content_base64");
    if (start != std::string::npos) {
        const std::string prefix = "\"content_base64\":\"";
        std::string bytes =
            from_base64(line.substr(start + prefix.size(), end - 1 - start - prefix.size()));
        bytes = bytes.substr(0, bytes.find('\0'));
        std::string content = "\"content\":";
        append_json_string(content, repaired_utf8(bytes));
        line.replace(start, end - start, content);
    }
    return line;
}

} // namespace

TEST_CASE("recorded wal2json streams decode to the expected events", "[wal2json]") {
    auto files = recordings();
    REQUIRE(files.size() >= 7);
    for (const auto& bin : files) {
        DYNAMIC_SECTION(bin.filename().string()) {
            RecordedCatalog catalog(fs::path(bin).replace_extension(".catalog"));
            std::string actual = decode_wal2json(bin, &catalog);
            auto expected_path = fs::path(bin).replace_extension(".expected");
            if (std::getenv("WALBUS_REGENERATE") != nullptr) {
                std::ofstream(expected_path) << actual;
            }
            CHECK(actual == read_text(expected_path));
        }
    }
}

TEST_CASE("wal2json and pgoutput give the same events for the same workload", "[wal2json]") {
    int compared = 0;
    for (const auto& bin : recordings()) {
        auto pg_bin = data_dir("pgoutput") / bin.filename();
        if (!fs::exists(pg_bin)) {
            continue;
        }
        DYNAMIC_SECTION(bin.filename().string()) {
            RecordedCatalog catalog(fs::path(bin).replace_extension(".catalog"));
            auto from_wal2json = comparable_lines(decode_wal2json(bin, &catalog));
            auto from_pgoutput = comparable_lines(decode_pgoutput(pg_bin));
            REQUIRE(from_wal2json.size() == from_pgoutput.size());
            for (std::size_t i = 0; i < from_wal2json.size(); ++i) {
                INFO("line " << i + 1);
                CHECK(normalise(from_wal2json[i]) ==
                      normalise(as_wal2json_prints_it(from_pgoutput[i])));
            }
        }
        ++compared;
    }
    CHECK(compared >= 6);
}

TEST_CASE("the comparison leaves out only what may differ", "[wal2json]") {
    CHECK(normalise("RELATION public.typed identity=d columns=id:23:key,m:16487,n:1700(786440)") ==
          "RELATION public.typed identity=d columns=id:23:key,m:user-type,n:1700(786440)");
    CHECK(
        normalise(
            R"({"op":"truncate","source":{"schema":"public","table":"t","lsn":"0/1","commit_lsn":"0/2","seq":3,"xid":5,"commit_time":"x","origin":"o"},"truncate":{"cascade":true,"restart_identity":false},"key":null})") ==
        R"({"op":"truncate","source":{"schema":"public","table":"t","lsn":"*","commit_lsn":"*","seq":3,"xid":*,"commit_time":"*"},"truncate":{},"key":null})");
    CHECK(
        as_wal2json_prints_it(
            R"({"after":{"f":"NaN","g":"-Infinity","t":"NaN!"},"message":{"content_base64":"/0EAQg=="}})") ==
        R"({"after":{"f":null,"g":null,"t":"NaN!"},"message":{"content":")"
        "\xef\xbf\xbd"
        R"(A"}})");
}

TEST_CASE("without a catalog, tables are described from the messages", "[wal2json]") {
    for (const auto& bin : recordings()) {
        DYNAMIC_SECTION(bin.filename().string()) {
            RecordedCatalog catalog(fs::path(bin).replace_extension(".catalog"));
            auto with = change_lines(decode_wal2json(bin, &catalog));
            auto without = change_lines(decode_wal2json(bin, nullptr));
            REQUIRE(with.size() == without.size());
            for (std::size_t i = 0; i < with.size(); ++i) {
                if (with[i] == without[i]) {
                    continue;
                }
                // Only the key of an insert into a table whose replica identity is not its
                // primary key, before its first UPDATE or DELETE told the identity columns.
                INFO(without[i]);
                auto [start, end] = find_field(without[i], "table");
                REQUIRE(start != std::string::npos);
                auto identity = catalog.identity(
                    without[i].substr(start + 9, end - 1 - start - 9)); // "table":"...
                CHECK((identity == ReplicaIdentity::Full || identity == ReplicaIdentity::Index));
                CHECK(without[i].starts_with(R"({"op":"insert")"));
                CHECK(replace_field(with[i], "key", "") == replace_field(without[i], "key", ""));
            }
        }
    }
}

TEST_CASE("a table description is reused while messages fit it", "[wal2json]") {
    for (bool with_catalog : {false, true}) {
        RecordedCatalog catalog(data_dir("wal2json") / "dml.catalog");
        Wal2jsonDecoder decoder(with_catalog ? &catalog : nullptr);
        DecodedMessage m;
        std::map<std::string, std::vector<const Relation*>> seen;
        for (const auto& rec : read_recording(data_dir("wal2json") / "dml.bin")) {
            REQUIRE(decoder.decode(rec.data, rec.wal_start, m));
            for (const auto& c : m.changes) {
                if (c.relation) {
                    auto& list = seen[c.relation->table];
                    if (list.empty() || list.back() != c.relation.get()) {
                        list.push_back(c.relation.get());
                    }
                }
            }
        }
        REQUIRE(seen.size() == 3);
        for (const auto& [table, list] : seen) {
            INFO(table << (with_catalog ? " with" : " without") << " a catalog");
            CHECK(list.size() == 1);
        }
        if (with_catalog) {
            CHECK(catalog.calls == 3); // once per table
        }
        auto rel = decoder.relation("public", "catalog_items");
        REQUIRE(rel);
        CHECK((rel->oid != 0) == with_catalog);
        CHECK(rel->columns.at(2).typmod == 655366); // numeric(10,2), from the type name
    }
}

TEST_CASE("every truncation of every recorded wal2json message is an error naming the lsn",
          "[wal2json]") {
    for (const auto& bin : recordings()) {
        RecordedCatalog catalog(fs::path(bin).replace_extension(".catalog"));
        Wal2jsonDecoder decoder(&catalog);
        walbus::test::check_every_truncation(bin, decoder);
    }
}

TEST_CASE("corrupted wal2json messages never crash the decoder", "[wal2json]") {
    std::uint64_t rng = 0x9e3779b97f4a7c15ULL;
    auto next = [&] {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
    };
    std::size_t errors = 0;
    std::string json;
    for (const auto& bin : recordings()) {
        for (bool with_catalog : {false, true}) {
            RecordedCatalog catalog(fs::path(bin).replace_extension(".catalog"));
            Wal2jsonDecoder decoder(with_catalog ? &catalog : nullptr);
            DecodedMessage m;
            for (const auto& rec : read_recording(bin)) {
                // Every byte of short messages; a sample of the long ones.
                const std::size_t step = rec.data.size() > 2000 ? 7 : 1;
                for (std::size_t i = 0; i < rec.data.size(); i += step) {
                    const unsigned char values[] = {'"', '}',  ',',
                                                    '0', 0xff, static_cast<unsigned char>(next())};
                    for (unsigned char v : values) {
                        std::string bad = rec.data;
                        bad[i] = static_cast<char>(v);
                        Wal2jsonDecoder copy = decoder;
                        auto r = copy.decode(bad, rec.wal_start, m);
                        if (!r) {
                            ++errors;
                            CHECK(r.error().message.find(rec.wal_start.str()) != std::string::npos);
                            CHECK_FALSE(copy.in_transaction());
                        } else {
                            for (const auto& c : m.changes) {
                                json.clear();
                                append_change_json(json, c);
                            }
                        }
                    }
                }
                REQUIRE(decoder.decode(rec.data, rec.wal_start, m));
            }
        }
    }
    CHECK(errors > 0);
}

namespace {

// Decodes hand-written messages in one transaction (Begin at commit LSN 0/100, xid 7).
struct Session {
    Wal2jsonDecoder decoder;
    DecodedMessage m;

    explicit Session(RelationCatalog* catalog = nullptr) : decoder(catalog) {
        auto ok = decoder.decode(
            R"({"action":"B","xid":7,"timestamp":"2026-11-22 04:00:16.977838+00","lsn":"0/100","nextlsn":"0/130"})",
            Lsn{0x10}, m);
        REQUIRE(ok);
    }

    Result<void> decode(std::string_view json, Lsn at = Lsn{0x20}) {
        return decoder.decode(json, at, m);
    }

    std::string change_json() {
        REQUIRE(m.changes.size() == 1);
        std::string out;
        append_change_json(out, m.changes[0]);
        return out;
    }
};

std::string insert_with(std::string_view column) {
    return R"({"action":"I","xid":7,"lsn":"0/20","schema":"public","table":"t","columns":[)" +
           std::string(column) + R"(],"pk":[]})";
}

} // namespace

TEST_CASE("wal2json values come back in PostgreSQL's text form", "[wal2json]") {
    struct Case {
        std::string column;
        ValueKind kind;
        std::string text;
    };
    const Case cases[] = {
        {R"({"name":"b","type":"boolean","typeoid":16,"value":true})", ValueKind::Text, "t"},
        {R"({"name":"b","type":"boolean","typeoid":16,"value":false})", ValueKind::Text, "f"},
        {R"({"name":"n","type":"numeric","typeoid":1700,"value":39.00})", ValueKind::Text, "39.00"},
        {R"({"name":"f","type":"double precision","typeoid":701,"value":-1.5e-300})",
         ValueKind::Text, "-1.5e-300"},
        {R"({"name":"i","type":"bigint","typeoid":20,"value":9223372036854775807})",
         ValueKind::Text, "9223372036854775807"},
        {R"({"name":"s","type":"text","typeoid":25,"value":"a\"\\\n\u00e9\u0000"})",
         ValueKind::Text, std::string("a\"\\\n\xc3\xa9\0", 7)},
        {R"({"name":"by","type":"bytea","typeoid":17,"value":"00ff"})", ValueKind::Text, "\\x00ff"},
        {R"({"name":"j","type":"jsonb","typeoid":3802,"value":"{\"a\": 1}"})", ValueKind::Text,
         R"({"a": 1})"},
        {R"({"name":"x","type":"text","typeoid":25,"value":null})", ValueKind::Null, ""},
        // typeoid is printed with %d: OIDs from 2^31 on come out negative.
        {R"({"name":"m","type":"mood","typeoid":-2147483000,"value":"ok"})", ValueKind::Text, "ok"},
    };
    for (const auto& c : cases) {
        INFO(c.column);
        Session s;
        auto ok = s.decode(insert_with(c.column));
        if (!ok) {
            FAIL(ok.error().message);
        }
        REQUIRE(s.m.changes.size() == 1);
        const auto& v = s.m.changes[0].after.values.at(0);
        CHECK(v.kind == c.kind);
        CHECK(v.data == c.text);
    }
    Session s;
    REQUIRE(s.decode(insert_with(R"({"name":"m","type":"mood","typeoid":-2147483000,"value":1})")));
    CHECK(s.m.changes[0].relation->columns[0].type_oid == 2147484296U);
}

TEST_CASE("typmods are read from wal2json's type names", "[wal2json]") {
    const std::pair<std::string, std::int32_t> cases[] = {
        {R"~("type":"numeric(10,2)","typeoid":1700)~", 655366},
        {R"~("type":"numeric(12,4)","typeoid":1700)~", 786440},
        {R"~("type":"numeric(5)","typeoid":1700)~", 327684},
        {R"~("type":"numeric","typeoid":1700)~", -1},
        {R"~("type":"numeric(3,2)[]","typeoid":1231)~", 196614},
        {R"~("type":"character varying(20)","typeoid":1043)~", 24},
        {R"~("type":"character(3)","typeoid":1042)~", 7},
        {R"~("type":"bit varying(5)","typeoid":1562)~", 5},
        {R"~("type":"timestamp(3) without time zone","typeoid":1114)~", 3},
        {R"~("type":"time(0) with time zone","typeoid":1266)~", 0},
        {R"~("type":"interval(3)","typeoid":1186)~", -1},
        {R"~("type":"\"My Type\"(3)","typeoid":90000)~", -1},
        {R"~("type":"numeric(10,2","typeoid":1700)~", -1},
    };
    for (const auto& [type, typmod] : cases) {
        INFO(type);
        Session s;
        REQUIRE(s.decode(insert_with(R"({"name":"c",)" + type + R"(,"value":null})")));
        CHECK(s.m.changes[0].relation->columns[0].typmod == typmod);
    }
}

TEST_CASE("wal2json transactions give positions, xids and commit times", "[wal2json]") {
    Session s;
    CHECK(s.m.kind == MessageKind::Begin);
    CHECK(s.m.xid == 7);
    CHECK(s.m.commit_lsn == Lsn{0x100});
    CHECK(s.m.commit_time_us == 1795320016977838);
    REQUIRE(s.decode(insert_with(R"({"name":"id","type":"integer","typeoid":23,"value":1})")));
    REQUIRE(s.decode(insert_with(R"({"name":"id","type":"integer","typeoid":23,"value":2})"),
                     Lsn{0x40}));
    const ChangeEvent& c = s.m.changes.at(0);
    CHECK(c.position == Position{Lsn{0x100}, 1});
    CHECK(c.lsn == Lsn{0x20}); // the message's "lsn", not where it was sent from
    CHECK(c.xid == 7);
    CHECK(c.commit_time_us == 1795320016977838);
    REQUIRE(s.decode(
        R"({"action":"C","xid":7,"timestamp":"2026-11-22 04:00:16.977838+00","lsn":"0/100","nextlsn":"0/130"})",
        Lsn{0x130}));
    CHECK(s.m.kind == MessageKind::Commit);
    CHECK(s.m.changes.empty());
    CHECK(s.m.end_lsn == Lsn{0x130});
    CHECK_FALSE(s.decoder.in_transaction());

    // Other time zones and precisions of timestamptz_to_str.
    const std::pair<std::string, std::int64_t> times[] = {
        {"2026-11-22 04:00:16+00", 1795320016000000},
        {"2026-11-21 23:00:16.5-05", 1795320016500000},
        {"2026-11-22 09:30:16.000001+05:30", 1795320016000001},
        {"1999-12-31 23:59:59.999999+00", 946684799999999},
        {"2000-03-01 00:00:00+00:00:36", 951868764000000},
    };
    for (const auto& [text, us] : times) {
        Wal2jsonDecoder d;
        DecodedMessage m;
        auto ok = d.decode(R"({"action":"B","xid":1,"timestamp":")" + text + R"(","lsn":"0/1"})",
                           Lsn{1}, m);
        INFO(text);
        REQUIRE(ok);
        CHECK(m.commit_time_us == us);
    }
}

TEST_CASE("unchanged TOAST values and old keys as pgoutput reports them", "[wal2json]") {
    Session s;
    const std::string cols =
        R"({"name":"id","type":"integer","typeoid":23,"value":1},{"name":"body","type":"text","typeoid":25,"value":"long"},{"name":"n","type":"integer","typeoid":23,"value":5})";
    REQUIRE(s.decode(R"({"action":"I","lsn":"0/20","schema":"public","table":"t","columns":[)" +
                     cols + R"(],"pk":[{"name":"id","type":"integer","typeoid":23}]})"));
    auto rel = s.m.changes[0].relation;
    CHECK(s.m.relation == rel);
    // body left out: an unchanged TOAST value; the key did not change: no old key.
    REQUIRE(s.decode(
        R"({"action":"U","lsn":"0/30","schema":"public","table":"t","columns":[{"name":"id","type":"integer","typeoid":23,"value":1},{"name":"n","type":"integer","typeoid":23,"value":6}],"identity":[{"name":"id","type":"integer","typeoid":23,"value":1}],"pk":[{"name":"id","type":"integer","typeoid":23}]})"));
    CHECK(s.m.changes[0].relation == rel);
    CHECK_FALSE(s.m.relation);
    CHECK(
        s.change_json() ==
        R"({"op":"update","source":{"schema":"public","table":"t","lsn":"0/30","commit_lsn":"0/100","seq":1,"xid":7,"commit_time":"2026-11-22T04:00:16.977838Z","unchanged_toast":["body"]},"key":{"id":1},"before":null,"after":{"id":1,"n":6}})");
    CHECK(s.m.changes[0].after.values[1].kind == ValueKind::Unchanged);
    // A new key: the old one comes as a key tuple.
    REQUIRE(s.decode(
        R"({"action":"U","lsn":"0/40","schema":"public","table":"t","columns":[{"name":"id","type":"integer","typeoid":23,"value":2},{"name":"body","type":"text","typeoid":25,"value":"x"},{"name":"n","type":"integer","typeoid":23,"value":6}],"identity":[{"name":"id","type":"integer","typeoid":23,"value":1}],"pk":[{"name":"id","type":"integer","typeoid":23}]})"));
    CHECK(s.m.changes[0].before.kind == TupleKind::Key);
    CHECK(s.m.changes[0].before.values[1].kind == ValueKind::Null);
    CHECK_THAT(s.change_json(), Catch::Contains(R"("key":{"id":2},"before":{"id":1},)"));
    // A fixed-length column left out is not a TOAST value: the table changed (a dropped column).
    REQUIRE(s.decode(
        R"({"action":"U","lsn":"0/50","schema":"public","table":"t","columns":[{"name":"id","type":"integer","typeoid":23,"value":2},{"name":"body","type":"text","typeoid":25,"value":"x"}],"identity":[{"name":"id","type":"integer","typeoid":23,"value":2}],"pk":[{"name":"id","type":"integer","typeoid":23}]})"));
    REQUIRE(s.m.relation);
    CHECK(s.m.relation->columns.size() == 2);
    CHECK(s.decoder.relation("public", "t") == s.m.relation);
}

TEST_CASE("wal2json messages, non-transactional and not UTF-8", "[wal2json]") {
    Wal2jsonDecoder d;
    DecodedMessage m;
    REQUIRE(d.decode(
        R"({"action":"M","xid":null,"timestamp":null,"lsn":"0/2A4B2F8","transactional":false,"prefix":"p","content":"c"})",
        Lsn{0x2A4B2F8}, m));
    REQUIRE(m.changes.size() == 1);
    std::string json;
    append_change_json(json, m.changes[0]);
    CHECK(
        json ==
        R"({"op":"message","source":{"lsn":"0/2A4B2F8","commit_lsn":"0/2A4B2F8","seq":0},"message":{"transactional":false,"prefix":"p","content":"c"}})");
    // wal2json passes message bytes that are not UTF-8 as they are: they are replaced.
    REQUIRE(d.decode("{\"action\":\"M\",\"lsn\":\"0/9\",\"transactional\":false,\"prefix\":\"p\","
                     "\"content\":\"\xff"
                     "A\xc3\"}",
                     Lsn{9}, m));
    CHECK(m.changes.at(0).content == "\xef\xbf\xbd"
                                     "A\xef\xbf\xbd");
    // A transactional message needs its transaction.
    auto r = d.decode(
        R"({"action":"M","xid":3,"lsn":"0/9","transactional":true,"prefix":"p","content":"c"})",
        Lsn{9}, m);
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "malformed wal2json Message message at LSN 0/9: change outside a transaction (no Begin)");
}

TEST_CASE("wal2json protocol misuse is reported", "[wal2json]") {
    const Lsn at{0x1234};
    Wal2jsonDecoder d;
    DecodedMessage m;
    auto error = [&](std::string_view json) {
        auto r = d.decode(json, at, m);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::Protocol);
        CHECK_FALSE(d.in_transaction());
        return r.error().message;
    };
    const std::string insert =
        insert_with(R"({"name":"id","type":"integer","typeoid":23,"value":1})");
    CHECK(error(insert) == "malformed wal2json Insert message at LSN 0/1234: change outside a "
                           "transaction (no Begin)");
    CHECK(error("") == "malformed wal2json message at LSN 0/1234: empty message");
    CHECK(error(R"({"action":"X"})") ==
          "malformed wal2json message at LSN 0/1234: unknown action \"X\"");
    CHECK(error("[1]") == "malformed wal2json message at LSN 0/1234: not a JSON object");
    CHECK(error(R"({"xid":1})") == "malformed wal2json message at LSN 0/1234: no \"action\"");
    CHECK(error(R"({"action":"B","xid":1})") ==
          "malformed wal2json Begin message at LSN 0/1234: no \"lsn\" (start wal2json with "
          "include-lsn 1)");
    CHECK(error(R"({"action":"B","lsn":"0/1"} {})") ==
          "malformed wal2json Begin message at LSN 0/1234: unexpected content after the JSON "
          "object");
    CHECK(error(R"({"action":"C","lsn":"0/1"})") ==
          "malformed wal2json Commit message at LSN 0/1234: Commit without a Begin");
    CHECK(error(R"({"action":"B","lsn":"0/1","timestamp":"yesterday"})") ==
          "malformed wal2json Begin message at LSN 0/1234: \"timestamp\" is not a timestamp: "
          "\"yesterday\"");

    auto begin = [&] {
        REQUIRE(d.decode(R"({"action":"B","xid":5,"lsn":"0/100","nextlsn":"0/130"})", at, m));
    };
    begin();
    CHECK(error(R"({"action":"B","xid":6,"lsn":"0/200"})") ==
          "malformed wal2json Begin message at LSN 0/1234: Begin inside an open transaction");
    begin();
    CHECK(error(R"({"action":"C","xid":5,"lsn":"0/101"})") ==
          "malformed wal2json Commit message at LSN 0/1234: commit LSN 0/101 differs from "
          "Begin's 0/100");
    begin();
    CHECK_THAT(error(R"({"action":"I","xid":6,"schema":"public","table":"t","columns":[]})"),
               Catch::EndsWith("xid 6 differs from Begin's 5"));
    begin();
    CHECK_THAT(error(insert_with(R"({"name":"id","type":"integer","value":1})")),
               Catch::EndsWith("column \"id\" in \"columns\" has no \"typeoid\" (start wal2json "
                               "with include-type-oids 1)"));
    begin();
    CHECK_THAT(error(insert_with(R"({"name":"id","type":"integer","typeoid":23,"value":[1]})")),
               Catch::EndsWith("value of column \"id\" is an array or an object"));
    begin();
    CHECK_THAT(error(insert_with(R"({"name":"id","type":"integer","typeoid":23,"value":1x})")),
               Catch::EndsWith("value of column \"id\" is not a number"));
    begin();
    CHECK_THAT(error(R"({"action":"U","schema":"public","table":"t"})"),
               Catch::EndsWith("no \"columns\""));
    begin();
    CHECK_THAT(
        error(
            R"({"action":"U","schema":"s","table":"u","columns":[{"name":"a","typeoid":23,"value":1}],"identity":[{"name":"b","typeoid":23,"value":1}]})"),
        Catch::EndsWith("the identity columns are not columns of the row"));
    begin();
    CHECK_THAT(error(R"({"action":"I","table":"t","columns":[]})"),
               Catch::EndsWith("no \"schema\" or \"table\""));
    // A copy keeps the state; an error in the copy leaves the original alone.
    begin();
    Wal2jsonDecoder copy = d;
    REQUIRE_FALSE(copy.decode("{", at, m));
    CHECK(d.in_transaction());
    CHECK_FALSE(copy.in_transaction());
}

TEST_CASE("wal2json options and add-tables", "[wal2json]") {
    std::string options;
    for (const auto& o : kWal2jsonOptions) {
        options += std::string(o.name) + "=" + std::string(o.value) + " ";
    }
    CHECK(options == "format-version=2 include-xids=1 include-timestamp=1 include-lsn=1 "
                     "include-pk=1 include-type-oids=1 include-typmod=1 ");

    // Names as source.tables writes them: unquoted names fold to lower case; quoted ones keep
    // their case and may hold dots and quotes.
    const std::vector<std::string> tables = {
        "orders",          "public.catalog_items", R"("Odd Schema"."we""ird.tab,le*")",
        R"(public."a\b")", "Sales.Orders",         R"("*".t)",
        R"(s."*")"};
    // The same escaping record.sh uses; the recorded quirks case shows wal2json reads it.
    CHECK(wal2json_add_tables(tables) == R"(public.orders,public.catalog_items,)"
                                         R"(Odd\ Schema.we"ird\.tab\,le\*,public.a\\b,)"
                                         R"(sales.orders,\*.t,s.\*)");
    CHECK(wal2json_add_tables({}) == "");
}
