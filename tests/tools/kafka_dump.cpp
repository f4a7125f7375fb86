// Prints every record of the given topics that a read_committed consumer sees, from the
// beginning to the current end, one JSON object per line:
//
//   {"topic":"t","partition":0,"offset":12,"key":"42","headers":{"walbus-id":"..."},"value":"..."}
//
// The key, header values and the value are JSON strings (null when absent). Used by the tests
// and the demo to look at what walbus published.
//
//   kafka_dump BOOTSTRAP TOPIC... [--uncommitted]

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "walbus/core/json_writer.h"

namespace {

void quiet(const rd_kafka_t*, int, const char*, const char*) {}

bool set(rd_kafka_conf_t* conf, const char* name, const char* value) {
    char err[512];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        std::fprintf(stderr, "error: %s\n", err);
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: kafka_dump BOOTSTRAP TOPIC... [--uncommitted]\n");
        return 2;
    }
    const char* bootstrap = argv[1];
    std::vector<std::string> topics;
    bool committed_only = true;
    for (int i = 2; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--uncommitted") {
            committed_only = false;
        } else {
            topics.emplace_back(argv[i]);
        }
    }
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet);
    if (!set(conf, "bootstrap.servers", bootstrap) ||
        !set(conf, "isolation.level", committed_only ? "read_committed" : "read_uncommitted") ||
        !set(conf, "enable.partition.eof", "true") || !set(conf, "enable.auto.commit", "false") ||
        !set(conf, "group.id", "kafka-dump")) {
        return 2;
    }
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == nullptr) {
        std::fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    // Every partition of every topic, from the beginning, up to its current end.
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
    std::map<std::pair<std::string, int>, std::int64_t> ends;
    for (const std::string& topic : topics) {
        rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
        const rd_kafka_metadata_t* md = nullptr;
        if (rd_kafka_metadata(rk, 0, t, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::fprintf(stderr, "error: no topic %s\n", topic.c_str());
            return 1;
        }
        for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
            std::int64_t low = 0;
            std::int64_t high = 0;
            if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000) !=
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                std::fprintf(stderr, "error: cannot read the end of %s/%d\n", topic.c_str(), p);
                return 1;
            }
            if (high > low) {
                rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = low;
                ends[{topic, p}] = high;
            }
        }
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
    }
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);

    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!ends.empty()) {
        if (std::chrono::steady_clock::now() > deadline) {
            std::fprintf(stderr, "error: timed out before the end of the topics\n");
            return 1;
        }
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 500);
        if (m == nullptr) {
            continue;
        }
        const std::string topic = m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "";
        const auto key = std::make_pair(topic, static_cast<int>(m->partition));
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (ends.contains(key) && m->offset >= ends[key]) {
                ends.erase(key);
            }
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::fprintf(stderr, "error: %s\n", rd_kafka_message_errstr(m));
            return 1;
        } else {
            line.clear();
            walbus::JsonWriter w(line);
            w.begin_object();
            w.key("topic");
            w.string(topic);
            w.key("partition");
            w.number(static_cast<std::int64_t>(m->partition));
            w.key("offset");
            w.number(static_cast<std::int64_t>(m->offset));
            w.key("key");
            if (m->key != nullptr) {
                w.string(std::string_view(static_cast<const char*>(m->key), m->key_len));
            } else {
                w.null();
            }
            w.key("headers");
            w.begin_object();
            rd_kafka_headers_t* headers = nullptr;
            if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char* name = nullptr;
                const void* value = nullptr;
                std::size_t size = 0;
                for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                                        RD_KAFKA_RESP_ERR_NO_ERROR;
                     ++i) {
                    w.key(name);
                    w.string(std::string_view(static_cast<const char*>(value), size));
                }
            }
            w.end_object();
            w.key("value");
            if (m->payload != nullptr) {
                w.string(std::string_view(static_cast<const char*>(m->payload), m->len));
            } else {
                w.null();
            }
            w.end_object();
            std::printf("%s\n", line.c_str());
            if (ends.contains(key) && m->offset + 1 >= ends[key]) {
                ends.erase(key);
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}
