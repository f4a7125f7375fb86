#!/usr/bin/env bash
# Re-records tests/data/wal2json/*.bin and *.catalog from a throwaway server.
# Usage: record.sh [CASE...]
#
# A case's workload is <case>.setup.sql and <case>.sql in this directory or, for the workloads
# shared with the pgoutput recordings, in ../pgoutput (so both decoders see the same changes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cases=("$@")
if [[ ${#cases[@]} -eq 0 ]]; then
    for f in "$here"/*.setup.sql "$here"/../pgoutput/*.setup.sql; do
        [[ -e "$f" ]] && cases+=("$(basename "$f" .setup.sql)")
    done
fi
workload() { # CASE SUFFIX
    if [[ -e "$here/$1.$2" ]]; then echo "$here/$1.$2"; else echo "$here/../pgoutput/$1.$2"; fi
}

pgdir=$(mktemp -d)
chmod 755 "$pgdir"
trap '"$root/scripts/pg-tmp.sh" stop "$pgdir/pg"' EXIT
"$root/scripts/pg-tmp.sh" start "$pgdir/pg" >/dev/null
port=$(cat "$pgdir/pg/port")
admin="host=127.0.0.1 port=$port user=postgres dbname=postgres"
# Servers built with an output plugin allow-list must name wal2json in it.
if [[ -n $(psql -X -At "$admin" -c \
    "SELECT 1 FROM pg_settings WHERE name = 'output_plugin_libraries'") ]]; then
    psql -X -q "$admin" -c "ALTER SYSTEM SET output_plugin_libraries = pgoutput, wal2json" \
        -c "SELECT pg_reload_conf()" >/dev/null
fi

# Catalog snapshots: every user table's description, after the setup and after each DDL command
# of the workload (an event trigger), one line per version, in the tab-separated form README.md
# describes. The log table is not in add-tables, so wal2json leaves its rows out.
catalog_sql=$(cat <<'SQL'
CREATE TABLE walbus_catalog_log (n bigserial PRIMARY KEY, line text NOT NULL);
CREATE FUNCTION walbus_catalog_snapshot() RETURNS void LANGUAGE sql AS $f$
INSERT INTO walbus_catalog_log (line)
SELECT concat_ws(E'\t', n.nspname, c.relname, c.oid, c.relreplident,
       string_agg(concat_ws(E'\t', a.attname, a.atttypid, a.atttypmod,
                  CASE WHEN c.relreplident = 'f' OR a.attnum = ANY (i.indkey::int2[])
                       THEN 'key' ELSE '-' END), E'\t' ORDER BY a.attnum))
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_index i ON i.indrelid = c.oid
    AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND c.relname <> 'walbus_catalog_log'
GROUP BY n.nspname, c.relname, c.oid, c.relreplident
ORDER BY n.nspname, c.relname
$f$;
CREATE FUNCTION walbus_catalog_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM walbus_catalog_snapshot();
END
$f$;
CREATE EVENT TRIGGER walbus_catalog ON ddl_command_end EXECUTE FUNCTION walbus_catalog_ddl();
SELECT walbus_catalog_snapshot();
SQL
)

# add-tables: every table but the log and not_replicated, with wal2json's escaping (a backslash
# before , . * \ and whitespace).
add_tables_sql=$(cat <<'SQL'
SELECT string_agg(regexp_replace(n.nspname, '([\\,.* \t\n\r\f\v])', '\\\1', 'g') || '.' ||
                  regexp_replace(c.relname, '([\\,.* \t\n\r\f\v])', '\\\1', 'g'), ',')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND c.relname NOT IN ('walbus_catalog_log', 'not_replicated')
SQL
)

for c in "${cases[@]}"; do
    db="rec_$c"
    psql -X -q -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE $db"
    dsn="host=127.0.0.1 port=$port user=postgres dbname=$db"
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$(workload "$c" setup.sql)" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" -c "$catalog_sql" >/dev/null
    add_tables=$(psql -X -At -v ON_ERROR_STOP=1 "$dsn" -c "$add_tables_sql")
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" \
        -c "SELECT pg_create_logical_replication_slot('rec_$c', 'wal2json')" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$(workload "$c" sql)" >/dev/null
    # The slot's messages with the options walbus uses (kWal2jsonOptions), in the session
    # settings walbus's replication connection has, framed as the pgoutput recordings are:
    # 8-byte WAL start, 4-byte length, payload. The peek's lsn is the XLogData WAL start.
    psql -X -q -At -v ON_ERROR_STOP=1 -v add_tables="$add_tables" "$dsn" <<'SQL' |
SET DateStyle = ISO;
SET TimeZone = UTC;
SET IntervalStyle = iso_8601;
SET extra_float_digits = 3;
SET bytea_output = hex;
SELECT lpad(to_hex((lsn - '0/0'::pg_lsn)::bigint), 16, '0') ||
       lpad(to_hex(length(data)), 8, '0') || encode(data, 'hex')
FROM pg_logical_slot_peek_binary_changes(current_database(), NULL, NULL,
    'format-version', '2', 'include-xids', '1', 'include-timestamp', '1', 'include-lsn', '1',
    'include-pk', '1', 'include-type-oids', '1', 'include-typmod', '1',
    'add-tables', :'add_tables');
SQL
        perl -ne 'chomp; print pack("H*", $_)' >"$here/$c.bin"
    psql -X -At -v ON_ERROR_STOP=1 "$dsn" \
        -c "SELECT line FROM walbus_catalog_log GROUP BY line ORDER BY min(n)" \
        >"$here/$c.catalog"
    echo "recorded $c ($(stat -c %s "$here/$c.bin") bytes, $(wc -l <"$here/$c.catalog") relation versions)"
done
