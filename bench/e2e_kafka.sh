#!/usr/bin/env bash
# End to end to a real Kafka broker: walbus publishing every change of a pgoutput slot as a
# change event, in exactly_once and in at_least_once mode, next to pg_recvlogical draining the
# same workload from its own slot into a file (the reference: the raw speed at which the
# server's walsender produces the stream). Then commit-to-visible latency under a steady load:
# walbus in exactly_once mode (with its default flush settings), a writer committing small
# transactions at a fixed rate, and a read_committed consumer timing each event's arrival.
#
#   bench/e2e_kafka.sh [--rows-per-txn N] [--txns M] [--rounds K] [--latency-seconds S]
#                      [--latency-rate T] [--latency-rows R] [--flush-interval D]
#                      [--flush-bytes B] [--flush-events E] [--no-build]
#
# Defaults: 1000 transactions of 1000 inserted rows (1,000,000 changes), drained K = 3 times by
# each of the three clients (each time from a slot of its own; the order rotated from round to
# round; ratios taken within a round, since other work on the machine moves the figures from
# one minute to the next); latency for 30 s (after 5 s of warm-up) at 50 transactions/s of 100
# rows (5,000 changes/s); --latency-seconds 0 skips the latency phase. --flush-interval,
# --flush-bytes and --flush-events set sink.flush_interval, sink.flush_bytes and
# sink.flush_events for every walbus run (default: walbus's defaults). Needs a configured build
# in $BUILD_DIR (default: <repo>/build), which it brings up to date unless --no-build, the
# PostgreSQL 15 server binaries (for scripts/pg-tmp.sh), and Java and Maven for the broker
# (scripts/kafka.sh; WALBUS_KAFKA_JVM_OPTS and WALBUS_KAFKA_HEAP tune its JVM).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/bench_lib.sh"

