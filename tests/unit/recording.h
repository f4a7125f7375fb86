#pragma once

// Reading the recorded plugin streams in tests/data/{pgoutput,wal2json}: for each message, an
// 8-byte big-endian WAL start, a 4-byte big-endian length, then the payload.

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "walbus/core/lsn.h"

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

} // namespace walbus::test
