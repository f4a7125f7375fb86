// What Kafka consumers see of walbus's output, for bench/e2e_kafka.sh.
//
//   kafka_latency count BOOTSTRAP TOPIC
//       Reads every partition of TOPIC from its beginning to its current end with
//       isolation.level=read_committed and prints one line: `events N keys K bytes B`, where K
//       counts the distinct record keys (by a 64-bit hash) and B the value bytes.
//
//   kafka_latency run BOOTSTRAP TOPIC DSN --insert SQL [--rate TX_PER_S] [--seconds S]
//                     [--warmup S] [--rows N] [--field NAME] [--drain S] [--fetch-wait-ms MS]
//       Commit-to-visible latency. A writer thread runs SQL (one statement, autocommitted; $1 is
//       the transaction number, $2 and $3 the first and last row id of the N rows it must
//       insert) RATE times a second on a fixed schedule, for WARMUP + S seconds, and notes the
//       time right after each COMMIT returns. A read_committed consumer, assigned to every
//       partition of TOPIC from its beginning before the first transaction, notes the time at
//       which each event reaches it and reads the transaction number from the JSON number after
//       `"NAME":` in the event's value. Both times come from the same monotonic clock of this
//       process. The latency of an event is its arrival time minus its transaction's commit
//       time; transactions started in the first WARMUP seconds are left out of the figures. After
//       the last transaction the consumer waits up to DRAIN seconds for the missing events.
//       TOPIC is created (the brokers' default partitions) when it does not exist, so that the
//       consumer can be assigned before anything is published.

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

void quiet(const rd_kafka_t*, int, const char*, const char*) {}

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    std::exit(1);
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: kafka_latency count BOOTSTRAP TOPIC\n"
                 "       kafka_latency run BOOTSTRAP TOPIC DSN --insert SQL [--rate TX_PER_S]\n"
                 "                     [--seconds S] [--warmup S] [--rows N] [--field NAME]\n"
                 "                     [--drain S] [--fetch-wait-ms MS]\n");
    std::exit(2);
}

void set(rd_kafka_conf_t* conf, const char* name, const char* value) {
    char err[512];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        die(err);
    }
}

// A read_committed consumer that is assigned partitions by hand (no group rebalancing).
rd_kafka_t* make_consumer(const std::string& bootstrap,
                          const std::vector<std::pair<const char*, std::string>>& extra) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet);
    set(conf, "bootstrap.servers", bootstrap.c_str());
    set(conf, "isolation.level", "read_committed");
    set(conf, "enable.auto.commit", "false");
    set(conf, "group.id", "kafka-latency");
    for (const auto& [name, value] : extra) {
        set(conf, name, value.c_str());
    }
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == nullptr) {
        die(std::string("cannot create a Kafka consumer: ") + err);
    }
    return rk;
}

// The number of partitions of `topic`, or 0 when it does not exist.
int partition_count(rd_kafka_t* rk, const std::string& topic) {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("reading the metadata of " + topic + ": " + rd_kafka_err2str(err));
    }
    int count = 0;
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        count = md->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return count;
}

void create_topic(rd_kafka_t* rk, const std::string& topic) {
    char err[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), -1, -1, err, sizeof err);
    if (nt == nullptr) {
        die("creating " + topic + ": " + err);
    }
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, queue);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 30000);
    if (ev == nullptr) {
        die("creating " + topic + ": no answer from the broker");
    }
    std::size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (std::size_t i = 0; i < n; ++i) {
        const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            die("creating " + topic + ": " + rd_kafka_err2str(e));
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(nt);
}

void assign_all(rd_kafka_t* rk, const std::string& topic, int partitions, std::int64_t offset) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = offset;
    }
    if (rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("assigning " + topic + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

int count(const std::string& bootstrap, const std::string& topic) {
    rd_kafka_t* rk = make_consumer(bootstrap, {{"enable.partition.eof", "true"}});
    const int partitions = partition_count(rk, topic);
    if (partitions == 0) {
        die("no topic " + topic);
    }
    // The end of each partition now; with nothing in flight, read_committed reaches it.
    std::map<int, std::int64_t> ends;
    for (int p = 0; p < partitions; ++p) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            die("cannot read the end of " + topic + "/" + std::to_string(p));
        }
        if (high > low) {
            ends[p] = high;
        }
    }
    assign_all(rk, topic, partitions, RD_KAFKA_OFFSET_BEGINNING);
    std::uint64_t events = 0;
    std::uint64_t bytes = 0;
    std::vector<std::uint64_t> key_hashes;
    const auto deadline = Clock::now() + std::chrono::seconds(300);
    while (!ends.empty()) {
        if (Clock::now() > deadline) {
            die("timed out before the end of " + topic + " after " + std::to_string(events) +
                " events");
        }
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 500);
        if (m == nullptr) {
            continue;
        }
        const int p = static_cast<int>(m->partition);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (ends.contains(p) && m->offset >= ends[p]) {
                ends.erase(p);
            }
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            die(rd_kafka_message_errstr(m));
        } else {
            ++events;
            bytes += m->len;
            key_hashes.push_back(std::hash<std::string_view>{}(
                std::string_view(static_cast<const char*>(m->key), m->key_len)));
            if (ends.contains(p) && m->offset + 1 >= ends[p]) {
                ends.erase(p);
            }
        }
        rd_kafka_message_destroy(m);
    }
    std::ranges::sort(key_hashes);
    const auto keys = static_cast<std::size_t>(std::unique(key_hashes.begin(), key_hashes.end()) -
                                               key_hashes.begin());
    std::printf("events %llu keys %zu bytes %llu\n", static_cast<unsigned long long>(events), keys,
                static_cast<unsigned long long>(bytes));
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

