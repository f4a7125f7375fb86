// pipeline::Stager: staging of streamed transactions in memory and spill files.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "walbus/pipeline/stager.h"

using namespace walbus;
using walbus::pipeline::Stager;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("walbus-stager-" + name + "-" + std::to_string(::getpid()))) {
        fs::remove_all(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

struct Message {
    Lsn lsn;
    std::string bytes;
    friend bool operator==(const Message&, const Message&) = default;
};

// A message whose bytes say where it comes from, of a size that varies with n.
Message message(Xid xid, Xid subxid, int n) {
    std::string bytes = std::to_string(xid) + "/" + std::to_string(subxid) + "/" +
                        std::to_string(n) + ":" +
                        std::string(static_cast<std::size_t>(n % 37), 'x');
    return Message{Lsn{static_cast<std::uint64_t>(xid) * 100000 + static_cast<std::uint64_t>(n)},
                   bytes};
}

std::vector<Message> replay(Stager& stager, Xid xid) {
    std::vector<Message> out;
    auto ok = stager.replay(xid, [&](Lsn lsn, std::string_view bytes) -> Result<void> {
        out.push_back(Message{lsn, std::string(bytes)});
        return {};
    });
    REQUIRE(ok);
    return out;
}

std::size_t spill_files(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        n += e.path().filename().string().starts_with("walbus-stage-") ? 1 : 0;
    }
    return n;
}

} // namespace

TEST_CASE("staged messages replay in order across memory and disk", "[stager]") {
    TempDir dir("order");
    const std::size_t budget =
        GENERATE(std::size_t{0}, std::size_t{100}, std::size_t{4096}, std::size_t{1} << 30);
    auto stager = Stager::create(dir.path.string(), budget);
    REQUIRE(stager);
    std::vector<Message> one, two;
    for (int n = 0; n < 500; ++n) {
        Xid xid = n % 3 == 0 ? 2 : 1;
        Message m = message(xid, xid, n);
        REQUIRE(stager->append(xid, xid, m.lsn, m.bytes));
        (xid == 1 ? one : two).push_back(m);
        // Memory stays within the budget after every append (it exceeds it by at most the
        // message being appended, and only until that append has spilled).
        CHECK(stager->memory_bytes() <= budget);
    }
    CHECK(stager->transactions() == 2);
    if (budget < 4096) {
        CHECK(stager->disk_bytes() > 0);
        CHECK(spill_files(dir.path) == 2);
    }
    if (budget == std::size_t{1} << 30) {
        CHECK(stager->disk_bytes() == 0);
        CHECK(spill_files(dir.path) == 0);
    }
    CHECK(replay(*stager, 1) == one);
    CHECK(stager->transactions() == 1);
    CHECK(replay(*stager, 2) == two);
    CHECK(stager->transactions() == 0);
    CHECK(stager->memory_bytes() == 0);
    CHECK(stager->disk_bytes() == 0);
    CHECK(spill_files(dir.path) == 0);
    CHECK(replay(*stager, 1).empty()); // released; a transaction never staged replays nothing
}

TEST_CASE("a zero budget spills everything", "[stager]") {
    TempDir dir("zero");
    auto stager = Stager::create(dir.path.string(), 0);
    REQUIRE(stager);
    std::vector<Message> all;
    for (int n = 0; n < 50; ++n) {
        Message m = message(9, 9, n);
        REQUIRE(stager->append(9, 9, m.lsn, m.bytes));
        all.push_back(m);
        CHECK(stager->memory_bytes() == 0);
    }
    CHECK(fs::exists(stager->file_path(9)));
    CHECK(stager->disk_bytes() == fs::file_size(stager->file_path(9)));
    // A message larger than a read chunk.
    Message huge{Lsn{77}, std::string(3 << 20, 'h')};
    REQUIRE(stager->append(9, 9, huge.lsn, huge.bytes));
    all.push_back(huge);
    Message after = message(9, 9, 999);
    REQUIRE(stager->append(9, 9, after.lsn, after.bytes));
    all.push_back(after);
    CHECK(replay(*stager, 9) == all);
    CHECK_FALSE(fs::exists(stager->file_path(9)));
}

TEST_CASE("a subtransaction's abort drops its changes, not its schema messages", "[stager]") {
    TempDir dir("subxact");
    // 300 bytes: the first messages are spilled, the last ones stay in memory.
    auto stager = Stager::create(dir.path.string(), 300);
    REQUIRE(stager);
    std::vector<Message> kept;
    int n = 0;
    auto add = [&](Xid subxid, Stager::Kind kind, bool keep) {
        Message m = message(1, subxid, n++);
        REQUIRE(stager->append(1, subxid, m.lsn, m.bytes, kind));
        if (keep) kept.push_back(m);
    };
    add(1, Stager::Kind::Schema, true);
    for (int i = 0; i < 10; ++i)
        add(1, Stager::Kind::Change, true);
    add(5, Stager::Kind::Schema, true); // a Relation sent from the subtransaction
    for (int i = 0; i < 20; ++i)
        add(5, Stager::Kind::Change, false);
    add(6, Stager::Kind::Change, true); // another subtransaction, interleaved
    for (int i = 0; i < 3; ++i)
        add(5, Stager::Kind::Change, false);
    CHECK(stager->disk_bytes() > 0);
    const std::size_t memory = stager->memory_bytes();
    CHECK(memory > 0);
    REQUIRE(stager->abort_sub(1, 5));
    CHECK(stager->memory_bytes() < memory); // the ones in memory are gone at once
    for (int i = 0; i < 10; ++i)
        add(1, Stager::Kind::Change, true);
    CHECK(replay(*stager, 1) == kept);

    // The same subxid in another transaction is another subtransaction.
    Message other = message(2, 5, 1);
    REQUIRE(stager->append(2, 5, other.lsn, other.bytes));
    REQUIRE(stager->abort_sub(3, 5)); // nothing staged for 3
    CHECK(replay(*stager, 2) == std::vector<Message>{other});
}

