#include <catch2/catch.hpp>

#include "walbus/pipeline/backoff.h"

using namespace std::chrono_literals;

TEST_CASE("backoff grows, is jittered and capped", "[pipeline]") {
    walbus::Backoff b(100ms, 2000ms, 42);
    auto first = b.next();
    CHECK(first >= 50ms);
    CHECK(first <= 100ms);
    auto second = b.next();
    CHECK(second >= 100ms);
    CHECK(second <= 200ms);
    for (int i = 2; i < 100; ++i) {
        auto d = b.next();
        CHECK(d <= 2000ms);
        if (i >= 5) { // 100ms · 2^5 is past the cap: from here on, between cap/2 and cap
            CHECK(d >= 1000ms);
        }
    }
    b.reset();
    CHECK(b.next() <= 100ms);

    // Two instances with different seeds do not retry in lockstep.
    walbus::Backoff x(100ms, 60000ms, 1), y(100ms, 60000ms, 2);
    int same = 0;
    for (int i = 0; i < 10; ++i) {
        same += x.next() == y.next() ? 1 : 0;
    }
    CHECK(same < 10);
}
