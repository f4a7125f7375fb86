#include "walbus/pipeline/pipeline.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>
#include <unordered_map>
#include <variant>

#include "walbus/checkpoint/file_checkpoint_store.h"
#include "walbus/core/change_json.h"
#include "walbus/core/integration_event.h"
#include "walbus/decoders/pgoutput_decoder.h"
#include "walbus/decoders/wal2json_decoder.h"
#include "walbus/mappers/rules.h"
#include "walbus/metrics/pipeline_metrics.h"
#include "walbus/metrics/readiness.h"
#include "walbus/pipeline/backoff.h"
#include "walbus/pipeline/source_settings.h"
#include "walbus/pipeline/stager.h"
#include "walbus/sink/kafka_sink.h"
#include "walbus/sink/line_sink.h"
#include "walbus/source/catalog.h"
#include "walbus/source/heartbeat.h"
#include "walbus/source/replication_stream.h"

namespace walbus {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kMaxPoll{100};
constexpr milliseconds kStatsInterval{5'000};

} // namespace

// wal2json does not describe tables: the pipeline answers from the catalog.
class CatalogRelations : public decoders::RelationCatalog {
public:
    using Lookup =
        std::function<std::shared_ptr<const Relation>(std::string_view, std::string_view)>;
    explicit CatalogRelations(Lookup lookup) : lookup_(std::move(lookup)) {}
    std::shared_ptr<const Relation> find(std::string_view schema, std::string_view table,
                                         std::span<const decoders::MessageColumn>) override {
        return lookup_(schema, table);
    }

private:
    Lookup lookup_;
};

struct Pipeline::State {
    config::Config config;
    RunOptions options;

    FileCheckpointStore store;
    std::unique_ptr<Sink> sink;       // stdout and file: JSON lines
    std::unique_ptr<KafkaSink> kafka; // kafka: events in transactions
    bool kafka_ready = false;         // connected, and the position recovered

    Checkpoint durable; // what the checkpoint file says
    Checkpoint pending; // what the next flush will store
    bool has_pending = false;
    Clock::time_point first_unflushed;
    Clock::time_point last_data; // when the stream last sent data (sink.flush_idle)

    CatalogRelations relations{[this](std::string_view schema, std::string_view table) {
        return describe_table(schema, table);
    }};
    std::variant<decoders::PgoutputDecoder, decoders::Wal2jsonDecoder> decoder;
    decoders::DecodedMessage message;
    std::optional<Error> catalog_error; // a failed look-up inside the wal2json decoder
    pg::TypeRegistry types;             // built-ins, plus what the catalog describes
    pg::JsonOptions json_options;
    std::unique_ptr<source::Catalog> catalog; // connected at the first type walbus must look up
    std::string line;                         // reused for each change's JSON
    std::uint64_t events_total = 0;
    std::size_t line_events = 0; // lines appended to the line sink since its last flush
    bool in_txn = false;         // between Begin and Commit
    std::uint64_t txn_mark = 0;  // sink offset where the open transaction started
    Position txn_last;           // position of its last change written
    bool txn_wrote = false;

    Lsn written; // furthest WAL received
    Lsn server_wal_end;
    bool stop_reached = false;

    // Transactions the server streams while in progress (source.streaming): their messages are
    // staged per toplevel xid, dropped at Stream Abort, replayed at Stream Commit.
    bool streams_txns = false;              // the current connection asked for streaming
    std::optional<pipeline::Stager> stager; // made by the first connection that streams
    std::size_t block_messages = 0;         // staged in the open stream block
    bool block_first = false;               // the open block is its transaction's first
    source::ReplicationStream* active_stream = nullptr; // for status updates in a long replay

    // Metrics: the caller's, or the pipeline's own when it gives none.
    std::unique_ptr<metrics::Registry> own_registry;
    std::unique_ptr<metrics::PipelineMetrics> own_metrics;
    metrics::PipelineMetrics* meter = nullptr;
    // Events handed to the sink, by (rule, topic), counted in events_published_total once the
    // sink has committed them: `open` in the open transaction, `closed` in complete ones.
    struct Published {
        metrics::Counter* counter = nullptr;
        std::uint64_t open = 0;
        std::uint64_t closed = 0;
    };
    std::vector<Published> published_counts;
    std::unordered_map<std::string, std::size_t> published_index; // "rule\0topic"
    std::string published_key;
    std::uint64_t txns_uncommitted = 0;     // complete transactions not yet committed to the sink
    std::int64_t uncommitted_commit_us = 0; // commit time of the latest of them

    // Counters for the periodic progress line.
    std::uint64_t changes_total = 0;
    std::uint64_t txns_total = 0;
    std::uint64_t changes_at_last_stats = 0;
    Clock::time_point last_stats = Clock::now();

