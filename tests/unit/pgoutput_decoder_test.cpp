// Decoder tests on pgoutput bytes recorded from a real server (tests/data/pgoutput/*.bin, made
// by tests/data/pgoutput/record.sh), plus truncated and corrupted variants of every message, and
// hand-built protocol version 2 stream messages.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "recording.h"
#include "walbus/core/change_json.h"
#include "walbus/decoders/pgoutput_decoder.h"
#include "walbus/pipeline/stager.h"

using namespace walbus;
using walbus::test::check_every_truncation;
using walbus::test::read_recording;
using walbus::test::read_text;
using namespace walbus::decoders;
namespace fs = std::filesystem;
using namespace std::literals;

namespace {

std::vector<fs::path> recordings() {
    return walbus::test::recordings("pgoutput");
}

// One line per message: protocol messages in a compact form, changes as their JSON lines.
void describe(std::string& out, const DecodedMessage& m) {
    switch (m.kind) {
    case MessageKind::Begin:
        out += "BEGIN xid=" + std::to_string(m.xid) + " commit_lsn=" + m.commit_lsn.str() + "\n";
        return;
    case MessageKind::Commit:
        out += "COMMIT commit_lsn=" + m.commit_lsn.str() + " end_lsn=" + m.end_lsn.str() + "\n";
        return;
    case MessageKind::Relation: {
        const Relation& r = *m.relation;
        out += "RELATION " + r.schema + "." + r.table +
               " identity=" + std::string(1, static_cast<char>(r.identity)) + " columns=";
        for (std::size_t i = 0; i < r.columns.size(); ++i) {
            const Column& c = r.columns[i];
            out += (i ? "," : "") + c.name + ":" + std::to_string(c.type_oid) +
                   (c.typmod >= 0 ? "(" + std::to_string(c.typmod) + ")" : "") +
                   (c.key ? ":key" : "");
        }
        out += "\n";
        return;
    }
    case MessageKind::Type: out += "TYPE\n"; return;
    case MessageKind::Origin: out += "ORIGIN\n"; return;
    case MessageKind::StreamStart:
        out += "STREAM START xid=" + std::to_string(m.xid) +
               " first_segment=" + std::to_string(m.first_segment) + "\n";
        return;
    case MessageKind::StreamCommit:
        out += "STREAM COMMIT xid=" + std::to_string(m.xid) + " commit_lsn=" + m.commit_lsn.str() +
               " end_lsn=" + m.end_lsn.str() + "\n";
        return;
    case MessageKind::StreamAbort:
        out += "STREAM ABORT xid=" + std::to_string(m.xid) + " subxid=" + std::to_string(m.subxid) +
               "\n";
        return;
    case MessageKind::StreamStop:
    case MessageKind::Streamed: return; // described by decode_recording
    default:
        for (const auto& c : m.changes) {
            append_change_json(out, c);
            out += "\n";
        }
    }
}

// A scratch directory for spill files, removed at the end of the test.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name)
        : path(fs::temp_directory_path() / ("walbus-" + name + "-" + std::to_string(::getpid()))) {
        fs::remove_all(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// What the changes of a decoded recording contain, for the checks of stream_txn.
struct Totals {
    std::map<std::string, int> inserts; // per table
    std::vector<int> inserted_ids;      // the first column of every insert into big
    int updates = 0;
    int deletes = 0;
    int messages = 0;
};

void count(Totals& totals, const DecodedMessage& m) {
    for (const auto& c : m.changes) {
        switch (c.op) {
        case Operation::Insert:
            ++totals.inserts[c.relation->table];
            if (c.relation->table == "big") {
                totals.inserted_ids.push_back(std::stoi(c.after.values.at(0).data));
            }
            break;
        case Operation::Update: ++totals.updates; break;
        case Operation::Delete: ++totals.deletes; break;
        case Operation::Message: ++totals.messages; break;
        default: break;
        }
    }
}

// Decodes a recording as the pipeline does: the messages of stream blocks are staged per
// toplevel xid (pipeline::Stager, spilling beyond `budget` bytes), dropped at Stream Abort and
// replayed at Stream Commit as a transaction. One line per protocol message; a stream block's
// messages are summed up at its Stream Stop.
std::string decode_recording(const fs::path& bin, std::size_t budget, Totals* totals = nullptr) {
    TempDir dir("pgoutput-test");
    auto stager = pipeline::Stager::create(dir.path.string(), budget);
    REQUIRE(stager);
    PgoutputDecoder decoder;
    DecodedMessage m;
    std::string out;
    std::size_t staged = 0;
    auto emit = [&] {
        describe(out, m);
        if (totals != nullptr) {
            count(*totals, m);
        }
    };
    for (const auto& rec : read_recording(bin)) {
        auto ok = decoder.decode(rec.data, rec.wal_start, m);
        INFO("message at " << rec.wal_start.str());
        REQUIRE(ok);
        switch (m.kind) {
        case MessageKind::Streamed: {
            bool schema = m.streamed_kind == MessageKind::Relation ||
                          m.streamed_kind == MessageKind::Type ||
                          m.streamed_kind == MessageKind::Origin;
            REQUIRE(stager->append(m.xid, m.subxid, rec.wal_start, m.streamed,
                                   schema ? pipeline::Stager::Kind::Schema
                                          : pipeline::Stager::Kind::Change));
            ++staged;
            CHECK(stager->memory_bytes() <= budget);
            break;
        }
        case MessageKind::StreamStop:
            out += "STREAM STOP xid=" + std::to_string(m.xid) +
                   " staged=" + std::to_string(staged) + "\n";
            staged = 0;
            break;
        case MessageKind::StreamAbort:
            emit();
            REQUIRE(stager->abort_sub(m.xid, m.subxid));
            break;
        case MessageKind::StreamCommit: {
            emit();
            const DecodedMessage commit = m;
            REQUIRE(decoder.begin_replay(commit.xid, commit.commit_lsn, commit.end_lsn,
                                         commit.commit_time_us, m));
            emit();
            auto replayed = stager->replay(commit.xid, [&](Lsn lsn, std::string_view bytes) {
                auto r = decoder.decode(bytes, lsn, m);
                if (r) {
                    emit();
                }
                return r;
            });
            REQUIRE(replayed);
            REQUIRE(decoder.end_replay(m));
            emit();
            break;
        }
        default: emit();
        }
    }
    CHECK(stager->transactions() == 0);
    CHECK(stager->disk_bytes() == 0);
    return out;
}

} // namespace

TEST_CASE("recorded pgoutput streams decode to the expected events", "[pgoutput]") {
    auto files = recordings();
    REQUIRE(files.size() >= 4);
    for (const auto& bin : files) {
        DYNAMIC_SECTION(bin.filename().string()) {
            std::string actual = decode_recording(bin, 64 * 1024);
            auto expected_path = fs::path(bin).replace_extension(".expected");
            if (std::getenv("WALBUS_REGENERATE") != nullptr) {
                std::ofstream(expected_path) << actual;
            }
            CHECK(actual == read_text(expected_path));
        }
    }
}

TEST_CASE("every truncation of every recorded message is an error naming the lsn", "[pgoutput]") {
    for (const auto& bin : recordings()) {
        PgoutputDecoder decoder;
        check_every_truncation(bin, decoder);
    }
}

TEST_CASE("corrupted bytes never crash the decoder", "[pgoutput]") {
    std::uint64_t rng = 0x9e3779b97f4a7c15ULL;
    auto next = [&] {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
    };
    std::size_t errors = 0;
    for (const auto& bin : recordings()) {
        PgoutputDecoder decoder;
        DecodedMessage m;
        for (const auto& rec : read_recording(bin)) {
            for (std::size_t i = 0; i < rec.data.size(); ++i) {
                const unsigned char values[] = {0x00, 0xff, 0x7f, 0x80,
                                                static_cast<unsigned char>(next())};
                for (unsigned char v : values) {
                    std::string bad = rec.data;
                    bad[i] = static_cast<char>(v);
                    PgoutputDecoder copy = decoder;
                    auto r = copy.decode(bad, rec.wal_start, m);
                    if (!r) {
                        ++errors;
                        CHECK(r.error().message.find(rec.wal_start.str()) != std::string::npos);
                    }
                }
            }
            REQUIRE(decoder.decode(rec.data, rec.wal_start, m));
        }
    }
    CHECK(errors > 0);
}

TEST_CASE("protocol misuse is reported", "[pgoutput]") {
    PgoutputDecoder d;
    DecodedMessage m;
    Lsn at{0x1234};
    // An Insert before any Begin.
    std::string insert("I\0\0\x40\0N\0\0", 8);
    auto r = d.decode(insert, at, m);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "malformed pgoutput Insert message at LSN 0/1234: change outside a "
                               "transaction (no Begin)");
    // An unknown message type.
    r = d.decode("Z", at, m);
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "malformed pgoutput message at LSN 0/1234: unknown message type byte 0x5a");
    r = d.decode("", at, m);
    REQUIRE_FALSE(r);
    // A Begin, then an Insert for a relation never described.
    std::string begin("B\0\0\0\0\0\0\x12\x34\0\0\0\0\0\0\0\0\0\0\0\x07", 21);
    REQUIRE(d.decode(begin, at, m));
    CHECK(d.in_transaction());
    r = d.decode(insert, at, m);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("relation OID 16384 was not described") != std::string::npos);
    CHECK_FALSE(d.in_transaction()); // the transaction is dropped; the server resends it
}

