#include "walbus/sink/kafka_sink.h"

#include <librdkafka/rdkafka.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <set>
#include <thread>

namespace walbus {
namespace {

using Clock = std::chrono::steady_clock;

// Properties walbus sets itself: a user value would break exactly-once or the progress record.
constexpr std::array<std::string_view, 6> kReserved{"transactional.id", "enable.idempotence",
                                                    "isolation.level",  "enable.auto.commit",
                                                    "group.id",         "dr_msg_cb"};

struct ConfDeleter {
    void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct HandleDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct ErrorDeleter {
    void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

void quiet_log(const rd_kafka_t*, int, const char*, const char*) {}

// A configuration with the user's properties, or the first problem with them.
Result<ConfPtr> make_conf(const std::vector<std::pair<std::string, std::string>>& properties) {
    ConfPtr conf(rd_kafka_conf_new());
    rd_kafka_conf_set_log_cb(conf.get(), quiet_log);
    char errstr[512];
    for (const auto& [name, value] : properties) {
        if (std::ranges::find(kReserved, name) != kReserved.end()) {
            return fail(ErrorCode::Config,
                        "sink.kafka.properties: '" + name + "' is set by walbus itself; remove it");
        }
        if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            // librdkafka quotes the value; it may be a secret, so it is left out.
            std::string reason = errstr;
            if (!value.empty()) {
                for (auto at = reason.find(value); at != std::string::npos;
                     at = reason.find(value, at + 3)) {
                    reason.replace(at, value.size(), "...");
                }
            }
            return fail(ErrorCode::Config,
                        "sink.kafka.properties: " + reason +
                            " (see librdkafka's CONFIGURATION.md for the names and values)");
        }
    }
    return conf;
}

Result<void> set(rd_kafka_conf_t* conf, const char* name, const char* value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        return fail(ErrorCode::Internal, std::string("librdkafka refused ") + name + ": " + errstr);
    }
    return {};
}

bool has_property(const std::vector<std::pair<std::string, std::string>>& properties,
                  std::string_view name) {
    return std::ranges::any_of(properties, [&](const auto& p) { return p.first == name; });
}

} // namespace

std::vector<std::string>
check_kafka_properties(const std::vector<std::pair<std::string, std::string>>& properties) {
    std::vector<std::string> problems;
    for (const auto& property : properties) {
        auto conf = make_conf({property});
        if (!conf) {
            problems.push_back(conf.error().message);
        }
    }
    return problems;
}

struct KafkaSink::Impl {
    KafkaSettings settings;
    HandlePtr producer;
    bool in_txn = false;
    bool fenced_or_fatal = false;
    std::size_t bytes = 0;
    std::size_t events = 0;
    std::set<std::string, std::less<>> known_topics;
    // Delivery failures reported since the last commit (at_least_once).
    std::size_t failed_deliveries = 0;
    std::string last_delivery_error;

    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        auto* self = static_cast<Impl*>(opaque);
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ++self->failed_deliveries;
            self->last_delivery_error = rd_kafka_err2str(m->err);
        }
    }

    // A broker error as a walbus error: fatal ones (fenced, not authorized) stop walbus,
    // others are retried by reconnecting and replaying from the last committed position.
    Error classify(const rd_kafka_error_t* e, const std::string& what) {
        const std::string text = what + ": " + rd_kafka_error_string(e);
        const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
        if (code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
            code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
            fenced_or_fatal = true;
            return Error{ErrorCode::Sink,
                         text + " — another walbus instance with transactional.id '" +
                             settings.transactional_id +
                             "' (the same pipeline name) has started and fenced this one; "
                             "this instance stops so that no event is published twice"};
        }
        if (rd_kafka_error_is_fatal(e) != 0 ||
            code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
            code == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
            code == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED) {
            fenced_or_fatal = true;
            return Error{ErrorCode::Sink, text};
        }
        return Error{ErrorCode::SinkUnavailable, text};
    }

    // Runs a transactional call, retrying what librdkafka calls retriable until the timeout.
    template <typename Call> Result<void> retrying(const std::string& what, Call call) {
        const auto deadline = Clock::now() + settings.timeout;
        while (true) {
            ErrorPtr e(call());
            if (!e) {
                return {};
            }
            if (rd_kafka_error_is_retriable(e.get()) != 0 && Clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            if (rd_kafka_error_txn_requires_abort(e.get()) != 0) {
                Error err = classify(e.get(), what);
                ErrorPtr aborted(rd_kafka_abort_transaction(producer.get(), timeout_ms()));
                in_txn = false;
                bytes = events = 0;
                err.message += "; the Kafka transaction was aborted and its events will be "
                               "published again from the last committed position";
                return std::unexpected(err);
            }
            return std::unexpected(classify(e.get(), what));
        }
    }

    int timeout_ms() const { return static_cast<int>(settings.timeout.count()); }

    Result<void> create_topic(const std::string& name, bool compacted) {
        rd_kafka_NewTopic_t* topic = nullptr;
        char errstr[512];
        topic = rd_kafka_NewTopic_new(name.c_str(), compacted ? 1 : -1, -1, errstr, sizeof errstr);
        if (topic == nullptr) {
            return fail(ErrorCode::Config, "cannot create topic " + name + ": " + errstr);
        }
        if (compacted) {
            rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
        }
        rd_kafka_queue_t* queue = rd_kafka_queue_new(producer.get());
        rd_kafka_AdminOptions_t* options =
            rd_kafka_AdminOptions_new(producer.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms(), errstr, sizeof errstr);
        rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms(), errstr, sizeof errstr);
        rd_kafka_CreateTopics(producer.get(), &topic, 1, options, queue);
        rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms() + 1000);
        Result<void> result;
        if (ev == nullptr) {
            result = fail(ErrorCode::SinkUnavailable,
                          "creating topic " + name + ": no answer from the brokers");
        } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            result = fail(ErrorCode::SinkUnavailable,
                          "creating topic " + name + ": " + rd_kafka_event_error_string(ev));
        } else {
            std::size_t n = 0;
            const rd_kafka_topic_result_t** topics =
                rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
            for (std::size_t i = 0; i < n; ++i) {
                const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[i]);
                if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
                    err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                    const char* msg = rd_kafka_topic_result_error_string(topics[i]);
                    result = fail(err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                                          err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION
                                      ? ErrorCode::Sink
                                      : ErrorCode::SinkUnavailable,
                                  "creating topic " + name + ": " +
                                      (msg != nullptr ? msg : rd_kafka_err2str(err)));
                }
            }
        }
        if (ev != nullptr) {
            rd_kafka_event_destroy(ev);
        }
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_NewTopic_destroy(topic);
        rd_kafka_queue_destroy(queue);
        return result;
    }

    // Asks for the topic's metadata until every partition has a leader, so that the first
    // events to it are sent at once (librdkafka otherwise learns a new topic's leaders on its
    // next periodic scan, about a second later).
    Result<void> learn_topic(const std::string& name) {
        rd_kafka_topic_t* topic = rd_kafka_topic_new(producer.get(), name.c_str(), nullptr);
        const auto deadline = Clock::now() + settings.timeout;
        Result<void> result =
            fail(ErrorCode::SinkUnavailable, "topic " + name + " has no leader for all partitions");
        while (Clock::now() < deadline) {
            const rd_kafka_metadata_t* md = nullptr;
            const rd_kafka_resp_err_t err =
                rd_kafka_metadata(producer.get(), 0, topic, &md, timeout_ms());
            bool ready = false;
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
                const rd_kafka_metadata_topic_t& t = md->topics[0];
                if (t.err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                    result = fail(ErrorCode::Sink, "topic " + name + ": not authorised");
                    rd_kafka_metadata_destroy(md);
                    break;
                }
                ready = t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0;
                for (int i = 0; ready && i < t.partition_cnt; ++i) {
                    ready = t.partitions[i].leader >= 0;
                }
                if (!ready && t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
                    !settings.create_topics) {
                    result = fail(ErrorCode::Sink, "topic " + name +
                                                       " does not exist; create it, or set "
                                                       "sink.kafka.create_topics: true");
                    rd_kafka_metadata_destroy(md);
                    break;
                }
            }
            if (md != nullptr) {
                rd_kafka_metadata_destroy(md);
            }
            if (ready) {
                result = {};
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        rd_kafka_topic_destroy(topic);
        return result;
    }

    Result<void> begin() {
        if (!settings.exactly_once || in_txn) {
            return {};
        }
        ErrorPtr e(rd_kafka_begin_transaction(producer.get()));
        if (e) {
            return std::unexpected(classify(e.get(), "beginning a Kafka transaction"));
        }
        in_txn = true;
        return {};
    }

    // Queues a message, waiting while the local queue is full (back-pressure).
    Result<void> send(const std::string& topic, std::int32_t partition, const char* key,
                      std::size_t key_size, const std::string& value, rd_kafka_headers_t* headers) {
        const auto deadline = Clock::now() + settings.timeout;
        while (true) {
            const rd_kafka_resp_err_t err =
                rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                  RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_size),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                return {};
            }
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && Clock::now() < deadline) {
                rd_kafka_poll(producer.get(), 100);
                continue;
            }
            if (headers != nullptr) {
                rd_kafka_headers_destroy(headers);
            }
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                return fail(ErrorCode::SinkUnavailable,
                            "the brokers accept no events (the producer queue has been full for " +
                                std::to_string(settings.timeout.count() / 1000) + " s)");
            }
            if (err == RD_KAFKA_RESP_ERR__FATAL || err == RD_KAFKA_RESP_ERR__FENCED) {
                char reason[512];
                rd_kafka_fatal_error(producer.get(), reason, sizeof reason);
                fenced_or_fatal = true;
                return fail(ErrorCode::Sink, std::string("producing to ") + topic + ": " + reason);
            }
            if (err == RD_KAFKA_RESP_ERR__STATE) {
                return fail(ErrorCode::SinkUnavailable,
                            std::string("producing to ") + topic + ": " + rd_kafka_err2str(err));
            }
            return fail(ErrorCode::Sink,
                        std::string("producing to ") + topic + ": " + rd_kafka_err2str(err));
        }
    }
};

