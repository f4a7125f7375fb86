#include "status.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "walbus/checkpoint/file_checkpoint_store.h"
#include "walbus/core/json_writer.h"
#include "walbus/core/table_name.h"
#include "walbus/mappers/rules.h"
#include "walbus/pipeline/source_settings.h"
#include "walbus/sink/progress_reader.h"
#include "walbus/source/server_status.h"

namespace walbus::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitConfig = 2;

// The last checkpoint, wherever the configuration keeps it.
struct CheckpointStatus {
    bool kafka = false;
    std::string where; // the file's path, or the progress topic
    std::string key;   // kafka: the record's key (the pipeline's name)
    std::optional<Error> error;
    bool exists = false; // a checkpoint was found
    Checkpoint checkpoint;
    std::optional<std::int64_t> written_ms; // file mtime / record timestamp, Unix epoch ms
    std::optional<std::int64_t> offset;     // kafka: the record's offset
    bool topic_exists = false;              // kafka
};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "2024-05-01T10:00:00.123Z"
std::string iso_time(std::int64_t ms) {
    const auto secs = static_cast<std::time_t>(ms / 1000);
    std::tm t{};
    ::gmtime_r(&secs, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

// "1.5 GiB", "12.0 MiB", "512 B"
std::string human_bytes(std::int64_t bytes) {
    constexpr std::array<const char*, 5> kUnits{"B", "KiB", "MiB", "GiB", "TiB"};
    auto v = static_cast<double>(bytes < 0 ? -bytes : bytes);
    std::size_t unit = 0;
    while (v >= 1024.0 && unit + 1 < kUnits.size()) {
        v /= 1024.0;
        ++unit;
    }
    char buf[48];
    if (unit == 0) {
        std::snprintf(buf, sizeof buf, "%s%lld B", bytes < 0 ? "-" : "", static_cast<long long>(v));
    } else {
        std::snprintf(buf, sizeof buf, "%s%.1f %s", bytes < 0 ? "-" : "", v, kUnits[unit]);
    }
    return buf;
}

// "3h 2m 5s", "12.3s"
std::string human_age(double seconds) {
    char buf[64];
    if (seconds < 60) {
        std::snprintf(buf, sizeof buf, "%.1fs", seconds);
        return buf;
    }
    auto s = static_cast<long long>(seconds);
    const long long days = s / 86400;
    const long long hours = s % 86400 / 3600;
    const long long minutes = s % 3600 / 60;
    s %= 60;
    if (days > 0) {
        std::snprintf(buf, sizeof buf, "%lldd %lldh %lldm", days, hours, minutes);
    } else if (hours > 0) {
        std::snprintf(buf, sizeof buf, "%lldh %lldm %llds", hours, minutes, s);
    } else {
        std::snprintf(buf, sizeof buf, "%lldm %llds", minutes, s);
    }
    return buf;
}

std::string seconds_json(double seconds) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3f", seconds);
    return buf;
}

// source.tables and the tables the rules read, each once.
std::vector<std::string> configured_tables(const config::Config& cfg,
                                           const std::shared_ptr<mappers::RuleSet>& rules) {
    std::vector<std::pair<std::string, std::string>> names;
    for (const std::string& t : cfg.source.tables) {
        names.push_back(split_table_name(t));
    }
    if (rules) {
        for (auto& t : rules->tables()) {
            names.push_back(std::move(t));
        }
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) ==
            names.begin() + static_cast<std::ptrdiff_t>(i)) {
            out.push_back(sql_table_name(names[i].first, names[i].second));
        }
    }
    return out;
}

CheckpointStatus read_checkpoint(const config::Config& cfg) {
    CheckpointStatus st;
    if (cfg.sink.type == config::SinkType::Kafka &&
        cfg.sink.kafka.mode == config::KafkaMode::ExactlyOnce) {
        st.kafka = true;
        st.where = cfg.sink.kafka.progress_topic;
        st.key = cfg.name;
        std::vector<std::pair<std::string, std::string>> properties;
        for (const config::MapEntry& e : cfg.sink.kafka.properties) {
            properties.emplace_back(e.key, e.value);
        }
        auto topic = read_progress_topic(properties, st.where, st.key, cfg.sink.kafka.timeout);
        if (!topic) {
            st.error = topic.error();
            return st;
        }
        st.topic_exists = topic->topic_exists;
        if (topic->last) {
            st.exists = true;
            st.checkpoint = topic->last->checkpoint;
            st.offset = topic->last->offset;
            st.written_ms = topic->last->timestamp_ms;
        }
        return st;
    }
    st.where = cfg.checkpoint.path;
    FileCheckpointStore store(cfg.checkpoint.path);
    auto loaded = store.load();
    if (!loaded) {
        st.error = loaded.error();
        return st;
    }
    if (*loaded) {
        st.exists = true;
        st.checkpoint = **loaded;
        struct stat sb {};
        if (::stat(cfg.checkpoint.path.c_str(), &sb) == 0) {
            st.written_ms = static_cast<std::int64_t>(sb.st_mtim.tv_sec) * 1000 +
                            sb.st_mtim.tv_nsec / 1'000'000;
        }
    }
    return st;
}

