#pragma once

// A recorded plugin stream loaded whole into memory, for the benchmarks: per message, an 8-byte
// big-endian WAL start, a 4-byte big-endian length, then the payload (the format of
// tests/data/pgoutput/*.bin, as tests/tools/pgoutput_record writes it).

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "walbus/core/lsn.h"

namespace walbus::bench {

struct Record {
    Lsn wal_start;
    std::string_view payload;
};

struct Recording {
    std::string bytes; // the whole file; records point into it
    std::vector<Record> records;
    std::uint64_t payload_bytes = 0;
};

inline std::uint64_t read_be(const char* p, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    }
    return v;
}

// Loads `path` into `rec`. False, after printing why to stderr, when the file cannot be read or
// a record is cut short.
inline bool load_recording(const char* path, Recording& rec) {
    constexpr std::size_t kHeaderSize = 12;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "error: cannot open recording %s\n", path);
        return false;
    }
    rec.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const std::string& b = rec.bytes;
    std::size_t pos = 0;
    while (pos < b.size()) {
        if (b.size() - pos < kHeaderSize) {
            std::fprintf(stderr, "error: %s: truncated record header at byte %zu\n", path, pos);
            return false;
        }
        Lsn start{read_be(b.data() + pos, 8)};
        auto len = static_cast<std::size_t>(read_be(b.data() + pos + 8, 4));
        pos += kHeaderSize;
        if (b.size() - pos < len) {
            std::fprintf(stderr, "error: %s: record at byte %zu claims %zu bytes, %zu remain\n",
                         path, pos - kHeaderSize, len, b.size() - pos);
            return false;
        }
        rec.records.push_back({start, std::string_view(b.data() + pos, len)});
        rec.payload_bytes += len;
        pos += len;
    }
    return true;
}

} // namespace walbus::bench