KafkaSink::KafkaSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaSink::~KafkaSink() {
    if (impl_ && impl_->producer && impl_->in_txn && !impl_->fenced_or_fatal) {
        ErrorPtr e(rd_kafka_abort_transaction(impl_->producer.get(), 5000));
    }
}

Result<std::unique_ptr<KafkaSink>> KafkaSink::connect(const KafkaSettings& settings) {
    auto impl = std::make_unique<Impl>();
    impl->settings = settings;
    auto conf = make_conf(settings.properties);
    if (!conf) {
        return std::unexpected(conf.error());
    }
    rd_kafka_conf_t* c = conf->get();
    if (auto ok = set(c, "enable.idempotence", "true"); !ok) return std::unexpected(ok.error());
    if (!has_property(settings.properties, "linger.ms")) {
        if (auto ok = set(c, "linger.ms", "5"); !ok) return std::unexpected(ok.error());
    }
    if (settings.exactly_once) {
        if (auto ok = set(c, "transactional.id", settings.transactional_id.c_str()); !ok) {
            return std::unexpected(ok.error());
        }
    }
    rd_kafka_conf_set_opaque(c, impl.get());
    rd_kafka_conf_set_dr_msg_cb(c, &Impl::on_delivery);
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
    if (rk == nullptr) {
        return fail(ErrorCode::Config, std::string("cannot create the Kafka producer: ") + errstr);
    }
    (void)conf->release(); // owned by the producer now
    impl->producer.reset(rk);
    return std::unique_ptr<KafkaSink>(new KafkaSink(std::move(impl)));
}