// ---- text ----

class Text {
public:
    explicit Text(std::ostream& out) : out_(out) {}
    // "label:" padded to one column, then the value.
    void line(int indent, const std::string& label, const std::string& value) {
        std::string head(static_cast<std::size_t>(indent), ' ');
        head += label.empty() ? "" : label + ":";
        if (head.size() < kColumn) {
            head.resize(kColumn, ' ');
        } else {
            head += ' ';
        }
        out_ << head << value << "\n";
    }

private:
    static constexpr std::size_t kColumn = 24;
    std::ostream& out_;
};

std::string lsn_text(const std::optional<Lsn>& lsn) {
    return lsn ? lsn->str() : "none";
}

void text_server(Text& t, const source::ServerStatus& s) {
    t.line(0, "server",
           "PostgreSQL " + s.version + ", database " + s.database +
               (s.in_recovery ? " (a standby)" : ""));
    t.line(2, "wal_level",
           s.wal_level == "logical" ? s.wal_level
                                    : s.wal_level + " (logical replication needs 'logical')");
    t.line(2, s.in_recovery ? "last replayed LSN" : "current WAL LSN", s.current_wal_lsn.str());
}

void text_slot(Text& t, const source::ServerStatus& server, const source::SourceSettings& set) {
    const source::SlotStatus& s = server.slot;
    t.line(0, "slot", s.name);
    if (!s.exists) {
        t.line(2, "exists",
               "no: replication slot \"" + s.name + "\" does not exist on this server; " +
                   (set.create_slot
                        ? std::string("walbus run creates it (source.create_slot)")
                        : "create it with SELECT pg_create_logical_replication_slot('" + s.name +
                              "', '" + set.plugin + "') or set source.create_slot: true"));
        return;
    }
    t.line(2, "exists", std::string("yes") + (s.temporary ? " (temporary)" : ""));
    t.line(2, "active",
           s.active ? "yes, pid " + (s.active_pid ? std::to_string(*s.active_pid) : "unknown")
                    : "no (nothing is streaming from it now)");
    std::string plugin = s.plugin.empty() ? "none (" + s.slot_type + " slot)" : s.plugin;
    if (s.slot_type == "logical" && s.plugin != set.plugin) {
        plugin += " (the configuration expects " + set.plugin + ")";
    }
    t.line(2, "plugin", plugin);
    if (!s.database.empty() && s.database != server.database) {
        t.line(2, "database", s.database + " (not " + server.database + ", the DSN's database)");
    }
    t.line(2, "restart_lsn", lsn_text(s.restart_lsn));
    t.line(2, "confirmed_flush_lsn", lsn_text(s.confirmed_flush_lsn));
    if (!s.wal_status.empty()) {
        std::string status = s.wal_status;
        if (s.safe_wal_size) {
            status += ", safe_wal_size " + human_bytes(*s.safe_wal_size);
        }
        t.line(2, "wal_status", status);
    }
    if (s.retained_bytes) {
        t.line(2, "retained WAL",
               human_bytes(*s.retained_bytes) + " (" + std::to_string(*s.retained_bytes) +
                   " bytes) since confirmed_flush_lsn");
    }
    if (s.restart_retained_bytes) {
        t.line(s.retained_bytes ? 0 : 2, s.retained_bytes ? "" : "retained WAL",
               human_bytes(*s.restart_retained_bytes) + " (" +
                   std::to_string(*s.restart_retained_bytes) + " bytes) since restart_lsn");
    }
}

