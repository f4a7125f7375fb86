#pragma once

// Reading `walbus status --json` in the status tests.

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <string>
#include <string_view>

namespace walbus::test {

inline simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text) {
    simdjson::dom::element doc;
    INFO("walbus status --json printed:\n" << text);
    REQUIRE(parser.parse(text).get(doc) == simdjson::SUCCESS);
    return doc;
}

inline std::string str(simdjson::dom::element e) {
    std::string_view v;
    REQUIRE(e.get(v) == simdjson::SUCCESS);
    return std::string(v);
}

} // namespace walbus::test