    State(config::Config c, RunOptions o)
        : config(std::move(c)), options(o), store(config.checkpoint.path) {
        meter = options.metrics;
        if (meter == nullptr) {
            own_registry = std::make_unique<metrics::Registry>();
            own_metrics = std::make_unique<metrics::PipelineMetrics>(*own_registry, "");
            meter = own_metrics.get();
        }
        if (config.source.decoder == config::DecoderType::Wal2json) {
            decoder.emplace<decoders::Wal2jsonDecoder>(&relations);
        }
        json_options.numeric_as_number = config.format.numeric == config::NumericFormat::Number;
        json_options.bytea = config.format.bytea == config::BytesFormat::Hex
                                 ? pg::JsonOptions::Bytes::Hex
                                 : pg::JsonOptions::Bytes::Base64;
        json_options.unchanged_toast_marker = config.format.toast == config::ToastPolicy::Marker;
    }

    ~State() {
        if (stager && options.tail) { // walbus tail's staging directory is its own: remove it
            const std::string dir = stager->directory();
            stager.reset();
            std::error_code ec;
            std::filesystem::remove(dir, ec);
        }
    }
    State(const State&) = delete;
    State& operator=(const State&) = delete;

    source::SourceSettings source_settings() const {
        source::SourceSettings s = source_settings_of(config);
        if (options.tail) {
            s.temporary_slot = true;
            s.slot = "walbus_tail_" + std::to_string(::getpid());
            s.create_publication = false;
            s.application_name = config.name + " tail";
        }
        if (config.source.decoder == config::DecoderType::Wal2json) {
            for (const auto& [name, value] : decoders::kWal2jsonOptions) {
                s.plugin_options.emplace_back(name, value);
            }
            if (!config.source.tables.empty()) {
                s.plugin_options.emplace_back("add-tables",
                                              decoders::wal2json_add_tables(config.source.tables));
            }
        }
        return s;
    }

    Result<void> decode(const source::StreamMessage& m) {
        return std::visit([&](auto& d) { return d.decode(m.data, m.wal_start, message); }, decoder);
    }
    void reset_decoder_transaction() {
        std::visit([](auto& d) { d.reset_transaction(); }, decoder);
    }

    // For the wal2json decoder; a failure is kept and reported after the decode call.
    std::shared_ptr<const Relation> describe_table(std::string_view schema,
                                                   std::string_view table) {
        auto cat = catalog_connection();
        if (!cat) {
            catalog_error = cat.error();
            return nullptr;
        }
        auto rel = (*cat)->describe_table(schema, table);
        if (!rel) {
            catalog.reset();
            catalog_error = rel.error();
            return nullptr;
        }
        return *rel;
    }

    Result<source::Catalog*> catalog_connection() {
        if (!catalog) {
            auto connected = source::Catalog::connect(source_settings());
            if (!connected) {
                return std::unexpected(connected.error());
            }
            catalog = std::move(*connected);
        }
        return catalog.get();
    }

    // Types the stream names only by OID (enums, domains, composite and extension types, arrays
    // of them) are described once through the catalog, so their values can be typed.
    Result<void> learn_types(const Relation& rel) {
        for (const Column& col : rel.columns) {
            if (types.find(col.type_oid) != nullptr) {
                continue;
            }
            auto cat = catalog_connection();
            if (!cat) {
                return std::unexpected(cat.error());
            }
            if (auto ok = (*cat)->describe_type(col.type_oid, types); !ok) {
                catalog.reset(); // reconnect next time
                return ok;
            }
        }
        return {};
    }

    // format.toast: error — a change without a value PostgreSQL did not send stops walbus.
    static Result<void> check_toast(const ChangeEvent& c) {
        if (!c.relation || !c.after.present()) {
            return {};
        }
        for (std::size_t i = 0; i < c.after.values.size() && i < c.relation->columns.size(); ++i) {
            if (c.after.values[i].kind == ValueKind::Unchanged) {
                return fail(ErrorCode::ServerSetup,
                            "column " + c.relation->columns[i].name + " of " + c.relation->schema +
                                "." + c.relation->table +
                                " is an unchanged TOAST value that PostgreSQL did not send (LSN " +
                                c.lsn.str() + ") and format.toast is error; run ALTER TABLE " +
                                c.relation->schema + "." + c.relation->table +
                                " REPLICA IDENTITY FULL, or set format.toast to omit or marker");
            }
        }
        return {};
    }

    bool kafka_exactly_once() const {
        return kafka && config.sink.kafka.mode == config::KafkaMode::ExactlyOnce;
    }

    Result<void> open_sink() {
        Result<std::unique_ptr<LineSink>> opened =
            config.sink.type == config::SinkType::File && !options.tail
                ? LineSink::open_file(config.sink.path, config.sink.fsync)
                : LineSink::open_stdout();
        if (!opened) {
            return std::unexpected(opened.error());
        }
        sink = std::move(*opened);
        if (options.tail) {
            return {}; // no checkpoint: the temporary slot starts at the end of the WAL
        }
        if (auto ok = load_checkpoint_file(); !ok) {
            return ok;
        }
        return sink->recover(durable.sink_offset);
    }

