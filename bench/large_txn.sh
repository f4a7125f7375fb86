#!/usr/bin/env bash
# One huge transaction: walbus with source.streaming on (the server streams the transaction while
# it is in progress, walbus stages it within source.staging_memory) and off (the server keeps it
# until its commit, spilling to its own disk), next to pg_recvlogical reading the same WAL with
# protocol version 1 (no streaming, no decoding on the client).
#
#   bench/large_txn.sh [--rows N] [--staging-memory SIZE] [--work-mem SIZE] [--no-build]
#
# Defaults: one INSERT ... SELECT of 2,000,000 rows of the bench_rows workload, walbus's default
# staging memory (64MiB), the server's default logical_decoding_work_mem (64MB; the server
# streams, or spills, a transaction once its changes outgrow it). Needs a configured build in
# $BUILD_DIR (default: <repo>/build), which it brings up to date unless --no-build, and the
# PostgreSQL 15 server binaries (for scripts/pg-tmp.sh).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/bench_lib.sh"

rows=2000000
staging_memory=
work_mem=
no_build=0
usage() {
    echo "usage: $0 [--rows N] [--staging-memory SIZE] [--work-mem SIZE] [--no-build]" >&2
    exit 2
}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --rows) [[ $# -ge 2 ]] || usage; rows=$2; shift 2 ;;
    --staging-memory) [[ $# -ge 2 ]] || usage; staging_memory=$2; shift 2 ;;
    --work-mem) [[ $# -ge 2 ]] || usage; work_mem=$2; shift 2 ;;
    --no-build) no_build=1; shift ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
[[ "$rows" =~ ^[1-9][0-9]*$ ]] || bench_usage_error "--rows needs a positive whole number"

bench_build_targets "$no_build" walbus
walbus_bin=$bench_build/src/app/walbus
bench_need_binary "$walbus_bin"
bench_need_pg
bench_start # sets pgdir, workdir and dsn; removes them on exit
server_version=$("$bench_pgbin/psql" -X -At "$dsn" -c "SHOW server_version")
if [[ -n "$work_mem" ]]; then
    bench_psql "$dsn" -c "ALTER SYSTEM SET logical_decoding_work_mem = '$work_mem'" \
        -c "SELECT pg_reload_conf()" >/dev/null
fi
work_mem_shown=$("$bench_pgbin/psql" -X -At "$dsn" -c "SHOW logical_decoding_work_mem")
bench_create_schema "$dsn" walbus_stream walbus_whole recv_bench

echo "writing one transaction of $rows rows" >&2
t0=$(bench_now)
end_lsn=$(bench_write_rows "$dsn" 1 "$rows")
t1=$(bench_now)
load_seconds=$(bench_calc "$t1 - $t0")
wal_bytes=$("$bench_pgbin/psql" -X -At "$dsn" -c \
    "SELECT pg_wal_lsn_diff('$end_lsn', confirmed_flush_lsn) FROM pg_replication_slots
     WHERE slot_name = 'recv_bench'")

# slot_stats SLOT: "spill_MB stream_MB stream_txns" from pg_stat_replication_slots (the
# walsender reports them as it goes; by the time its client has exited they are complete).
slot_stats() {
    "$bench_pgbin/psql" -X -At -F ' ' "$dsn" -c \
        "SELECT round(spill_bytes / 1e6, 1), round(stream_bytes / 1e6, 1), stream_txns
         FROM pg_stat_replication_slots WHERE slot_name = '$1'"
}

# walbus_config SLOT STREAMING: a file sink and a file checkpoint of their own per run; the
# staging directory is the default one, next to the checkpoint.
walbus_config() {
    local slot=$1 streaming=$2
    cat >"$workdir/$slot.yaml" <<YAML
name: bench
source:
  dsn: "$dsn"
  slot: $slot
  publication: bench_pub
  tables: [public.bench_rows]
  create_slot: false
  create_publication: false
  streaming: $streaming
${staging_memory:+  staging_memory: $staging_memory}
sink:
  type: file
  path: $workdir/$slot.jsonl
  fsync: true
checkpoint:
  type: file
  path: $workdir/$slot.checkpoint
YAML
}

declare -A seconds rss cpu spill stream stream_txns
record() {
    local name=$1 slot=$2
    seconds[$name]=$run_seconds
    rss[$name]=$run_rss_kb
    cpu[$name]=$run_cpu_seconds
    read -r "spill[$name]" "stream[$name]" "stream_txns[$name]" < <(slot_stats "$slot")
}

run_walbus() {
    local name=$1 slot=$2 streaming=$3
    walbus_config "$slot" "$streaming"
    echo "streaming with walbus (source.streaming: $streaming) up to $end_lsn" >&2
    bench_timed "$slot" "$walbus_bin" run --config "$workdir/$slot.yaml" \
        --stop-at-lsn "$end_lsn" --log-level warn
    local lines
    lines=$(wc -l <"$workdir/$slot.jsonl")
    [[ "$lines" -eq "$rows" ]] ||
        bench_die "walbus ($name) wrote $lines lines; expected $rows (one per inserted row)"
    record "$name" "$slot"
    rm -f "$workdir/$slot.jsonl" # several GB with millions of rows
}

load_before=$(bench_loadavg)
echo "draining with pg_recvlogical up to $end_lsn" >&2
bench_timed recv_bench "$bench_pgbin/pg_recvlogical" -d "$dsn" --slot recv_bench --start \
    --endpos "$end_lsn" -o proto_version=1 -o publication_names=bench_pub \
    -f "$workdir/recv.out" --no-loop
record pg_recvlogical recv_bench
rm -f "$workdir/recv.out"
run_walbus "walbus streaming" walbus_stream on
run_walbus "walbus whole" walbus_whole off
load_after=$(bench_loadavg)

echo
echo "walbus large transaction benchmark: one transaction of $rows rows"
printf 'PostgreSQL %s, logical_decoding_work_mem %s, WAL to decode: %.1f MB (written in %.1f s), %s cores\n' \
    "$server_version" "$work_mem_shown" "$(bench_calc "$wal_bytes / 1e6")" "$load_seconds" "$(nproc)"
echo "walbus staging memory: ${staging_memory:-64MiB (default)}"
echo "load average before the timed runs: $load_before, after: $load_after"
echo
printf '%-18s %9s %12s %12s %8s %15s %16s %12s\n' tool seconds changes/s "peak RSS MB" "CPU s" \
    "server spill MB" "server stream MB" "stream txns"
for name in pg_recvlogical "walbus streaming" "walbus whole"; do
    r=- c=-
    [[ -n "${rss[$name]}" ]] && r=$(printf '%.1f' "$(bench_calc "${rss[$name]} / 1024")")
    [[ -n "${cpu[$name]}" ]] && c=${cpu[$name]}
    printf '%-18s %9.2f %12.0f %12s %8s %15s %16s %12s\n' "$name" "${seconds[$name]}" \
        "$(bench_calc "$rows / ${seconds[$name]}")" "$r" "$c" "${spill[$name]}" \
        "${stream[$name]}" "${stream_txns[$name]}"
done
echo
printf 'walbus streaming / walbus whole (time): %.2f\n' \
    "$(bench_calc "${seconds["walbus streaming"]} / ${seconds["walbus whole"]}")"
printf 'walbus streaming / pg_recvlogical (changes/s): %.2f\n' \
    "$(bench_calc "${seconds[pg_recvlogical]} / ${seconds["walbus streaming"]}")"
if [[ -z "$bench_time_bin" ]]; then
    echo "note: /usr/bin/time is not installed; CPU time and peak RSS were not measured"
fi
