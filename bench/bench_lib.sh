# shellcheck shell=bash
# Shared by the benchmark scripts (sourced, not run): locating the build, the throwaway server
# and the workload. Expects `set -euo pipefail` in the caller.

# Let failures inside $(...) stop the script too.
shopt -s inherit_errexit

bench_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_root=$(cd "$bench_here/.." && pwd)
bench_build=${BUILD_DIR:-$bench_root/build}
# shellcheck disable=SC2012 # version-sorted directory names
bench_pgbin=${WALBUS_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

bench_die() {
    echo "error: $*" >&2
    exit 1
}

bench_usage_error() {
    echo "error: $*" >&2
    exit 2
}

# bench_build_targets NO_BUILD TARGET... : brings the targets up to date with `cmake --build`
# (unless NO_BUILD is 1), then checks that their binaries exist.
bench_build_targets() {
    local no_build=$1
    shift
    if [[ ! -f "$bench_build/CMakeCache.txt" ]]; then
        bench_die "no build in $bench_build; configure and build first:" \
            "cmake -S $bench_root -B $bench_build -G Ninja && cmake --build $bench_build" \
            "(or set BUILD_DIR to an existing build directory)"
    fi
    if [[ "$no_build" != 1 ]]; then
        cmake --build "$bench_build" --target "$@" >&2 ||
            bench_die "building $* in $bench_build failed" \
                "(pass --no-build to use the binaries as they are)"
    fi
}

bench_need_binary() {
    [[ -x "$1" ]] || bench_die "$1 is missing; build it with cmake --build $bench_build"
}

bench_need_pg() {
    [[ -x "$bench_pgbin/psql" && -x "$bench_pgbin/pg_recvlogical" ]] ||
        bench_die "PostgreSQL client binaries not found in '$bench_pgbin' (install postgresql-15" \
            "or set WALBUS_PG_BIN)"
}

bench_psql() {
    "$bench_pgbin/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

# bench_calc EXPR: floating-point arithmetic on numbers (awk, which every system has).
bench_calc() {
    awk "BEGIN { printf \"%.6f\", $* }"
}

# bench_loadavg: the 1, 5 and 15 minute load averages; other work on the machine skews figures.
bench_loadavg() {
    cut -d' ' -f1-3 /proc/loadavg
}

# bench_now: wall clock in seconds with microseconds.
bench_now() {
    echo "$EPOCHREALTIME"
}

# bench_start_server DIR: starts a throwaway server in DIR (pg-tmp.sh), creates the database
# bench and prints its DSN.
bench_start_server() {
    local dir=$1
    chmod 755 "$dir"
    "$bench_root/scripts/pg-tmp.sh" start "$dir" >/dev/null
    local port
    port=$(cat "$dir/port")
    bench_psql "host=127.0.0.1 port=$port user=postgres dbname=postgres" \
        -c "CREATE DATABASE bench"
    echo "host=127.0.0.1 port=$port user=postgres dbname=bench"
}

# bench_start: a throwaway server with database "bench" and a work directory, both removed when
# the script exits. Sets pgdir, workdir and dsn.
bench_start() {
    pgdir=$(mktemp -d)
    workdir=$(mktemp -d)
    trap bench_cleanup EXIT
    echo "starting a throwaway PostgreSQL server" >&2
    dsn=$(bench_start_server "$pgdir")
}

# bench_start_kafka: after bench_start, a throwaway single-node Kafka broker (scripts/kafka.sh),
# stopped and removed when the script exits. Sets kafkadir and bootstrap (127.0.0.1:PORT).
bench_start_kafka() {
    kafkadir=$(mktemp -d)
    echo "starting a throwaway Kafka broker" >&2
    # shellcheck disable=SC2034 # for the caller
    bootstrap=$("$bench_root/scripts/kafka.sh" start "$kafkadir") ||
        bench_die "could not start a Kafka broker with scripts/kafka.sh (its messages are above)"
}

bench_cleanup() {
    if [[ -n "${kafkadir:-}" ]]; then
        "$bench_root/scripts/kafka.sh" stop "$kafkadir" || true
    fi
    "$bench_root/scripts/pg-tmp.sh" stop "$pgdir" || true
    rm -rf "$workdir"
}

# /usr/bin/time, when installed, gives bench_timed the client's CPU time and peak RSS.
bench_time_bin=
if [[ -x /usr/bin/time ]]; then
    bench_time_bin=/usr/bin/time
fi

# bench_server_children_cpu: CPU seconds of the server's exited backends: the postmaster's
# cutime + cstime, where a walsender's time lands once it has exited and been reaped.
bench_server_children_cpu() {
    local pid
    pid=$(head -1 "$pgdir/data/postmaster.pid")
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($16 + $17) / hz }' "/proc/$pid/stat"
}

# bench_wait_slot_released SLOT: until the walsender of SLOT (on the server of bench_start) has
# gone, then a moment for its reaping.
bench_wait_slot_released() {
    for _ in $(seq 1 100); do
        [[ $("$bench_pgbin/psql" -X -At "$dsn" -c \
            "SELECT active FROM pg_replication_slots WHERE slot_name = '$1'") == f ]] && break
        sleep 0.1
    done
    sleep 0.3
}

# bench_timed SLOT CMD...: runs CMD (under /usr/bin/time when present) against the server of
# bench_start; sets run_started (bench_now at its start), run_seconds, run_rss_kb,
# run_cpu_seconds and run_switches (the client's peak RSS, CPU time and voluntary context
# switches; empty without /usr/bin/time) and run_server_cpu (the walsender that served SLOT).
bench_timed() {
    local slot=$1
    shift
    local stats=$workdir/time.$RANDOM
    local start end server_before
    server_before=$(bench_server_children_cpu)
    start=$(bench_now)
    run_started=$start
    local status=0
    if [[ -n "$bench_time_bin" ]]; then
        "$bench_time_bin" -v -o "$stats" "$@" || status=$?
    else
        "$@" || status=$?
    fi
    if [[ $status -ne 0 ]]; then
        bench_die "$(basename "$1") exited with status $status (its messages are above)"
    fi
    end=$(bench_now)
    run_seconds=$(bench_calc "$end - $start")
    bench_wait_slot_released "$slot"
    run_server_cpu=$(bench_calc "$(bench_server_children_cpu) - $server_before")
    run_rss_kb=
    run_cpu_seconds=
    run_switches=
    if [[ -n "$bench_time_bin" ]]; then
        run_rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$stats")
        run_switches=$(awk -F': ' '/Voluntary context switches/ { print $2 }' "$stats")
        run_cpu_seconds=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 }
                                      END { printf "%.2f", u + s }' "$stats")
    fi
}

