#include "key_table.h"

#include "value_parsing.h"

#include <algorithm>
#include <array>

namespace walbus::config::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxIdentifierBytes = 63; // PostgreSQL's NAMEDATALEN - 1

std::string quoted_value(std::string_view value, bool secret) {
    return secret ? std::string() : " '" + std::string(value) + "'";
}

std::string check_pipeline_name(std::string_view key, std::string_view value, bool secret) {
    const bool ok = std::ranges::all_of(value, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
    if (ok) {
        return {};
    }
    return "invalid pipeline name" + quoted_value(value, secret) + " for " + std::string(key) +
           "; use only letters, digits, '-', '_' and '.'";
}

std::string check_slot_name(std::string_view key, std::string_view value, bool secret) {
    const bool ok = std::ranges::all_of(
        value, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
    if (!ok) {
        return "invalid replication slot name" + quoted_value(value, secret) + " for " +
               std::string(key) + "; use only lower-case letters, digits and underscores";
    }
    if (value.size() > kMaxIdentifierBytes) {
        return std::string(key) + " is " + std::to_string(value.size()) +
               " characters long; PostgreSQL allows at most 63 in a replication slot name";
    }
    return {};
}

std::string check_publication_name(std::string_view key, std::string_view value, bool) {
    if (value.size() > kMaxIdentifierBytes) {
        return std::string(key) + " is " + std::to_string(value.size()) +
               " bytes long; PostgreSQL allows at most 63 in a publication name";
    }
    return {};
}

// "schema.table" or "table"; a part in double quotes may contain dots.
std::string check_table_name(std::string_view key, std::string_view value, bool secret) {
    std::size_t parts = 1;
    bool empty_part = false;
    bool in_quotes = false;
    std::size_t part_length = 0;
    for (char c : value) {
        if (c == '"') {
            in_quotes = !in_quotes;
        } else if (c == '.' && !in_quotes) {
            empty_part = empty_part || part_length == 0;
            part_length = 0;
            ++parts;
            continue;
        }
        ++part_length;
    }
    empty_part = empty_part || part_length == 0;
    if (parts <= 2 && !empty_part && !in_quotes) {
        return {};
    }
    return "invalid table name" + quoted_value(value, secret) + " in " + std::string(key) +
           "; write 'schema.table' or 'table'";
}

constexpr std::array<std::string_view, 3> kSinkTypes{"stdout", "file", "kafka"};
constexpr std::array<std::string_view, 2> kKafkaModes{"exactly_once", "at_least_once"};
constexpr std::array<std::string_view, 1> kCheckpointTypes{"file"};
constexpr std::array<std::string_view, 2> kDecoders{"pgoutput", "wal2json"};
constexpr std::array<std::string_view, 3> kStreamingModes{"auto", "on", "off"};
constexpr std::array<std::string_view, 2> kNumericFormats{"string", "number"};
constexpr std::array<std::string_view, 2> kBytesFormats{"base64", "hex"};
constexpr std::array<std::string_view, 3> kToastPolicies{"omit", "marker", "error"};

constexpr std::array<std::string_view, 2> kUnmatched{"drop", "raw"};
constexpr std::array<std::string_view, 2> kOnError{"stop", "dead_letter"};
constexpr std::array<std::string_view, 3> kEnvelopes{"plain", "cloudevents-structured",
                                                     "cloudevents-binary"};

constexpr std::array<SectionDecl, 8> kSections{{
    {"source", "The PostgreSQL server walbus streams changes from, over logical replication with "
               "the `pgoutput` plugin (or `wal2json`)."},
    {"sink", "Where walbus writes the change events."},
    {"sink.kafka", "The Kafka sink (`sink.type: kafka`): the brokers, exactly-once or "
                   "at-least-once delivery, the progress topic."},
    {"format", "How column values are written (docs/event-format.md)."},
    {"checkpoint", "Where walbus keeps the last position it has delivered, so that it resumes "
                   "there after a restart."},
    {"metrics", "The HTTP endpoint for monitoring (docs/operations.md): Prometheus metrics at "
                "`/metrics`, `/healthz` (the process runs) and `/readyz` (streaming, not backing "
                "off)."},
    {"mapping", "What happens around the mapping rules (docs/mapping-rules.md): changes no rule "
                "matches, changes a rule cannot map, the default envelope."},
    {"rules", "The mapping rules: a list of rules that turn row changes, outbox rows and "
              "logical decoding messages into integration events. Each rule's keys are "
              "documented in docs/mapping-rules.md. Without rules, every change is written as "
              "a change event (docs/event-format.md)."},
}};

// The order here is the order of the reference documentation.
const std::array<KeyDecl, 41> kKeys{{
    {
        .name = "name",
        .field = StringField{[](Config& c) -> std::string& { return c.name; }, check_pipeline_name},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "orders-to-stdout",
        .description = "Name of this pipeline, used in log lines and metrics to tell several "
                       "walbus processes apart. Letters, digits, `-`, `_` and `.` only.",
    },
    {
        .name = "source.dsn",
        .field = StringField{[](Config& c) -> std::string& { return c.source.dsn; }},
        .required = Required::Yes,
        .required_when = {},
        .secret = true,
        .example = "${WALBUS_PG_DSN}",
        .description =
            "libpq connection string or URI of the PostgreSQL server, e.g. `host=db.internal "
            "dbname=shop user=walbus` or `postgresql://walbus@db.internal/shop`. The role needs "
            "the `REPLICATION` attribute. Keep the password out of this file: take the whole "
            "value from the environment (`${WALBUS_PG_DSN}`) or use `~/.pgpass`.",
    },
    {
        .name = "source.slot",
        .field =
            StringField{[](Config& c) -> std::string& { return c.source.slot; }, check_slot_name},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "walbus_orders",
        .description =
            "Logical replication slot to stream from. PostgreSQL keeps WAL for a slot until "
            "walbus confirms it, so drop the slot when you retire the pipeline. Lower-case "
            "letters, digits and underscores, at most 63 characters.",
    },
    {
        .name = "source.publication",
        .field = StringField{[](Config& c) -> std::string& { return c.source.publication; },
                             check_publication_name},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "walbus_orders",
        .description = "Publication that selects the tables to stream. At most 63 bytes.",
    },
    {
        .name = "source.tables",
        .field =
            StringListField{[](Config& c) -> std::vector<std::string>& { return c.source.tables; },
                            check_table_name},
        .required = Required::Conditional,
        .required_when = "source.create_publication is true",
        .secret = false,
        .example = "[public.orders, public.order_lines]",
        .description = "Tables that walbus puts in the publication it creates, as `schema.table` "
                       "or `table`. Used only with `source.create_publication: true`.",
    },
    {
        .name = "source.create_slot",
        .field = BoolField{[](Config& c) -> bool& { return c.source.create_slot; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "false",
        .description = "Create the replication slot at startup when it does not exist. When "
                       "false, a missing slot is an error.",
    },
    {
        .name = "source.create_publication",
        .field = BoolField{[](Config& c) -> bool& { return c.source.create_publication; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "true",
        .description = "Create the publication for `source.tables` at startup when it does not "
                       "exist. When false, the publication must already exist "
                       "(`CREATE PUBLICATION walbus FOR TABLE ...`).",
    },
    {
        .name = "source.decoder",
        .field = EnumField{
            kDecoders, [](const Config& c) { return static_cast<std::size_t>(c.source.decoder); },
            [](Config& c, std::size_t i) { c.source.decoder = static_cast<DecoderType>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "wal2json",
        .description = "Logical decoding plugin of the slot: `pgoutput` (built into PostgreSQL) "
                       "or `wal2json` (format version 2; the server needs the wal2json "
                       "extension). Both give the same events.",
    },
    {
        .name = "source.streaming",
        .field = EnumField{
            kStreamingModes,
            [](const Config& c) { return static_cast<std::size_t>(c.source.streaming); },
            [](Config& c, std::size_t i) { c.source.streaming = static_cast<StreamingMode>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "off",
        .description =
            "Whether the server streams large transactions while they are still in progress "
            "(pgoutput protocol version 2, `streaming 'on'`), instead of keeping them until "
            "their commit in its own memory and `pg_replslot` spill files. walbus stages the "
            "streamed changes (`source.staging_memory`, then `source.staging_dir`) and publishes "
            "them at the transaction's commit, in commit order, exactly like a transaction sent "
            "whole; rolled-back transactions and subtransactions are dropped. `auto` streams with "
            "`pgoutput` on PostgreSQL 14 and later, and does not otherwise; `on` requires both "
            "(walbus exits with status 2 at start when the server is older, and `on` with "
            "`source.decoder: wal2json` is a configuration error); `off` never streams. The "
            "server streams a transaction once its changes outgrow `logical_decoding_work_mem`.",
    },
    {
        .name = "source.staging_memory",
        .field = SizeField{[](Config& c) -> std::size_t& { return c.source.staging_memory; },
                           1024ULL * 1024, 64ULL * 1024 * 1024 * 1024},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "256MiB",
        .description =
            "Memory for the changes of streamed transactions that have not committed yet, over "
            "all of them. Beyond it, the transactions with the most bytes in memory are written "
            "to files in `source.staging_dir` and read back at their commit, so a transaction "
            "of any size needs at most this much memory (plus a 1 MiB read buffer). Used only "
            "while streaming (`source.streaming`).",
    },
    {
        .name = "source.staging_dir",
        .field = StringField{[](Config& c) -> std::string& { return c.source.staging_dir; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "/var/lib/walbus/staging",
        .description =
            "Directory for the files of streamed transactions that outgrow "
            "`source.staging_memory` (`walbus-stage-<xid>.bin`, one per transaction, removed at "
            "its commit or rollback). It needs room for the largest transactions in progress at "
            "once. By default `checkpoint.path` followed by `.staging` (e.g. "
            "`/var/lib/walbus/checkpoint.json.staging`), or, when `checkpoint.path` is not set, "
            "`walbus-staging-<name>` in the system's temporary directory (`$TMPDIR`, else "
            "`/tmp`); `walbus tail` always uses `walbus-staging-<name>-<pid>` there. Created "
            "when missing. The files only matter while walbus runs (after a restart the server "
            "sends unconfirmed transactions again), so walbus removes leftover ones at start: "
            "give each pipeline its own directory.",
    },
    {
        .name = "source.status_interval",
        .field = DurationField{[](Config& c) -> std::chrono::milliseconds& {
                                   return c.source.status_interval;
                               },
                               100ms, 1h},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "10s",
        .description = "How often walbus reports the position it has flushed to the server, "
                       "which lets PostgreSQL recycle WAL. Keep it well below the server's "
                       "`wal_sender_timeout` (60s by default).",
    },
    {
        .name = "source.reconnect_timeout",
        .field = DurationField{[](Config& c) -> std::chrono::milliseconds& {
                                   return c.source.reconnect_timeout;
                               },
                               1s, 24h},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "5m",
        .description = "How long walbus keeps trying to reconnect after losing the server "
                       "before it gives up and exits with an error. A slot in use by another "
                       "process does not count: a standby instance waits for it as long as it "
                       "takes.",
    },
    {
        .name = "source.reconnect_backoff_max",
        .field = DurationField{[](Config& c) -> std::chrono::milliseconds& {
                                   return c.source.reconnect_backoff_max;
                               },
                               100ms, 1h},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "30s",
        .description = "Longest wait between two reconnection attempts; the waits grow up to "
                       "this value.",
    },
    {
        .name = "source.heartbeat_interval",
        .field = DurationField{[](Config& c) -> std::chrono::milliseconds& {
                                   return c.source.heartbeat_interval;
                               },
                               0ms, 1h},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "1m",
        .description =
            "How often walbus writes a heartbeat into the WAL: a non-transactional logical "
            "decoding message with the prefix `walbus.heartbeat` and the current UTC time, "
            "written with `pg_logical_emit_message` over a separate ordinary connection. It "
            "keeps the slot moving when the published tables are quiet while other databases or "
            "unpublished tables write WAL, which the server could otherwise not recycle. A "
            "failed heartbeat is logged once and retried with backoff; it never stops walbus. "
            "`0ms` (the default) turns heartbeats off.",
    },
    {
        .name = "sink.type",
        .field = EnumField{
            kSinkTypes, [](const Config& c) { return static_cast<std::size_t>(c.sink.type); },
            [](Config& c, std::size_t i) { c.sink.type = static_cast<SinkType>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "file",
        .description = "Where events go: `stdout` writes one JSON object per line to standard "
                       "output, `file` appends them to `sink.path`, `kafka` publishes them to "
                       "Kafka (`sink.kafka`).",
    },
    {
        .name = "sink.path",
        .field = StringField{[](Config& c) -> std::string& { return c.sink.path; }},
        .required = Required::Conditional,
        .required_when = "sink.type is file",
        .secret = false,
        .example = "/var/lib/walbus/events.jsonl",
        .description = "File that the `file` sink appends events to. Used only with "
                       "`sink.type: file`.",
    },
    {
        .name = "sink.flush_interval",
        .field = DurationField{[](Config& c) -> std::chrono::milliseconds& {
                                   return c.sink.flush_interval;
                               },
                               1ms, 1h},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "200ms",
        .description = "Longest time an event waits in the sink's buffer before it is written.",
    },
    {
        .name = "sink.flush_idle",
        .field =
            DurationField{[](Config& c) -> std::chrono::milliseconds& { return c.sink.flush_idle; },
                          0ms, 1h},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "5ms",
        .description = "Buffered events are written (with Kafka: a transaction is committed) as "
                       "soon as the replication stream has been quiet this long, without waiting "
                       "for `sink.flush_interval`: a steady trickle of changes is published within "
                       "milliseconds, while a backlog, which streams without pauses, is still "
                       "written in large batches. `0ms` turns this off.",
    },
    {
        .name = "sink.flush_bytes",
        .field = SizeField{[](Config& c) -> std::size_t& { return c.sink.flush_bytes; }, 1,
                           1024ULL * 1024 * 1024},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "16MiB",
        .description = "Buffered bytes that trigger a write before `sink.flush_interval` has "
                       "passed.",
    },
    {
        .name = "sink.flush_events",
        .field = CountField{[](Config& c) -> std::size_t& { return c.sink.flush_events; }, 1,
                            100'000'000},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "10000",
        .description = "Buffered events (or change events without rules) that trigger a write "
                       "(with Kafka: a transaction commit) before `sink.flush_interval` has "
                       "passed.",
    },
    {
        .name = "sink.fsync",
        .field = BoolField{[](Config& c) -> bool& { return c.sink.fsync; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "false",
        .description = "Sync the output file to disk after each write of the `file` sink. "
                       "Without it, events written shortly before a power failure can be lost.",
    },
    {
        .name = "sink.kafka.properties",
        .field = StringMapField{[](Config& c) -> std::vector<MapEntry>& {
            return c.sink.kafka.properties;
        }},
        .required = Required::Conditional,
        .required_when = "sink.type is kafka",
        .secret = true,
        .example = "{bootstrap.servers: \"kafka1:9092,kafka2:9092\", compression.type: lz4}",
        .description = "librdkafka properties, by librdkafka's own names (its CONFIGURATION.md): "
                       "`bootstrap.servers` (required), security (`security.protocol`, "
                       "`sasl.username`, `sasl.password: ${KAFKA_PASSWORD}`, ...), "
                       "`compression.type`, `linger.ms` (walbus uses 5 unless set), ... Names "
                       "and values are checked when the configuration is loaded. Values are "
                       "never echoed in messages. walbus sets `enable.idempotence`, and "
                       "`transactional.id` in `exactly_once` mode, itself.",
    },
    {
        .name = "sink.kafka.mode",
        .field = EnumField{
            kKafkaModes,
            [](const Config& c) { return static_cast<std::size_t>(c.sink.kafka.mode); },
            [](Config& c, std::size_t i) { c.sink.kafka.mode = static_cast<KafkaMode>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "at_least_once",
        .description = "`exactly_once`: events and the position are written in the same Kafka "
                       "transactions, so that `read_committed` consumers see every event once "
                       "across crashes (needs brokers with transactions). `at_least_once`: an "
                       "idempotent producer, the position kept in `checkpoint.path` and moved "
                       "only past events the brokers acknowledged; after a crash some events "
                       "may be published again (with the same event ids).",
    },
    {
        .name = "sink.kafka.transactional_id",
        .field =
            StringField{[](Config& c) -> std::string& { return c.sink.kafka.transactional_id; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "walbus-catalog",
        .description = "The producer's `transactional.id` in `exactly_once` mode; by default "
                       "`walbus-` followed by the pipeline's `name`. A second instance with the "
                       "same id fences the first, which stops.",
    },
    {
        .name = "sink.kafka.progress_topic",
        .field = StringField{[](Config& c) -> std::string& { return c.sink.kafka.progress_topic; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "walbus.progress",
        .description = "The compacted topic that holds each pipeline's position (keyed by the "
                       "pipeline's `name`), written in the same transactions as the events; "
                       "created with one partition if it does not exist.",
    },
    {
        .name = "sink.kafka.create_topics",
        .field = BoolField{[](Config& c) -> bool& { return c.sink.kafka.create_topics; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "false",
        .description = "Create the event topics the rules name when they do not exist (with the "
                       "brokers' default partitions and replication).",
    },
    {
        .name = "sink.kafka.timeout",
        .field = DurationField{[](Config& c) -> std::chrono::milliseconds& {
                                   return c.sink.kafka.timeout;
                               },
                               std::chrono::seconds(1), std::chrono::hours(1)},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "60s",
        .description = "How long one operation with the brokers (a commit, a full producer "
                       "queue) may take before walbus gives up on it, aborts the open "
                       "transaction and retries from the last committed position with "
                       "backoff.",
    },
    {
        .name = "format.numeric",
        .field = EnumField{
            kNumericFormats,
            [](const Config& c) { return static_cast<std::size_t>(c.format.numeric); },
            [](Config& c, std::size_t i) { c.format.numeric = static_cast<NumericFormat>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "number",
        .description = "`numeric` values as JSON strings (`\"19.99\"`, every digit kept) or as "
                       "JSON numbers (`19.99`; readers that parse numbers as doubles may round "
                       "them). NaN and infinities are strings either way.",
    },
    {
        .name = "format.bytea",
        .field = EnumField{
            kBytesFormats,
            [](const Config& c) { return static_cast<std::size_t>(c.format.bytea); },
            [](Config& c, std::size_t i) { c.format.bytea = static_cast<BytesFormat>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "hex",
        .description = "`bytea` values as base64 or hexadecimal strings.",
    },
    {
        .name = "format.toast",
        .field = EnumField{
            kToastPolicies,
            [](const Config& c) { return static_cast<std::size_t>(c.format.toast); },
            [](Config& c, std::size_t i) { c.format.toast = static_cast<ToastPolicy>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "marker",
        .description = "What to do with a TOASTed value that an UPDATE left unchanged, which "
                       "PostgreSQL does not send: `omit` leaves the column out of `after`, "
                       "`marker` writes `{\"unchanged_toast\":true}` in its place, `error` stops "
                       "walbus (set the table's REPLICA IDENTITY FULL to have the values). The "
                       "column is listed in `source.unchanged_toast` in every case; it is never "
                       "written as null.",
    },
    {
        .name = "checkpoint.type",
        .field = EnumField{
            kCheckpointTypes,
            [](const Config& c) { return static_cast<std::size_t>(c.checkpoint.type); },
            [](Config& c, std::size_t i) { c.checkpoint.type = static_cast<CheckpointType>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "file",
        .description = "How the checkpoint is stored: `file` keeps it in `checkpoint.path`.",
    },
    {
        .name = "checkpoint.path",
        .field = StringField{[](Config& c) -> std::string& { return c.checkpoint.path; }},
        .required = Required::Conditional,
        .required_when = "the position is not kept in Kafka (any sink.type but kafka, or "
                         "sink.kafka.mode: at_least_once)",
        .required_by_default = true,
        .secret = false,
        .example = "/var/lib/walbus/checkpoint.json",
        .description = "File that holds the last position delivered to the sink. walbus "
                       "resumes from it after a restart; keep it on persistent storage. With "
                       "`sink.type: kafka` in `exactly_once` mode the position is kept in "
                       "Kafka (`sink.kafka.progress_topic`) and this key is not used.",
    },
    {
        .name = "metrics.address",
        .field = StringField{[](Config& c) -> std::string& { return c.metrics.address; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "127.0.0.1",
        .description = "Address the metrics endpoint listens on. The default keeps it to this "
                       "machine; `0.0.0.0` (or a host's address) lets a Prometheus server "
                       "elsewhere scrape it.",
    },
    {
        .name = "metrics.port",
        .field = CountField{[](Config& c) -> std::size_t& { return c.metrics.port; }, 0, 65535},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "9550",
        .description = "TCP port of the metrics endpoint (`/metrics`, `/healthz`, `/readyz`). "
                       "`0`, the default, serves no endpoint.",
    },
    {
        .name = "mapping.unmatched",
        .field =
            EnumField{kUnmatched,
                      [](const Config& c) { return static_cast<std::size_t>(c.mapping.unmatched); },
                      [](Config& c, std::size_t i) {
                          c.mapping.unmatched = static_cast<UnmatchedPolicy>(i);
                      }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "raw",
        .description = "A change that no rule matches is dropped (`drop`), or written as a "
                       "change event (docs/event-format.md) to `mapping.raw_topic` (`raw`).",
    },
    {
        .name = "mapping.raw_topic",
        .field = StringField{[](Config& c) -> std::string& { return c.mapping.raw_topic.text; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "cdc.{schema}.{table}",
        .description = "Topic of the change events that `mapping.unmatched: raw` writes: a "
                       "template that may use `{schema}`, `{table}` and `{op}`.",
    },
    {
        .name = "mapping.on_error",
        .field = EnumField{
            kOnError, [](const Config& c) { return static_cast<std::size_t>(c.mapping.on_error); },
            [](Config& c, std::size_t i) {
                c.mapping.on_error = static_cast<MappingErrorPolicy>(i);
            }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "dead_letter",
        .description = "A change that a matching rule cannot map (a payload reads a column "
                       "that an ALTER TABLE dropped, an unchanged TOAST value): `stop` ends "
                       "walbus with an error naming the rule, the table and the position, "
                       "before anything of its transaction is delivered; `dead_letter` writes "
                       "the raw change with the reason to `mapping.dead_letter_topic` and goes "
                       "on.",
    },
    {
        .name = "mapping.dead_letter_topic",
        .field = StringField{[](Config& c) -> std::string& { return c.mapping.dead_letter_topic; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "catalog.dead_letter",
        .description = "Topic of the dead-letter events of `mapping.on_error: dead_letter`.",
    },
    {
        .name = "mapping.envelope",
        .field = EnumField{
            kEnvelopes,
            [](const Config& c) { return static_cast<std::size_t>(c.mapping.envelope); },
            [](Config& c, std::size_t i) { c.mapping.envelope = static_cast<Envelope>(i); }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "cloudevents-structured",
        .description = "The envelope of rules that do not choose one: `plain` (the payload "
                       "object, metadata in headers), `cloudevents-structured` (a CloudEvents "
                       "1.0 JSON envelope) or `cloudevents-binary` (the payload, with `ce_` "
                       "headers).",
    },
    {
        .name = "mapping.cloudevents_source",
        .field =
            StringField{[](Config& c) -> std::string& { return c.mapping.cloudevents_source; }},
        .required = Required::No,
        .required_when = {},
        .secret = false,
        .example = "/catalog-service",
        .description = "The CloudEvents `source` attribute; by default `/walbus/` followed by "
                       "the pipeline's `name`.",
    },
}};

} // namespace

std::string_view parent_of(std::string_view name) {
    const std::size_t dot = name.rfind('.');
    return dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
}

std::string_view leaf_of(std::string_view name) {
    const std::size_t dot = name.rfind('.');
    return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

std::span<const KeyDecl> keys() {
    return kKeys;
}

std::span<const SectionDecl> sections() {
    return kSections;
}

const KeyDecl* find_key(std::string_view name) {
    const auto it = std::ranges::find(kKeys, name, &KeyDecl::name);
    return it == kKeys.end() ? nullptr : &*it;
}

const SectionDecl* find_section(std::string_view name) {
    const auto it = std::ranges::find(kSections, name, &SectionDecl::name);
    return it == kSections.end() ? nullptr : &*it;
}

std::string_view type_name(const Field& field) {
    return std::visit(
        Overloaded{
            [](const StringField&) { return std::string_view("string"); },
            [](const BoolField&) { return std::string_view("boolean"); },
            [](const SizeField&) { return std::string_view("size"); },
            [](const CountField&) { return std::string_view("count"); },
            [](const DurationField&) { return std::string_view("duration"); },
            [](const EnumField&) { return std::string_view("enum"); },
            [](const StringListField&) { return std::string_view("list of strings"); },
            [](const StringMapField&) { return std::string_view("map of strings"); },
        },
        field);
}

} // namespace walbus::config::detail

namespace walbus::config::detail {

std::string default_text(const KeyDecl& decl) {
    Config defaults;
    return std::visit(
        Overloaded{
            [&](const StringField& f) { return f.ref(defaults); },
            [&](const BoolField& f) { return std::string(f.ref(defaults) ? "true" : "false"); },
            [&](const SizeField& f) { return format_size(f.ref(defaults)); },
            [&](const CountField& f) { return std::to_string(f.ref(defaults)); },
            [&](const DurationField& f) { return format_duration(f.ref(defaults)); },
            [&](const EnumField& f) { return std::string(f.values[f.get(defaults)]); },
            [&](const StringListField& f) {
                std::string text;
                for (const std::string& item : f.ref(defaults)) {
                    text += (text.empty() ? "[" : ", ") + item;
                }
                return text.empty() ? text : text + "]";
            },
            [&](const StringMapField&) { return std::string(); },
        },
        decl.field);
}

} // namespace walbus::config::detail