TEST_CASE("aborting a transaction drops it and removes its file", "[stager]") {
    TempDir dir("abort");
    auto stager = Stager::create(dir.path.string(), 64);
    REQUIRE(stager);
    for (int n = 0; n < 20; ++n) {
        Message m = message(4, 4, n);
        REQUIRE(stager->append(4, 4, m.lsn, m.bytes));
    }
    Message keep = message(8, 8, 1);
    REQUIRE(stager->append(8, 8, keep.lsn, keep.bytes));
    REQUIRE(fs::exists(stager->file_path(4)));
    REQUIRE(stager->abort_sub(4, 4)); // subxid == xid: the whole transaction
    CHECK_FALSE(fs::exists(stager->file_path(4)));
    CHECK(stager->transactions() == 1);
    CHECK(replay(*stager, 4).empty());
    REQUIRE(stager->abort(8));
    REQUIRE(stager->abort(8)); // unknown: nothing to do
    CHECK(stager->transactions() == 0);
    CHECK(stager->memory_bytes() == 0);
    CHECK(stager->disk_bytes() == 0);
}

TEST_CASE("leftover spill files are removed, other files are not", "[stager]") {
    TempDir dir("leftover");
    fs::create_directories(dir.path);
    for (const char* name : {"walbus-stage-731.bin", "walbus-stage-9.bin", "notes.bin",
                             "walbus-stage-1.bin.keep", "walbus-stage-.bin"}) {
        std::ofstream(dir.path / name) << "x";
    }
    {
        auto stager = Stager::create(dir.path.string(), 0);
        REQUIRE(stager);
        CHECK_FALSE(fs::exists(dir.path / "walbus-stage-731.bin"));
        CHECK_FALSE(fs::exists(dir.path / "walbus-stage-9.bin"));
        CHECK(fs::exists(dir.path / "notes.bin"));
        CHECK(fs::exists(dir.path / "walbus-stage-1.bin.keep"));
        CHECK(fs::exists(dir.path / "walbus-stage-.bin"));
        // A Stager that goes away removes its own files.
        REQUIRE(stager->append(3, 3, Lsn{1}, "abc"));
        CHECK(fs::exists(dir.path / "walbus-stage-3.bin"));
    }
    CHECK_FALSE(fs::exists(dir.path / "walbus-stage-3.bin"));
    // A missing directory is created.
    auto nested = Stager::create((dir.path / "a" / "b").string(), 0);
    REQUIRE(nested);
    CHECK(fs::is_directory(dir.path / "a" / "b"));
}

TEST_CASE("stager errors name the file and the reason", "[stager]") {
    TempDir dir("errors");
    fs::create_directories(dir.path);
    std::ofstream(dir.path / "file") << "x";
    auto bad = Stager::create((dir.path / "file").string(), 0);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::Io);
    CHECK(bad.error().message.starts_with("cannot create staging directory " +
                                          (dir.path / "file").string() + ": "));

    auto stager = Stager::create((dir.path / "gone").string(), 0);
    REQUIRE(stager);
    fs::remove_all(dir.path / "gone");
    auto r = stager->append(12, 12, Lsn{1}, "abc");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::Io);
    CHECK(r.error().message ==
          "cannot create spill file " + stager->file_path(12) + ": No such file or directory");
    // The message stays staged in memory: nothing is lost by the failed spill.
    CHECK(stager->memory_bytes() > 0);
    fs::create_directories(dir.path / "gone");
    CHECK(replay(*stager, 12) == std::vector<Message>{Message{Lsn{1}, "abc"}});
}

TEST_CASE("a failing replay callback stops the replay and releases the transaction", "[stager]") {
    TempDir dir("callback");
    auto stager = Stager::create(dir.path.string(), 50);
    REQUIRE(stager);
    for (int n = 0; n < 10; ++n) {
        Message m = message(1, 1, n);
        REQUIRE(stager->append(1, 1, m.lsn, m.bytes));
    }
    int calls = 0;
    auto r = stager->replay(1, [&](Lsn, std::string_view) -> Result<void> {
        if (++calls == 3) {
            return fail(ErrorCode::Protocol, "bad message");
        }
        return {};
    });
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "bad message");
    CHECK(calls == 3);
    CHECK(stager->transactions() == 0);
    CHECK(stager->disk_bytes() == 0);
    CHECK(spill_files(dir.path) == 0);
}
