#include "kafka_harness.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace walbus::test {

std::string kafka_bootstrap() {
    const char* dir = std::getenv("WALBUS_TEST_KAFKA_DIR");
    if (dir == nullptr) {
        FAIL("WALBUS_TEST_KAFKA_DIR is not set: run the Kafka tests through ctest, which starts "
             "the throwaway broker (scripts/kafka.sh)");
    }
    std::ifstream in(std::filesystem::path(dir) / "port");
    int port = 0;
    in >> port;
    if (port == 0) {
        FAIL("no Kafka broker port in " << dir << "/port: the kafka_start fixture failed");
    }
    return "127.0.0.1:" + std::to_string(port);
}

namespace {

rd_kafka_conf_t* new_conf(const KafkaProperties& properties) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    KafkaProperties all{{"bootstrap.servers", kafka_bootstrap()}};
    all.insert(all.end(), properties.begin(), properties.end());
    char errstr[512];
    for (const auto& [name, value] : all) {
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            FAIL("librdkafka property " << name << "=" << value << ": " << errstr);
        }
    }
    return conf;
}

KafkaHandle new_handle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (rk == nullptr) {
        rd_kafka_conf_destroy(conf);
        FAIL("rd_kafka_new: " << errstr);
    }
    return KafkaHandle(rk); // owns conf now
}

} // namespace

KafkaHandle kafka_client(rd_kafka_type_t type, const KafkaProperties& properties) {
    return new_handle(type, new_conf(properties));
}

std::string unique_topic(const std::string& prefix) {
    static std::atomic<int> counter{0};
    static const unsigned salt = std::random_device{}();
    return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(salt % 100000) + "-" +
           std::to_string(++counter);
}

void create_topic(const std::string& topic, int partitions) {
    KafkaHandle admin = kafka_client(RD_KAFKA_PRODUCER);
    char errstr[512];
    rd_kafka_NewTopic_t* new_topic =
        rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof errstr);
    REQUIRE(new_topic != nullptr);
    rd_kafka_queue_t* queue = rd_kafka_queue_new(admin.get());
    rd_kafka_CreateTopics(admin.get(), &new_topic, 1, nullptr, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
    rd_kafka_NewTopic_destroy(new_topic);
    std::string problem;
    if (event == nullptr) {
        problem = "no answer within 30s";
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        problem = rd_kafka_event_error_string(event);
    } else {
        size_t count = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
        if (count != 1) {
            problem = "expected one topic result, got " + std::to_string(count);
        } else if (rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            problem = rd_kafka_topic_result_error_string(results[0]);
        }
    }
    if (event != nullptr) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_queue_destroy(queue);
    if (!problem.empty()) {
        FAIL("creating topic " << topic << ": " << problem);
    }
}

TestProducer::TestProducer(const KafkaProperties& properties) {
    rd_kafka_conf_t* conf = new_conf(properties);
    rd_kafka_conf_set_opaque(conf, deliveries_.get());
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        auto* d = static_cast<Deliveries*>(opaque);
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            ++d->ok;
        } else if (d->failed++ == 0) {
            d->first_error = rd_kafka_err2str(m->err);
        }
    });
    rk_ = new_handle(RD_KAFKA_PRODUCER, conf);
}

void TestProducer::produce(const std::string& topic, const std::string& value, int partition) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        FAIL("producing to " << topic << ": " << rd_kafka_err2str(err));
    }
}

void TestProducer::flush(std::chrono::milliseconds timeout) {
    rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        FAIL("flush: " << rd_kafka_err2str(err) << " (" << rd_kafka_outq_len(rk_.get())
                       << " messages still queued)");
    }
    if (deliveries_->failed != 0) {
        FAIL(deliveries_->failed << " messages not delivered; first error: "
                                 << deliveries_->first_error);
    }
}

std::vector<std::string> read_topic(const std::string& topic, int partitions,
                                    const std::string& isolation_level,
                                    std::chrono::milliseconds timeout) {
    KafkaHandle consumer = kafka_client(RD_KAFKA_CONSUMER, {{"group.id", unique_topic("reader")},
                                                            {"enable.auto.commit", "false"},
                                                            {"enable.partition.eof", "true"},
                                                            {"isolation.level", isolation_level}});
    // The high watermark includes the messages of open transactions, so it is read with
    // read_uncommitted whatever the reader's isolation level.
    KafkaHandle watermarks =
        kafka_client(RD_KAFKA_CONSUMER,
                     {{"group.id", unique_topic("hw")}, {"isolation.level", "read_uncommitted"}});

    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer.get(), assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    REQUIRE(err == RD_KAFKA_RESP_ERR_NO_ERROR);

    std::map<int, std::vector<std::string>> values;
    std::map<int, bool> at_end;
    // A partition is read when the reader's position is at the high watermark: then no
    // transaction is open on it and every message it will ever show has been seen.
    auto reached_end = [&](int partition, int64_t position) {
        int64_t low = 0;
        int64_t high = 0;
        rd_kafka_resp_err_t werr = rd_kafka_query_watermark_offsets(watermarks.get(), topic.c_str(),
                                                                    partition, &low, &high, 10000);
        if (werr == RD_KAFKA_RESP_ERR_NO_ERROR && position >= high) {
            at_end[partition] = true;
        }
    };
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (static_cast<int>(at_end.size()) < partitions) {
        if (std::chrono::steady_clock::now() > deadline) {
            FAIL("reading " << topic << " with " << isolation_level << ": only " << at_end.size()
                            << " of " << partitions << " partitions reached their end within "
                            << timeout.count() << "ms");
        }
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
        if (m == nullptr) {
            // The end-of-partition event comes once per arrival at the end; when only commit or
            // abort markers follow, the position moves past them without another one.
            rd_kafka_topic_partition_list_t* positions =
                rd_kafka_topic_partition_list_new(partitions);
            for (int p = 0; p < partitions; ++p) {
                if (!at_end.contains(p)) {
                    rd_kafka_topic_partition_list_add(positions, topic.c_str(), p);
                }
            }
            if (rd_kafka_position(consumer.get(), positions) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                for (int i = 0; i < positions->cnt; ++i) {
                    if (positions->elems[i].offset >= 0) {
                        reached_end(positions->elems[i].partition, positions->elems[i].offset);
                    }
                }
            }
            rd_kafka_topic_partition_list_destroy(positions);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            reached_end(m->partition, m->offset);
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::string what = rd_kafka_message_errstr(m);
            rd_kafka_message_destroy(m);
            FAIL("reading " << topic << ": " << what);
        } else {
            values[m->partition].emplace_back(static_cast<const char*>(m->payload), m->len);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer.get());

    std::vector<std::string> out;
    for (auto& [partition, list] : values) {
        out.insert(out.end(), list.begin(), list.end());
    }
    return out;
}

void require_ok(rd_kafka_error_t* error, const char* what) {
    KafkaError owned(error);
    if (owned) {
        FAIL(what << ": " << rd_kafka_error_name(owned.get()) << ": "
                  << rd_kafka_error_string(owned.get())
                  << (rd_kafka_error_is_fatal(owned.get()) ? " (fatal)" : ""));
    }
}

void kafka_restart(const std::function<void()>& while_down) {
    const char* dir = std::getenv("WALBUS_TEST_KAFKA_DIR");
    REQUIRE(dir != nullptr);
    const std::string script = std::string(WALBUS_SCRIPTS_DIR) + "/kafka.sh";
    REQUIRE(std::system((script + " halt " + dir).c_str()) == 0);
    while_down();
    REQUIRE(std::system((script + " resume " + dir + " >/dev/null").c_str()) == 0);
}

} // namespace walbus::test
