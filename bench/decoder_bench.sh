#!/usr/bin/env bash
# Decoder throughput on a real pgoutput stream: records the e2e workload (1,000,000 inserted rows
# by default) from a throwaway server with tests/tools/pgoutput_record, then runs decoder_bench
# on the recording, pinned to one core with taskset when it is available.
#
#   bench/decoder_bench.sh [--rows-per-txn N] [--txns M] [--iterations K] [--keep FILE]
#                          [--no-build]
#
# --keep FILE also saves the recordings (FILE, and FILE.wal2json), to rerun
# build/bench/decoder_bench on them directly.
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
"$bench_pgbin/psql" -X -q -v ON_ERROR_STOP=1 "$dsn" \
    -c "SELECT pg_create_logical_replication_slot('record_bench_wal2json', 'wal2json')" >/dev/null
echo "writing $txns transactions of $rows_per_txn rows" >&2
end_lsn=$(bench_write_rows "$dsn" "$txns" "$rows_per_txn")
recording=$workdir/bench.bin
echo "recording the pgoutput stream up to $end_lsn" >&2
"$record_bin" "$dsn" record_bench bench_pub "$end_lsn" "$recording"
# The same changes from wal2json, with the options walbus starts it with, in the same framing
# (8-byte LSN, 4-byte length, payload).
wal2json_recording=$workdir/bench-wal2json.bin
echo "recording the wal2json stream" >&2
"$bench_pgbin/psql" -X -At -F $'\t' "$dsn" -c "SELECT lsn, data FROM
    pg_logical_slot_get_changes('record_bench_wal2json', '$end_lsn', NULL, 'format-version', '2',
    'include-xids', '1', 'include-timestamp', '1', 'include-lsn', '1', 'include-pk', '1',
    'include-type-oids', '1', 'include-typmod', '1')" |
    python3 -c '
import struct, sys
out = open(sys.argv[1], "wb")
for line in sys.stdin.buffer:
    lsn, data = line.rstrip(b"\n").split(b"\t", 1)
    hi, lo = lsn.split(b"/")
    out.write(struct.pack(">QI", (int(hi, 16) << 32) | int(lo, 16), len(data)) + data)
' "$wal2json_recording"
"$bench_root/scripts/pg-tmp.sh" stop "$pgdir"
if [[ -n "$keep" ]]; then
    cp "$recording" "$keep"
    cp "$wal2json_recording" "$keep.wal2json"
fi

pin=()
if command -v taskset >/dev/null; then
    pin=(taskset -c 0)
    echo "pinned to CPU 0 with taskset"
else
    echo "note: taskset is not installed; running unpinned"
fi
echo "load average: $(bench_loadavg)"
for decoder in pgoutput wal2json; do
    input=$recording
    [[ $decoder == wal2json ]] && input=$wal2json_recording
    "${pin[@]}" "$bench_bin" "$input" --decoder "$decoder" --iterations "$iterations" \
        --expect-changes "$((rows_per_txn * txns))"
    echo
done
echo "load average after: $(bench_loadavg)"