    Result<void> load_checkpoint_file() {
        auto cp = store.load();
        if (!cp) {
            return std::unexpected(cp.error());
        }
        if (*cp) {
            durable = **cp;
            spdlog::info("resuming from checkpoint {}: commit_lsn {} seq {} end_lsn {}",
                         store.path(), durable.position.commit_lsn.str(), durable.position.seq,
                         durable.end_lsn.str());
        }
        pending = durable;
        return {};
    }

    // Connects the producer and finds where to resume: in exactly_once mode the last committed
    // progress record (after fencing older instances), else the checkpoint file. A broker that
    // cannot be reached is retried like a lost database connection.
    Result<void> open_kafka() {
        if (!kafka) {
            KafkaSettings ks;
            for (const config::MapEntry& e : config.sink.kafka.properties) {
                ks.properties.emplace_back(e.key, e.value);
            }
            ks.exactly_once = config.sink.kafka.mode == config::KafkaMode::ExactlyOnce;
            ks.transactional_id = config.sink.kafka.transactional_id.empty()
                                      ? "walbus-" + config.name
                                      : config.sink.kafka.transactional_id;
            ks.progress_topic = config.sink.kafka.progress_topic;
            ks.pipeline = config.name;
            ks.create_topics = config.sink.kafka.create_topics;
            ks.timeout = config.sink.kafka.timeout;
            auto connected = KafkaSink::connect(ks);
            if (!connected) {
                return std::unexpected(connected.error());
            }
            kafka = std::move(*connected);
        }
        if (!kafka_exactly_once()) {
            return load_checkpoint_file();
        }
        auto cp = kafka->recover();
        if (!cp) {
            kafka.reset(); // a fresh producer for the next attempt
            return std::unexpected(cp.error());
        }
        durable = cp->value_or(Checkpoint{});
        if (*cp) {
            spdlog::info("resuming from the progress record in {}: commit_lsn {} seq {} end_lsn {}",
                         config.sink.kafka.progress_topic, durable.position.commit_lsn.str(),
                         durable.position.seq, durable.end_lsn.str());
        }
        pending = durable;
        has_pending = false;
        return {};
    }

    // Before each connection: the producer connected and the position recovered (once), and
    // nothing left over from a failed attempt (an open Kafka transaction is aborted, and what it
    // held will be sent again by the server from the durable position).
    Result<void> resync_kafka() {
        if (!kafka_ready) {
            if (auto ok = open_kafka(); !ok) {
                return ok;
            }
            kafka_ready = true;
            return {};
        }
        if (auto ok = kafka->abort(); !ok) {
            kafka.reset();
            kafka_ready = false;
            return ok;
        }
        pending = durable;
        has_pending = false;
        return {};
    }

    // Whether enough waits to flush before sink.flush_interval: sink.flush_bytes bytes or
    // sink.flush_events events.
    bool flush_due() const {
        if (kafka) {
            return kafka->pending_bytes() >= config.sink.flush_bytes ||
                   kafka->pending_events() >= config.sink.flush_events;
        }
        return sink->buffered() >= config.sink.flush_bytes ||
               line_events >= config.sink.flush_events;
    }

    // The Kafka transaction, timed.
    Result<void> commit_kafka(const Checkpoint& cp) {
        const auto t0 = Clock::now();
        auto ok = kafka->commit(cp);
        if (ok) {
            meter->kafka_commit_seconds.observe(Clock::now() - t0);
        }
        return ok;
    }

    // Makes `cp` durable with everything written before it.
    Result<void> commit_output(const Checkpoint& cp) {
        if (kafka) {
            if (auto ok = commit_kafka(cp); !ok) {
                return ok;
            }
            count_committed(false);
            if (kafka_exactly_once() || options.tail) {
                return {};
            }
            return store.store(cp);
        }
        if (auto offset = sink->flush(); !offset) {
            return std::unexpected(offset.error());
        }
        count_committed(false);
        line_events = 0;
        if (options.tail) {
            return {};
        }
        return store.store(cp);
    }

    // One event handed to the sink.
    void count_event(std::string_view rule, std::string_view topic) {
        published_key.assign(rule);
        published_key.push_back('\0');
        published_key.append(topic);
        auto it = published_index.find(published_key);
        if (it == published_index.end()) {
            published_counts.push_back({&meter->events_published_total.with({rule, topic})});
            it = published_index.emplace(published_key, published_counts.size() - 1).first;
        }
        ++published_counts[it->second].open;
    }

    // The sink committed what was handed to it: complete transactions, and with `slice` the
    // open one's events so far.
    void count_committed(bool slice) {
        for (Published& p : published_counts) {
            const std::uint64_t n = p.closed + (slice ? p.open : 0);
            if (n > 0) {
                p.counter->inc(n);
            }
            p.closed = 0;
            if (slice) {
                p.open = 0;
            }
        }
        if (txns_uncommitted > 0) {
            meter->transactions_committed_total.inc(txns_uncommitted);
            txns_uncommitted = 0;
            const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
            meter->replication_lag_seconds.set(
                static_cast<double>(std::max<std::int64_t>(0, now_us - uncommitted_commit_us)) /
                1e6);
        }
    }