# bench_create_schema DSN SLOT...: the table, its publication, then one pgoutput slot per name.
# The slots are made before any row is written so that they all see the whole workload.
bench_create_schema() {
    local dsn=$1
    shift
    bench_psql "$dsn" <<'SQL'
CREATE TABLE bench_rows (
    id bigint PRIMARY KEY,
    customer text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL,
    quantity integer NOT NULL,
    note text,
    paid boolean NOT NULL,
    ref uuid NOT NULL
);
CREATE PUBLICATION bench_pub FOR TABLE bench_rows;
SQL
    local slot
    for slot in "$@"; do
        bench_psql "$dsn" \
            -c "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
    done
}

# The values of bench_rows' columns for row number g, as a SELECT list.
bench_row_values="g, 'customer-' || (g % 10007), round(((g * 7919) % 1000000) / 100.0, 2), "
bench_row_values+="timestamptz '2026-01-01 00:00:00+00' + g * interval '37 ms', "
bench_row_values+="(g % 97)::integer, md5(g::text), g % 3 = 0, md5((g * 31)::text)::uuid"

# bench_write_rows DSN TXNS ROWS_PER_TXN: TXNS transactions of ROWS_PER_TXN inserts each (one
# INSERT ... SELECT per transaction, psql's autocommit). Prints the end LSN, taken after the
# last commit.
bench_write_rows() {
    local dsn=$1 txns=$2 rows=$3
    awk -v txns="$txns" -v rows="$rows" -v values="$bench_row_values" 'BEGIN {
        for (t = 0; t < txns; t++) {
            printf "INSERT INTO bench_rows SELECT %s ", values
            printf "FROM generate_series(%d::bigint, %d) AS g;\n", t * rows + 1, (t + 1) * rows
        }
    }' | bench_psql "$dsn"
    local end
    end=$("$bench_pgbin/psql" -X -At -v ON_ERROR_STOP=1 "$dsn" -c "SELECT pg_current_wal_lsn()")
    # One more WAL record past the end (the commit of a transaction that only takes an xid,
    # which decodes to nothing), so the walsenders' position moves beyond the end LSN at once
    # and the tools that stop there do not wait for the next background WAL record.
    bench_psql "$dsn" -c "SELECT txid_current()" >/dev/null
    echo "$end"
}