rows_per_txn=1000
txns=1000
rounds=3
latency_seconds=30
latency_warmup=5
latency_rate=50
latency_rows=100
flush_interval=
flush_bytes=
flush_events=
no_build=0
usage() {
    echo "usage: $0 [--rows-per-txn N] [--txns M] [--rounds K] [--latency-seconds S]" >&2
    echo "       [--latency-rate T] [--latency-rows R] [--flush-interval D] [--flush-bytes B]" >&2
    echo "       [--flush-events E] [--no-build]" >&2
    exit 2
}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --rows-per-txn) [[ $# -ge 2 ]] || usage; rows_per_txn=$2; shift 2 ;;
    --txns) [[ $# -ge 2 ]] || usage; txns=$2; shift 2 ;;
    --rounds) [[ $# -ge 2 ]] || usage; rounds=$2; shift 2 ;;
    --latency-seconds) [[ $# -ge 2 ]] || usage; latency_seconds=$2; shift 2 ;;
    --latency-rate) [[ $# -ge 2 ]] || usage; latency_rate=$2; shift 2 ;;
    --latency-rows) [[ $# -ge 2 ]] || usage; latency_rows=$2; shift 2 ;;
    --flush-interval) [[ $# -ge 2 ]] || usage; flush_interval=$2; shift 2 ;;
    --flush-bytes) [[ $# -ge 2 ]] || usage; flush_bytes=$2; shift 2 ;;
    --flush-events) [[ $# -ge 2 ]] || usage; flush_events=$2; shift 2 ;;
    --no-build) no_build=1; shift ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
[[ "$rows_per_txn" =~ ^[1-9][0-9]*$ && "$txns" =~ ^[1-9][0-9]*$ && "$rounds" =~ ^[1-9][0-9]*$ ]] ||
    bench_usage_error "--rows-per-txn, --txns and --rounds need positive whole numbers"
[[ "$latency_seconds" =~ ^[0-9]+$ && "$latency_rate" =~ ^[1-9][0-9]*$ &&
    "$latency_rows" =~ ^[1-9][0-9]*$ ]] ||
    bench_usage_error "--latency-seconds, --latency-rate and --latency-rows need whole numbers" \
        "(--latency-rate and --latency-rows positive)"
changes=$((rows_per_txn * txns))

bench_build_targets "$no_build" walbus kafka_latency
walbus_bin=$bench_build/src/app/walbus
consumer_bin=$bench_build/bench/kafka_latency
bench_need_binary "$walbus_bin"
bench_need_binary "$consumer_bin"
bench_need_pg

# The walbus started in the background for the latency phase, stopped on exit.
walbus_pid=
cleanup() {
    if [[ -n "$walbus_pid" ]] && kill -0 "$walbus_pid" 2>/dev/null; then
        kill -TERM "$walbus_pid" 2>/dev/null || true
        wait "$walbus_pid" 2>/dev/null || true
    fi
    bench_cleanup
}
bench_start # sets pgdir, workdir and dsn
trap cleanup EXIT
bench_start_kafka # sets kafkadir and bootstrap; stopped by bench_cleanup
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' \
    "$bench_root/scripts/kafka/pom.xml")
server_version=$("$bench_pgbin/psql" -X -At "$dsn" -c "SHOW server_version")
# The defaults walbus uses when the configuration does not set them. (awk reads all of the
# reference: stopping early would end walbus with SIGPIPE.)
default_of() {
    "$walbus_bin" config-doc |
        awk -F'|' -v key="\`$1\`" '!found && $2 ~ key { gsub(/[ `]/, "", $4); print $4; found = 1 }'
}
flush="sink.flush_interval ${flush_interval:-$(default_of sink.flush_interval)}"
flush+=", sink.flush_bytes ${flush_bytes:-$(default_of sink.flush_bytes)}"
if [[ -n "$flush_events$(default_of sink.flush_events)" ]]; then
    flush+=", sink.flush_events ${flush_events:-$(default_of sink.flush_events)}"
fi
if [[ -z "$flush_interval$flush_bytes$flush_events" ]]; then
    flush+=" (defaults)"
fi

# One slot per client and round: recv_R, exactly_once_R, at_least_once_R.
slots=()
for round in $(seq 1 "$rounds"); do
    slots+=("recv_$round" "exactly_once_$round" "at_least_once_$round")
done
bench_create_schema "$dsn" "${slots[@]}"

echo "writing $txns transactions of $rows_per_txn rows" >&2
t0=$(bench_now)
end_lsn=$(bench_write_rows "$dsn" "$txns" "$rows_per_txn")
t1=$(bench_now)
load_seconds=$(bench_calc "$t1 - $t0")
wal_bytes=$("$bench_pgbin/psql" -X -At "$dsn" -c \
    "SELECT pg_wal_lsn_diff('$end_lsn', confirmed_flush_lsn) FROM pg_replication_slots
     WHERE slot_name = 'recv_1'")

# broker_cpu: CPU seconds the broker's JVM has used so far.
broker_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
        "/proc/$(cat "$kafkadir/pid")/stat"
}

# write_config NAME SLOT PUBLICATION TOPIC MODE: a walbus configuration in $workdir/NAME.yaml
# publishing every change of SLOT as a change event to TOPIC, with the flush settings given on
# the command line.
write_config() {
    local name=$1 slot=$2 publication=$3 topic=$4 mode=$5
    {
        cat <<YAML
name: $name
source:
  dsn: "$dsn"
  slot: $slot
  publication: $publication
  create_slot: false
  create_publication: false
sink:
  type: kafka
YAML
        if [[ -n "$flush_interval" ]]; then
            echo "  flush_interval: $flush_interval"
        fi
        if [[ -n "$flush_bytes" ]]; then
            echo "  flush_bytes: $flush_bytes"
        fi
        if [[ -n "$flush_events" ]]; then
            echo "  flush_events: $flush_events"
        fi
        cat <<YAML
  kafka:
    mode: $mode
    properties:
      bootstrap.servers: "$bootstrap"
mapping:
  unmatched: raw
  raw_topic: $topic
YAML
        if [[ $mode == at_least_once ]]; then
            printf 'checkpoint:\n  path: %s\n' "$workdir/$name.checkpoint"
        fi
    } >"$workdir/$name.yaml"
}

# count_topic TOPIC: sets topic_events, topic_keys (distinct record keys) and topic_bytes (value
# bytes) as a read_committed consumer sees TOPIC.
count_topic() {
    local line
    line=$("$consumer_bin" count "$bootstrap" "$1")
    read -r _ topic_events _ topic_keys _ topic_bytes <<<"$line"
}

# A broker in service has its transaction state topic and walbus's progress topic; a new one
# makes them on first use, which is no part of walbus's throughput. An untimed walbus
# (exactly_once, its own name and a slot made after the workload, so with nothing to publish)
# has them made before the timed runs.
echo "preparing the broker: one walbus start with nothing to publish" >&2
bench_psql "$dsn" -c "SELECT pg_create_logical_replication_slot('walbus_warmup', 'pgoutput')" \
    >/dev/null
write_config bench-warmup walbus_warmup bench_pub bench.warmup exactly_once
"$walbus_bin" run --config "$workdir/bench-warmup.yaml" --log-level warn --stop-at-lsn \
    "$("$bench_pgbin/psql" -X -At "$dsn" -c "SELECT pg_current_wal_lsn()")"
bench_wait_slot_released walbus_warmup

declare -A result

# run_recv ROUND: pg_recvlogical draining slot recv_ROUND into a file.
run_recv() {
    local round=$1 out=$workdir/recv.out
    echo "round $round: draining with pg_recvlogical up to $end_lsn" >&2
    bench_timed "recv_$round" "$bench_pgbin/pg_recvlogical" -d "$dsn" --slot "recv_$round" \
        --start --endpos "$end_lsn" -o proto_version=1 -o publication_names=bench_pub \
        -f "$out" --no-loop
    result[recv.$round.seconds]=$run_seconds
    result[recv.$round.startup]=-
    result[recv.$round.rss]=$run_rss_kb
    result[recv.$round.cpu]=$run_cpu_seconds
    result[recv.$round.switches]=$run_switches
    result[recv.$round.server]=$run_server_cpu
    result[recv.$round.broker]=-
    result[recv.$round.mb]=$(bench_calc "$(stat -c %s "$out") / 1e6")
    rm -f "$out"
}

# run_walbus MODE ROUND: walbus publishing slot MODE_ROUND up to the end LSN in MODE, to topic
# bench.events.MODE.ROUND; then counts what read_committed consumers see there.
run_walbus() {
    local mode=$1 round=$2
    local name="bench-${mode//_/-}-$round" topic="bench.events.${mode//_/-}.$round"
    local log=$workdir/$name.log broker_before started
    write_config "$name" "${mode}_$round" bench_pub "$topic" "$mode"
    echo "round $round: publishing with walbus ($mode) up to $end_lsn" >&2
    broker_before=$(broker_cpu)
    # walbus's JSON log (shown, and kept for the time its streaming began), with walbus as the
    # process that /usr/bin/time measures (bash execs it).
    # shellcheck disable=SC2016 # expanded by that bash
    bench_timed "${mode}_$round" bash -c 'log=$1; shift; exec "$@" 2> >(tee "$log" >&2)' _ \
        "$log" "$walbus_bin" run --config "$workdir/$name.yaml" --stop-at-lsn "$end_lsn" \
        --log-level info --log-format json
    result[$mode.$round.broker]=$(bench_calc "$(broker_cpu) - $broker_before")
    started=$(sed -n '/"msg":"streaming slot /{s/^{"time":"\([^"]*\)".*/\1/p;q}' "$log")
    [[ -n "$started" ]] || bench_die "walbus logged no \"streaming slot\" line in $log"
    result[$mode.$round.startup]=$(bench_calc "$(date -d "$started" +%s.%6N) - $run_started")
    result[$mode.$round.seconds]=$run_seconds
    result[$mode.$round.rss]=$run_rss_kb
    result[$mode.$round.cpu]=$run_cpu_seconds
    result[$mode.$round.switches]=$run_switches
    result[$mode.$round.server]=$run_server_cpu
    echo "round $round: counting the events of $topic with read_committed" >&2
    count_topic "$topic"
    result[$mode.$round.mb]=$(bench_calc "$topic_bytes / 1e6")
    # Exactly once: every change once. At least once, with no failure in the run: every
    # change (a repeat is allowed, and shown).
    if [[ $mode == exactly_once && ($topic_events -ne $changes || $topic_keys -ne $changes) ]]
    then
        bench_die "$topic holds $topic_events committed events with $topic_keys distinct" \
            "keys; expected $changes of each"
    fi
    if [[ $topic_keys -ne $changes ]]; then
        bench_die "$topic holds $topic_keys distinct keys ($topic_events events); expected $changes"
    fi
    verified+=("$topic: $topic_events events, $topic_keys distinct keys")
}

verified=()
clients=(recv exactly_once at_least_once)
load_before=$(bench_loadavg)
for round in $(seq 1 "$rounds"); do
    # Rotated order: round 1 recv, exactly_once, at_least_once; round 2 exactly_once, ...
    for i in 0 1 2; do
        client=${clients[$(((round - 1 + i) % 3))]}
        if [[ $client == recv ]]; then
            run_recv "$round"
        else
            run_walbus "$client" "$round"
        fi
    done
done
load_after=$(bench_loadavg)

latency_out=$workdir/latency.out
if [[ $latency_seconds -gt 0 ]]; then
    # A table like bench_rows with the writer's transaction number first, its own publication,
    # and a slot made now (it sees nothing of the throughput workload).
    bench_psql "$dsn" >/dev/null <<'SQL'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots;
CREATE TABLE bench_latency (txn bigint NOT NULL, LIKE bench_rows INCLUDING ALL);
CREATE PUBLICATION latency_pub FOR TABLE bench_latency;
SELECT pg_create_logical_replication_slot('walbus_latency', 'pgoutput');
SQL
    write_config bench-latency walbus_latency latency_pub bench.latency exactly_once
    echo "starting walbus (exactly_once, $flush) for the latency phase" >&2
    "$walbus_bin" run --config "$workdir/bench-latency.yaml" --log-level warn &
    walbus_pid=$!
    for _ in $(seq 1 600); do
        [[ $("$bench_pgbin/psql" -X -At "$dsn" -c \
            "SELECT active FROM pg_replication_slots WHERE slot_name = 'walbus_latency'") == t ]] &&
            break
        kill -0 "$walbus_pid" 2>/dev/null || bench_die "walbus stopped before streaming"
        sleep 0.1
    done
    latency_load_before=$(bench_loadavg)
    broker_before=$(broker_cpu)
    echo "writing $latency_rate transactions/s of $latency_rows rows for" \
        "$latency_warmup + $latency_seconds s" >&2
    status=0
    "$consumer_bin" run "$bootstrap" bench.latency "$dsn" \
        --insert "INSERT INTO bench_latency SELECT \$1, $bench_row_values
                  FROM generate_series(\$2::bigint, \$3) AS g" \
        --rate "$latency_rate" --rows "$latency_rows" --seconds "$latency_seconds" \
        --warmup "$latency_warmup" --drain 30 >"$latency_out" || status=$?
    latency_load_after=$(bench_loadavg)
    latency_broker=$(bench_calc "$(broker_cpu) - $broker_before")
    # walbus's peak RSS and CPU time, read before it is stopped.
    latency_rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$walbus_pid/status")
    latency_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
        "/proc/$walbus_pid/stat")
    kill -TERM "$walbus_pid"
    walbus_status=0
    wait "$walbus_pid" || walbus_status=$?
    walbus_pid=
    [[ $walbus_status -eq 0 ]] ||
        bench_die "walbus exited with status $walbus_status on SIGTERM (its messages are above)"
    if [[ $status -ne 0 ]]; then
        cat "$latency_out" >&2
        bench_die "the latency run failed (status $status): events missing, repeated or unreadable"
    fi
    count_topic bench.latency
    latency_events=$topic_events
    latency_expected=$((latency_rate * (latency_warmup + latency_seconds) * latency_rows))
    [[ $latency_events -eq $latency_expected && $topic_keys -eq $latency_expected ]] ||
        bench_die "bench.latency holds $latency_events committed events with $topic_keys" \
            "distinct keys; expected $latency_expected of each"
fi

echo
echo "walbus e2e Kafka benchmark: $txns transactions x $rows_per_txn rows = $changes changes"
printf 'PostgreSQL %s, Kafka %s (one broker on this machine), WAL to decode: %.1f MB' \
    "$server_version" "$kafka_version" "$(bench_calc "$wal_bytes / 1e6")"
printf ' (written in %.1f s), %s cores\n' "$load_seconds" "$(nproc)"
echo "walbus: change events (no rules) to one topic per mode, $flush;" \
    "broker prepared by one untimed walbus start"
echo "load average before the timed runs: $load_before, after: $load_after"
echo
printf '%-5s %-20s %7s %9s %7s %9s %6s %7s %11s %9s %8s\n' round tool seconds changes/s \
    "start s" "output MB" "CPU s" "vcsw k" "peak RSS MB" "walsndr s" "broker s"
# row ROUND CLIENT: one line of the table.
row() {
    local k="$2.$1" tool=pg_recvlogical start=- rss=- cpu=- switches=- broker=-
    [[ $2 != recv ]] && tool="walbus $2"
    [[ "${result[$k.startup]}" != - ]] && start=$(printf '%.2f' "${result[$k.startup]}")
    [[ -n "${result[$k.rss]}" ]] && rss=$(printf '%.1f' "$(bench_calc "${result[$k.rss]} / 1024")")
    [[ -n "${result[$k.cpu]}" ]] && cpu=${result[$k.cpu]}
    [[ -n "${result[$k.switches]}" ]] &&
        switches=$(printf '%.1f' "$(bench_calc "${result[$k.switches]} / 1000")")
    [[ "${result[$k.broker]}" != - ]] && broker=$(printf '%.2f' "${result[$k.broker]}")
    printf '%-5s %-20s %7.2f %9.0f %7s %9.1f %6s %7s %11s %9.2f %8s\n' "$1" "$tool" \
        "${result[$k.seconds]}" "$(bench_calc "$changes / ${result[$k.seconds]}")" "$start" \
        "${result[$k.mb]}" "$cpu" "$switches" "$rss" "${result[$k.server]}" "$broker"
}
for round in $(seq 1 "$rounds"); do
    for client in "${clients[@]}"; do
        row "$round" "$client"
    done
done
echo
# best CLIENT: the shortest time of CLIENT over the rounds (the run least disturbed by other
# work on the machine).
best() {
    local round
    for round in $(seq 1 "$rounds"); do
        echo "${result[$1.$round.seconds]}"
    done | sort -g | awk 'NR == 1'
}
for mode in exactly_once at_least_once; do
    ratios=()
    for round in $(seq 1 "$rounds"); do
        ratios+=("$(printf '%.2f' \
            "$(bench_calc "${result[recv.$round.seconds]} / ${result[$mode.$round.seconds]}")")")
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
        printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    echo "walbus $mode / pg_recvlogical (changes/s) by round: ${ratios[*]}; median $median;" \
        "best against best: $(printf '%.2f' "$(bench_calc "$(best recv) / $(best "$mode")")")" \
        "(target >= 0.90)"
done
echo "verified with read_committed:"
printf '  %s\n' "${verified[@]}"
echo "start s: from walbus's start to the start of streaming (connections, the producer's" \
    "transactions, the progress topic); each run's event topic is created after it."
echo "output MB: pg_recvlogical's file; the topic's record values for walbus." \
    "CPU s, vcsw k, peak RSS MB: the client's CPU time, voluntary context switches (thousands)" \
    "and peak RSS. walsndr s: CPU of the walsender; broker s: CPU of the broker during the run"
if [[ -z "$bench_time_bin" ]]; then
    echo "note: /usr/bin/time is not installed; CPU time and peak RSS were not measured"
fi

if [[ $latency_seconds -gt 0 ]]; then
    echo
    echo "commit-to-visible latency: walbus exactly_once, $flush"
    echo "writer: $latency_rate transactions/s of $latency_rows rows" \
        "($((latency_rate * latency_rows)) changes/s), one INSERT ... SELECT each, for" \
        "$latency_seconds s after $latency_warmup s of warm-up (not counted)"
    echo "latency = arrival at a read_committed consumer - the time COMMIT returned to the writer"
    echo "load average before: $latency_load_before, after: $latency_load_after"
    grep -v '^latency_ms' "$latency_out"
    read -r _ _ p50 _ p90 _ p99 _ p999 _ max _ mean _ <<<"$(grep '^latency_ms' "$latency_out")"
    printf 'p50 %.1f ms (target <= 50), p99 %.1f ms (target <= 250)\n' "$p50" "$p99"
    printf 'p90 %.1f ms, p99.9 %.1f ms, max %.1f ms, mean %.1f ms\n' "$p90" "$p999" "$max" "$mean"
    printf 'walbus: CPU %s s, peak RSS %.1f MB; broker CPU %.2f s; bench.latency holds %s' \
        "$latency_cpu" "$(bench_calc "$latency_rss / 1024")" "$latency_broker" "$latency_events"
    echo " committed events"
fi