    // What was handed to the sink and not committed is taken back: the open transaction's, or
    // everything (`all`: a Kafka transaction aborted, a new connection).
    void count_dropped(bool all) {
        for (Published& p : published_counts) {
            p.open = 0;
            if (all) {
                p.closed = 0;
            }
        }
        if (all) {
            txns_uncommitted = 0;
        }
    }

    // The gauges read from the state: lag in bytes (what the server has beyond the flush LSN
    // reported) and what the stager holds.
    void update_gauges(Lsn confirmed) {
        meter->replication_lag_bytes.set(
            server_wal_end > confirmed
                ? static_cast<std::int64_t>(server_wal_end.value - confirmed.value)
                : 0);
        if (!in_txn && !has_pending && server_wal_end <= confirmed) {
            meter->replication_lag_seconds.set(0); // caught up
        }
        meter->staged_bytes_memory.set(stager ? static_cast<std::int64_t>(stager->memory_bytes())
                                              : 0);
        meter->staged_bytes_disk.set(stager ? static_cast<std::int64_t>(stager->disk_bytes()) : 0);
    }

    // Whether the stream has sent nothing for sink.flush_idle: what waits can go out at once.
    bool stream_quiet() const {
        return config.sink.flush_idle.count() > 0 &&
               Clock::now() - last_data >= config.sink.flush_idle;
    }

    // Makes the committed transactions durable, then stores the checkpoint past them.
    Result<void> flush(bool force) {
        if (!has_pending || in_txn) {
            return {}; // the open transaction's Commit comes first
        }
        if (!force && !flush_due() && Clock::now() - first_unflushed < config.sink.flush_interval &&
            !stream_quiet()) {
            return {};
        }
        if (auto ok = commit_output(pending); !ok) {
            return ok;
        }
        durable = pending;
        has_pending = false;
        if (options.stop_at && durable.end_lsn >= *options.stop_at) {
            stop_reached = true;
        }
        return {};
    }

    // Inside a transaction too large for one Kafka transaction: commits what it has produced
    // so far, with its position inside the source transaction. After a crash the server sends
    // the transaction again from its start (end_lsn stays before it) and the changes up to
    // that position are skipped.
    Result<void> commit_slice() {
        if (!kafka_exactly_once() || !in_txn || !txn_wrote || !flush_due()) {
            return {};
        }
        Checkpoint slice = has_pending ? pending : durable;
        slice.position = txn_last;
        if (auto ok = commit_kafka(slice); !ok) {
            return ok;
        }
        count_committed(true);
        durable = slice;
        pending.position = std::max(pending.position, slice.position);
        return {};
    }

    void log_progress(bool force) {
        auto now = Clock::now();
        auto elapsed = now - last_stats;
        if (!force && elapsed < kStatsInterval) {
            return;
        }
        double seconds = std::chrono::duration<double>(elapsed).count();
        double rate = seconds > 0
                          ? static_cast<double>(changes_total - changes_at_last_stats) / seconds
                          : 0.0;
        // While behind (a backlog, a large transaction), how much WAL is left to read.
        const std::uint64_t remaining =
            server_wal_end > written ? server_wal_end.value - written.value : 0;
        spdlog::info("progress: {} changes in {} transactions, {:.0f} changes/s, at {}, "
                     "checkpoint at {}, server WAL end {}, {} bytes of WAL behind",
                     changes_total, txns_total, rate, written.str(), durable.end_lsn.str(),
                     server_wal_end.str(), remaining);
        last_stats = now;
        changes_at_last_stats = changes_total;
    }

    void mark_pending(Position position, Lsn end_lsn) {
        if (!has_pending) {
            first_unflushed = Clock::now();
        }
        has_pending = true;
        pending.position = position;
        pending.end_lsn = std::max(pending.end_lsn, end_lsn);
        pending.sink_offset = sink ? sink->end_offset() : 0;
    }

    // The LSN to report as flushed: the durable checkpoint's end, or, when nothing is in flight
    // (no open transaction, nothing waiting for a flush), everything the server has sent. The
    // stream is read in order, so all the server sent before its latest WAL end has been
    // handled, and none of it awaits delivery; confirming it keeps an idle or filtered database
    // from pinning WAL behind the slot, and lets a server shutdown finish (its walsender waits
    // for the client to confirm everything it sent).
    Lsn confirmable_lsn() const {
        // With a stop point, transactions past it are read but not written: never confirm them.
        // A staged streamed transaction's changes come before its commit: they are in flight.
        if (in_txn || has_pending || options.stop_at || staging_open()) {
            return durable.end_lsn;
        }
        return std::max(durable.end_lsn, server_wal_end);
    }

