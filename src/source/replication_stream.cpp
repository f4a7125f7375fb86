#include "walbus/source/replication_stream.h"

#include "pg_conn.h"
#include "walbus/core/table_name.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace walbus::source {
namespace {

constexpr std::int64_t kPostgresEpochUnixUs = 946'684'800'000'000;

void put_u64(std::string& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
}

std::uint64_t get_u64(const char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    }
    return v;
}

std::int64_t now_postgres_us() {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    return us - kPostgresEpochUnixUs;
}

} // namespace

std::string quote_literal(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') {
            out.push_back('\'');
        }
        out.push_back(c);
    }
    out.push_back('\'');
    // standard_conforming_strings is on in every supported server; a backslash is literal.
    return out;
}

std::string quote_ident(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') {
            out.push_back('"');
        }
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

struct ReplicationStream::Impl {
    PgConn pg;
    SourceSettings settings;
    char* copy_buf = nullptr;

    ~Impl() {
        if (copy_buf != nullptr) {
            PQfreemem(copy_buf);
        }
    }

    PGconn* conn() const { return pg.raw(); }
    std::string conn_error() const { return pg.conn_error(); }
    Error result_error(const PGresult* res, std::string_view what) const {
        return pg.result_error(res, what);
    }
    Result<PgResult> exec(const std::string& sql, std::string_view what) {
        return pg.exec(sql, what);
    }
};

ReplicationStream::ReplicationStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReplicationStream::~ReplicationStream() = default;

Result<std::unique_ptr<ReplicationStream>> ReplicationStream::connect(const SourceSettings& s) {
    auto impl = std::make_unique<Impl>();
    impl->settings = s;
    if (auto ok = impl->pg.open(s.dsn, true, s.application_name); !ok) {
        return std::unexpected(ok.error());
    }

    auto stream = std::unique_ptr<ReplicationStream>(new ReplicationStream(std::move(impl)));
    auto& conn = *stream->impl_;
    auto res = conn.exec("IDENTIFY_SYSTEM", "IDENTIFY_SYSTEM");
    if (!res) {
        return std::unexpected(res.error());
    }
    PGresult* r = res->get();
    if (PQntuples(r) != 1 || PQnfields(r) < 4) {
        return fail(ErrorCode::Server, "IDENTIFY_SYSTEM returned an unexpected result shape");
    }
    stream->system_.system_id = PQgetvalue(r, 0, 0);
    stream->system_.timeline = std::atoi(PQgetvalue(r, 0, 1));
    stream->system_.xlog_pos = Lsn::parse(PQgetvalue(r, 0, 2)).value_or(Lsn{});
    if (PQgetisnull(r, 0, 3) != 0) {
        return fail(ErrorCode::Config,
                    "source.dsn names no database; add dbname=... (logical replication reads one "
                    "database)");
    }
    stream->system_.database = PQgetvalue(r, 0, 3);
    stream->system_.server_version = PQserverVersion(conn.conn());
    return stream;
}

Result<void> ReplicationStream::prepare() {
    return prepare_or_check(nullptr);
}

Result<void> ReplicationStream::check(std::vector<std::string>& problems) {
    return prepare_or_check(&problems);
}

// A set-up problem: noted in `problems` when checking, else the result.
Result<void> setup_problem(std::vector<std::string>* problems, std::string message) {
    if (problems != nullptr) {
        problems->push_back(std::move(message));
        return {};
    }
    return fail(ErrorCode::ServerSetup, std::move(message));
}

