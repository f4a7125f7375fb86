// Mapping throughput on a recorded pgoutput stream, on one thread, with no I/O in the timed part.
//
//   mapper_bench RECORDING CONFIG [--mode json|map|events] [--iterations K] [--batch N]
//                [--expect-changes N]
//
// RECORDING is a pgoutput recording (bench/recording.h); CONFIG a walbus configuration with
// rules, loaded and compiled as `walbus run` does (config::load_file, prepare_config). The
// recording is loaded into memory once. Each pass decodes it again, untimed, one transaction at a
// time (N changes at a time when a transaction is larger than --batch N, 1000 by default); the
// timed part then handles that batch's changes while they are fresh, as the pipeline handles each
// change right after decoding it. Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so
// that other work on the machine does not count:
//
//   json     reference: append_change_json for each change into one reused string, the raw
//            change event walbus writes when there are no rules
//   map      RuleSet::map for each change into one reused vector of events
//   events   map, then append_event_json for each event into one reused string, as the file and
//            stdout sinks write them
//
// Each mode runs one warm-up pass and K timed passes, and prints the median and best pass as
// changes/s, events/s produced, ns per change, its cost as a ratio against the json reference,
// and the heap allocations per change and per event in the timed parts (this binary replaces the
// global operator new and, with glibc, malloc, to count them). The counters each pass
// accumulates (changes, events, bytes produced) must be the same in every pass, or the program
// fails; so must the change count match --expect-changes.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>

#include "recording.h"
#include "walbus/config/config.h"
#include "walbus/core/change_json.h"
#include "walbus/core/integration_event.h"
#include "walbus/core/type_registry.h"
#include "walbus/decoders/pgoutput_decoder.h"
#include "walbus/mappers/rules.h"
#include "walbus/pipeline/setup.h"

// ---- allocation counting -----------------------------------------------------------------------
//
// Every operator new of the program comes here; with glibc (and no sanitizer, which has its own
// allocator) so does every malloc, calloc, realloc and aligned allocation, forwarded to glibc's
// allocator under its __libc_ names. An operator new counts once in each counter (it calls
// malloc). The program runs on one thread, so plain counters do.

#if defined(__SANITIZE_ADDRESS__)
#define WALBUS_BENCH_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WALBUS_BENCH_COUNT_MALLOC 0
#endif
#endif
#if !defined(WALBUS_BENCH_COUNT_MALLOC)
#if defined(__GLIBC__)
#define WALBUS_BENCH_COUNT_MALLOC 1
#else
#define WALBUS_BENCH_COUNT_MALLOC 0
#endif
#endif

namespace {
std::uint64_t g_new_calls = 0;
std::uint64_t g_malloc_calls = 0;
} // namespace

#if WALBUS_BENCH_COUNT_MALLOC
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void __libc_free(void* p);

void* malloc(std::size_t size) {
    ++g_malloc_calls;
    return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) {
    ++g_malloc_calls;
    return __libc_calloc(count, size);
}
void* realloc(void* p, std::size_t size) {
    ++g_malloc_calls;
    return __libc_realloc(p, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
    ++g_malloc_calls;
    return __libc_memalign(alignment, size);
}
void* memalign(std::size_t alignment, std::size_t size) {
    ++g_malloc_calls;
    return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
    ++g_malloc_calls;
    void* p = __libc_memalign(alignment, size);
    if (p == nullptr) {
        return 12; // ENOMEM
    }
    *out = p;
    return 0;
}
void free(void* p) {
    __libc_free(p);
}
}
#endif

