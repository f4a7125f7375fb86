#include "walbus/pipeline/pipeline.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <functional>
#include <random>
#include <thread>
#include <variant>

#include "walbus/checkpoint/file_checkpoint_store.h"
#include "walbus/core/change_json.h"
#include "walbus/core/integration_event.h"
#include "walbus/decoders/pgoutput_decoder.h"
#include "walbus/decoders/wal2json_decoder.h"
#include "walbus/mappers/rules.h"
#include "walbus/pipeline/backoff.h"
#include "walbus/sink/kafka_sink.h"
#include "walbus/sink/line_sink.h"
#include "walbus/source/catalog.h"
#include "walbus/source/replication_stream.h"

namespace walbus {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kMaxPoll{100};
constexpr milliseconds kStatsInterval{10'000};

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
    std::vector<IntegrationEvent> events;     // reused for each change's mapped events
    std::uint64_t events_total = 0;
    std::size_t line_events = 0; // lines appended to the line sink since its last flush
    bool in_txn = false;         // between Begin and Commit
    std::uint64_t txn_mark = 0;  // sink offset where the open transaction started
    Position txn_last;           // position of its last change written
    bool txn_wrote = false;

    Lsn written; // furthest WAL received
    Lsn server_wal_end;
    bool stop_reached = false;

    // Counters for the periodic progress line.
    std::uint64_t changes_total = 0;
    std::uint64_t txns_total = 0;
    std::uint64_t changes_at_last_stats = 0;
    Clock::time_point last_stats = Clock::now();

    State(config::Config c, RunOptions o)
        : config(std::move(c)), options(o), store(config.checkpoint.path) {
        if (config.source.decoder == config::DecoderType::Wal2json) {
            decoder.emplace<decoders::Wal2jsonDecoder>(&relations);
        }
        json_options.numeric_as_number = config.format.numeric == config::NumericFormat::Number;
        json_options.bytea = config.format.bytea == config::BytesFormat::Hex
                                 ? pg::JsonOptions::Bytes::Hex
                                 : pg::JsonOptions::Bytes::Base64;
        json_options.unchanged_toast_marker = config.format.toast == config::ToastPolicy::Marker;
    }

    source::SourceSettings source_settings() const {
        source::SourceSettings s;
        s.dsn = config.source.dsn;
        s.slot = config.source.slot;
        s.publication = config.source.publication;
        s.tables = config.source.tables;
        s.create_slot = config.source.create_slot;
        s.create_publication = config.source.create_publication;
        s.application_name = config.name;
        if (options.tail) {
            s.temporary_slot = true;
            s.slot = "walbus_tail_" + std::to_string(::getpid());
            s.create_publication = false;
            s.application_name = config.name + " tail";
        }
        if (config.source.decoder == config::DecoderType::Wal2json) {
            s.plugin = "wal2json";
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

    // Makes `cp` durable with everything written before it.
    Result<void> commit_output(const Checkpoint& cp) {
        if (kafka) {
            if (auto ok = kafka->commit(cp); !ok) {
                return ok;
            }
            if (kafka_exactly_once() || options.tail) {
                return {};
            }
            return store.store(cp);
        }
        if (auto offset = sink->flush(); !offset) {
            return std::unexpected(offset.error());
        }
        line_events = 0;
        if (options.tail) {
            return {};
        }
        return store.store(cp);
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
        if (auto ok = kafka->commit(slice); !ok) {
            return ok;
        }
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
        spdlog::info("progress: {} changes in {} transactions, {:.0f} changes/s, checkpoint at "
                     "{}, server WAL end {}",
                     changes_total, txns_total, rate, durable.end_lsn.str(), server_wal_end.str());
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
        if (in_txn || has_pending || options.stop_at) {
            return durable.end_lsn;
        }
        return std::max(durable.end_lsn, server_wal_end);
    }

    bool past_stop(Lsn lsn) const { return options.stop_at && lsn > *options.stop_at; }

    Result<void> handle(const source::StreamMessage& m) {
        if (auto ok = decode(m); !ok) {
            return ok;
        }
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
                ++changes_total;
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

    // Writes one change: as its mapped events when there are rules, else as a change event.
    Result<void> write_change(const ChangeEvent& c) {
        line.clear();
        if (!options.rules) {
            append_change_json(line, c, types, json_options);
            line.push_back('\n');
            sink->append(line);
            ++line_events;
            return {};
        }
        if (auto ok = options.rules->map(c, types, json_options, events); !ok) {
            return ok;
        }
        for (const IntegrationEvent& ev : events) {
            if (ev.dead_letter) {
                spdlog::warn("rule {} could not map the change at {}:{}; sent to {}", ev.rule,
                             c.position.commit_lsn.str(), c.position.seq, ev.topic);
            }
            if (kafka) {
                if (auto ok = kafka->produce(ev); !ok) {
                    return ok;
                }
                continue;
            }
            append_event_json(line, ev);
            line.push_back('\n');
        }
        events_total += events.size();
        if (!kafka) {
            sink->append(line);
            line_events += events.size();
        }
        return {};
    }

    // Takes back the output of a transaction that was cut off (connection lost, bad bytes):
    // the server sends it again from its Begin.
    Result<void> abandon_transaction() {
        reset_decoder_transaction();
        if (!in_txn) {
            return {};
        }
        in_txn = false;
        if (kafka) {
            // A Kafka transaction cannot be taken back in part: abort it all, and let the
            // server send everything after the durable position again.
            pending = durable;
            has_pending = false;
            return kafka->abort();
        }
        return sink->rewind(txn_mark);
    }

    // One connection's life: connect, prepare, stream until stopped or failed. Committed
    // transactions are flushed and checkpointed before returning, whatever the outcome.
    Result<void> stream_once(const std::atomic<bool>& stop, bool& streaming) {
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
        if (auto ok = stream.prepare(); !ok) {
            return ok;
        }
        if (auto ok = stream.start(durable.end_lsn); !ok) {
            return ok;
        }
        streaming = true;
        spdlog::info("streaming slot {} of database {} from LSN {} (server {}, system {})",
                     config.source.slot, stream.system().database, durable.end_lsn.str(),
                     stream.system().server_version, stream.system().system_id);

        auto result = pump(stream, stop);
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
                if (auto ok = stream.send_status(written, confirmable_lsn(), reply); !ok) {
                    return ok;
                }
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
    Backoff backoff(milliseconds{100}, st.config.source.reconnect_backoff_max,
                    std::random_device{}());
    std::optional<Clock::time_point> failing_since;
    bool ever_streamed = false;
    while (true) {
        bool streaming = false;
        auto result = st.stream_once(stop, streaming);
        if (streaming) {
            ever_streamed = true;
            failing_since.reset();
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
        if (!failing_since) {
            failing_since = now;
        }
        if (now - *failing_since >= st.config.source.reconnect_timeout) {
            return fail(e.code, "gave up after retrying for " +
                                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                       st.config.source.reconnect_timeout)
                                                       .count()) +
                                    "s (source.reconnect_timeout): " + e.message);
        }
        auto delay = backoff.next();
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