    bool past_stop(Lsn lsn) const { return options.stop_at && lsn > *options.stop_at; }

    Result<void> handle(const source::StreamMessage& m) {
        if (auto ok = decode(m); !ok) {
            return ok;
        }
        return apply(m.wal_start);
    }

    // Handles `message`, just decoded from the WAL at `wal_start`: from the stream, or replayed
    // from the Stager (a streamed transaction's messages take the same path as any other's).
    Result<void> apply(Lsn wal_start) {
        if (catalog_error) {
            Error e = *catalog_error;
            catalog_error.reset();
            return std::unexpected(e);
        }
        if (message.relation) { // a table described anew: learn the types of its columns
            if (auto ok = learn_types(*message.relation); !ok) {
                return ok;
            }
        }
        switch (message.kind) {
        case decoders::MessageKind::StreamStart:
            block_messages = 0;
            block_first = message.first_segment;
            break;
        case decoders::MessageKind::Streamed: return stage(wal_start);
        case decoders::MessageKind::StreamStop:
            spdlog::debug("stream block of transaction {}{}: {} messages staged; staging holds {} "
                          "transactions, {} bytes in memory and {} on disk",
                          message.xid, block_first ? " (its first)" : "", block_messages,
                          stager ? stager->transactions() : 0, stager ? stager->memory_bytes() : 0,
                          stager ? stager->disk_bytes() : 0);
            break;
        case decoders::MessageKind::StreamAbort: return abort_streamed();
        case decoders::MessageKind::StreamCommit: return commit_streamed();
        case decoders::MessageKind::Begin:
            if (past_stop(message.commit_lsn)) {
                // Committed after the stop point: not this run's to write.
                reset_decoder_transaction();
                stop_reached = true;
                break;
            }
            in_txn = true;
            txn_mark = sink ? sink->end_offset() : 0;
            txn_last = Position{message.commit_lsn, 0};
            txn_wrote = false;
            break;
        case decoders::MessageKind::Commit:
            in_txn = false;
            ++txns_total;
            ++txns_uncommitted;
            uncommitted_commit_us = message.commit_time_us;
            for (Published& p : published_counts) {
                p.closed += p.open;
                p.open = 0;
            }
            // Resent transactions wholly at or before the checkpoint only move end_lsn.
            mark_pending(txn_wrote ? txn_last : pending.position, message.end_lsn);
            break;
        default:
            for (const ChangeEvent& c : message.changes) {
                if (c.position <= durable.position) {
                    continue; // already durable before a restart
                }
                bool own_unit = c.op == Operation::Message && !c.transactional;
                if (own_unit && past_stop(c.lsn)) {
                    stop_reached = true;
                    continue;
                }
                if (own_unit && c.prefix == source::Heartbeat::kPrefix) {
                    // walbus's own heartbeat (source.heartbeat_interval): it only moves the
                    // server's WAL end, which an idle pipeline confirms.
                    continue;
                }
                ++changes_total;
                meter->changes_received_total.inc();
                if (config.format.toast == config::ToastPolicy::Error) {
                    if (auto ok = check_toast(c); !ok) {
                        return ok;
                    }
                }
                if (auto ok = write_change(c); !ok) {
                    return ok;
                }
                if (own_unit) {
                    mark_pending(c.position, c.lsn);
                    continue;
                }
                txn_last = c.position;
                txn_wrote = true;
            }
            // A large transaction goes to the file as it arrives, to bound memory; the
            // checkpoint still moves only at its Commit, and a cut-off transaction is taken back.
            if (kafka) {
                if (auto ok = commit_slice(); !ok) {
                    return ok;
                }
            } else if (in_txn && sink->can_rewind() &&
                       sink->buffered() >= config.sink.flush_bytes) {
                if (auto ok = sink->write_out(); !ok) {
                    return ok;
                }
            }
            break;
        }
        return {};
    }

    decoders::PgoutputDecoder* pgoutput() {
        return std::get_if<decoders::PgoutputDecoder>(&decoder);
    }

    // A streamed transaction is staged, or a stream block is open: changes that lie before
    // their (future) commit, behind the WAL end the server reports.
    bool staging_open() const {
        const auto* d = std::get_if<decoders::PgoutputDecoder>(&decoder);
        return (stager && stager->transactions() > 0) || (d != nullptr && d->in_stream());
    }

    Result<void> need_stager() const {
        if (!stager) {
            return fail(ErrorCode::Protocol, "the server sent a streamed transaction (at LSN " +
                                                 written.str() +
                                                 ") on a connection that did not ask for one");
        }
        return {};
    }

