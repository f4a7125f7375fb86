#!/usr/bin/env bash
# The walbus demo: the eShop example (examples/eshop/README.md). Installs what is missing, builds,
# starts a throwaway PostgreSQL (unless --dsn is given), and shows walbus turning the eShop
# services' commits into the integration events the other services listen to: first mapped from
# ordinary row changes by rules, then published from outbox tables and logical decoding messages.
#
#   scripts/demo.sh                 # everything local and temporary
#   scripts/demo.sh --dsn DSN       # use your server: needs wal_level=logical and a user with
#                                   # REPLICATION and CREATEDB; creates a database walbus_demo and
#                                   # the slots eshop and eshop_outbox in it, and removes them at
#                                   # the end
#   scripts/demo.sh --kafka         # also start a throwaway Kafka broker (scripts/kafka.sh) and
#                                   # publish the row-change events to it in exactly-once mode,
#                                   # then read them back as a read_committed consumer sees them
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dsn=""
kafka=0
while [[ $# -gt 0 ]]; do
    case "$1" in
    --dsn) dsn=${2:?--dsn needs a value}; shift 2 ;;
    --kafka) kafka=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing what is missing and building"
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(walbus)
[[ $kafka -eq 1 ]] && targets+=(kafka_dump)
cmake --build "$root/build" --target "${targets[@]}" -j "$(nproc)" | tail -1
walbus="$root/build/src/app/walbus"
example="$root/examples/eshop"

