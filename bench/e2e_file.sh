#!/usr/bin/env bash
# End-to-end throughput: walbus streaming a pgoutput slot to a file sink, next to pg_recvlogical
# draining the same workload from its own slot into a file (the reference: the raw speed at which
# the server's walsender produces the stream, with no decoding on the client).
#
#   bench/e2e_file.sh [--rows-per-txn N] [--txns M] [--walbus-first] [--no-build]
#
# Defaults: 1000 transactions of 1000 inserted rows (1,000,000 changes). Needs a configured
# build in $BUILD_DIR (default: <repo>/build), which it brings up to date unless --no-build, and
# the PostgreSQL 15 server binaries (for scripts/pg-tmp.sh). pg_recvlogical runs first unless
# --walbus-first (to check that the order does not favour either tool).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/bench_lib.sh"

rows_per_txn=1000
txns=1000
no_build=0
walbus_first=0
usage() {
    echo "usage: $0 [--rows-per-txn N] [--txns M] [--walbus-first] [--no-build]" >&2
    exit 2
}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --rows-per-txn) [[ $# -ge 2 ]] || usage; rows_per_txn=$2; shift 2 ;;
    --txns) [[ $# -ge 2 ]] || usage; txns=$2; shift 2 ;;
    --walbus-first) walbus_first=1; shift ;;
    --no-build) no_build=1; shift ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
[[ "$rows_per_txn" =~ ^[1-9][0-9]*$ && "$txns" =~ ^[1-9][0-9]*$ ]] ||
    bench_usage_error "--rows-per-txn and --txns need positive whole numbers"
changes=$((rows_per_txn * txns))

bench_build_targets "$no_build" walbus
walbus_bin=$bench_build/src/app/walbus
bench_need_binary "$walbus_bin"
bench_need_pg
bench_start # sets pgdir, workdir and dsn; removes them on exit
server_version=$("$bench_pgbin/psql" -X -At "$dsn" -c "SHOW server_version")
bench_create_schema "$dsn" walbus_bench recv_bench

echo "writing $txns transactions of $rows_per_txn rows" >&2
t0=$(bench_now)
end_lsn=$(bench_write_rows "$dsn" "$txns" "$rows_per_txn")
t1=$(bench_now)
load_seconds=$(bench_calc "$t1 - $t0")
wal_bytes=$("$bench_pgbin/psql" -X -At "$dsn" -c \
    "SELECT pg_wal_lsn_diff('$end_lsn', confirmed_flush_lsn) FROM pg_replication_slots
     WHERE slot_name = 'recv_bench'")

recv_out=$workdir/recv.out
run_pg_recvlogical() {
    echo "draining with pg_recvlogical up to $end_lsn" >&2
    bench_timed recv_bench "$bench_pgbin/pg_recvlogical" -d "$dsn" --slot recv_bench --start \
        --endpos "$end_lsn" -o proto_version=1 -o publication_names=bench_pub -f "$recv_out" \
        --no-loop
    recv_seconds=$run_seconds recv_rss=$run_rss_kb recv_cpu=$run_cpu_seconds
    recv_server_cpu=$run_server_cpu
}

cat >"$workdir/walbus.yaml" <<YAML
name: bench
source:
  dsn: "$dsn"
  slot: walbus_bench
  publication: bench_pub
  tables: [public.bench_rows]
  create_slot: false
  create_publication: false
sink:
  type: file
  path: $workdir/walbus.jsonl
  fsync: true
checkpoint:
  type: file
  path: $workdir/walbus.checkpoint
YAML

run_walbus() {
    echo "streaming with walbus up to $end_lsn" >&2
    bench_timed walbus_bench "$walbus_bin" run --config "$workdir/walbus.yaml" \
        --stop-at-lsn "$end_lsn" --log-level warn
    walbus_seconds=$run_seconds walbus_rss=$run_rss_kb walbus_cpu=$run_cpu_seconds
    walbus_server_cpu=$run_server_cpu
}

load_before=$(bench_loadavg)
if [[ $walbus_first == 1 ]]; then
    run_walbus
    run_pg_recvlogical
    order="walbus first"
else
    run_pg_recvlogical
    run_walbus
    order="pg_recvlogical first"
fi
load_after=$(bench_loadavg)
lines=$(wc -l <"$workdir/walbus.jsonl")
if [[ "$lines" -ne "$changes" ]]; then
    bench_die "walbus wrote $lines lines; expected $changes (one per inserted row)"
fi

recv_mb=$(bench_calc "$(stat -c %s "$recv_out") / 1e6")
walbus_mb=$(bench_calc "$(stat -c %s "$workdir/walbus.jsonl") / 1e6")
recv_rate=$(bench_calc "$changes / $recv_seconds")
walbus_rate=$(bench_calc "$changes / $walbus_seconds")

echo
echo "walbus e2e file benchmark: $txns transactions x $rows_per_txn rows = $changes changes"
printf 'PostgreSQL %s, WAL to decode: %.1f MB (written in %.1f s), %s cores\n' \
    "$server_version" "$(bench_calc "$wal_bytes / 1e6")" "$load_seconds" "$(nproc)"
echo "order: $order; load average before the timed runs: $load_before, after: $load_after"
echo
printf '%-16s %9s %12s %10s %10s %12s %14s\n' tool seconds changes/s "output MB" "CPU s" \
    "peak RSS MB" "walsender CPU s"
row() {
    local rss=- cpu=-
    [[ -n "$4" ]] && rss=$(printf '%.1f' "$(bench_calc "$4 / 1024")")
    [[ -n "$5" ]] && cpu=$5
    printf '%-16s %9.2f %12.0f %10.1f %10s %12s %14.2f\n' "$1" "$2" \
        "$(bench_calc "$changes / $2")" "$3" "$cpu" "$rss" "$6"
}
row pg_recvlogical "$recv_seconds" "$recv_mb" "$recv_rss" "$recv_cpu" "$recv_server_cpu"
row walbus "$walbus_seconds" "$walbus_mb" "$walbus_rss" "$walbus_cpu" "$walbus_server_cpu"
echo
printf 'walbus / pg_recvlogical (changes/s): %.2f\n' \
    "$(bench_calc "$walbus_rate / $recv_rate")"
echo "walbus output verified: $lines lines"
if [[ -z "$bench_time_bin" ]]; then
    echo "note: /usr/bin/time is not installed; CPU time and peak RSS were not measured"
fi
