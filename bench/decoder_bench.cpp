// Decoder throughput on a recorded pgoutput stream, on one thread, with no I/O in the timed part.
//
//   decoder_bench RECORDING [--decoder pgoutput|wal2json] [--mode copy|decode|json]
//                 [--iterations K] [--expect-changes N]
//
// RECORDING is a pgoutput recording (tests/data/pgoutput/README.md describes the format:
// 8-byte big-endian WAL start, 4-byte big-endian length, payload, per XLogData message), as
// tests/tools/pgoutput_record writes it. The whole file is loaded first; then each mode replays
// every message K times, with a fresh decoder per iteration (so Relation messages are decoded
// again, as after a reconnect):
//
//   copy     reference: copies every payload into one reused buffer (memory bandwidth floor)
//   decode   PgoutputDecoder::decode only
//   json     decode, then append_change_json for each change into one reused string
//
// --mode runs that mode alone (to profile it). Each mode prints the median and best iteration as
// changes/s and MB/s of pgoutput input, plus the counters it accumulated (changes, bytes produced),
// so the work cannot be optimized away and a reader can check that every iteration did the same
// amount. With --expect-changes, a recording that decodes to another number of changes is an error.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "recording.h"
#include "walbus/core/change_json.h"
#include "walbus/core/lsn.h"
#include "walbus/decoders/pgoutput_decoder.h"
#include "walbus/decoders/wal2json_decoder.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

using walbus::bench::load_recording;
using walbus::bench::Record;
using walbus::bench::Recording;

enum class Mode { Copy, Decode, Json };

// Tells the compiler that the memory behind p is read, so a copy into it cannot be dropped.
inline void escape(const void* p) {
    asm volatile("" : : "r"(p) : "memory");
}

struct Iteration {
    double seconds = 0;
    std::uint64_t changes = 0;
    std::uint64_t produced_bytes = 0; // copy: bytes copied; decode: value bytes; json: JSON bytes
};

// One pass over the recording. Returns false (after printing) when the decoder rejects a message.
template <typename Decoder> bool run_once(const Recording& rec, Mode mode, Iteration& it) {
    Decoder decoder;
    walbus::decoders::DecodedMessage msg;
    std::string buffer;
    std::uint64_t changes = 0;
    std::uint64_t produced = 0;

    auto t0 = std::chrono::steady_clock::now();
    for (const Record& r : rec.records) {
        if (mode == Mode::Copy) {
            buffer.assign(r.payload);
            escape(buffer.data());
            produced += buffer.size();
            continue;
        }
        if (auto ok = decoder.decode(r.payload, r.wal_start, msg); !ok) {
            std::fprintf(stderr, "error: decoding the message at %s: %s\n",
                         r.wal_start.str().c_str(), ok.error().message.c_str());
            return false;
        }
        changes += msg.changes.size();
        for (const walbus::ChangeEvent& change : msg.changes) {
            if (mode == Mode::Json) {
                buffer.clear();
                walbus::append_change_json(buffer, change);
                produced += buffer.size();
            } else {
                for (const walbus::Value& v : change.after.values) {
                    produced += v.data.size();
                }
            }
        }
    }
    auto t1 = std::chrono::steady_clock::now();

    it.seconds = std::chrono::duration<double>(t1 - t0).count();
    it.changes = changes;
    it.produced_bytes = produced;
    return true;
}

const char* mode_name(Mode m) {
    switch (m) {
    case Mode::Copy: return "copy (reference)";
    case Mode::Decode: return "decode";
    case Mode::Json: return "decode + json";
    }
    return "?";
}

void usage() {
    std::fprintf(stderr, "usage: decoder_bench RECORDING [--decoder pgoutput|wal2json] "
                         "[--mode copy|decode|json] [--iterations K] [--expect-changes N]\n");
}

} // namespace

