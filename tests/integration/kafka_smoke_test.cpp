// The broker that scripts/kafka.sh starts supports what exactly-once delivery needs: transactions
// whose aborted messages read_committed consumers never see, and fencing of a zombie producer by
// a new one with the same transactional.id. (librdkafka's mock cluster implements neither, so
// these run against the real broker of the `kafka` ctest fixture.)

#include "kafka_harness.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace walbus::test;

namespace {

constexpr int kTxnTimeoutMs = 30000;

} // namespace

TEST_CASE("read_committed consumers see the committed transaction and not the aborted one",
          "[kafka_smoke]") {
    const std::string topic = unique_topic("smoke-txn");
    create_topic(topic);

    TestProducer producer({{"transactional.id", topic + "-producer"}});
    require_ok(rd_kafka_init_transactions(producer.get(), kTxnTimeoutMs), "init_transactions");

    require_ok(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
    for (int i = 0; i < 3; ++i) {
        producer.produce(topic, "committed-" + std::to_string(i));
    }
    require_ok(rd_kafka_commit_transaction(producer.get(), kTxnTimeoutMs), "commit_transaction");

    require_ok(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
    for (int i = 0; i < 2; ++i) {
        producer.produce(topic, "aborted-" + std::to_string(i));
    }
    // Delivered first, so that the aborted messages are in the log and it is the broker's
    // read_committed filtering that hides them (abort_transaction would purge unsent ones).
    producer.flush();
    require_ok(rd_kafka_abort_transaction(producer.get(), kTxnTimeoutMs), "abort_transaction");

    CHECK(read_topic(topic, 1, "read_committed") ==
          std::vector<std::string>{"committed-0", "committed-1", "committed-2"});
    CHECK(read_topic(topic, 1, "read_uncommitted") ==
          std::vector<std::string>{"committed-0", "committed-1", "committed-2", "aborted-0",
                                   "aborted-1"});
}

TEST_CASE("a new producer with the same transactional.id fences the old one", "[kafka_smoke]") {
    const std::string topic = unique_topic("smoke-fence");
    const std::string transactional_id = topic + "-producer";
    create_topic(topic);

    TestProducer zombie({{"transactional.id", transactional_id}});
    require_ok(rd_kafka_init_transactions(zombie.get(), kTxnTimeoutMs), "init_transactions");
    require_ok(rd_kafka_begin_transaction(zombie.get()), "begin_transaction");
    zombie.produce(topic, "from-zombie");
    zombie.flush();

    // The new instance's init_transactions bumps the producer epoch and aborts the zombie's
    // open transaction.
    TestProducer successor({{"transactional.id", transactional_id}});
    require_ok(rd_kafka_init_transactions(successor.get(), kTxnTimeoutMs), "init_transactions");
    require_ok(rd_kafka_begin_transaction(successor.get()), "begin_transaction");
    successor.produce(topic, "from-successor");
    require_ok(rd_kafka_commit_transaction(successor.get(), kTxnTimeoutMs), "commit_transaction");

    KafkaError error(rd_kafka_commit_transaction(zombie.get(), kTxnTimeoutMs));
    REQUIRE(error != nullptr);
    INFO(rd_kafka_error_name(error.get()) << ": " << rd_kafka_error_string(error.get()));
    CHECK(rd_kafka_error_is_fatal(error.get()));
    char reason[512];
    CHECK(rd_kafka_fatal_error(zombie.get(), reason, sizeof reason) == RD_KAFKA_RESP_ERR__FENCED);

    CHECK(read_topic(topic, 1, "read_committed") == std::vector<std::string>{"from-successor"});
}