namespace {
void* counted_new(std::size_t size) {
    ++g_new_calls;
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
void* counted_new(std::size_t size, std::align_val_t alignment) {
    ++g_new_calls;
    const auto a = static_cast<std::size_t>(alignment);
    if (void* p = std::aligned_alloc(a, (std::max<std::size_t>(size, 1) + a - 1) / a * a)) {
        return p;
    }
    throw std::bad_alloc();
}
} // namespace

void* operator new(std::size_t size) {
    return counted_new(size);
}
void* operator new[](std::size_t size) {
    return counted_new(size);
}
void* operator new(std::size_t size, std::align_val_t a) {
    return counted_new(size, a);
}
void* operator new[](std::size_t size, std::align_val_t a) {
    return counted_new(size, a);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    ++g_new_calls;
    return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    ++g_new_calls;
    return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

enum class Mode { Json, Map, Events };

const char* mode_name(Mode m) {
    switch (m) {
    case Mode::Json: return "json (reference)";
    case Mode::Map: return "map";
    case Mode::Events: return "map + event json";
    }
    return "?";
}

// What one pass did.
struct Pass {
    double seconds = 0;
    std::uint64_t changes = 0;
    std::uint64_t events = 0; // json: one change event per change
    std::uint64_t bytes = 0;  // json and events: JSON bytes; map: the events' records
    std::uint64_t new_calls = 0;
    std::uint64_t malloc_calls = 0;
};

struct Bench {
    walbus::bench::Recording recording;
    std::size_t batch_size = 1000;
    std::vector<walbus::ChangeEvent> batch; // the changes of the batch being handled
    walbus::mappers::RuleSet* rules = nullptr;
    walbus::pg::TypeRegistry types; // the built-in types, as the pipeline starts with
    walbus::pg::JsonOptions options;
    // Reused across passes, as the pipeline reuses its own.
    std::string line;
};

// What the map mode counts of each event, so that every pass must produce the same: the bytes
// of its record (id, topic, key, value). Kept light: it is timed with the mapping.
std::uint64_t event_bytes(const walbus::IntegrationEvent& ev) {
    return ev.id.size() + ev.topic.size() + ev.key.size() + ev.value.size();
}

// The CPU time of this thread: what the timed parts cost, whatever else runs on the machine.
std::chrono::nanoseconds thread_cpu_time() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Decodes the recording from its start, as the pipeline does, and calls `handle` with the
// changes of each transaction (of each `batch_size` changes of a larger one). False, after
// printing, when a message cannot be decoded or `handle` returns false.
template <typename Handle> bool for_each_batch(Bench& b, Handle&& handle) {
    walbus::decoders::PgoutputDecoder decoder;
    walbus::decoders::DecodedMessage msg;
    b.batch.clear();
    for (const walbus::bench::Record& r : b.recording.records) {
        if (auto ok = decoder.decode(r.payload, r.wal_start, msg); !ok) {
            std::fprintf(stderr, "error: decoding the message at %s: %s\n",
                         r.wal_start.str().c_str(), ok.error().message.c_str());
            return false;
        }
        for (walbus::ChangeEvent& c : msg.changes) {
            b.batch.push_back(std::move(c));
        }
        if (msg.kind == walbus::decoders::MessageKind::Commit || b.batch.size() >= b.batch_size) {
            if (!b.batch.empty() && !handle(b.batch)) {
                return false;
            }
            b.batch.clear();
        }
    }
    return b.batch.empty() || handle(b.batch);
}

// One pass over every change. False, after printing, when the rules fail on a change.
bool run_pass(Bench& b, Mode mode, Pass& pass) {
    std::uint64_t events = 0;
    std::uint64_t bytes = 0;
    std::uint64_t changes = 0;
    std::chrono::nanoseconds timed{};
    auto handle = [&](const std::vector<walbus::ChangeEvent>& batch) {
        const std::uint64_t new0 = g_new_calls;
        const std::uint64_t malloc0 = g_malloc_calls;
        const auto t0 = thread_cpu_time();
        for (const walbus::ChangeEvent& change : batch) {
            if (mode == Mode::Json) {
                b.line.clear();
                walbus::append_change_json(b.line, change, b.types, b.options);
                bytes += b.line.size();
                ++events;
                continue;
            }
            auto mapped = b.rules->map(change, b.types, b.options);
            if (!mapped) {
                std::fprintf(stderr, "error: %s\n", mapped.error().message.c_str());
                return false;
            }
            events += mapped->size();
            if (mode == Mode::Map) {
                for (const walbus::IntegrationEvent& ev : *mapped) {
                    bytes += event_bytes(ev);
                }
                continue;
            }
            b.line.clear();
            for (const walbus::IntegrationEvent& ev : *mapped) {
                walbus::append_event_json(b.line, ev);
                b.line.push_back('\n');
            }
            bytes += b.line.size();
        }
        timed += thread_cpu_time() - t0;
        pass.new_calls += g_new_calls - new0;
        pass.malloc_calls += g_malloc_calls - malloc0;
        changes += batch.size();
        return true;
    };
    if (!for_each_batch(b, handle)) {
        return false;
    }
    pass.seconds = std::chrono::duration<double>(timed).count();
    pass.changes = changes;
    pass.events = events;
    pass.bytes = bytes;
    return true;
}

// What the recording holds and what each rule makes of it (one untimed pass), so that a reader
// can see the workload behind the figures.
bool print_workload(Bench& b, std::uint64_t& changes) {
    std::map<std::string, std::uint64_t> ops;
    std::map<std::string, std::uint64_t> by_rule;
    std::uint64_t unmatched = 0;
    changes = 0;
    auto count = [&](const std::vector<walbus::ChangeEvent>& batch) {
        for (const walbus::ChangeEvent& c : batch) {
            std::string key = c.relation ? c.relation->schema + "." + c.relation->table : c.prefix;
            key += ' ';
            key += walbus::to_string(c.op);
            ++ops[key];
            auto mapped = b.rules->map(c, b.types, b.options);
            if (!mapped) {
                std::fprintf(stderr, "error: %s\n", mapped.error().message.c_str());
                return false;
            }
            unmatched += mapped->empty();
            for (const walbus::IntegrationEvent& ev : *mapped) {
                ++by_rule[ev.dead_letter ? ev.rule + " (dead letter)" : ev.rule];
            }
        }
        changes += batch.size();
        return true;
    };
    if (!for_each_batch(b, count)) {
        return false;
    }
    std::printf("\nchanges by table and operation:\n");
    for (const auto& [key, n] : ops) {
        std::printf("  %-40s %10llu\n", key.c_str(), static_cast<unsigned long long>(n));
    }
    std::printf("events by rule (%zu rules; %llu changes made no event):\n", b.rules->size(),
                static_cast<unsigned long long>(unmatched));
    for (const auto& [rule, n] : by_rule) {
        std::printf("  %-40s %10llu\n", rule.empty() ? "(raw)" : rule.c_str(),
                    static_cast<unsigned long long>(n));
    }
    return true;
}

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void usage() {
    std::fprintf(stderr, "usage: mapper_bench RECORDING CONFIG [--mode json|map|events] "
                         "[--iterations K] [--batch N] [--expect-changes N]\n");
}

} // namespace

int main(int argc, char** argv) {
    const char* recording_path = nullptr;
    const char* config_path = nullptr;
    int iterations = 5;
    long long expect_changes = -1;
    long long batch = 1000;
    std::vector<Mode> modes = {Mode::Json, Mode::Map, Mode::Events};
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--iterations" && i + 1 < argc) {
            iterations = std::atoi(argv[++i]);
            if (iterations < 1) {
                std::fprintf(stderr, "error: --iterations needs a positive number\n");
                return kExitUsage;
            }
        } else if (arg == "--mode" && i + 1 < argc) {
            std::string_view m = argv[++i];
            if (m == "json") {
                modes = {Mode::Json};
            } else if (m == "map") {
                modes = {Mode::Map};
            } else if (m == "events") {
                modes = {Mode::Events};
            } else {
                std::fprintf(stderr, "error: --mode is json, map or events\n");
                return kExitUsage;
            }
        } else if (arg == "--batch" && i + 1 < argc) {
            batch = std::atoll(argv[++i]);
            if (batch < 1) {
                std::fprintf(stderr, "error: --batch needs a positive number\n");
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
        } else if (!arg.starts_with("-") && recording_path == nullptr) {
            recording_path = argv[i];
        } else if (!arg.starts_with("-") && config_path == nullptr) {
            config_path = argv[i];
        } else {
            usage();
            return kExitUsage;
        }
    }
    if (recording_path == nullptr || config_path == nullptr) {
        usage();
        return kExitUsage;
    }

