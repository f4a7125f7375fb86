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

TEST_CASE("a cut-off transaction is taken back, written or not", "[sink]") {
    std::string tmpl = (fs::temp_directory_path() / "walbus-sink-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    fs::path path = fs::path(tmpl) / "out.jsonl";
    auto opened = LineSink::open_file(path.string(), false);
    REQUIRE(opened);
    auto& sink = **opened;
    REQUIRE(sink.recover(0));
    CHECK(sink.can_rewind());
    sink.append("committed\n");
    REQUIRE(sink.flush().value() == 10);
    auto mark = sink.end_offset();
    sink.append("partial 1\n");
    REQUIRE(sink.write_out()); // a large transaction goes out before its Commit
    CHECK(sink.buffered() == 0);
    CHECK(read_all(path) == "committed\npartial 1\n");
    sink.append("partial 2\n");
    CHECK(sink.end_offset() == 30);
    REQUIRE(sink.rewind(mark));
    CHECK(sink.end_offset() == 10);
    CHECK(read_all(path) == "committed\n");
    sink.append("again\n");
    REQUIRE(sink.flush().value() == 16);
    CHECK(read_all(path) == "committed\nagain\n");
    CHECK_FALSE(sink.rewind(100));

    // Standard output cannot take back what it wrote, only what it still buffers.
    auto out = LineSink::open_stdout();
    REQUIRE(out);
    REQUIRE((*out)->recover(500));
    CHECK_FALSE((*out)->can_rewind());
    CHECK((*out)->end_offset() == 500);
    (*out)->append("never shown\n");
    REQUIRE((*out)->rewind(500));
    CHECK((*out)->buffered() == 0);
    fs::remove_all(tmpl);
}
