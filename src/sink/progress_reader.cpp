#include "walbus/sink/progress_reader.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string_view>

namespace walbus {
namespace {

using Clock = std::chrono::steady_clock;

struct ConfDeleter {
    void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct HandleDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct TopicDeleter {
    void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct MessageDeleter {
    void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

// Set by this reader; a user's value for them is ignored (the loader refuses them anyway).
constexpr std::array<std::string_view, 6> kOwn{"isolation.level",    "enable.partition.eof",
                                               "enable.auto.commit", "group.id",
                                               "fetch.wait.max.ms",  "transactional.id"};

void quiet_log(const rd_kafka_t*, int, const char*, const char*) {}

// Stops the consumer's group machinery (there is none: partitions are assigned, not
// subscribed) before the handle is destroyed.
struct Closer {
    rd_kafka_t* rk;
    ~Closer() { rd_kafka_consumer_close(rk); }
};

} // namespace

Result<ProgressTopicState>
read_progress_topic(const std::vector<std::pair<std::string, std::string>>& properties,
                    const std::string& topic, const std::string& pipeline,
                    std::chrono::milliseconds timeout) {
    std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
    rd_kafka_conf_set_log_cb(conf.get(), quiet_log);
    char errstr[512];
    for (const auto& [name, value] : properties) {
        if (std::ranges::find(kOwn, name) != kOwn.end()) {
            continue;
        }
        if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            // librdkafka's message may quote the value, which may be a secret.
            return fail(ErrorCode::Config,
                        "sink.kafka.properties: librdkafka refused '" + name +
                            "' for a consumer; run walbus check on the configuration");
        }
    }
    for (const auto& [name, value] :
         std::array<std::pair<const char*, const char*>, 5>{{{"isolation.level", "read_committed"},
                                                             {"enable.partition.eof", "true"},
                                                             {"enable.auto.commit", "false"},
                                                             {"group.id", "walbus-status"},
                                                             {"fetch.wait.max.ms", "10"}}}) {
        if (rd_kafka_conf_set(conf.get(), name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            return fail(ErrorCode::Internal,
                        std::string("librdkafka refused ") + name + ": " + errstr);
        }
    }
    std::unique_ptr<rd_kafka_t, HandleDeleter> rk(
        rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof errstr));
    if (!rk) {
        return fail(ErrorCode::Config, std::string("cannot create a Kafka consumer: ") + errstr);
    }
    (void)conf.release(); // owned by the consumer now
    Closer closer{rk.get()};
    const int timeout_ms = static_cast<int>(timeout.count());

    ProgressTopicState state;
    {
        std::unique_ptr<rd_kafka_topic_t, TopicDeleter> rkt(
            rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
        const rd_kafka_metadata_t* md = nullptr;
        const rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, rkt.get(), &md, timeout_ms);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return fail(ErrorCode::SinkUnavailable, "reading the metadata of progress topic " +
                                                        topic + ": " + rd_kafka_err2str(err));
        }
        const rd_kafka_resp_err_t topic_err =
            md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        const int partitions = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
        rd_kafka_metadata_destroy(md);
        if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            return state; // no pipeline has committed to it yet
        }
        if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return fail(ErrorCode::SinkUnavailable,
                        "reading progress topic " + topic + ": " + rd_kafka_err2str(topic_err));
        }
        state.topic_exists = partitions > 0;
        if (!state.topic_exists) {
            return state;
        }
    }

    const rd_kafka_resp_err_t werr = rd_kafka_query_watermark_offsets(
        rk.get(), topic.c_str(), 0, &state.low, &state.high, timeout_ms);
    if (werr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return fail(ErrorCode::SinkUnavailable,
                    "reading the end of progress topic " + topic + ": " + rd_kafka_err2str(werr));
    }
    if (state.high <= state.low) {
        return state;
    }
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = state.low;
    const rd_kafka_resp_err_t aerr = rd_kafka_assign(rk.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return fail(ErrorCode::SinkUnavailable,
                    "reading progress topic " + topic + ": " + rd_kafka_err2str(aerr));
    }
    // The first end-of-partition under read_committed is the last stable offset: the end of
    // what is committed now.
    const auto deadline = Clock::now() + timeout;
    std::int64_t position = state.low;
    while (true) {
        if (Clock::now() >= deadline) {
            return fail(ErrorCode::SinkUnavailable,
                        "reading progress topic " + topic + " timed out at offset " +
                            std::to_string(position) + " of " + std::to_string(state.high));
        }
        std::unique_ptr<rd_kafka_message_t, MessageDeleter> m(
            rd_kafka_consumer_poll(rk.get(), 200));
        if (!m) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            break;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return fail(ErrorCode::SinkUnavailable, "reading progress topic " + topic + ": " +
                                                        rd_kafka_message_errstr(m.get()));
        }
        position = std::max(position, m->offset + 1);
        const std::string_view key(static_cast<const char*>(m->key), m->key_len);
        if (key != pipeline || m->payload == nullptr) {
            continue;
        }
        auto cp = parse_checkpoint(std::string_view(static_cast<const char*>(m->payload), m->len),
                                   "progress record at offset " + std::to_string(m->offset) +
                                       " of " + topic);
        if (!cp) {
            return std::unexpected(cp.error());
        }
        ProgressRecord record;
        record.checkpoint = *cp;
        record.offset = m->offset;
        rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        const std::int64_t ts = rd_kafka_message_timestamp(m.get(), &type);
        if (type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0) {
            record.timestamp_ms = ts;
        }
        state.last = record;
    }
    return state;
}

} // namespace walbus
