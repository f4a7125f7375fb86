#include "events.h"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "walbus/core/lsn.h"

namespace walbus::test {
namespace {

std::optional<std::map<std::string, std::string>> object_of(simdjson::dom::element e) {
    if (e.is_null()) {
        return std::nullopt;
    }
    std::map<std::string, std::string> out;
    for (auto [k, v] : e.get_object()) {
        out[std::string(k)] = simdjson::minify(v);
    }
    return out;
}

} // namespace

std::vector<Event> parse_event_lines(const std::string& text) {
    simdjson::dom::parser parser;
    std::vector<Event> events;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) {
            continue;
        }
        simdjson::dom::element doc;
        auto err = parser.parse(line).get(doc);
        INFO("line: " << line);
        REQUIRE(err == simdjson::SUCCESS);
        Event e;
        e.raw = line;
        e.op = std::string(doc["op"].get_string().value());
        auto src = doc["source"];
        if (auto s = src["schema"]; s.error() == simdjson::SUCCESS) {
            e.schema = std::string(s.get_string().value());
            e.table = std::string(src["table"].get_string().value());
        }
        e.lsn = std::string(src["lsn"].get_string().value());
        e.commit_lsn = std::string(src["commit_lsn"].get_string().value());
        e.seq = src["seq"].get_uint64().value();
        if (auto x = src["xid"]; x.error() == simdjson::SUCCESS) {
            e.xid = x.get_uint64().value();
        }
        if (auto u = src["unchanged_toast"]; u.error() == simdjson::SUCCESS) {
            for (auto c : u.get_array()) {
                e.unchanged_toast.emplace_back(c.get_string().value());
            }
        }
        if (e.op != "message") {
            e.key = object_of(doc["key"].value());
            e.before = object_of(doc["before"].value());
            e.after = object_of(doc["after"].value());
        }
        events.push_back(std::move(e));
    }
    return events;
}

std::vector<Event> parse_events(const std::filesystem::path& jsonl) {
    std::ifstream in(jsonl);
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_event_lines(ss.str());
}

std::pair<std::uint64_t, std::uint64_t> position_of(const Event& e) {
    auto lsn = Lsn::parse(e.commit_lsn);
    REQUIRE(lsn);
    return {lsn->value, e.seq};
}

bool strictly_ordered(const std::vector<Event>& events) {
    for (std::size_t i = 1; i < events.size(); ++i) {
        if (!(position_of(events[i - 1]) < position_of(events[i]))) {
            return false;
        }
    }
    return true;
}

int parse_log_lines(const std::string& text) {
    simdjson::dom::parser parser;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        INFO("log line: " << line);
        simdjson::dom::element doc;
        REQUIRE(parser.parse(line).get(doc) == simdjson::SUCCESS);
        CHECK(doc["time"].is_string());
        CHECK(doc["level"].is_string());
        CHECK(doc["msg"].is_string());
        ++n;
    }
    return n;
}

} // namespace walbus::test
