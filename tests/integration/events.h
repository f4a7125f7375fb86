#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace walbus::test {

// One JSON line of walbus output, taken apart. Column values are kept as minified JSON text.
struct Event {
    std::string op;
    std::string schema;
    std::string table;
    std::string lsn;
    std::string commit_lsn;
    std::uint64_t seq = 0;
    std::uint64_t xid = 0;
    std::optional<std::map<std::string, std::string>> key;
    std::optional<std::map<std::string, std::string>> before;
    std::optional<std::map<std::string, std::string>> after;
    std::vector<std::string> unchanged_toast;
    std::string raw;
};

std::vector<Event> parse_events(const std::filesystem::path& jsonl);
std::vector<Event> parse_event_lines(const std::string& text);

// (commit_lsn, seq) as a comparable pair, for ordering and uniqueness checks.
std::pair<std::uint64_t, std::uint64_t> position_of(const Event& e);

// Every event's position is strictly greater than the one before (commit order, no repeats).
bool strictly_ordered(const std::vector<Event>& events);

// Checks that every line is a JSON log object with time, level and msg; returns how many.
int parse_log_lines(const std::string& text);

} // namespace walbus::test
