// Configuration loading. The cases live in tests/data/config:
//   valid/<case>.yaml    loads without diagnostics; its "# expect: key = value" comment lines
//                        list every field of the resulting Config, in the order of dump() below.
//   invalid/<case>.yaml  fails; invalid/<case>.expected holds the exact diagnostic lines.
// Both are loaded with the fake environment kEnv. A new case is new files.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "walbus/config/config.h"
#include "walbus/pipeline/setup.h"

namespace {

namespace fs = std::filesystem;
using walbus::config::Config;
using walbus::config::Diagnostic;
using walbus::config::EnvLookup;
using walbus::config::LoadResult;

// Every password in the test data is this one, so no diagnostic may contain it.
constexpr std::string_view kPassword = "hunter2";

const std::map<std::string, std::string, std::less<>> kEnv{
    {"PG_HOST", "db.internal"},
    {"PG_PASSWORD", std::string(kPassword)},
    {"SCHEMA", "sales"},
    {"STATE_DIR", "/var/lib/walbus"},
    {"FSYNC", "false"},
    {"FLUSH", "50ms"},
    {"EMPTY", ""},
};

const EnvLookup kFakeEnv = [](std::string_view name) -> std::optional<std::string> {
    const auto it = kEnv.find(name);
    return it == kEnv.end() ? std::nullopt : std::optional<std::string>(it->second);
};

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

std::vector<fs::path> cases_in(const fs::path& dir) {
    std::vector<fs::path> cases;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".yaml") {
            cases.push_back(entry.path());
        }
    }
    std::ranges::sort(cases);
    return cases;
}

std::vector<std::string> diagnostic_lines(const std::vector<Diagnostic>& diagnostics) {
    std::vector<std::string> lines;
    for (const Diagnostic& d : diagnostics) {
        lines.push_back(d.str());
    }
    return lines;
}

std::vector<std::string> diagnostic_lines(const LoadResult& result) {
    return diagnostic_lines(result.diagnostics);
}

std::string quoted(const std::string& text) {
    return '"' + text + '"';
}

// Every field of a Config, written independently of the library's key table.
std::vector<std::string> dump(const Config& c) {
    const auto ms = [](std::chrono::milliseconds value) {
        return std::to_string(value.count()) + "ms";
    };
    const auto boolean = [](bool value) { return std::string(value ? "true" : "false"); };
    std::string tables = "[";
    for (const std::string& table : c.source.tables) {
        tables += (tables.size() > 1 ? ", " : "") + quoted(table);
    }
    tables += "]";
    std::vector<std::string> lines{
        "name = " + quoted(c.name),
        "source.dsn = " + quoted(c.source.dsn),
        "source.slot = " + quoted(c.source.slot),
        "source.publication = " + quoted(c.source.publication),
        "source.tables = " + tables,
        "source.create_slot = " + boolean(c.source.create_slot),
        "source.create_publication = " + boolean(c.source.create_publication),
        std::string("source.decoder = ") +
            (c.source.decoder == walbus::config::DecoderType::Wal2json ? "wal2json" : "pgoutput"),
        "source.status_interval = " + ms(c.source.status_interval),
        "source.reconnect_timeout = " + ms(c.source.reconnect_timeout),
        "source.reconnect_backoff_max = " + ms(c.source.reconnect_backoff_max),
        std::string("sink.type = ") + (c.sink.type == walbus::config::SinkType::File    ? "file"
                                       : c.sink.type == walbus::config::SinkType::Kafka ? "kafka"
                                                                                        : "stdout"),
        "sink.path = " + quoted(c.sink.path),
        "sink.flush_interval = " + ms(c.sink.flush_interval),
        "sink.flush_bytes = " + std::to_string(c.sink.flush_bytes),
        "sink.flush_events = " + std::to_string(c.sink.flush_events),
        "sink.fsync = " + boolean(c.sink.fsync),
        std::string("format.numeric = ") +
            (c.format.numeric == walbus::config::NumericFormat::Number ? "number" : "string"),
        std::string("format.bytea = ") +
            (c.format.bytea == walbus::config::BytesFormat::Hex ? "hex" : "base64"),
        std::string("format.toast = ") +
            (c.format.toast == walbus::config::ToastPolicy::Omit     ? "omit"
             : c.format.toast == walbus::config::ToastPolicy::Marker ? "marker"
                                                                     : "error"),
        "checkpoint.type = file",
        "checkpoint.path = " + quoted(c.checkpoint.path),
    };
    if (c.sink.type == walbus::config::SinkType::Kafka) {
        const auto& k = c.sink.kafka;
        for (const walbus::config::MapEntry& e : k.properties) {
            lines.push_back("sink.kafka.properties." + e.key + " = " + quoted(e.value));
        }
        lines.push_back(
            std::string("sink.kafka.mode = ") +
            (k.mode == walbus::config::KafkaMode::ExactlyOnce ? "exactly_once" : "at_least_once"));
        lines.push_back("sink.kafka.transactional_id = " + quoted(k.transactional_id));
        lines.push_back("sink.kafka.progress_topic = " + quoted(k.progress_topic));
        lines.push_back("sink.kafka.create_topics = " + boolean(k.create_topics));
        lines.push_back("sink.kafka.timeout = " + ms(k.timeout));
    }
    return lines;
}

