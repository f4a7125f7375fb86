#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "walbus/core/rule_spec.h"

namespace walbus::config {

enum class SinkType { Stdout, File, Kafka };
enum class KafkaMode { ExactlyOnce, AtLeastOnce };
enum class DecoderType { Pgoutput, Wal2json };
// source.streaming: pgoutput protocol version 2, transactions streamed while in progress.
enum class StreamingMode { Auto, On, Off };
enum class NumericFormat { String, Number };
enum class BytesFormat { Base64, Hex };
enum class ToastPolicy { Omit, Marker, Error };
enum class CheckpointType { File };

struct SourceConfig {
    std::string dsn; // libpq connection string or URI; secret
    std::string slot = "walbus";
    std::string publication = "walbus";
    std::vector<std::string> tables; // for a publication walbus creates; "schema.table" or "table"
    bool create_slot = true;
    bool create_publication = false;
    DecoderType decoder = DecoderType::Pgoutput;
    StreamingMode streaming = StreamingMode::Auto;
    std::size_t staging_memory = 64 * 1024 * 1024; // memory for streamed transactions
    std::string staging_dir; // empty: checkpoint.path + ".staging", else under the temp dir
    std::chrono::milliseconds status_interval{10'000};
    std::chrono::milliseconds reconnect_timeout{300'000};
    std::chrono::milliseconds reconnect_backoff_max{30'000};
    std::chrono::milliseconds heartbeat_interval{0}; // 0: no heartbeat messages
};

// One entry of a map of strings (sink.kafka.properties), with its place in the file.
struct MapEntry {
    std::string key;
    std::string value;
    int line = 0;
    int column = 0;
};

struct KafkaConfig {
    std::vector<MapEntry> properties; // librdkafka properties; values may hold secrets
    KafkaMode mode = KafkaMode::ExactlyOnce;
    std::string transactional_id; // empty: "walbus-" + the pipeline name
    std::string progress_topic = "walbus.progress";
    bool create_topics = true;
    std::chrono::milliseconds timeout{30'000};
};

struct SinkConfig {
    SinkType type = SinkType::Stdout;
    std::string path; // required for file
    std::chrono::milliseconds flush_interval{200};
    std::chrono::milliseconds flush_idle{5}; // 0: flush only by interval, bytes and events
    std::size_t flush_bytes = 16 * 1024 * 1024;
    std::size_t flush_events = 100'000;
    bool fsync = true;
    KafkaConfig kafka;
};

// How column values are written.
struct FormatConfig {
    NumericFormat numeric = NumericFormat::String;
    BytesFormat bytea = BytesFormat::Base64;
    ToastPolicy toast = ToastPolicy::Omit;
};

struct CheckpointConfig {
    CheckpointType type = CheckpointType::File;
    std::string path; // required
};

// The HTTP endpoint of Prometheus metrics, /healthz and /readyz (docs/operations.md).
struct MetricsConfig {
    std::string address = "127.0.0.1";
    std::size_t port = 0; // 0: no endpoint
};

struct Config {
    std::string name = "walbus"; // pipeline name
    SourceConfig source;
    SinkConfig sink;
    FormatConfig format;
    CheckpointConfig checkpoint;
    MetricsConfig metrics;
    MappingSpec mapping;
    bool has_rules = false; // a `rules` list is present (it may be empty)
    std::vector<RuleSpec> rules;
};

// One problem found while loading, printed as "file:line:col: error: message".
struct Diagnostic {
    std::string file;
    int line = 0;   // 1-based; 0 when the problem has no place in the file
    int column = 0; // 1-based
    std::string message;

    [[nodiscard]] std::string str() const;
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

struct LoadResult {
    std::optional<Config> config;        // set when diagnostics is empty
    Config parsed;                       // what could be read, whether or not there were problems
    std::vector<Diagnostic> diagnostics; // every problem, in file order
};

// Parses and validates a YAML configuration. `${NAME}` in any scalar value is replaced with the
// environment variable NAME (`$${` is a literal `${`); an unset variable is a diagnostic.
[[nodiscard]] LoadResult load_string(std::string_view yaml, std::string_view file_name,
                                     const EnvLookup& env);
[[nodiscard]] LoadResult load_file(const std::string& path); // uses the process environment

// Every key a rule may have, its `outbox` map ("outbox.table", ...) and its `message` map
// ("message.prefix"), for the check that docs/mapping-rules.md documents each one.
[[nodiscard]] std::vector<std::string> rule_reference_keys();

// docs/configuration.md, generated from the same key declarations that drive parsing.
[[nodiscard]] std::string reference_markdown();

} // namespace walbus::config