void text_publication(Text& t, const source::PublicationStatus& p,
                      const source::SourceSettings& set) {
    if (!p.exists) {
        t.line(0, "publication",
               p.name + ": does not exist; " +
                   (set.create_publication
                        ? std::string("walbus run creates it (source.create_publication)")
                        : "create it with CREATE PUBLICATION " + sql_identifier(p.name) +
                              " FOR TABLE ... or set source.create_publication: true"));
        return;
    }
    std::string summary = p.name + ": " + (p.all_tables ? "FOR ALL TABLES, " : "") +
                          std::to_string(p.tables.size()) + " table" +
                          (p.tables.size() == 1 ? "" : "s");
    t.line(0, "publication", summary);
    std::string names;
    for (const auto& [schema, table] : p.tables) {
        names += (names.empty() ? "" : ", ") + sql_table_name(schema, table);
    }
    if (!names.empty()) {
        t.line(2, "tables", names);
    }
    for (const source::PublicationTable& m : p.missing) {
        const std::string name = sql_table_name(m.schema, m.table);
        t.line(2, "missing",
               m.exists ? name + ": not in the publication; run ALTER PUBLICATION " +
                              sql_identifier(p.name) + " ADD TABLE " + name
                        : name + ": the table does not exist");
    }
}

void text_checkpoint(Text& t, const CheckpointStatus& c) {
    t.line(0, "checkpoint",
           c.kafka ? "Kafka progress topic " + c.where + ", key " + c.key : "file " + c.where);
    if (c.error) {
        t.line(2, "error", c.error->message);
        return;
    }
    if (!c.exists) {
        t.line(2, "position",
               c.kafka && !c.topic_exists
                   ? "none (the topic does not exist yet: walbus has not run)"
                   : "none (walbus has not committed anything yet: it starts at the slot's "
                     "confirmed_flush_lsn)");
        return;
    }
    t.line(2, "position",
           "commit_lsn " + c.checkpoint.position.commit_lsn.str() + " seq " +
               std::to_string(c.checkpoint.position.seq));
    t.line(2, "end_lsn", c.checkpoint.end_lsn.str());
    if (c.kafka) {
        t.line(2, "offset", std::to_string(*c.offset));
    } else {
        t.line(2, "sink_offset", std::to_string(c.checkpoint.sink_offset));
    }
    if (c.written_ms) {
        const double age = static_cast<double>(now_ms() - *c.written_ms) / 1000.0;
        t.line(2, "age",
               human_age(std::max(age, 0.0)) + " (" +
                   (c.kafka ? "record timestamp " : "file written ") + iso_time(*c.written_ms) +
                   ")");
    }
}

// ---- JSON ----

void json_opt_lsn(JsonWriter& w, std::string_view key, const std::optional<Lsn>& lsn) {
    w.key(key);
    if (lsn) {
        w.string(lsn->str());
    } else {
        w.null();
    }
}

void json_opt_int(JsonWriter& w, std::string_view key, const std::optional<std::int64_t>& v) {
    w.key(key);
    if (v) {
        w.number(*v);
    } else {
        w.null();
    }
}

void json_error(JsonWriter& w, const std::optional<Error>& error) {
    w.key("error");
    if (error) {
        w.string(error->message);
    } else {
        w.null();
    }
}

void json_server(JsonWriter& w, const Result<source::ServerStatus>& status) {
    w.key("server");
    w.begin_object();
    w.key("reachable");
    w.boolean(status.has_value());
    json_error(w, status ? std::nullopt : std::optional<Error>(status.error()));
    if (status) {
        w.key("version");
        w.string(status->version);
        w.key("version_num");
        w.number(static_cast<std::int64_t>(status->version_num));
        w.key("wal_level");
        w.string(status->wal_level);
        w.key("database");
        w.string(status->database);
        w.key("in_recovery");
        w.boolean(status->in_recovery);
        w.key("current_wal_lsn");
        w.string(status->current_wal_lsn.str());
    }
    w.end_object();
}

void json_slot(JsonWriter& w, const source::SlotStatus& s) {
    w.key("slot");
    w.begin_object();
    w.key("name");
    w.string(s.name);
    w.key("exists");
    w.boolean(s.exists);
    if (s.exists) {
        w.key("active");
        w.boolean(s.active);
        json_opt_int(w, "active_pid",
                     s.active_pid ? std::optional<std::int64_t>(*s.active_pid) : std::nullopt);
        w.key("plugin");
        w.string(s.plugin);
        w.key("slot_type");
        w.string(s.slot_type);
        w.key("database");
        w.string(s.database);
        w.key("temporary");
        w.boolean(s.temporary);
        json_opt_lsn(w, "restart_lsn", s.restart_lsn);
        json_opt_lsn(w, "confirmed_flush_lsn", s.confirmed_flush_lsn);
        w.key("wal_status");
        if (s.wal_status.empty()) {
            w.null();
        } else {
            w.string(s.wal_status);
        }
        json_opt_int(w, "safe_wal_size", s.safe_wal_size);
        json_opt_int(w, "retained_wal_bytes", s.retained_bytes);
        json_opt_int(w, "restart_lsn_retained_wal_bytes", s.restart_retained_bytes);
    }
    w.end_object();
}