std::vector<std::string> expectations_in(const std::string& yaml) {
    constexpr std::string_view kMarker = "# expect: ";
    std::vector<std::string> expected;
    for (const std::string& line : lines_of(yaml)) {
        if (line.starts_with(kMarker)) {
            expected.push_back(line.substr(kMarker.size()));
        }
    }
    return expected;
}

const fs::path kDataDir = fs::path(WALBUS_TEST_DATA_DIR) / "config";

} // namespace

TEST_CASE("valid configurations load with the expected values", "[config]") {
    const std::vector<fs::path> cases = cases_in(kDataDir / "valid");
    REQUIRE(cases.size() >= 5);
    for (const fs::path& path : cases) {
        INFO("case " << path.filename().string());
        const std::string yaml = read_text(path);
        const LoadResult result =
            walbus::config::load_string(yaml, path.filename().string(), kFakeEnv);
        CHECK(diagnostic_lines(result) == std::vector<std::string>{});
        REQUIRE(result.config.has_value());
        CHECK(diagnostic_lines(
                  walbus::prepare_config(result, path.filename().string()).diagnostics) ==
              std::vector<std::string>{});
        const std::vector<std::string> expected = expectations_in(yaml);
        REQUIRE(!expected.empty());
        CHECK(dump(*result.config) == expected);
    }
}

TEST_CASE("invalid configurations produce exactly the expected diagnostics", "[config]") {
    const std::vector<fs::path> cases = cases_in(kDataDir / "invalid");
    REQUIRE(cases.size() >= 40);
    for (const fs::path& path : cases) {
        INFO("case " << path.filename().string());
        fs::path expected_path = path;
        expected_path.replace_extension(".expected");
        REQUIRE(fs::exists(expected_path));
        // The configuration's problems and its rules' (expressions are compiled by mappers/).
        const walbus::PreparedConfig result = walbus::prepare_config(
            walbus::config::load_string(read_text(path), path.filename().string(), kFakeEnv),
            path.filename().string());
        CHECK_FALSE(result.config.has_value());
        CHECK(diagnostic_lines(result.diagnostics) == lines_of(read_text(expected_path)));
        for (const Diagnostic& d : result.diagnostics) {
            CHECK(d.message.find(kPassword) == std::string::npos);
        }
    }
}

TEST_CASE("a secret never appears in a diagnostic", "[config]") {
    const std::string password = "correct-horse-battery";
    const EnvLookup env = [&](std::string_view name) -> std::optional<std::string> {
        if (name == "PG_PASSWORD") {
            return password;
        }
        return std::nullopt;
    };
    const std::vector<std::string> documents{
        // Written in the file, next to bad values.
        "source:\n  dsn: host=db password=" + password +
            "\n  slot: Not-A-Slot\n  status_interval: 10\ncheckpoint:\n  path: /tmp/c\n",
        // Taken from the environment.
        "source:\n  dsn: host=db password=${PG_PASSWORD}\n  publication: ''\n"
        "sink:\n  type: kafka\n",
        // The dsn itself is malformed in each way the loader can complain about.
        "source:\n  dsn: host=db password=" + password + "${\n",
        "source:\n  dsn: host=db password=${" + password + "}\n",
        "source:\n  dsn: [host=db password=" + password + "]\n",
        "source:\n  dsn: {host: db, password: " + password + "}\n",
        "source:\n  dsn: \"host=db password=" + password + "\\q\"\n",
        "source:\n  dsn: host=db password=" + password + "\n  dsn: host=db password=" + password +
            "\n",
        "source: host=db password=" + password + "\n",
        "source:\n  dsn: host=db password=" + password + "\n bad: [\n",
    };
    for (const std::string& yaml : documents) {
        INFO(yaml);
        const LoadResult result = walbus::config::load_string(yaml, "walbus.yaml", env);
        CHECK_FALSE(result.diagnostics.empty());
        for (const Diagnostic& d : result.diagnostics) {
            INFO(d.str());
            CHECK(d.str().find(password) == std::string::npos);
            // Nor any part of it long enough to matter.
            CHECK(d.str().find("horse") == std::string::npos);
        }
    }
}

