#!/usr/bin/env bash
# Decoder throughput on a real pgoutput stream: records the e2e workload (1,000,000 inserted rows
# by default) from a throwaway server with tests/tools/pgoutput_record, then runs decoder_bench
# on the recording, pinned to one core with taskset when it is available.
#
#   bench/decoder_bench.sh [--rows-per-txn N] [--txns M] [--iterations K] [--keep FILE]
#                          [--no-build]
#
# --keep FILE also saves the recording, to rerun build/bench/decoder_bench on it directly.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/bench_lib.sh"

rows_per_txn=1000
txns=1000
iterations=5
keep=
no_build=0
usage() {
    echo "usage: $0 [--rows-per-txn N] [--txns M] [--iterations K] [--keep FILE] [--no-build]" >&2
    exit 2
}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --rows-per-txn) [[ $# -ge 2 ]] || usage; rows_per_txn=$2; shift 2 ;;
    --txns) [[ $# -ge 2 ]] || usage; txns=$2; shift 2 ;;
    --iterations) [[ $# -ge 2 ]] || usage; iterations=$2; shift 2 ;;
    --keep) [[ $# -ge 2 ]] || usage; keep=$2; shift 2 ;;
    --no-build) no_build=1; shift ;;
    *) usage ;;
    esac
done
for n in "$rows_per_txn" "$txns" "$iterations"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] ||
        bench_usage_error "--rows-per-txn, --txns and --iterations need positive whole numbers"
done

bench_build_targets "$no_build" decoder_bench pgoutput_record
bench_bin=$bench_build/bench/decoder_bench
record_bin=$bench_build/tests/pgoutput_record
bench_need_binary "$bench_bin"
bench_need_binary "$record_bin"
bench_need_pg

bench_start # sets pgdir, workdir and dsn; removes them on exit
bench_create_schema "$dsn" record_bench
echo "writing $txns transactions of $rows_per_txn rows" >&2
end_lsn=$(bench_write_rows "$dsn" "$txns" "$rows_per_txn")
recording=$workdir/bench.bin
echo "recording the stream up to $end_lsn" >&2
"$record_bin" "$dsn" record_bench bench_pub "$end_lsn" "$recording"
"$bench_root/scripts/pg-tmp.sh" stop "$pgdir"
if [[ -n "$keep" ]]; then
    cp "$recording" "$keep"
fi

pin=()
if command -v taskset >/dev/null; then
    pin=(taskset -c 0)
    echo "pinned to CPU 0 with taskset"
else
    echo "note: taskset is not installed; running unpinned"
fi
echo "load average: $(bench_loadavg)"
"${pin[@]}" "$bench_bin" "$recording" --iterations "$iterations" \
    --expect-changes "$((rows_per_txn * txns))"
echo "load average after: $(bench_loadavg)"
