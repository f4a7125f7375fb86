#include <catch2/catch.hpp>

#include "walbus/source/replication_stream.h"

using walbus::source::quote_ident;
using walbus::source::quote_literal;

TEST_CASE("sql quoting", "[source]") {
    CHECK(quote_literal("it's") == "'it''s'");
    CHECK(quote_ident("My \"Pub\"") == "\"My \"\"Pub\"\"\"");
}
