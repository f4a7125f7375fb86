#pragma once

#include <array>
#include <string_view>

#include "walbus/core/error.h"
#include "walbus/metrics/registry.h"

namespace walbus::metrics {

// Upper bounds, in seconds, of the buckets of kafka_commit_seconds.
inline constexpr std::array<double, 13> kKafkaCommitBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// The metrics walbus exposes, registered in a Registry (which must outlive this) under the
// names below with the prefix "walbus_". The pipeline updates the fields; every update is a
// relaxed atomic operation, except where a comment says otherwise.
struct PipelineMetrics {
    // Registers every metric, the children of staged_bytes and of errors_total (one per error
    // kind, so each series exists from the start at 0) and build_info{version} = 1.
    PipelineMetrics(Registry& registry, std::string_view version);

    // Row changes decoded from the replication stream (inserts, updates, deletes, truncates),
    // whether or not a rule maps them.
    Counter& changes_received_total;
    // Integration events committed to the sink, by rule and topic. Increment after the sink
    // commits (the Kafka transaction, the file sink's flush), not when the event is produced.
    // Take each child once with events_published_total.with({rule, topic}) and keep it.
    Family<Counter>& events_published_total;
    // PostgreSQL transactions whose events are all committed to the sink, including
    // transactions that no rule maps (they produce no events but are done all the same).
    Counter& transactions_committed_total;
    // Bytes of logical replication data received from the server: the payloads of XLogData
    // messages, without the CopyData and XLogData headers.
    Counter& bytes_received_total;
    // WAL bytes the server has written beyond what walbus has durably checkpointed: the server's
    // WAL end from the latest XLogData or keepalive minus the flush LSN last reported.
    Gauge& replication_lag_bytes;
    // Seconds from the commit of the latest transaction committed to the sink, on the server's
    // clock, to the moment walbus committed its events; kept until the next transaction.
    DoubleGauge& replication_lag_seconds;
    // Duration of each Kafka transaction commit (commit_transaction, which includes flushing
    // the transaction's messages to the brokers), in seconds.
    Histogram& kafka_commit_seconds;
    // Bytes of change data held by walbus while they wait to be committed to the sink, by where
    // they are held; the pipeline sets the two children below.
    Family<Gauge>& staged_bytes;
    Gauge& staged_bytes_memory; // staged_bytes{where="memory"}
    Gauge& staged_bytes_disk;   // staged_bytes{where="disk"}: spilled to local files
    // Times the replication connection was opened again after a retriable error.
    Counter& reconnects_total;
    // Errors met by the pipeline, by kind (the ErrorCode: "connection", "sink_unavailable", ...),
    // each retry's error counted again.
    Family<Counter>& errors_total;

    // errors_total{kind=to_string(code)}. Takes the family's lock: for the error path only.
    Counter& errors(ErrorCode code) { return errors_total.with({to_string(code)}); }
};

} // namespace walbus::metrics
