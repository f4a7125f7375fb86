#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "walbus/checkpoint/checkpoint.h"
#include "walbus/core/error.h"
#include "walbus/core/integration_event.h"

namespace walbus {

struct KafkaSettings {
    // librdkafka properties by their own names: bootstrap.servers, security.protocol, ...
    std::vector<std::pair<std::string, std::string>> properties;
    // exactly_once: events and progress records in Kafka transactions. at_least_once: an
    // idempotent producer, the checkpoint kept elsewhere (a file) and moved only past events
    // the broker acknowledged.
    bool exactly_once = true;
    std::string transactional_id; // exactly_once
    std::string progress_topic;   // exactly_once: compacted, one partition, created if missing
    std::string pipeline;         // the progress record's key
    bool create_topics = true;    // create event topics that do not exist (broker defaults)
    std::chrono::milliseconds timeout{30'000}; // for one call to the broker to succeed
};

// The problems librdkafka finds with these properties (an unknown name, a bad value), each a
// complete message that never repeats a value (it may be a secret); walbus check reports them
// at load time. Properties that walbus sets itself (transactional.id, enable.idempotence,
// isolation.level, ...) are refused too.
[[nodiscard]] std::vector<std::string>
check_kafka_properties(const std::vector<std::pair<std::string, std::string>>& properties);

// Publishes integration events to Kafka. In exactly_once mode every commit() is one Kafka
// transaction: the events produced since the last commit and a progress record holding the
// checkpoint, keyed by the pipeline on the progress topic; recover() reads the last committed
// record back with isolation.level=read_committed after init_transactions() has fenced any
// older instance with the same transactional.id and aborted its open transaction.
class KafkaSink {
public:
    ~KafkaSink();
    KafkaSink(const KafkaSink&) = delete;
    KafkaSink& operator=(const KafkaSink&) = delete;

    [[nodiscard]] static Result<std::unique_ptr<KafkaSink>> connect(const KafkaSettings& settings);

    // exactly_once: fences older instances, then returns the last committed progress record
    // (nullopt when the pipeline has none yet). at_least_once: nullopt.
    [[nodiscard]] Result<std::optional<Checkpoint>> recover();

    // Queues one event (in the open transaction, begun when needed). Waits while librdkafka's
    // queue is full, so a slow or absent broker slows the caller down instead of growing memory.
    [[nodiscard]] Result<void> produce(const IntegrationEvent& event);

    // Makes everything produced since the last commit durable, with the checkpoint:
    // exactly_once commits the transaction; at_least_once waits until every event is
    // acknowledged. A failure leaves nothing of it visible to read_committed consumers.
    [[nodiscard]] Result<void> commit(const Checkpoint& checkpoint);

    // Drops everything produced since the last commit (exactly_once: aborts the transaction;
    // at_least_once cannot take events back: they may be delivered again).
    [[nodiscard]] Result<void> abort();

    // Bytes of event values and keys produced since the last commit.
    [[nodiscard]] std::size_t pending_bytes() const;
    [[nodiscard]] std::size_t pending_events() const;

private:
    struct Impl;
    explicit KafkaSink(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace walbus