Result<std::optional<Checkpoint>> KafkaSink::recover() {
    Impl& s = *impl_;
    if (!s.settings.exactly_once) {
        return std::nullopt;
    }
    // Fence older instances and abort their open transaction: after this, what read_committed
    // shows is all there will ever be of them.
    if (auto ok = s.retrying(
            "initialising Kafka transactions",
            [&] { return rd_kafka_init_transactions(s.producer.get(), s.timeout_ms()); });
        !ok) {
        return std::unexpected(ok.error());
    }
    if (auto ok = s.create_topic(s.settings.progress_topic, true); !ok) {
        return std::unexpected(ok.error());
    }
    s.known_topics.insert(s.settings.progress_topic);

    // Read the progress topic to its end with read_committed.
    auto conf = make_conf(s.settings.properties);
    if (!conf) {
        return std::unexpected(conf.error());
    }
    for (const auto& [name, value] :
         std::array<std::pair<const char*, const char*>, 5>{{{"isolation.level", "read_committed"},
                                                             {"enable.partition.eof", "true"},
                                                             {"enable.auto.commit", "false"},
                                                             {"group.id", "walbus-progress"},
                                                             // the last fetch would wait 500 ms
                                                             {"fetch.wait.max.ms", "10"}}}) {
        if (auto ok = set(conf->get(), name, value); !ok) return std::unexpected(ok.error());
    }
    char errstr[512];
    HandlePtr consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr));
    if (!consumer) {
        return fail(ErrorCode::Config, std::string("cannot create the Kafka consumer: ") + errstr);
    }
    (void)conf->release();
    const std::string& topic = s.settings.progress_topic;
    std::int64_t low = 0;
    std::int64_t high = 0;
    const rd_kafka_resp_err_t werr = rd_kafka_query_watermark_offsets(
        consumer.get(), topic.c_str(), 0, &low, &high, s.timeout_ms());
    if (werr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return fail(ErrorCode::SinkUnavailable,
                    "reading the end of progress topic " + topic + ": " + rd_kafka_err2str(werr));
    }
    std::optional<Checkpoint> last;
    if (high > low) {
        rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = low;
        rd_kafka_assign(consumer.get(), parts);
        rd_kafka_topic_partition_list_destroy(parts);
        // Read up to the end as it was when this instance fenced the older ones: records of
        // other pipelines' open transactions before it hold read_committed back, so wait for
        // them rather than stop at the first end-of-partition.
        const auto deadline = Clock::now() + s.settings.timeout * 2;
        std::int64_t position = low;
        while (position < high) {
            if (Clock::now() >= deadline) {
                rd_kafka_consumer_close(consumer.get());
                return fail(ErrorCode::SinkUnavailable,
                            "reading progress topic " + topic + " timed out at offset " +
                                std::to_string(position) + " of " + std::to_string(high));
            }
            rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
            if (m == nullptr) {
                continue;
            }
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                position = std::max(position, m->offset);
            } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                std::string text = rd_kafka_message_errstr(m);
                rd_kafka_message_destroy(m);
                rd_kafka_consumer_close(consumer.get());
                return fail(ErrorCode::SinkUnavailable,
                            "reading progress topic " + topic + ": " + text);
            } else {
                position = std::max(position, m->offset + 1);
                const std::string_view key(static_cast<const char*>(m->key), m->key_len);
                if (key == s.settings.pipeline && m->payload != nullptr) {
                    auto cp = parse_checkpoint(
                        std::string_view(static_cast<const char*>(m->payload), m->len),
                        "progress record at offset " + std::to_string(m->offset) + " of " + topic);
                    if (!cp) {
                        rd_kafka_message_destroy(m);
                        rd_kafka_consumer_close(consumer.get());
                        return std::unexpected(cp.error());
                    }
                    last = *cp;
                }
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(consumer.get());
    }
    return last;
}

