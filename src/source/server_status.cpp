#include "walbus/source/server_status.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "pg_conn.h"
#include "walbus/core/table_name.h"

namespace walbus::source {
namespace {

bool is_null(const PGresult* r, int row, int col) {
    return PQgetisnull(r, row, col) != 0;
}

std::optional<Lsn> lsn_at(const PGresult* r, int row, int col) {
    if (is_null(r, row, col)) {
        return std::nullopt;
    }
    return Lsn::parse(PQgetvalue(r, row, col));
}

std::optional<std::int64_t> int_at(const PGresult* r, int row, int col) {
    if (is_null(r, row, col)) {
        return std::nullopt;
    }
    std::string_view text = PQgetvalue(r, row, col);
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

Result<void> read_server(PgConn& pg, ServerStatus& out) {
    auto res =
        pg.exec("SELECT current_setting('server_version'), current_setting('server_version_num'), "
                "current_setting('wal_level'), current_database(), pg_is_in_recovery(), "
                "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                "ELSE pg_current_wal_lsn() END",
                "reading the server's settings");
    if (!res) {
        return std::unexpected(res.error());
    }
    const PGresult* r = res->get();
    out.version = PQgetvalue(r, 0, 0);
    out.version_num = static_cast<int>(int_at(r, 0, 1).value_or(0));
    out.wal_level = PQgetvalue(r, 0, 2);
    out.database = PQgetvalue(r, 0, 3);
    out.in_recovery = *PQgetvalue(r, 0, 4) == 't';
    out.current_wal_lsn = lsn_at(r, 0, 5).value_or(Lsn{});
    return {};
}

Result<void> read_slot(PgConn& pg, const ServerStatus& server, SlotStatus& slot) {
    // wal_status and safe_wal_size came with PostgreSQL 13.
    const bool has_wal_status = server.version_num >= 130000;
    const std::string current = "'" + server.current_wal_lsn.str() + "'::pg_lsn";
    auto res =
        pg.query("SELECT plugin, slot_type, database, temporary, active, active_pid, restart_lsn, "
                 "confirmed_flush_lsn, " +
                     std::string(has_wal_status ? "wal_status, safe_wal_size, "
                                                : "NULL::text, NULL::bigint, ") +
                     "pg_wal_lsn_diff(" + current + ", confirmed_flush_lsn)::bigint, " +
                     "pg_wal_lsn_diff(" + current +
                     ", restart_lsn)::bigint "
                     "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                 {slot.name}, "looking up replication slot " + slot.name);
    if (!res) {
        return std::unexpected(res.error());
    }
    const PGresult* r = res->get();
    if (PQntuples(r) == 0) {
        return {};
    }
    slot.exists = true;
    slot.plugin = PQgetvalue(r, 0, 0);
    slot.slot_type = PQgetvalue(r, 0, 1);
    slot.database = PQgetvalue(r, 0, 2);
    slot.temporary = *PQgetvalue(r, 0, 3) == 't';
    slot.active = *PQgetvalue(r, 0, 4) == 't';
    if (auto pid = int_at(r, 0, 5)) {
        slot.active_pid = static_cast<int>(*pid);
    }
    slot.restart_lsn = lsn_at(r, 0, 6);
    slot.confirmed_flush_lsn = lsn_at(r, 0, 7);
    slot.wal_status = is_null(r, 0, 8) ? "" : PQgetvalue(r, 0, 8);
    slot.safe_wal_size = int_at(r, 0, 9);
    slot.retained_bytes = int_at(r, 0, 10);
    slot.restart_retained_bytes = int_at(r, 0, 11);
    return {};
}

Result<void> read_publication(PgConn& pg, const std::vector<std::string>& configured,
                              PublicationStatus& pub) {
    auto res = pg.query("SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = $1",
                        {pub.name}, "looking up publication " + pub.name);
    if (!res) {
        return std::unexpected(res.error());
    }
    if (PQntuples(res->get()) == 0) {
        return {};
    }
    pub.exists = true;
    pub.all_tables = *PQgetvalue(res->get(), 0, 0) == 't';
    auto tables = pg.query("SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables "
                           "WHERE pubname = $1 ORDER BY 1, 2",
                           {pub.name}, "listing the tables of publication " + pub.name);
    if (!tables) {
        return std::unexpected(tables.error());
    }
    for (int i = 0; i < PQntuples(tables->get()); ++i) {
        pub.tables.emplace_back(PQgetvalue(tables->get(), i, 0), PQgetvalue(tables->get(), i, 1));
    }
    for (const std::string& name : configured) {
        auto [schema, table] = split_table_name(name);
        if (std::ranges::find(pub.tables, std::pair{schema, table}) != pub.tables.end() ||
            std::ranges::any_of(pub.missing, [&](const PublicationTable& t) {
                return t.schema == schema && t.table == table;
            })) {
            continue;
        }
        auto found = pg.query("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                              "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 "
                              "AND c.relkind IN ('r', 'p')",
                              {schema, table}, "looking up table " + schema + "." + table);
        if (!found) {
            return std::unexpected(found.error());
        }
        pub.missing.push_back({schema, table, PQntuples(found->get()) > 0});
    }
    return {};
}

} // namespace

Result<ServerStatus> read_server_status(const SourceSettings& settings,
                                        const std::vector<std::string>& tables) {
    PgConn pg;
    if (auto ok = pg.open(settings.dsn, false, settings.application_name); !ok) {
        return std::unexpected(ok.error());
    }
    ServerStatus out;
    if (auto ok = read_server(pg, out); !ok) {
        return std::unexpected(ok.error());
    }
    out.slot.name = settings.slot;
    if (auto ok = read_slot(pg, out, out.slot); !ok) {
        return std::unexpected(ok.error());
    }
    if (settings.plugin == "pgoutput") {
        PublicationStatus pub;
        pub.name = settings.publication;
        if (auto ok = read_publication(pg, tables, pub); !ok) {
            return std::unexpected(ok.error());
        }
        out.publication = std::move(pub);
    }
    return out;
}

} // namespace walbus::source