int main(int argc, char** argv) {
    const char* path = nullptr;
    int iterations = 5;
    long long expect_changes = -1;
    bool wal2json = false;
    std::vector<Mode> modes = {Mode::Copy, Mode::Decode, Mode::Json};
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--iterations" && i + 1 < argc) {
            iterations = std::atoi(argv[++i]);
            if (iterations < 1) {
                std::fprintf(stderr, "error: --iterations needs a positive number\n");
                return kExitUsage;
            }
        } else if (arg == "--decoder" && i + 1 < argc) {
            std::string_view d = argv[++i];
            if (d != "pgoutput" && d != "wal2json") {
                std::fprintf(stderr, "error: --decoder is pgoutput or wal2json\n");
                return kExitUsage;
            }
            wal2json = d == "wal2json";
        } else if (arg == "--mode" && i + 1 < argc) {
            std::string_view m = argv[++i];
            if (m == "copy") {
                modes = {Mode::Copy};
            } else if (m == "decode") {
                modes = {Mode::Decode};
            } else if (m == "json") {
                modes = {Mode::Json};
            } else {
                std::fprintf(stderr, "error: --mode is copy, decode or json\n");
                return kExitUsage;
            }
        } else if (arg == "--expect-changes" && i + 1 < argc) {
            expect_changes = std::atoll(argv[++i]);
            if (expect_changes < 0) {
                std::fprintf(stderr, "error: --expect-changes needs a number\n");
                return kExitUsage;
            }
        } else if (arg == "-h" || arg == "--help") {
            usage();
            return kExitOk;
        } else if (!arg.starts_with("-") && path == nullptr) {
            path = argv[i];
        } else {
            usage();
            return kExitUsage;
        }
    }
    if (path == nullptr) {
        usage();
        return kExitUsage;
    }

    Recording rec;
    if (!load_recording(path, rec)) {
        return kExitRuntime;
    }
    if (rec.records.empty()) {
        std::fprintf(stderr, "error: %s holds no messages\n", path);
        return kExitRuntime;
    }
    const double input_mb = static_cast<double>(rec.payload_bytes) / 1e6;
    std::printf("recording: %s\n", path);
    std::printf("decoder: %s\n", wal2json ? "wal2json" : "pgoutput");
    std::printf("messages: %zu, payload: %.1f MB, iterations per mode: %d\n", rec.records.size(),
                input_mb, iterations);
    std::printf("\n%-18s %10s %14s %14s %10s %10s %14s %14s\n", "mode", "median s", "changes/s",
                "best ch/s", "in MB/s", "out MB/s", "changes/iter", "out bytes/iter");

    std::uint64_t reference_changes = 0;
    for (Mode mode : modes) {
        std::vector<Iteration> runs(static_cast<std::size_t>(iterations));
        for (Iteration& it : runs) {
            bool ok = wal2json ? run_once<walbus::decoders::Wal2jsonDecoder>(rec, mode, it)
                               : run_once<walbus::decoders::PgoutputDecoder>(rec, mode, it);
            if (!ok) {
                return kExitRuntime;
            }
        }
        // Every iteration must have done the same work; a difference means a decoder bug.
        for (const Iteration& it : runs) {
            if (it.changes != runs[0].changes || it.produced_bytes != runs[0].produced_bytes) {
                std::fprintf(stderr, "error: %s: iterations disagree on their output\n",
                             mode_name(mode));
                return kExitRuntime;
            }
        }
        if (mode != Mode::Copy) {
            reference_changes = runs[0].changes;
        }

        std::vector<double> secs;
        for (const Iteration& it : runs) {
            secs.push_back(it.seconds);
        }
        std::sort(secs.begin(), secs.end());
        double median = secs[secs.size() / 2];
        if (secs.size() % 2 == 0) {
            median = (secs[secs.size() / 2 - 1] + secs[secs.size() / 2]) / 2;
        }
        double best = secs.front();
        // The copy reference has no changes; rate it against the decoded change count.
        std::uint64_t changes = mode == Mode::Copy ? 0 : runs[0].changes;
        double out_mb = static_cast<double>(runs[0].produced_bytes) / 1e6;
        if (mode == Mode::Copy) {
            std::printf("%-18s %10.4f %14s %14s %10.0f %10.0f %14s %14llu\n", mode_name(mode),
                        median, "-", "-", input_mb / median, out_mb / median, "-",
                        static_cast<unsigned long long>(runs[0].produced_bytes));
        } else {
            std::printf("%-18s %10.4f %14.0f %14.0f %10.0f %10.0f %14llu %14llu\n", mode_name(mode),
                        median, static_cast<double>(changes) / median,
                        static_cast<double>(changes) / best, input_mb / median, out_mb / median,
                        static_cast<unsigned long long>(changes),
                        static_cast<unsigned long long>(runs[0].produced_bytes));
        }
    }
    std::printf("\nin MB/s counts the plugin's payload bytes; out MB/s counts column value bytes "
                "(decode) or JSON bytes (decode + json)\n");
    if (expect_changes >= 0 && reference_changes != static_cast<std::uint64_t>(expect_changes)) {
        std::fprintf(stderr, "error: the recording decoded to %llu changes; expected %lld\n",
                     static_cast<unsigned long long>(reference_changes), expect_changes);
        return kExitRuntime;
    }
    if (reference_changes == 0) {
        std::fprintf(stderr, "warning: the recording decoded to no changes\n");
    }
    return kExitOk;
}
