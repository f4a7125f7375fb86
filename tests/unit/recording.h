#pragma once

// Reading the recorded plugin streams in tests/data/{pgoutput,wal2json}: for each message, an
// 8-byte big-endian WAL start, a 4-byte big-endian length, then the payload.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "walbus/core/error.h"
#include "walbus/core/lsn.h"
#include "walbus/decoders/decoded_message.h"

namespace walbus::test {

struct Recorded {
    Lsn wal_start;
    std::string data;
};

inline std::vector<Recorded> read_recording(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<Recorded> out;
    std::size_t pos = 0;
    auto be = [&](std::size_t n) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            v = (v << 8) | static_cast<unsigned char>(bytes[pos + i]);
        }
        pos += n;
        return v;
    };
    while (pos + 12 <= bytes.size()) {
        Recorded r;
        r.wal_start = Lsn{be(8)};
        auto len = static_cast<std::size_t>(be(4));
        REQUIRE(pos + len <= bytes.size());
        r.data = bytes.substr(pos, len);
        pos += len;
        out.push_back(std::move(r));
    }
    REQUIRE(pos == bytes.size());
    return out;
}

inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The recordings (*.bin) of tests/data/<folder>, in name order.
inline std::vector<std::filesystem::path> recordings(const std::string& folder) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(
             std::filesystem::path(WALBUS_TEST_DATA_DIR) / folder)) {
        if (e.path().extension() == ".bin") {
            files.push_back(e.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

// Cuts every message of the recording at every length, each fed to a copy of `decoder` as it
// stands after the messages before it: each cut must be a Protocol error naming the message's
// LSN that leaves no transaction open and no changes behind.
template <typename Decoder>
void check_every_truncation(const std::filesystem::path& bin, Decoder& decoder) {
    decoders::DecodedMessage m;
    for (const auto& rec : read_recording(bin)) {
        for (std::size_t len = 0; len < rec.data.size(); ++len) {
            Decoder copy = decoder;
            auto r = copy.decode(std::string_view(rec.data).substr(0, len), rec.wal_start, m);
            INFO(bin.filename().string() << " message at " << rec.wal_start.str() << " cut to "
                                         << len << " of " << rec.data.size());
            REQUIRE_FALSE(r);
            CHECK(r.error().code == ErrorCode::Protocol);
            CHECK(r.error().message.find(rec.wal_start.str()) != std::string::npos);
            CHECK_FALSE(copy.in_transaction());
            CHECK(m.changes.empty());
        }
        REQUIRE(decoder.decode(rec.data, rec.wal_start, m));
    }
}

} // namespace walbus::test
