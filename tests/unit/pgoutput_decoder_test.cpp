// Decoder tests on pgoutput bytes recorded from a real server (tests/data/pgoutput/*.bin, made
// by tests/data/pgoutput/record.sh), plus truncated and corrupted variants of every message.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "recording.h"
#include "walbus/core/change_json.h"
#include "walbus/decoders/pgoutput_decoder.h"

using namespace walbus;
using walbus::test::check_every_truncation;
using walbus::test::read_recording;
using walbus::test::read_text;
using namespace walbus::decoders;
namespace fs = std::filesystem;

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
    default:
        for (const auto& c : m.changes) {
            append_change_json(out, c);
            out += "\n";
        }
    }
}

} // namespace

TEST_CASE("recorded pgoutput streams decode to the expected events", "[pgoutput]") {
    auto files = recordings();
    REQUIRE(files.size() >= 4);
    for (const auto& bin : files) {
        DYNAMIC_SECTION(bin.filename().string()) {
            PgoutputDecoder decoder;
            DecodedMessage m;
            std::string actual;
            for (const auto& rec : read_recording(bin)) {
                auto ok = decoder.decode(rec.data, rec.wal_start, m);
                INFO("message at " << rec.wal_start.str());
                REQUIRE(ok);
                describe(actual, m);
            }
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