    // The rules, compiled as `walbus run` compiles them.
    walbus::PreparedConfig prepared =
        walbus::prepare_config(walbus::config::load_file(config_path), config_path);
    if (!prepared.diagnostics.empty()) {
        for (const walbus::config::Diagnostic& d : prepared.diagnostics) {
            std::fprintf(stderr, "%s\n", d.str().c_str());
        }
        return kExitUsage;
    }
    if (!prepared.rules) {
        std::fprintf(stderr, "error: %s has no rules to measure; add a rules: list\n", config_path);
        return kExitUsage;
    }

    Bench b;
    b.rules = prepared.rules.get();
    const walbus::config::FormatConfig& format = prepared.config->format;
    b.options.numeric_as_number = format.numeric == walbus::config::NumericFormat::Number;
    b.options.bytea = format.bytea == walbus::config::BytesFormat::Hex
                          ? walbus::pg::JsonOptions::Bytes::Hex
                          : walbus::pg::JsonOptions::Bytes::Base64;
    b.options.unchanged_toast_marker = format.toast == walbus::config::ToastPolicy::Marker;

    b.batch_size = static_cast<std::size_t>(batch);
    if (!walbus::bench::load_recording(recording_path, b.recording)) {
        return kExitRuntime;
    }
    std::printf("recording: %s (%zu messages, %.1f MB of pgoutput)\n", recording_path,
                b.recording.records.size(), static_cast<double>(b.recording.payload_bytes) / 1e6);
    std::printf("config: %s (%zu rules)\n", config_path, b.rules->size());
    std::uint64_t total = 0;
    if (!print_workload(b, total)) {
        return kExitRuntime;
    }
    std::printf("\nchanges: %llu, mapped a transaction (at most %zu changes) at a time, right "
                "after decoding it; timed passes per mode: %d (after one warm-up pass)\n",
                static_cast<unsigned long long>(total), b.batch_size, iterations);
    if (expect_changes >= 0 && total != static_cast<std::uint64_t>(expect_changes)) {
        std::fprintf(stderr, "error: the recording decoded to %llu changes; expected %lld\n",
                     static_cast<unsigned long long>(total), expect_changes);
        return kExitRuntime;
    }
    if (total == 0) {
        std::fprintf(stderr, "error: the recording holds no changes\n");
        return kExitRuntime;
    }

