#include <catch2/catch.hpp>

#include "walbus/source/replication_stream.h"

using walbus::source::quote_ident;
using walbus::source::quote_literal;
using walbus::source::split_table_name;
using Names = std::pair<std::string, std::string>;

TEST_CASE("table names follow PostgreSQL's identifier rules", "[source]") {
    CHECK(split_table_name("orders") == Names{"public", "orders"});
    CHECK(split_table_name("sales.orders") == Names{"sales", "orders"});
    CHECK(split_table_name("Sales.Orders") == Names{"sales", "orders"});
    CHECK(split_table_name("\"Sales\".\"Q1.totals\"") == Names{"Sales", "Q1.totals"});
    CHECK(split_table_name("\"say \"\"hi\"\"\"") == Names{"public", "say \"hi\""});
}

TEST_CASE("sql quoting", "[source]") {
    CHECK(quote_literal("it's") == "'it''s'");
    CHECK(quote_ident("My \"Pub\"") == "\"My \"\"Pub\"\"\"");
}
