#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "walbus/checkpoint/file_checkpoint_store.h"

using namespace walbus;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "walbus-cp-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    return tmpl;
}
} // namespace

TEST_CASE("file checkpoint round trip", "[checkpoint]") {
    auto dir = temp_dir();
    FileCheckpointStore store((dir / "cp").string());
    auto none = store.load();
    REQUIRE(none);
    CHECK_FALSE(none->has_value());

    Checkpoint cp{Position{Lsn{0x16B374D848}, 41}, Lsn{0x16B374D900}, 123456};
    REQUIRE(store.store(cp));
    auto loaded = store.load();
    REQUIRE(loaded);
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->position == cp.position);
    CHECK((*loaded)->end_lsn == cp.end_lsn);
    CHECK((*loaded)->sink_offset == 123456);
    CHECK_FALSE(fs::exists(dir / "cp.tmp"));

    cp.sink_offset = 7;
    REQUIRE(store.store(cp));
    CHECK(store.load()->value().sink_offset == 7);
    fs::remove_all(dir);
}

TEST_CASE("a damaged checkpoint file is an error, not a fresh start", "[checkpoint]") {
    auto dir = temp_dir();
    auto path = dir / "cp";
    FileCheckpointStore store(path.string());
    { std::ofstream(path) << "something else\n"; }
    auto r = store.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("not a walbus checkpoint") != std::string::npos);
    { std::ofstream(path) << "walbus checkpoint v1\ncommit_lsn=0/10\nseq=1\n"; }
    r = store.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("incomplete") != std::string::npos);
    {
        std::ofstream(path)
            << "walbus checkpoint v1\ncommit_lsn=zz\nseq=1\nend_lsn=0/1\nsink_offset=0\n";
    }
    r = store.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(":2: bad value for commit_lsn") != std::string::npos);
    fs::remove_all(dir);
}