TEST_CASE("stream_txn: only committed changes come out, in commit order", "[pgoutput]") {
    auto bin = fs::path(WALBUS_TEST_DATA_DIR) / "pgoutput" / "stream_txn.bin";
    Totals totals;
    std::string text = decode_recording(bin, 64 * 1024, &totals);
    // What stream_txn.sql committed: 5,000 rows in the large transaction, 100 + 100 around the
    // savepoint rolled back to, 400 + 400 around ADD COLUMN, one after; two rows in small.
    CHECK(totals.inserts["big"] == 5000 + 200 + 800 + 1);
    CHECK(totals.inserts["small"] == 2);
    CHECK(totals.inserts.size() == 2);
    CHECK(totals.updates == 10);
    CHECK(totals.deletes == 10);
    CHECK(totals.messages == 1);
    for (int id : totals.inserted_ids) {
        INFO("id " << id);
        CHECK_FALSE((id >= 10001 && id <= 10800)); // the rolled-back transaction
        CHECK_FALSE((id >= 21001 && id <= 21800)); // the rolled-back subtransaction
    }
    auto sorted = totals.inserted_ids;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    // The recording has what the test is about.
    CHECK(text.find("STREAM ABORT xid=731 subxid=731") != std::string::npos);
    CHECK(text.find("STREAM ABORT xid=732 subxid=733") != std::string::npos);
    // The spill path gives the same as memory alone.
    CHECK(decode_recording(bin, 0) == text);
    CHECK(decode_recording(bin, std::size_t{1} << 30) == text);
}

