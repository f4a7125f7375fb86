#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "walbus/sink/line_sink.h"

using namespace walbus;
namespace fs = std::filesystem;

namespace {
std::string read_all(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
} // namespace

TEST_CASE("file sink truncates what was written after the checkpoint", "[sink]") {
    std::string tmpl = (fs::temp_directory_path() / "walbus-sink-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    fs::path path = fs::path(tmpl) / "out.jsonl";
    {
        auto sink = LineSink::open_file(path.string(), true);
        REQUIRE(sink);
        REQUIRE((*sink)->recover(0));
        (*sink)->append("one\n");
        CHECK((*sink)->buffered() == 4);
        auto off = (*sink)->flush();
        REQUIRE(off);
        CHECK(*off == 4);
        (*sink)->append("two\n"); // never flushed: lost with the process
        (*sink)->append("three\n");
        REQUIRE((*sink)->flush().value() == 14);
    }
    // A crash after "two" and "three" were written but before the checkpoint moved past them:
    // the checkpoint still says 4 bytes.
    {
        auto sink = LineSink::open_file(path.string(), true);
        REQUIRE(sink);
        REQUIRE((*sink)->recover(4));
        CHECK(read_all(path) == "one\n");
        (*sink)->append("two\n");
        REQUIRE((*sink)->flush().value() == 8);
    }
    CHECK(read_all(path) == "one\ntwo\n");

    // A file shorter than the checkpoint says was changed outside walbus: refuse.
    auto sink = LineSink::open_file(path.string(), true);
    REQUIRE(sink);
    auto r = (*sink)->recover(100);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("truncated or replaced outside walbus") != std::string::npos);
    fs::remove_all(tmpl);
}