    std::printf("\n%-17s %9s %11s %11s %11s %9s %8s %11s %11s %11s %13s\n", "mode", "median s",
                "changes/s", "best ch/s", "events/s", "ns/change", "x json", "allocs/ch",
                "allocs/ev", "events/pass", "bytes/pass");
    double json_seconds = 0;
    for (Mode mode : modes) {
        Pass warm_up;
        if (!run_pass(b, mode, warm_up)) {
            return kExitRuntime;
        }
        std::vector<Pass> passes(static_cast<std::size_t>(iterations));
        for (Pass& p : passes) {
            if (!run_pass(b, mode, p)) {
                return kExitRuntime;
            }
        }
        // Every pass must have done the same work; a difference means a bug.
        for (const Pass& p : passes) {
            if (p.changes != warm_up.changes || p.events != warm_up.events ||
                p.bytes != warm_up.bytes) {
                std::fprintf(stderr, "error: %s: passes disagree on their output\n",
                             mode_name(mode));
                return kExitRuntime;
            }
        }
        std::vector<double> secs;
        std::uint64_t news = 0;
        std::uint64_t mallocs = 0;
        for (const Pass& p : passes) {
            secs.push_back(p.seconds);
            news += p.new_calls;
            mallocs += p.malloc_calls;
        }
        const double median = median_of(secs);
        const double best = *std::min_element(secs.begin(), secs.end());
        if (mode == Mode::Json) {
            json_seconds = median;
        }
        // Heap allocations of the timed passes: malloc-level calls where they are counted (they
        // include operator new's), else operator new's.
        const double allocs = static_cast<double>(WALBUS_BENCH_COUNT_MALLOC ? mallocs : news);
        const auto changes = static_cast<double>(warm_up.changes);
        const auto events = static_cast<double>(warm_up.events);
        const double k = iterations;
        char ratio[16] = "-";
        if (json_seconds > 0 && mode != Mode::Json) {
            std::snprintf(ratio, sizeof ratio, "%.2f", median / json_seconds);
        } else if (mode == Mode::Json) {
            std::snprintf(ratio, sizeof ratio, "1.00");
        }
        std::printf("%-17s %9.4f %11.0f %11.0f %11.0f %9.1f %8s %11.3f %11.3f %11llu %13llu\n",
                    mode_name(mode), median, changes / median, changes / best, events / median,
                    median * 1e9 / changes, ratio, allocs / (k * changes),
                    events > 0 ? allocs / (k * events) : 0.0,
                    static_cast<unsigned long long>(warm_up.events),
                    static_cast<unsigned long long>(warm_up.bytes));
        if (WALBUS_BENCH_COUNT_MALLOC && mallocs != news) {
            std::printf("%-17s (allocs per change: %.3f by operator new, %.3f by direct malloc "
                        "calls)\n",
                        "", static_cast<double>(news) / (k * changes),
                        static_cast<double>(mallocs - news) / (k * changes));
        }
    }
    std::printf("\nx json: median time against the json reference's in this run; allocs: heap "
                "allocations (%s) in the timed passes, per change and per event produced; "
                "events/pass for json counts one change event per change\n",
                WALBUS_BENCH_COUNT_MALLOC ? "malloc, calloc, realloc and operator new"
                                          : "operator new");
    return kExitOk;
}