namespace {

// Builds protocol messages byte by byte (big-endian).
struct Msg {
    std::string b;
    explicit Msg(char kind) : b(1, kind) {}
    Msg& u8(std::uint8_t v) {
        b += static_cast<char>(v);
        return *this;
    }
    Msg& be(std::uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i) {
            b += static_cast<char>((v >> (8 * i)) & 0xff);
        }
        return *this;
    }
    Msg& u16(std::uint16_t v) { return be(v, 2); }
    Msg& u32(std::uint32_t v) { return be(v, 4); }
    Msg& u64(std::uint64_t v) { return be(v, 8); }
    Msg& str(std::string_view s) {
        b.append(s);
        b += '\0';
        return *this;
    }
    Msg& raw(std::string_view s) {
        b.append(s);
        return *this;
    }
};

constexpr std::uint32_t kOid = 16384;

// Protocol version 1 bodies (after the kind byte and, in a stream, the xid).
std::string relation_body() {
    return Msg('x')
        .u32(kOid)
        .str("public")
        .str("t")
        .u8('d')
        .u16(2)
        .u8(1)
        .str("id")
        .u32(23)
        .u32(0xffffffff)
        .u8(0)
        .str("v")
        .u32(25)
        .u32(0xffffffff)
        .b.substr(1);
}
std::string insert_body(std::string_view id) {
    return Msg('x')
        .u32(kOid)
        .u8('N')
        .u16(2)
        .u8('t')
        .u32(static_cast<std::uint32_t>(id.size()))
        .raw(id)
        .u8('n')
        .b.substr(1);
}