void json_publication(JsonWriter& w, const std::optional<source::PublicationStatus>& p) {
    w.key("publication");
    if (!p) {
        w.null();
        return;
    }
    w.begin_object();
    w.key("name");
    w.string(p->name);
    w.key("exists");
    w.boolean(p->exists);
    w.key("all_tables");
    w.boolean(p->all_tables);
    w.key("tables");
    w.begin_array();
    for (const auto& [schema, table] : p->tables) {
        w.string(sql_table_name(schema, table));
    }
    w.end_array();
    w.key("missing_tables");
    w.begin_array();
    for (const source::PublicationTable& m : p->missing) {
        w.begin_object();
        w.key("table");
        w.string(sql_table_name(m.schema, m.table));
        w.key("table_exists");
        w.boolean(m.exists);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

void json_checkpoint(JsonWriter& w, const CheckpointStatus& c) {
    w.key("checkpoint");
    w.begin_object();
    w.key("type");
    w.string(c.kafka ? "kafka" : "file");
    w.key(c.kafka ? "topic" : "path");
    w.string(c.where);
    if (c.kafka) {
        w.key("key");
        w.string(c.key);
        w.key("topic_exists");
        w.boolean(c.topic_exists);
    }
    json_error(w, c.error);
    w.key("exists");
    w.boolean(c.exists);
    if (c.exists) {
        w.key("commit_lsn");
        w.string(c.checkpoint.position.commit_lsn.str());
        w.key("seq");
        w.number(c.checkpoint.position.seq);
        w.key("end_lsn");
        w.string(c.checkpoint.end_lsn.str());
        w.key("sink_offset");
        w.number(c.checkpoint.sink_offset);
        if (c.kafka) {
            json_opt_int(w, "offset", c.offset);
        }
        w.key(c.kafka ? "timestamp" : "modified");
        if (c.written_ms) {
            w.string(iso_time(*c.written_ms));
            w.key("age_seconds");
            w.raw(seconds_json(static_cast<double>(now_ms() - *c.written_ms) / 1000.0));
        } else {
            w.null();
            w.key("age_seconds");
            w.null();
        }
    }
    w.end_object();
}

int exit_code_for(const Error& e) {
    return e.code == ErrorCode::Config ? kExitConfig : kExitRuntime;
}

} // namespace

int print_status(const config::Config& cfg, const std::shared_ptr<mappers::RuleSet>& rules,
                 bool json, std::ostream& out) {
    const source::SourceSettings settings = source_settings_of(cfg, "status");
    const auto server = source::read_server_status(settings, configured_tables(cfg, rules));
    const CheckpointStatus checkpoint = read_checkpoint(cfg);

    int code = kExitOk;
    if (!server) {
        code = exit_code_for(server.error());
    } else if (checkpoint.error) {
        code = exit_code_for(*checkpoint.error);
    }

    if (json) {
        std::string text;
        JsonWriter w(text);
        w.begin_object();
        w.key("pipeline");
        w.string(cfg.name);
        json_server(w, server);
        if (server) {
            json_slot(w, server->slot);
            json_publication(w, server->publication);
        } else {
            w.key("slot");
            w.null();
            w.key("publication");
            w.null();
        }
        json_checkpoint(w, checkpoint);
        w.end_object();
        out << text << "\n";
        return code;
    }

    Text t(out);
    t.line(0, "pipeline", cfg.name);
    if (!server) {
        t.line(0, "server", "unreachable: " + server.error().message);
    } else {
        text_server(t, *server);
        text_slot(t, *server, settings);
        if (server->publication) {
            text_publication(t, *server->publication, settings);
        } else {
            t.line(0, "publication",
                   "none (the " + settings.plugin + " plugin chooses tables through its options)");
        }
    }
    text_checkpoint(t, checkpoint);
    return code;
}

} // namespace walbus::app