TEST_CASE("environment variables are looked up through the EnvLookup parameter", "[config]") {
    std::vector<std::string> asked;
    const EnvLookup env = [&](std::string_view name) -> std::optional<std::string> {
        asked.emplace_back(name);
        return name == "DSN" ? std::optional<std::string>("dbname=shop") : std::nullopt;
    };
    const LoadResult result = walbus::config::load_string(
        "source:\n  dsn: ${DSN}\ncheckpoint:\n  path: $${literal}\n", "walbus.yaml", env);
    REQUIRE(result.diagnostics.empty());
    CHECK(result.config->source.dsn == "dbname=shop");
    CHECK(result.config->checkpoint.path == "${literal}");
    CHECK(asked == std::vector<std::string>{"DSN"});

    SECTION("an empty EnvLookup means no variable is set") {
        const LoadResult unset = walbus::config::load_string(
            "source:\n  dsn: ${DSN}\ncheckpoint:\n  path: /tmp/c\n", "walbus.yaml", EnvLookup());
        CHECK(diagnostic_lines(unset) ==
              std::vector<std::string>{"walbus.yaml:2:8: error: environment variable DSN is not "
                                       "set (used by source.dsn); set it in the environment "
                                       "walbus runs in"});
    }
}

TEST_CASE("load_file reads a file and names it in diagnostics", "[config]") {
    SECTION("a readable file") {
        const fs::path path = kDataDir / "valid" / "minimal.yaml";
        const LoadResult result = walbus::config::load_file(path.string());
        CHECK(diagnostic_lines(result) == std::vector<std::string>{});
        REQUIRE(result.config.has_value());
        CHECK(result.config->checkpoint.path == "/var/lib/walbus/checkpoint.json");
    }
    SECTION("a file that does not exist") {
        const std::string path = (kDataDir / "no-such-file.yaml").string();
        const LoadResult result = walbus::config::load_file(path);
        CHECK_FALSE(result.config.has_value());
        CHECK(diagnostic_lines(result) ==
              std::vector<std::string>{path + ": error: cannot read the configuration file: no "
                                              "such file or directory"});
    }
    SECTION("problems carry the path as given") {
        const std::string path = (kDataDir / "invalid" / "unknown_key_suggestion.yaml").string();
        const LoadResult result = walbus::config::load_file(path);
        REQUIRE_FALSE(result.diagnostics.empty());
        CHECK(result.diagnostics.front().file == path);
        CHECK(result.diagnostics.front().str().starts_with(path + ":"));
    }
}

TEST_CASE("a diagnostic without a place prints without line and column", "[config]") {
    CHECK(Diagnostic{"walbus.yaml", 3, 5, "unknown key 'x'"}.str() ==
          "walbus.yaml:3:5: error: unknown key 'x'");
    CHECK(Diagnostic{"walbus.yaml", 0, 0, "the configuration is empty"}.str() ==
          "walbus.yaml: error: the configuration is empty");
}

// Regenerate with `walbus config-doc > docs/configuration.md`, or by running this test with
// WALBUS_REGENERATE_DOCS=1 in the environment.
TEST_CASE("docs/configuration.md matches reference_markdown()", "[config][docs]") {
    const fs::path path = fs::path(WALBUS_DOCS_DIR) / "configuration.md";
    const std::string generated = walbus::config::reference_markdown();
    const char* regenerate = std::getenv("WALBUS_REGENERATE_DOCS");
    if (regenerate != nullptr && std::string_view(regenerate) == "1") {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << generated;
        REQUIRE(out.good());
        WARN("wrote " << path.string());
    }
    REQUIRE(fs::exists(path));
    INFO(path.string() << " is out of date; regenerate it with `walbus config-doc > "
                          "docs/configuration.md` or by running this test with "
                          "WALBUS_REGENERATE_DOCS=1");
    CHECK(read_text(path) == generated);
}

TEST_CASE("the reference documents every key", "[config][docs]") {
    const std::string doc = walbus::config::reference_markdown();
    for (std::string_view key :
         {"name", "source.dsn", "source.slot", "source.publication", "source.tables",
          "source.create_slot", "source.create_publication", "source.status_interval",
          "source.reconnect_timeout", "source.reconnect_backoff_max", "sink.type", "sink.path",
          "sink.flush_interval", "sink.flush_bytes", "sink.fsync", "checkpoint.type",
          "checkpoint.path"}) {
        INFO(key);
        CHECK(doc.find("### `" + std::string(key) + "`") != std::string::npos);
    }
    CHECK(doc.find("| `source.dsn` | string, secret |") != std::string::npos);
}