std::string v1(char kind, const std::string& body) {
    return std::string(1, kind) + body;
}
std::string v2(char kind, Xid xid, const std::string& body) {
    return Msg(kind).u32(xid).raw(body).b;
}
std::string stream_start(Xid xid, bool first) {
    return Msg('S').u32(xid).u8(first ? 1 : 0).b;
}
std::string stream_stop() {
    return "E";
}
std::string stream_commit(Xid xid, std::uint64_t commit_lsn, std::uint64_t end_lsn,
                          std::uint64_t ts) {
    return Msg('c').u32(xid).u8(0).u64(commit_lsn).u64(end_lsn).u64(ts).b;
}
std::string stream_abort(Xid xid, Xid subxid) {
    return Msg('A').u32(xid).u32(subxid).b;
}
std::string begin(Xid xid, std::uint64_t final_lsn) {
    return Msg('B').u64(final_lsn).u64(0).u32(xid).b;
}
std::string commit(std::uint64_t commit_lsn, std::uint64_t end_lsn) {
    return Msg('C').u8(0).u64(commit_lsn).u64(end_lsn).u64(0).b;
}

std::string error_of(PgoutputDecoder& d, std::string_view bytes, Lsn at = Lsn{0x1234}) {
    DecodedMessage m;
    auto r = d.decode(bytes, at, m);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::Protocol);
    CHECK(m.changes.empty());
    CHECK_FALSE(d.in_transaction());
    CHECK_FALSE(d.in_stream());
    return r.error().message;
}

} // namespace

TEST_CASE("stream messages are decoded and the block's messages handed back as version 1",
          "[pgoutput]") {
    PgoutputDecoder d;
    DecodedMessage m;
    Lsn at{0x1000};

    REQUIRE(d.decode(stream_start(700, true), at, m));
    CHECK(m.kind == MessageKind::StreamStart);
    CHECK(m.xid == 700);
    CHECK(m.first_segment);
    CHECK(d.in_stream());
    CHECK_FALSE(d.in_transaction());

    REQUIRE(d.decode(v2('R', 700, relation_body()), at, m));
    CHECK(m.kind == MessageKind::Streamed);
    CHECK(m.streamed_kind == MessageKind::Relation);
    CHECK(m.xid == 700);
    CHECK(m.subxid == 700);
    CHECK(m.streamed == v1('R', relation_body()));
    CHECK(m.relation == nullptr);
    CHECK(d.relation(kOid) == nullptr); // staged, not applied

    // A subtransaction's insert: its own xid, the block's toplevel xid.
    REQUIRE(d.decode(v2('I', 701, insert_body("1")), at, m));
    CHECK(m.kind == MessageKind::Streamed);
    CHECK(m.streamed_kind == MessageKind::Insert);
    CHECK(m.xid == 700);
    CHECK(m.subxid == 701);
    CHECK(m.streamed == v1('I', insert_body("1")));
    CHECK(m.changes.empty());

    std::string message = Msg('M').u32(700).u8(1).u64(0x1000).str("p").u32(2).raw("hi").b;
    REQUIRE(d.decode(message, at, m));
    CHECK(m.streamed_kind == MessageKind::Message);
    CHECK(m.streamed == Msg('M').u8(1).u64(0x1000).str("p").u32(2).raw("hi").b);

    // Origin has no xid: it belongs to the whole transaction.
    std::string origin = Msg('O').u64(0x99).str("upstream").b;
    REQUIRE(d.decode(origin, at, m));
    CHECK(m.streamed_kind == MessageKind::Origin);
    CHECK(m.subxid == 700);
    CHECK(m.streamed == origin);

    REQUIRE(d.decode(stream_stop(), at, m));
    CHECK(m.kind == MessageKind::StreamStop);
    CHECK(m.xid == 700);
    CHECK_FALSE(d.in_stream());

    REQUIRE(d.decode(stream_start(700, false), at, m));
    CHECK_FALSE(m.first_segment);
    REQUIRE(d.decode(stream_stop(), at, m));

    REQUIRE(d.decode(stream_abort(700, 701), at, m));
    CHECK(m.kind == MessageKind::StreamAbort);
    CHECK(m.xid == 700);
    CHECK(m.subxid == 701);

    REQUIRE(d.decode(stream_commit(700, 0x5000, 0x5030, 1'000'000), Lsn{0x5000}, m));
    CHECK(m.kind == MessageKind::StreamCommit);
    CHECK(m.xid == 700);
    CHECK(m.commit_lsn == Lsn{0x5000});
    CHECK(m.end_lsn == Lsn{0x5030});
    CHECK(m.commit_time_us == kPostgresEpochUnixUs + 1'000'000);
}

