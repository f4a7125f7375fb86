#pragma once

// Test harness for tests against the real Kafka broker that the `kafka` ctest fixture started
// (scripts/kafka.sh): its address, librdkafka clients that fail the test on any error, topic
// creation, and reading a topic to its end with a given isolation level.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace walbus::test {

// "127.0.0.1:PORT" of the broker started by the ctest fixture (WALBUS_TEST_KAFKA_DIR/port).
std::string kafka_bootstrap();

struct KafkaHandleDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

struct KafkaErrorDeleter {
    void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using KafkaError = std::unique_ptr<rd_kafka_error_t, KafkaErrorDeleter>;

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// A client of the fixture's broker with the given librdkafka properties.
KafkaHandle kafka_client(rd_kafka_type_t type, const KafkaProperties& properties = {});

// A topic name no earlier test run used.
std::string unique_topic(const std::string& prefix);

// Creates the topic (replication factor 1); fails the test unless it was created.
void create_topic(const std::string& topic, int partitions = 1);

// A producer that counts failed deliveries; produce() fails the test if a message cannot be
// queued, flush() if any message queued so far was not delivered.
class TestProducer {
public:
    explicit TestProducer(const KafkaProperties& properties = {});
    rd_kafka_t* get() { return rk_.get(); }
    void produce(const std::string& topic, const std::string& value, int partition = 0);
    void flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

private:
    struct Deliveries {
        int ok = 0;
        int failed = 0;
        std::string first_error;
    };
    std::unique_ptr<Deliveries> deliveries_ = std::make_unique<Deliveries>();
    KafkaHandle rk_;
};

// The values of every message of partitions [0, partitions) of the topic that a consumer with
// this isolation.level ("read_committed" or "read_uncommitted") sees, in partition then offset
// order. Reads until the end of each partition once no transaction is open on it (the consumer
// reached the high watermark), so commit and abort markers written after the producer's call
// returned are waited for.
std::vector<std::string> read_topic(const std::string& topic, int partitions,
                                    const std::string& isolation_level,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Stops the fixture's broker, runs `while_down`, and starts it again on the same port with the
// same log (scripts/kafka.sh halt and resume).
void kafka_restart(const std::function<void()>& while_down);

// Fails the test with the error's description if `error` is set (for the rd_kafka_*_transaction
// calls, which return a new error object or nullptr).
void require_ok(rd_kafka_error_t* error, const char* what);

} // namespace walbus::test