struct RunOptions {
    std::string bootstrap;
    std::string topic;
    std::string dsn;
    std::string insert;
    double rate = 50;
    double seconds = 30;
    double warmup = 5;
    long rows = 100;
    std::string field = "txn";
    double drain = 30;
    std::string fetch_wait_ms = "10";
};

double number(const char* text, const char* what) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= 0)) {
        std::fprintf(stderr, "error: %s needs a number, not '%s'\n", what, text);
        usage();
    }
    return v;
}

// The transaction number after `"NAME":` in an event's value, or -1.
long long field_value(std::string_view value, std::string_view needle) {
    const std::size_t at = value.find(needle);
    if (at == std::string_view::npos) {
        return -1;
    }
    const char* begin = value.data() + at + needle.size();
    long long n = -1;
    if (std::from_chars(begin, value.data() + value.size(), n).ec != std::errc{}) {
        return -1;
    }
    return n;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) {
        return NAN;
    }
    // Nearest rank.
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

int run(const RunOptions& o) {
    const auto txns = static_cast<long>(std::llround(o.rate * (o.warmup + o.seconds)));
    const auto warmup_txns = static_cast<long>(std::llround(o.rate * o.warmup));
    if (o.insert.empty() || o.rate <= 0 || txns <= warmup_txns || o.rows <= 0) {
        usage();
    }

    rd_kafka_t* rk = make_consumer(
        o.bootstrap, {{"enable.partition.eof", "false"}, {"fetch.wait.max.ms", o.fetch_wait_ms}});
    int partitions = partition_count(rk, o.topic);
    if (partitions == 0) {
        create_topic(rk, o.topic);
        for (int i = 0; i < 100 && partitions == 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            partitions = partition_count(rk, o.topic);
        }
        if (partitions == 0) {
            die("topic " + o.topic + " did not appear after its creation");
        }
    }
    assign_all(rk, o.topic, partitions, RD_KAFKA_OFFSET_BEGINNING);

    PGconn* pg = PQconnectdb(o.dsn.c_str());
    if (PQstatus(pg) != CONNECTION_OK) {
        die(std::string("connecting to PostgreSQL: ") + PQerrorMessage(pg));
    }

    // Commit times in nanoseconds of Clock, by transaction number; written by the writer only,
    // read after it has been joined.
    std::vector<std::int64_t> committed(static_cast<std::size_t>(txns), 0);
    std::atomic<bool> writer_done{false};
    std::string writer_error;
    double writer_max_behind = 0; // seconds the writer started a transaction late, at most
    // From the start of the first measured transaction to one period after the start of the
    // last: the span over which the measured transactions were written.
    Clock::time_point measured_start;
    Clock::time_point measured_end;
    const auto ns = [](Clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    };

    std::thread writer([&] {
        const auto start = Clock::now() + std::chrono::milliseconds(200);
        const std::chrono::duration<double> period(1.0 / o.rate);
        Clock::time_point last_began;
        for (long i = 0; i < txns; ++i) {
            const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                         period * static_cast<double>(i));
            std::this_thread::sleep_until(due);
            const auto began = Clock::now();
            last_began = began;
            writer_max_behind =
                std::max(writer_max_behind, std::chrono::duration<double>(began - due).count());
            if (i == warmup_txns) {
                measured_start = began;
            }
            const std::string txn = std::to_string(i);
            const std::string first = std::to_string(i * o.rows + 1);
            const std::string last = std::to_string((i + 1) * o.rows);
            const char* params[3] = {txn.c_str(), first.c_str(), last.c_str()};
            PGresult* r =
                PQexecParams(pg, o.insert.c_str(), 3, nullptr, params, nullptr, nullptr, 0);
            const auto done = Clock::now();
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                writer_error = PQresultErrorMessage(r);
                PQclear(r);
                break;
            }
            PQclear(r);
            committed[static_cast<std::size_t>(i)] = ns(done);
        }
        measured_end = last_began + std::chrono::duration_cast<Clock::duration>(period);
        writer_done = true;
    });

    // Arrivals: (transaction number, time).
    std::vector<std::pair<long, std::int64_t>> arrivals;
    arrivals.reserve(static_cast<std::size_t>(txns * o.rows));
    const std::string needle = "\"" + o.field + "\":";
    std::string consumer_error;
    long unparsed = 0;
    std::optional<Clock::time_point> drain_deadline;
    const auto expected = static_cast<std::size_t>(txns * o.rows);
    while (arrivals.size() < expected) {
        if (writer_done && !drain_deadline) {
            drain_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(o.drain));
        }
        if (drain_deadline && Clock::now() > *drain_deadline) {
            break;
        }
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
        if (m == nullptr) {
            continue;
        }
        const auto now = ns(Clock::now());
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            consumer_error = rd_kafka_message_errstr(m);
            rd_kafka_message_destroy(m);
            break;
        }
        const long long txn =
            field_value(std::string_view(static_cast<const char*>(m->payload), m->len), needle);
        if (txn < 0 || txn >= txns) {
            ++unparsed;
        } else {
            arrivals.emplace_back(static_cast<long>(txn), now);
        }
        rd_kafka_message_destroy(m);
    }
    writer.join();
    PQfinish(pg);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (!writer_error.empty()) {
        die("the writer's INSERT failed: " + writer_error);
    }
    if (!consumer_error.empty()) {
        die("consuming " + o.topic + ": " + consumer_error);
    }

    std::vector<long> per_txn(static_cast<std::size_t>(txns), 0);
    std::vector<double> latencies;
    latencies.reserve(arrivals.size());
    for (const auto& [txn, at] : arrivals) {
        ++per_txn[static_cast<std::size_t>(txn)];
        if (txn >= warmup_txns) {
            latencies.push_back(static_cast<double>(at - committed[static_cast<std::size_t>(txn)]) /
                                1e6);
        }
    }
    long short_txns = 0;
    long long_txns = 0;
    for (long c : per_txn) {
        short_txns += c < o.rows ? 1 : 0;
        long_txns += c > o.rows ? 1 : 0;
    }
    std::ranges::sort(latencies);
    double sum = 0;
    for (double v : latencies) {
        sum += v;
    }
    const double window = std::chrono::duration<double>(measured_end - measured_start).count();
    const long measured_txns = txns - warmup_txns;
    std::printf("transactions %ld (warm-up %ld, measured %ld), rows per transaction %ld\n", txns,
                warmup_txns, measured_txns, o.rows);
    std::printf("write rate %.0f changes/s over the measured %.1f s; writer at most %.1f ms "
                "behind its schedule\n",
                static_cast<double>(measured_txns * o.rows) / window, window,
                writer_max_behind * 1000);
    std::printf("events %zu of %zu; transactions with events missing %ld, with events "
                "repeated %ld; unreadable events %ld\n",
                arrivals.size(), expected, short_txns, long_txns, unparsed);
    std::printf("latency_ms p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f mean %.1f "
                "(%zu events)\n",
                percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99),
                percentile(latencies, 99.9), latencies.empty() ? NAN : latencies.back(),
                latencies.empty() ? NAN : sum / static_cast<double>(latencies.size()),
                latencies.size());
    return short_txns == 0 && long_txns == 0 && unparsed == 0 ? 0 : 3;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        usage();
    }
    const std::string_view mode = argv[1];
    if (mode == "count") {
        if (argc != 4) {
            usage();
        }
        return count(argv[2], argv[3]);
    }
    if (mode != "run" || argc < 5) {
        usage();
    }
    RunOptions o;
    o.bootstrap = argv[2];
    o.topic = argv[3];
    o.dsn = argv[4];
    for (int i = 5; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) {
            usage();
        }
        const char* v = argv[++i];
        if (a == "--insert") {
            o.insert = v;
        } else if (a == "--rate") {
            o.rate = number(v, "--rate");
        } else if (a == "--seconds") {
            o.seconds = number(v, "--seconds");
        } else if (a == "--warmup") {
            o.warmup = number(v, "--warmup");
        } else if (a == "--rows") {
            o.rows = static_cast<long>(number(v, "--rows"));
        } else if (a == "--field") {
            o.field = v;
        } else if (a == "--drain") {
            o.drain = number(v, "--drain");
        } else if (a == "--fetch-wait-ms") {
            o.fetch_wait_ms = v;
        } else {
            usage();
        }
    }
    return run(o);
}