TEST_CASE("a replayed streamed transaction decodes like a normal one", "[pgoutput]") {
    PgoutputDecoder d;
    DecodedMessage m;
    // A normal transaction between the stream blocks: its own relation and positions.
    REQUIRE(d.decode(stream_start(700, true), Lsn{0x100}, m));
    REQUIRE(d.decode(v2('R', 700, relation_body()), Lsn{0x100}, m));
    REQUIRE(d.decode(stream_stop(), Lsn{0x100}, m));
    REQUIRE(d.decode(begin(800, 0x300), Lsn{0x200}, m));
    REQUIRE(d.decode(v1('R', relation_body()), Lsn{0}, m));
    REQUIRE(d.decode(v1('I', insert_body("9")), Lsn{0x250}, m));
    REQUIRE(m.changes.size() == 1);
    CHECK(m.changes[0].position == Position{Lsn{0x300}, 0});
    REQUIRE(d.decode(commit(0x300, 0x330), Lsn{0x300}, m));

    REQUIRE(d.decode(stream_commit(700, 0x500, 0x530, 2'000'000), Lsn{0x500}, m));
    REQUIRE(d.begin_replay(700, Lsn{0x500}, Lsn{0x530}, m.commit_time_us, m));
    CHECK(m.kind == MessageKind::Begin);
    CHECK(m.xid == 700);
    CHECK(m.commit_lsn == Lsn{0x500});
    CHECK(d.in_transaction());
    CHECK(d.replaying());
    REQUIRE(d.decode(v1('R', relation_body()), Lsn{0x110}, m));
    CHECK(m.kind == MessageKind::Relation);
    CHECK(m.relation != nullptr);
    for (std::uint64_t seq = 0; seq < 3; ++seq) {
        REQUIRE(d.decode(v1('I', insert_body(std::to_string(seq))), Lsn{0x120 + seq}, m));
        REQUIRE(m.changes.size() == 1);
        const ChangeEvent& c = m.changes[0];
        CHECK(c.position == Position{Lsn{0x500}, seq});
        CHECK(c.lsn == Lsn{0x120 + seq});
        CHECK(c.xid == 700);
        CHECK(c.commit_time_us == kPostgresEpochUnixUs + 2'000'000);
        CHECK(c.after.values[0].data == std::to_string(seq));
    }
    REQUIRE(d.end_replay(m));
    CHECK(m.kind == MessageKind::Commit);
    CHECK(m.xid == 700);
    CHECK(m.commit_lsn == Lsn{0x500});
    CHECK(m.end_lsn == Lsn{0x530});
    CHECK_FALSE(d.in_transaction());
    CHECK_FALSE(d.replaying());
}