Result<void> KafkaSink::produce(const IntegrationEvent& event) {
    Impl& s = *impl_;
    if (!s.known_topics.contains(event.topic)) {
        if (s.settings.create_topics) {
            if (auto ok = s.create_topic(event.topic, false); !ok) {
                return ok;
            }
        }
        if (auto ok = s.learn_topic(event.topic); !ok) {
            return ok;
        }
        s.known_topics.insert(event.topic);
    }
    if (auto ok = s.begin(); !ok) {
        return ok;
    }
    rd_kafka_headers_t* headers = rd_kafka_headers_new(header_count(event));
    for_each_header(event, [&](std::string_view name, std::string_view value) {
        rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                            static_cast<ssize_t>(value.size()));
    });
    if (auto ok =
            s.send(event.topic, RD_KAFKA_PARTITION_UA, event.has_key ? event.key.data() : nullptr,
                   event.has_key ? event.key.size() : 0, event.value, headers);
        !ok) {
        return ok;
    }
    s.bytes += event.value.size() + event.key.size();
    ++s.events;
    rd_kafka_poll(s.producer.get(), 0); // serve delivery reports
    return {};
}

Result<void> KafkaSink::commit(const Checkpoint& checkpoint) {
    Impl& s = *impl_;
    if (!s.settings.exactly_once) {
        rd_kafka_resp_err_t err = rd_kafka_flush(s.producer.get(), s.timeout_ms());
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR || s.failed_deliveries > 0) {
            const std::string why = s.failed_deliveries > 0
                                        ? std::to_string(s.failed_deliveries) +
                                              " events were not acknowledged (" +
                                              s.last_delivery_error + ")"
                                        : std::string(rd_kafka_err2str(err));
            s.failed_deliveries = 0;
            return fail(ErrorCode::SinkUnavailable,
                        "waiting for the brokers to acknowledge events: " + why +
                            "; they will be published again from the last checkpoint");
        }
        s.bytes = s.events = 0;
        return {};
    }
    if (auto ok = s.begin(); !ok) {
        return ok;
    }
    const std::string record = format_checkpoint(checkpoint);
    if (auto ok = s.send(s.settings.progress_topic, 0, s.settings.pipeline.data(),
                         s.settings.pipeline.size(), record, nullptr);
        !ok) {
        return ok;
    }
    if (auto ok = s.retrying(
            "committing a Kafka transaction",
            [&] { return rd_kafka_commit_transaction(s.producer.get(), s.timeout_ms()); });
        !ok) {
        return ok;
    }
    s.in_txn = false;
    s.bytes = s.events = 0;
    return {};
}

Result<void> KafkaSink::abort() {
    Impl& s = *impl_;
    s.bytes = s.events = 0;
    if (!s.settings.exactly_once || !s.in_txn || s.fenced_or_fatal) {
        return {};
    }
    s.in_txn = false;
    ErrorPtr e(rd_kafka_abort_transaction(s.producer.get(), s.timeout_ms()));
    if (e) {
        return std::unexpected(s.classify(e.get(), "aborting a Kafka transaction"));
    }
    return {};
}

std::size_t KafkaSink::pending_bytes() const {
    return impl_->bytes;
}

std::size_t KafkaSink::pending_events() const {
    return impl_->events;
}

} // namespace walbus
