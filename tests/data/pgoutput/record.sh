#!/usr/bin/env bash
# Re-records tests/data/pgoutput/*.bin from a throwaway server. Usage: record.sh BUILD_DIR [CASE...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=$(cd "${1:?usage: record.sh BUILD_DIR [CASE...]}" && pwd)
shift
cases=("$@")
if [[ ${#cases[@]} -eq 0 ]]; then
    for f in "$here"/*.setup.sql; do cases+=("$(basename "$f" .setup.sql)"); done
fi
pgdir=$(mktemp -d)
trap '"$root/scripts/pg-tmp.sh" stop "$pgdir"' EXIT
"$root/scripts/pg-tmp.sh" start "$pgdir" >/dev/null
port=$(cat "$pgdir/port")
for c in "${cases[@]}"; do
    db="rec_$c"
    psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$port user=postgres dbname=postgres" \
        -c "CREATE DATABASE $db"
    dsn="host=127.0.0.1 port=$port user=postgres dbname=$db"
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$here/$c.setup.sql"
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" \
        -c "SELECT pg_create_logical_replication_slot('rec_$c', 'pgoutput')" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$here/$c.sql" >/dev/null
    end=$(psql -X -At "$dsn" -c "SELECT pg_current_wal_lsn()")
    "$build/tests/pgoutput_record" "$dsn" "rec_$c" walbus_test "$end" "$here/$c.bin"
    echo "recorded $c ($(stat -c %s "$here/$c.bin") bytes)"
done
