#!/usr/bin/env bash
# Re-records tests/data/pgoutput/*.bin from a throwaway server. Usage: record.sh BUILD_DIR [CASE...]
#
# Cases named stream_* are recorded with protocol version 2 and streaming on, with
# logical_decoding_work_mem at its minimum (64kB) so that large transactions are streamed while
# in progress. A workload with lines "--@ session N" (N = 1 or 2) runs on two connections: what
# follows such a line goes to session N, and each block finishes before the next one starts, so
# one session's transaction can stay open while the other commits.
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
admin="host=127.0.0.1 port=$port user=postgres dbname=postgres"

# run_sessions DSN FILE: the workload FILE on two connections, block by block (see above).
run_sessions() {
    local dsn=$1 file=$2 work n session=1 block=0 line
    work=$(mktemp -d)
    local -a pids=()
    for n in 1 2; do
        mkfifo "$work/in$n"
        psql -X -q -v ON_ERROR_STOP=1 "$dsn" <"$work/in$n" >"$work/out$n" 2>&1 &
        pids[n]=$!
    done
    exec {w1}>"$work/in1" {w2}>"$work/in2"
    local -a fds=("" "$w1" "$w2")
    # Sends a \! that marks the end of the block, then waits for it (or for psql to fail).
    finish_block() {
        block=$((block + 1))
        echo "\\! touch $work/done$block" >&"${fds[session]}"
        until [[ -e "$work/done$block" ]]; do
            if ! kill -0 "${pids[session]}" 2>/dev/null; then
                echo "session $session failed in block $block:" >&2
                cat "$work/out$session" >&2
                exit 1
            fi
            sleep 0.05
        done
    }
    while IFS= read -r line || [[ -n "$line" ]]; do
        if [[ "$line" =~ ^--@\ session\ ([12])$ ]]; then
            finish_block
            session=${BASH_REMATCH[1]}
        else
            printf '%s\n' "$line" >&"${fds[session]}"
        fi
    done <"$file"
    finish_block
    exec {w1}>&- {w2}>&-
    for n in 1 2; do
        wait "${pids[n]}" || { cat "$work/out$n" >&2; exit 1; }
    done
    rm -rf "$work"
}

for c in "${cases[@]}"; do
    db="rec_$c"
    psql -X -q -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE $db"
    dsn="host=127.0.0.1 port=$port user=postgres dbname=$db"
    mode=()
    if [[ $c == stream_* ]]; then
        mode=(stream)
        # Read by the walsender (server-wide), not by the workload's sessions.
        psql -X -q -v ON_ERROR_STOP=1 "$admin" \
            -c "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'" -c "SELECT pg_reload_conf()" \
            >/dev/null
    fi
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$here/$c.setup.sql"
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" \
        -c "SELECT pg_create_logical_replication_slot('rec_$c', 'pgoutput')" >/dev/null
    if grep -q '^--@ session' "$here/$c.sql"; then
        run_sessions "$dsn" "$here/$c.sql" >/dev/null
    else
        psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$here/$c.sql" >/dev/null
    fi
    end=$(psql -X -At "$dsn" -c "SELECT pg_current_wal_lsn()")
    "$build/tests/pgoutput_record" "$dsn" "rec_$c" walbus_test "$end" "$here/$c.bin" "${mode[@]}"
    if [[ ${#mode[@]} -gt 0 ]]; then
        psql -X -q -v ON_ERROR_STOP=1 "$admin" \
            -c "ALTER SYSTEM RESET logical_decoding_work_mem" -c "SELECT pg_reload_conf()" >/dev/null
    fi
    echo "recorded $c ($(stat -c %s "$here/$c.bin") bytes)"
done
