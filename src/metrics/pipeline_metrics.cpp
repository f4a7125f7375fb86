#include "walbus/metrics/pipeline_metrics.h"

namespace walbus::metrics {

namespace {

constexpr ErrorCode kErrorKinds[] = {
    ErrorCode::Config,  ErrorCode::Protocol,    ErrorCode::Connection,      ErrorCode::SlotInUse,
    ErrorCode::Auth,    ErrorCode::ServerSetup, ErrorCode::Server,          ErrorCode::Io,
    ErrorCode::Mapping, ErrorCode::Sink,        ErrorCode::SinkUnavailable, ErrorCode::Internal,
};

} // namespace

PipelineMetrics::PipelineMetrics(Registry& registry, std::string_view version)
    : changes_received_total(registry.counter(
          "changes_received_total",
          "Row changes (inserts, updates, deletes, truncates) decoded from the replication "
          "stream, whether or not a rule maps them.")),
      events_published_total(registry.counter_family(
          "events_published_total",
          "Integration events committed to the sink, by mapping rule and destination topic.",
          {"rule", "topic"})),
      transactions_committed_total(registry.counter(
          "transactions_committed_total",
          "PostgreSQL transactions whose events are all committed to the sink, including "
          "transactions that produce no events.")),
      bytes_received_total(registry.counter(
          "bytes_received_total",
          "Bytes of logical replication data received from PostgreSQL: XLogData payloads, "
          "without protocol headers.")),
      replication_lag_bytes(registry.gauge(
          "replication_lag_bytes",
          "WAL bytes the server has written beyond what walbus has durably checkpointed: the "
          "server's latest reported WAL end minus the flush LSN walbus last reported.")),
      replication_lag_seconds(registry.double_gauge(
          "replication_lag_seconds",
          "Seconds from the commit of the latest transaction committed to the sink, on the "
          "server's clock, to the moment walbus committed its events.")),
      kafka_commit_seconds(registry.histogram(
          "kafka_commit_seconds",
          "Duration of each Kafka transaction commit, including the flush of its messages to "
          "the brokers, in seconds.",
          kKafkaCommitBuckets)),
      staged_bytes(registry.gauge_family("staged_bytes",
                                         "Bytes of change data held by walbus until they are "
                                         "committed to the sink, by where they are held "
                                         "(memory, or disk when spilled).",
                                         {"where"})),
      staged_bytes_memory(staged_bytes.with({"memory"})),
      staged_bytes_disk(staged_bytes.with({"disk"})),
      reconnects_total(registry.counter(
          "reconnects_total",
          "Times the replication connection was opened again after a retriable error.")),
      errors_total(registry.counter_family(
          "errors_total",
          "Errors met by the pipeline, by kind (the walbus error code); an error that is "
          "retried counts each time it occurs.",
          {"kind"})) {
    for (ErrorCode code : kErrorKinds) {
        errors_total.with({to_string(code)});
    }
    registry
        .gauge_family("build_info", "Always 1; the version label is the version of walbus.",
                      {"version"})
        .with({version})
        .set(1);
}

} // namespace walbus::metrics