work=$(mktemp -d)
chmod 755 "$work"
mkdir "$work/state"
own_server=0
created_db=0
walbus_pid=""
cleanup() {
    [[ -n "$walbus_pid" ]] && kill "$walbus_pid" 2>/dev/null && wait "$walbus_pid" 2>/dev/null || true
    [[ $kafka -eq 1 ]] && "$root/scripts/kafka.sh" stop "$work/kafka"
    if [[ $own_server -eq 1 ]]; then
        "$root/scripts/pg-tmp.sh" stop "$work/pg"
    elif [[ $created_db -eq 1 ]]; then
        # Only what this demo made: its slots (in its own database), then the database.
        psql -X -q "$dsn" \
            -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'walbus_demo' AND slot_name IN ('eshop', 'eshop_outbox')" \
            -c "DROP DATABASE IF EXISTS walbus_demo" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -z "$dsn" ]]; then
    say "starting a throwaway PostgreSQL on 127.0.0.1"
    dsn=$("$root/scripts/pg-tmp.sh" start "$work/pg")
    own_server=1
    echo "$dsn"
fi

# The same connection string with dbname=walbus_demo (key=value strings or URIs).
demo_dsn=$(python3 - "$dsn" <<'PY'
import sys
import urllib.parse as up
dsn = sys.argv[1]
if dsn.startswith(("postgres://", "postgresql://")):
    print(up.urlunsplit(up.urlsplit(dsn)._replace(path="/walbus_demo")))
else:
    print(dsn + " dbname=walbus_demo")  # libpq takes the last value of a repeated keyword
PY
)
psql -X -q -v ON_ERROR_STOP=1 "$dsn" -c "CREATE DATABASE walbus_demo"
created_db=1
sql() { psql -X -q -v ON_ERROR_STOP=1 "$demo_dsn" "$@"; }
export WALBUS_DSN="$demo_dsn" WALBUS_STATE_DIR="$work/state"

# An LSN as a number, for comparisons.
lsn_value() { local hi=${1%/*} lo=${1#*/}; echo $(((16#$hi << 32) | 16#$lo)); }

start_walbus() { # config, slot, output file
    "$walbus" run --config "$1" >"$3" 2>>"$work/walbus.log" &
    walbus_pid=$!
    for _ in $(seq 1 100); do
        if sql -At -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$2'" 2>/dev/null | grep -q t; then
            return 0
        fi
        sleep 0.1
    done
    echo "walbus did not start; its log:" >&2
    cat "$work/walbus.log" >&2
    exit 1
}

# Emits a message that no rule maps and waits until walbus has checkpointed the transaction
# that carries it: then everything committed before it has been written out.
wait_until_written() { # checkpoint file
    local marker done_lsn
    marker=$(sql -At -c "SELECT pg_logical_emit_message(true, 'walbus-demo', 'end of the workload')")
    for _ in $(seq 1 300); do
        done_lsn=$(sed -n 's/^commit_lsn=//p' "$1" 2>/dev/null || true)
        if [[ -n "$done_lsn" && $(lsn_value "$done_lsn") -ge $(lsn_value "$marker") ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "walbus did not write the workload's events within 30s; its log:" >&2
    cat "$work/walbus.log" >&2
    exit 1
}

stop_walbus() {
    kill -TERM "$walbus_pid"
    wait "$walbus_pid" || { echo "walbus failed; its log:" >&2; cat "$work/walbus.log" >&2; exit 1; }
    walbus_pid=""
}

show_events() { # JSON lines file
    python3 - "$1" <<'PY'
import json
import sys
lines = [line for line in open(sys.argv[1]) if line.strip()]
for n, line in enumerate(lines, 1):
    event = json.loads(line)
    print(f"\n-- event {n} of {len(lines)}: topic {event['topic']}, key {json.dumps(event['key'])}")
    print(json.dumps(event, indent=2))
if not lines:
    print("(no events)")
PY
}

# Runs one variant of the example: schema, rules, walbus in the background, the workload, and
# the events that came out.
run_example() { # directory, slot, checkpoint file name, title
    local dir=$1 slot=$2 checkpoint=$work/state/$3 title=$4 name
    name=$(basename "$dir")
    say "$title: the tables (${dir#"$root"/}/schema.sql)"
    sql -a -f "$dir/schema.sql"

    say "$title: the rules (${dir#"$root"/}/walbus.yaml)"
    cat "$dir/walbus.yaml"
    echo
    "$walbus" check --config "$dir/walbus.yaml" --connect

    say "$title: walbus starts (it creates the slot $slot) and streams in the background"
    start_walbus "$dir/walbus.yaml" "$slot" "$work/$name.jsonl"
    echo "walbus is streaming (pid $walbus_pid)"

    say "$title: the services commit (${dir#"$root"/}/workload.sql)"
    sql -a -f "$dir/workload.sql"
    wait_until_written "$checkpoint"
    stop_walbus

    say "$title: the events walbus wrote ($(wc -l <"$work/$name.jsonl") JSON lines on standard output)"
    show_events "$work/$name.jsonl"
}

# The row-change example again, published to Kafka: the same rules, sink.type kafka.
run_kafka_example() {
    say "Kafka: starting a throwaway broker on 127.0.0.1 (scripts/kafka.sh)"
    local bootstrap config=$work/eshop-kafka.yaml
    bootstrap=$("$root/scripts/kafka.sh" start "$work/kafka")
    echo "$bootstrap"
    # The eShop rules with a Kafka sink, in exactly-once mode (the position is kept in Kafka).
    sed -e 's/^name: eshop$/name: eshop-kafka/' -e 's/^  slot: eshop$/  slot: eshop_kafka/' \
        -e "s|^  type: stdout\$|  type: kafka\n  kafka:\n    properties:\n      bootstrap.servers: \"$bootstrap\"|" \
        "$example/walbus.yaml" >"$config"
    say "Kafka: the configuration (the eShop rules, sink.type kafka)"
    sed -n '/^sink:/,/^checkpoint:/p' "$config"
    start_walbus "$config" eshop_kafka "$work/eshop-kafka.out"
    say "Kafka: the services commit again"
    sql -a -c "UPDATE catalog_items SET price = price - 1 WHERE id = 2" \
        -c "UPDATE orders SET status = 'Shipped', updated_at = now() WHERE id = 1001"
    sleep 2
    stop_walbus
    say "Kafka: what a read_committed consumer reads (build/tests/kafka_dump)"
    "$root/build/tests/kafka_dump" "$bootstrap" catalog.events ordering.events walbus.progress |
        python3 -c '
import json, sys
for line in sys.stdin:
    record = json.loads(line)
    value = record["value"]
    try:
        value = json.loads(value)
    except (TypeError, ValueError):
        pass
    where = "{topic} partition {partition} offset {offset}".format(**record)
    print("\n-- " + where + ", key " + json.dumps(record["key"]))
    print(json.dumps({"headers": record["headers"], "value": value}, indent=2))
'
}

run_example "$example" eshop eshop.checkpoint "row changes"
run_example "$example/outbox" eshop_outbox eshop-outbox.checkpoint "outboxes and messages"
if [[ $kafka -eq 1 ]]; then
    run_kafka_example
fi

say "done; walbus's log:"
cat "$work/walbus.log"