    // A message of a stream block: kept until its transaction's Stream Commit or Abort.
    Result<void> stage(Lsn wal_start) {
        if (auto ok = need_stager(); !ok) {
            return ok;
        }
        // Descriptions survive a subtransaction's rollback: pgoutput does not send them again.
        const bool schema = message.streamed_kind == decoders::MessageKind::Relation ||
                            message.streamed_kind == decoders::MessageKind::Type ||
                            message.streamed_kind == decoders::MessageKind::Origin;
        ++block_messages;
        return stager->append(message.xid, message.subxid, wal_start, message.streamed,
                              schema ? pipeline::Stager::Kind::Schema
                                     : pipeline::Stager::Kind::Change);
    }

    // Stream Abort: the transaction (subxid == xid) or one of its subtransactions rolled back.
    Result<void> abort_streamed() {
        if (auto ok = need_stager(); !ok) {
            return ok;
        }
        if (message.subxid == message.xid) {
            spdlog::debug("streamed transaction {} rolled back; its staged messages are dropped",
                          message.xid);
        } else {
            spdlog::debug("subtransaction {} of streamed transaction {} rolled back; its staged "
                          "changes are dropped",
                          message.subxid, message.xid);
        }
        return stager->abort_sub(message.xid, message.subxid);
    }

    // Stream Commit: the staged messages go through the decoder again as one transaction
    // (Begin, the messages in their order, Commit) and are handled like any transaction's: the
    // same mapping, slices and checkpoint, and the same skip of what a previous run published.
    Result<void> commit_streamed() {
        if (auto ok = need_stager(); !ok) {
            return ok;
        }
        decoders::PgoutputDecoder* d = pgoutput();
        const Xid xid = message.xid;
        const Lsn commit_lsn = message.commit_lsn;
        if (past_stop(commit_lsn)) {
            stop_reached = true; // committed after the stop point: not this run's to write
            return stager->abort(xid);
        }
        const std::size_t disk_bytes = stager->disk_bytes();
        if (auto ok =
                d->begin_replay(xid, commit_lsn, message.end_lsn, message.commit_time_us, message);
            !ok) {
            (void)stager->abort(xid);
            return ok;
        }
        if (auto ok = apply(Lsn{}); !ok) { // the Begin
            (void)stager->abort(xid);
            return ok;
        }
        const std::uint64_t written_before = changes_total;
        std::uint64_t replayed = 0;
        std::uint64_t changes = 0;
        auto next_status = Clock::now() + config.source.status_interval;
        auto replay = stager->replay(xid, [&](Lsn lsn, std::string_view bytes) -> Result<void> {
            if (auto ok = d->decode(bytes, lsn, message); !ok) {
                return ok;
            }
            changes += message.changes.size();
            if (auto ok = apply(lsn); !ok) {
                return ok;
            }
            // A replay can take a while: keep the server's wal_sender_timeout from firing.
            if (++replayed % 1024 == 0 && Clock::now() >= next_status && active_stream != nullptr) {
                if (auto ok = active_stream->send_status(written, confirmable_lsn(), false); !ok) {
                    return ok;
                }
                next_status = Clock::now() + config.source.status_interval;
                log_progress(false);
            }
            return {};
        });
        if (!replay) {
            return replay;
        }
        if (auto ok = d->end_replay(message); !ok) {
            return ok;
        }
        if (auto ok = apply(Lsn{}); !ok) { // the Commit
            return ok;
        }
        const std::uint64_t published = changes_total - written_before;
        spdlog::info("streamed transaction {} committed at {}: {} changes{}{}", xid,
                     commit_lsn.str(), changes,
                     published < changes
                         ? " (" + std::to_string(changes - published) + " published before)"
                         : std::string(),
                     disk_bytes > 0 ? ", staged partly on disk" : "");
        return {};
    }

    // Writes one change: as its mapped events when there are rules, else as a change event.
    Result<void> write_change(const ChangeEvent& c) {
        line.clear();
        if (!options.rules) {
            append_change_json(line, c, types, json_options);
            line.push_back('\n');
            sink->append(line);
            ++line_events;
            count_event({}, {});
            return {};
        }
        auto events = options.rules->map(c, types, json_options);
        if (!events) {
            return std::unexpected(events.error());
        }
        for (const IntegrationEvent& ev : *events) {
            if (ev.dead_letter) {
                spdlog::warn("rule {} could not map the change at {}:{}; sent to {}", ev.rule,
                             c.position.commit_lsn.str(), c.position.seq, ev.topic);
            }
            count_event(ev.rule, ev.topic);
            if (kafka) {
                if (auto ok = kafka->produce(ev); !ok) {
                    return ok;
                }
                continue;
            }
            append_event_json(line, ev);
            line.push_back('\n');
        }
        events_total += events->size();
        if (!kafka) {
            sink->append(line);
            line_events += events->size();
        }
        return {};
    }

    // Takes back the output of a transaction that was cut off (connection lost, bad bytes):
    // the server sends it again from its Begin.
    Result<void> abandon_transaction() {
        reset_decoder_transaction();
        if (stager) {
            stager->clear(); // streamed transactions too: the server streams them again
        }
        if (!in_txn) {
            return {};
        }
        in_txn = false;
        if (kafka) {
            // A Kafka transaction cannot be taken back in part: abort it all, and let the
            // server send everything after the durable position again.
            pending = durable;
            has_pending = false;
            count_dropped(true);
            return kafka->abort();
        }
        count_dropped(false);
        return sink->rewind(txn_mark);
    }