// With `problems`, nothing is created and each set-up problem is noted there instead of ending
// the checks; without, the first problem is the result.
Result<void> ReplicationStream::prepare_or_check(std::vector<std::string>* problems) {
    auto& c = *impl_;
    const auto& s = c.settings;
    const bool create = problems == nullptr;
    auto problem = [&](std::string message) { return setup_problem(problems, std::move(message)); };

    auto wal = c.exec("SHOW wal_level", "reading wal_level");
    if (!wal) {
        return std::unexpected(wal.error());
    }
    std::string level = PQgetvalue(wal->get(), 0, 0);
    if (level != "logical") {
        if (auto ok = problem("wal_level is '" + level +
                              "' but logical replication needs 'logical'; run ALTER SYSTEM SET "
                              "wal_level = logical (or set it in postgresql.conf) and restart "
                              "the server");
            !ok) {
            return ok;
        }
    }

    // Every configured table must exist.
    std::vector<std::pair<std::string, std::string>> tables;
    for (const auto& t : s.tables) {
        auto name = split_table_name(t);
        const auto& [schema, table] = name;
        auto found = c.exec("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE n.nspname = " +
                                quote_literal(schema) + " AND c.relname = " + quote_literal(table) +
                                " AND c.relkind IN ('r', 'p')",
                            "looking up table " + schema + "." + table);
        if (!found) {
            return std::unexpected(found.error());
        }
        if (PQntuples(found->get()) == 0) {
            if (auto ok = problem("table " + schema + "." + table + " does not exist in database " +
                                  system_.database +
                                  "; create it, or remove it from source.tables or the rules");
                !ok) {
                return ok;
            }
            continue;
        }
        tables.push_back(std::move(name));
    }

    // Publication (pgoutput only: other plugins filter tables through their options).
    if (s.plugin == "pgoutput") {
        if (auto ok = prepare_publication(tables, problems); !ok) {
            return ok;
        }
    }

    // Slot.
    if (s.temporary_slot) {
        if (!create) {
            return {};
        }
        auto created =
            c.exec("CREATE_REPLICATION_SLOT " + quote_ident(s.slot) + " TEMPORARY LOGICAL " +
                       quote_ident(s.plugin) + " NOEXPORT_SNAPSHOT",
                   "creating temporary replication slot " + s.slot);
        if (!created) {
            return std::unexpected(created.error());
        }
        return {};
    }
    auto slot = c.exec("SELECT plugin, database FROM pg_catalog.pg_replication_slots "
                       "WHERE slot_name = " +
                           quote_literal(s.slot),
                       "looking up replication slot " + s.slot);
    if (!slot) {
        return std::unexpected(slot.error());
    }
    if (PQntuples(slot->get()) == 0) {
        if (!s.create_slot) {
            return problem("replication slot \"" + s.slot +
                           "\" does not exist; create it with "
                           "SELECT pg_create_logical_replication_slot(" +
                           quote_literal(s.slot) + ", " + quote_literal(s.plugin) +
                           ") or set source.create_slot: true");
        }
        if (!create) {
            return {};
        }
        auto created = c.exec("CREATE_REPLICATION_SLOT " + quote_ident(s.slot) + " LOGICAL " +
                                  quote_ident(s.plugin) + " NOEXPORT_SNAPSHOT",
                              "creating replication slot " + s.slot);
        if (!created) {
            return std::unexpected(created.error());
        }
        return {};
    }
    std::string plugin = PQgetvalue(slot->get(), 0, 0);
    std::string database = PQgetvalue(slot->get(), 0, 1);
    if (plugin != s.plugin) {
        return problem("replication slot \"" + s.slot + "\" uses the " + plugin + " plugin, not " +
                       s.plugin + "; set source.decoder: " + plugin +
                       ", or another source.slot, or drop the slot with SELECT "
                       "pg_drop_replication_slot(" +
                       quote_literal(s.slot) + ")");
    }
    if (database != system_.database) {
        return problem("replication slot \"" + s.slot + "\" belongs to database " + database +
                       ", not " + system_.database + "; connect to " + database +
                       " or use another slot name");
    }
    return {};
}

Result<void> ReplicationStream::prepare_publication(
    const std::vector<std::pair<std::string, std::string>>& tables,
    std::vector<std::string>* problems) {
    auto& c = *impl_;
    const auto& s = c.settings;
    auto problem = [&](std::string message) { return setup_problem(problems, std::move(message)); };
    auto pub = c.exec("SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = " +
                          quote_literal(s.publication),
                      "looking up publication " + s.publication);
    if (!pub) {
        return std::unexpected(pub.error());
    }
    if (PQntuples(pub->get()) == 0) {
        if (!s.create_publication) {
            return problem("publication \"" + s.publication +
                           "\" does not exist; create it with "
                           "CREATE PUBLICATION " +
                           quote_ident(s.publication) +
                           " FOR TABLE ... or set source.create_publication: true");
        }
        if (problems != nullptr) {
            return {}; // checking: it would be created with the tables
        }
        std::string sql = "CREATE PUBLICATION " + quote_ident(s.publication);
        if (tables.empty()) {
            sql += " FOR ALL TABLES";
        } else {
            sql += " FOR TABLE ";
            for (std::size_t i = 0; i < tables.size(); ++i) {
                sql += (i ? ", " : "") + quote_ident(tables[i].first) + "." +
                       quote_ident(tables[i].second);
            }
        }
        if (auto created = c.exec(sql, "creating publication " + s.publication); !created) {
            return std::unexpected(created.error());
        }
    } else if (std::string_view(PQgetvalue(pub->get(), 0, 0)) != "t") {
        for (const auto& [schema, table] : tables) {
            auto member = c.exec("SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = " +
                                     quote_literal(s.publication) +
                                     " AND schemaname = " + quote_literal(schema) +
                                     " AND tablename = " + quote_literal(table),
                                 "checking publication " + s.publication);
            if (!member) {
                return std::unexpected(member.error());
            }
            if (PQntuples(member->get()) == 0) {
                if (auto ok = problem(
                        "table " + schema + "." + table + " is not in publication \"" +
                        s.publication + "\"; run ALTER PUBLICATION " + quote_ident(s.publication) +
                        " ADD TABLE " + quote_ident(schema) + "." + quote_ident(table));
                    !ok) {
                    return ok;
                }
            }
        }
    }
    return {};
}