TEST_CASE("stream protocol misuse is reported", "[pgoutput]") {
    DecodedMessage m;
    SECTION("Stream Stop without a Stream Start") {
        PgoutputDecoder d;
        CHECK(error_of(d, stream_stop()) == "malformed pgoutput Stream Stop message at LSN 0/1234: "
                                            "Stream Stop without a Stream Start");
    }
    SECTION("nested Stream Start") {
        PgoutputDecoder d;
        REQUIRE(d.decode(stream_start(700, true), Lsn{1}, m));
        CHECK(error_of(d, stream_start(701, true)) ==
              "malformed pgoutput Stream Start message at LSN 0/1234: inside the stream block of "
              "transaction 700 (no Stream Stop)");
    }
    SECTION("transaction control inside a stream block") {
        for (const auto& bytes :
             {begin(1, 2), commit(2, 3), stream_commit(700, 1, 2, 3), stream_abort(700, 700)}) {
            PgoutputDecoder d;
            REQUIRE(d.decode(stream_start(700, true), Lsn{1}, m));
            CHECK(error_of(d, bytes).find("inside the stream block of transaction 700") !=
                  std::string::npos);
        }
    }
    SECTION("stream messages inside a transaction") {
        for (const auto& [bytes, what] :
             {std::pair{stream_start(700, true), "Stream Start inside an open transaction"},
              std::pair{stream_commit(700, 1, 2, 3), "Stream Commit inside an open transaction"},
              std::pair{stream_abort(700, 701), "Stream Abort inside an open transaction"}}) {
            PgoutputDecoder d;
            REQUIRE(d.decode(begin(1, 0x10), Lsn{1}, m));
            CHECK(error_of(d, bytes).ends_with(what));
        }
    }
    SECTION("a streamed message outside a stream block is read as version 1 and refused") {
        PgoutputDecoder d;
        CHECK(error_of(d, v2('I', 700, insert_body("1"))) ==
              "malformed pgoutput Insert message at LSN 0/1234: change outside a transaction (no "
              "Begin)");
        REQUIRE(d.decode(begin(1, 0x10), Lsn{1}, m));
        REQUIRE(d.decode(v1('R', relation_body()), Lsn{1}, m));
        CHECK(error_of(d, v2('I', 700, insert_body("1"))).find("relation OID 700 was not") !=
              std::string::npos);
    }
    SECTION("truncated and overlong stream messages") {
        PgoutputDecoder d;
        CHECK(error_of(d, "S\0\0"sv) == "malformed pgoutput Stream Start message at LSN 0/1234: "
                                        "truncated at byte 1 of 3");
        CHECK(
            error_of(d, "c\0\0\0\x01\0"sv).find("Stream Commit message at LSN 0/1234: truncated") !=
            std::string::npos);
        CHECK(error_of(d, "A\0\0\0\x01\0\0"sv) ==
              "malformed pgoutput Stream Abort message at LSN 0/1234: truncated at byte 5 of 7");
        CHECK(error_of(d, stream_abort(1, 1) + "x") ==
              "malformed pgoutput Stream Abort message at LSN 0/1234: 1 unexpected bytes after the "
              "message");
        REQUIRE(d.decode(stream_start(700, true), Lsn{1}, m));
        CHECK(error_of(d, "E\0"sv) ==
              "malformed pgoutput Stream Stop message at LSN 0/1234: 1 unexpected bytes after the "
              "message");
    }
    SECTION("truncated and malformed messages inside a stream block") {
        const std::string insert = v2('I', 701, insert_body("12"));
        PgoutputDecoder cut;
        REQUIRE(cut.decode(stream_start(700, true), Lsn{1}, m));
        CHECK(error_of(cut, std::string_view(insert).substr(0, 3)) ==
              "malformed pgoutput Insert message at LSN 0/1234: truncated at byte 1 of 3");
        for (std::size_t len = 1; len < insert.size(); ++len) {
            PgoutputDecoder d;
            REQUIRE(d.decode(stream_start(700, true), Lsn{1}, m));
            INFO("cut to " << len);
            CHECK(error_of(d, std::string_view(insert).substr(0, len))
                      .starts_with("malformed pgoutput Insert message at LSN 0/1234: "));
        }
        PgoutputDecoder d;
        REQUIRE(d.decode(stream_start(700, true), Lsn{1}, m));
        CHECK(error_of(d, v2('D', 700, insert_body("1"))) ==
              "malformed pgoutput Delete message at LSN 0/1234: expected old tuple marker 'K' or "
              "'O'");
        REQUIRE(d.decode(stream_start(700, true), Lsn{1}, m));
        CHECK(error_of(d, v2('I', 700, insert_body("1") + "z")) ==
              "malformed pgoutput Insert message at LSN 0/1234: 1 unexpected bytes after the "
              "message");
        REQUIRE(d.decode(stream_start(700, true), Lsn{1}, m));
        CHECK(error_of(d, Msg('Z').u32(700).b) ==
              "malformed pgoutput message at LSN 0/1234: unknown message type byte 0x5a");
    }
    SECTION("replay misuse") {
        PgoutputDecoder d;
        auto r = d.end_replay(m);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::Internal);
        REQUIRE(d.decode(stream_start(700, true), Lsn{1}, m));
        r = d.begin_replay(700, Lsn{0x10}, Lsn{0x20}, 0, m);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::Internal);
        REQUIRE(d.decode(stream_stop(), Lsn{1}, m));
        REQUIRE(d.begin_replay(700, Lsn{0x10}, Lsn{0x20}, 0, m));
        CHECK_FALSE(d.begin_replay(700, Lsn{0x10}, Lsn{0x20}, 0, m));
        // A Commit, or any stream message, does not belong in a replay.
        CHECK(error_of(d, commit(0x10, 0x20)) ==
              "malformed pgoutput Commit message at LSN 0/1234: Commit inside a replayed streamed "
              "transaction");
        CHECK_FALSE(d.replaying());
        REQUIRE(d.begin_replay(700, Lsn{0x10}, Lsn{0x20}, 0, m));
        CHECK(error_of(d, stream_start(701, true)) ==
              "malformed pgoutput Stream Start message at LSN 0/1234: Stream Start inside an open "
              "transaction");
        CHECK_FALSE(d.replaying());
    }
}