    // source.staging_dir, or its default (see its description in config/key_table.cpp).
    std::string staging_directory() const {
        std::error_code ec;
        std::filesystem::path temp = std::filesystem::temp_directory_path(ec);
        if (ec) {
            temp = "/tmp";
        }
        if (options.tail) { // its own: a running pipeline's leftover clean-up must not meet it
            return (temp / ("walbus-staging-" + config.name + "-" + std::to_string(::getpid())))
                .string();
        }
        if (!config.source.staging_dir.empty()) {
            return config.source.staging_dir;
        }
        if (!config.checkpoint.path.empty()) {
            return config.checkpoint.path + ".staging";
        }
        return (temp / ("walbus-staging-" + config.name)).string();
    }

    // source.streaming for the server at the other end of `conn`: `auto` streams with pgoutput
    // from PostgreSQL 14 on. The Stager is made (leftover files removed) the first time.
    Result<void> choose_streaming(source::ReplicationStream& conn) {
        const bool is_pgoutput = config.source.decoder == config::DecoderType::Pgoutput;
        const int version = conn.system().server_version;
        switch (config.source.streaming) {
        case config::StreamingMode::Off: streams_txns = false; break;
        case config::StreamingMode::Auto: streams_txns = is_pgoutput && version >= 140000; break;
        case config::StreamingMode::On:
            if (!is_pgoutput) {
                return fail(
                    ErrorCode::Config,
                    "source.streaming: on needs source.decoder: pgoutput (wal2json cannot "
                    "stream transactions in progress); set source.streaming to auto or off");
            }
            if (version < 140000) {
                return fail(ErrorCode::Config,
                            "source.streaming is on, but the server is PostgreSQL " +
                                std::to_string(version / 10000) + "." +
                                std::to_string(version % 10000) +
                                ", and streaming transactions in progress needs PostgreSQL 14 or "
                                "later; set source.streaming to auto or off");
            }
            streams_txns = true;
            break;
        }
        conn.set_streaming(streams_txns);
        if (streams_txns && !stager) {
            auto created =
                pipeline::Stager::create(staging_directory(), config.source.staging_memory);
            if (!created) {
                return std::unexpected(created.error());
            }
            stager.emplace(std::move(*created));
            spdlog::info("large transactions are streamed while in progress; staged in up to {} "
                         "bytes of memory, then in {}",
                         config.source.staging_memory, stager->directory());
        }
        return {};
    }

    // One connection's life: connect, prepare, stream until stopped or failed. Committed
    // transactions are flushed and checkpointed before returning, whatever the outcome.
    Result<void> stream_once(const std::atomic<bool>& stop, bool& streaming) {
        count_dropped(true); // a new connection: the server sends again what was not committed
        if (config.sink.type == config::SinkType::Kafka && !options.tail) {
            if (auto ok = resync_kafka(); !ok) {
                return ok;
            }
        }
        auto conn = source::ReplicationStream::connect(source_settings());
        if (!conn) {
            return std::unexpected(conn.error());
        }
        auto& stream = **conn;
        if (auto ok = choose_streaming(stream); !ok) {
            return ok;
        }
        if (auto ok = stream.prepare(); !ok) {
            return ok;
        }
        if (auto ok = stream.start(durable.end_lsn); !ok) {
            return ok;
        }
        streaming = true;
        if (options.readiness != nullptr) {
            options.readiness->set_ready();
        }
        spdlog::info("streaming slot {} of database {} from LSN {} (server {}, system {})",
                     config.source.slot, stream.system().database, durable.end_lsn.str(),
                     stream.system().server_version, stream.system().system_id);

        active_stream = &stream;
        auto result = pump(stream, stop);
        active_stream = nullptr;
        auto flushed = abandon_transaction();
        if (flushed) {
            flushed = flush(true);
        }
        if (flushed) {
            (void)stream.send_status(written, confirmable_lsn(), false);
        }
        if (!result) {
            return result;
        }
        return flushed;
    }