void ReplicationStream::set_streaming(bool on) {
    impl_->settings.streaming = on;
}

Result<void> ReplicationStream::start(Lsn start) {
    auto& c = *impl_;
    std::string sql =
        "START_REPLICATION SLOT " + quote_ident(c.settings.slot) + " LOGICAL " + start.str() + " (";
    if (c.settings.plugin == "pgoutput") {
        sql += c.settings.streaming ? "proto_version '2', streaming 'on'" : "proto_version '1'";
        sql += ", publication_names " + quote_literal(quote_ident(c.settings.publication)) +
               ", messages 'true'";
    } else {
        for (std::size_t i = 0; i < c.settings.plugin_options.size(); ++i) {
            const auto& [name, value] = c.settings.plugin_options[i];
            sql += (i ? ", " : "") + quote_ident(name) + " " + quote_literal(value);
        }
    }
    sql += ")";
    PgResult res(PQexec(c.conn(), sql.c_str()));
    if (!res) {
        return fail(ErrorCode::Connection, "START_REPLICATION: " + c.conn_error());
    }
    if (PQresultStatus(res.get()) != PGRES_COPY_BOTH) {
        Error e = c.result_error(res.get(), "START_REPLICATION on slot " + c.settings.slot);
        if (e.code == ErrorCode::SlotInUse) {
            e.message = "replication slot \"" + c.settings.slot +
                        "\" is in use by another process (another walbus, or a previous one "
                        "whose connection the server has not closed yet): " +
                        e.message;
        }
        return std::unexpected(e);
    }
    return {};
}

Result<StreamMessage> ReplicationStream::next(std::chrono::milliseconds timeout) {
    auto& c = *impl_;
    if (c.copy_buf != nullptr) {
        PQfreemem(c.copy_buf);
        c.copy_buf = nullptr;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
        int len = PQgetCopyData(c.conn(), &c.copy_buf, 1);
        if (len > 0) {
            StreamMessage m;
            const char* p = c.copy_buf;
            auto n = static_cast<std::size_t>(len);
            if (p[0] == 'w') {
                if (n < 25) {
                    return fail(ErrorCode::Protocol,
                                "XLogData message of " + std::to_string(n) +
                                    " bytes is shorter than its 25-byte header");
                }
                m.type = StreamMessage::Type::XLogData;
                m.wal_start = Lsn{get_u64(p + 1)};
                m.wal_end = Lsn{get_u64(p + 9)};
                m.data = std::string_view(p + 25, n - 25);
            } else if (p[0] == 'k') {
                if (n < 18) {
                    return fail(ErrorCode::Protocol, "keepalive message of " + std::to_string(n) +
                                                         " bytes is shorter than 18 bytes");
                }
                m.type = StreamMessage::Type::Keepalive;
                m.wal_end = Lsn{get_u64(p + 1)};
                m.reply_requested = p[17] != 0;
            } else {
                return fail(ErrorCode::Protocol,
                            "unknown replication message type '" + std::string(1, p[0]) + "'");
            }
            return m;
        }
        if (len == -1) {
            // The server ended the COPY: fetch the reason.
            PgResult res(PQgetResult(c.conn()));
            if (res && PQresultStatus(res.get()) == PGRES_FATAL_ERROR) {
                Error e = c.result_error(res.get(), "replication stream ended");
                if (e.code == ErrorCode::Server) {
                    e.code = ErrorCode::Connection;
                }
                return std::unexpected(e);
            }
            return fail(ErrorCode::Connection, "the server ended the replication stream");
        }
        if (len == -2) {
            return fail(ErrorCode::Connection, "replication connection lost: " + c.conn_error());
        }
        if (attempt == 1) {
            break;
        }
        pollfd pfd{PQsocket(c.conn()), POLLIN, 0};
        int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
        if (ready < 0 && errno != EINTR) {
            return fail(ErrorCode::Connection,
                        std::string("poll on the replication socket: ") + std::strerror(errno));
        }
        if (ready <= 0) {
            return StreamMessage{};
        }
        if (PQconsumeInput(c.conn()) == 0) {
            return fail(ErrorCode::Connection, "replication connection lost: " + c.conn_error());
        }
    }
    return StreamMessage{};
}

Result<void> ReplicationStream::send_status(Lsn written, Lsn flushed, bool reply_requested) {
    auto& c = *impl_;
    std::string msg;
    msg.reserve(34);
    msg.push_back('r');
    put_u64(msg, written.value);
    put_u64(msg, flushed.value);
    put_u64(msg, flushed.value); // applied: walbus applies what it has durably stored
    put_u64(msg, static_cast<std::uint64_t>(now_postgres_us()));
    msg.push_back(reply_requested ? 1 : 0);
    if (PQputCopyData(c.conn(), msg.data(), static_cast<int>(msg.size())) != 1 ||
        PQflush(c.conn()) != 0) {
        return fail(ErrorCode::Connection, "sending standby status update: " + c.conn_error());
    }
    return {};
}

} // namespace walbus::source