    Result<void> pump(source::ReplicationStream& stream, const std::atomic<bool>& stop) {
        auto next_status = Clock::now() + config.source.status_interval;
        while (true) {
            if ((stop.load() || stop_reached) && !in_txn) {
                return {};
            }
            auto now = Clock::now();
            auto wait = std::min<Clock::duration>(kMaxPoll, next_status - now);
            if (has_pending) {
                wait = std::min<Clock::duration>(wait, first_unflushed +
                                                           config.sink.flush_interval - now);
                if (config.sink.flush_idle.count() > 0) {
                    wait =
                        std::min<Clock::duration>(wait, last_data + config.sink.flush_idle - now);
                }
            }
            wait = std::max<Clock::duration>(wait, Clock::duration::zero());
            auto m = stream.next(std::chrono::duration_cast<milliseconds>(wait));
            if (!m) {
                return std::unexpected(m.error());
            }
            bool reply = false;
            if (m->type == source::StreamMessage::Type::XLogData) {
                meter->bytes_received_total.inc(m->data.size());
                last_data = Clock::now();
                written = std::max(written, m->wal_start);
                server_wal_end = std::max(server_wal_end, m->wal_end);
                if (auto ok = handle(*m); !ok) {
                    return ok;
                }
            } else if (m->type == source::StreamMessage::Type::Keepalive) {
                server_wal_end = std::max(server_wal_end, m->wal_end);
                reply = m->reply_requested;
                if (options.stop_at && m->wal_end >= *options.stop_at && !in_txn) {
                    if (auto ok = flush(true); !ok) {
                        return ok;
                    }
                    stop_reached = true;
                }
            }
            if (auto ok = flush(false); !ok) {
                return ok;
            }
            if (reply || Clock::now() >= next_status) {
                const Lsn confirmed = confirmable_lsn();
                if (auto ok = stream.send_status(written, confirmed, reply); !ok) {
                    return ok;
                }
                update_gauges(confirmed);
                next_status = Clock::now() + config.source.status_interval;
            }
            log_progress(false);
        }
    }
};

Pipeline::Pipeline(config::Config config, RunOptions options)
    : state_(std::make_unique<State>(std::move(config), options)) {}

Pipeline::~Pipeline() = default;

Result<void> Pipeline::run(const std::atomic<bool>& stop) {
    State& st = *state_;
    if (st.config.sink.type != config::SinkType::Kafka || st.options.tail) {
        if (auto ok = st.open_sink(); !ok) {
            return ok;
        }
    } else if (!st.options.rules) {
        return fail(ErrorCode::Internal, "the Kafka sink needs compiled rules (prepare_config "
                                         "makes raw-event rules when there are none)");
    }
    // source.heartbeat_interval: a message on a normal connection now and then, so that even a
    // database without traffic sends something that moves the slot.
    std::optional<source::Heartbeat> heartbeat;
    if (!st.options.tail && st.config.source.heartbeat_interval.count() > 0) {
        heartbeat.emplace(st.source_settings(), st.config.source.heartbeat_interval,
                          source::Heartbeat::Callbacks{
                              .on_failure =
                                  [](const Error& e) {
                                      spdlog::warn("heartbeat failed: {}; retrying with backoff",
                                                   e.message);
                                  },
                              .on_recovery = [] { spdlog::info("heartbeat written again"); }},
                          st.config.source.reconnect_backoff_max);
        heartbeat->start();
    }
    Backoff backoff(milliseconds{100}, st.config.source.reconnect_backoff_max,
                    std::random_device{}());
    Clock::time_point failing_since; // when the current streak of failures began
    bool failing = false;
    bool ever_streamed = false;
    while (true) {
        bool streaming = false;
        auto result = st.stream_once(stop, streaming);
        if (streaming) {
            ever_streamed = true;
            failing = false;
            backoff.reset();
        }
        if (result) {
            st.log_progress(true);
            spdlog::info("stopped cleanly; checkpoint at commit_lsn {} seq {} end_lsn {}",
                         st.durable.position.commit_lsn.str(), st.durable.position.seq,
                         st.durable.end_lsn.str());
            return {};
        }
        const Error& e = result.error();
        st.meter->errors(e.code).inc();
        if (st.options.readiness != nullptr) {
            st.options.readiness->set_not_ready("backing off after: " + e.message);
        }
        // Before walbus has streamed once, only a slot still held by another process is worth
        // waiting for; anything else is a set-up problem the user must see at once.
        bool retry = is_retriable(e.code) &&
                     (ever_streamed || e.code == ErrorCode::SlotInUse ||
                      e.code == ErrorCode::SinkUnavailable) &&
                     !st.options.tail; // a temporary slot is gone with its connection
        if (!retry) {
            return result;
        }
        auto now = Clock::now();
        if (!failing) {
            failing = true;
            failing_since = now;
        }
        // A slot in use is what a standby instance waits for, however long the active one
        // runs: it is not a failure that source.reconnect_timeout gives up on.
        if (e.code != ErrorCode::SlotInUse &&
            now - failing_since >= st.config.source.reconnect_timeout) {
            return fail(e.code, "gave up after retrying for " +
                                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                       st.config.source.reconnect_timeout)
                                                       .count()) +
                                    "s (source.reconnect_timeout): " + e.message);
        }
        auto delay = backoff.next();
        st.meter->reconnects_total.inc();
        spdlog::warn("{}; retrying in {} ms", e.message, delay.count());
        auto until = Clock::now() + delay;
        while (Clock::now() < until) {
            if (stop.load()) {
                return {};
            }
            std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), kMaxPoll));
        }
    }
}

} // namespace walbus
