#!/usr/bin/env bash
# The walbus demo: installs what is missing, builds, starts a throwaway PostgreSQL (unless
# --dsn is given), and shows walbus turning real commits into events — including a stop and a
# restart that loses nothing and repeats nothing.
#
#   scripts/demo.sh                 # everything local and temporary
#   scripts/demo.sh --dsn DSN       # use your server: needs wal_level=logical and a user with
#                                   # REPLICATION; creates schema walbus_demo, a publication and a
#                                   # slot named walbus_demo, and removes them at the end
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dsn=""
while [[ $# -gt 0 ]]; do
    case "$1" in
    --dsn) dsn=${2:?--dsn needs a value}; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing what is missing and building"
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" --target walbus -j "$(nproc)" | tail -1
walbus="$root/build/src/app/walbus"

work=$(mktemp -d)
chmod 755 "$work"
own_server=0
walbus_pid=""
cleanup() {
    [[ -n "$walbus_pid" ]] && kill "$walbus_pid" 2>/dev/null && wait "$walbus_pid" 2>/dev/null || true
    if [[ $own_server -eq 1 ]]; then
        "$root/scripts/pg-tmp.sh" stop "$work/pg"
    elif [[ -n "$dsn" ]]; then
        psql -X -q "$dsn" -c "SELECT pg_drop_replication_slot('walbus_demo') FROM pg_replication_slots WHERE slot_name = 'walbus_demo'" \
            -c "DROP PUBLICATION IF EXISTS walbus_demo" -c "DROP SCHEMA IF EXISTS walbus_demo CASCADE" >/dev/null 2>&1 || true
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
sql() { psql -X -q -v ON_ERROR_STOP=1 "$dsn" "$@"; }

say "the catalog service's tables (an ordinary application schema: no triggers, no outbox)"
sql <<'SQL'
CREATE SCHEMA walbus_demo;
CREATE TABLE walbus_demo.catalog_items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE walbus_demo.orders (id bigint PRIMARY KEY, item_id int NOT NULL, state text NOT NULL, paid_at timestamptz);
INSERT INTO walbus_demo.catalog_items VALUES (42, 'kettle', 24.99), (43, 'toaster', 39.00);
SQL
echo "created walbus_demo.catalog_items and walbus_demo.orders"

cat >"$work/walbus.yaml" <<YAML
name: demo
source:
  dsn: "\${DEMO_DSN}"
  slot: walbus_demo
  publication: walbus_demo
  tables: [walbus_demo.catalog_items, walbus_demo.orders]
  create_slot: true
  create_publication: true
sink:
  type: file
  path: $work/events.jsonl
  flush_interval: 100ms
checkpoint:
  type: file
  path: $work/walbus.checkpoint
YAML
say "the configuration"
cat "$work/walbus.yaml"

start_walbus() {
    DEMO_DSN="$dsn" "$walbus" run --config "$work/walbus.yaml" 2>>"$work/walbus.log" &
    walbus_pid=$!
    for _ in $(seq 1 100); do
        if psql -X -At "$dsn" -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'walbus_demo'" 2>/dev/null | grep -q t; then
            return 0
        fi
        sleep 0.1
    done
    echo "walbus did not start; its log:" >&2
    cat "$work/walbus.log" >&2
    exit 1
}
shown=0
show_new_events() {
    sleep 0.5
    local total
    total=$(wc -l <"$work/events.jsonl" 2>/dev/null || echo 0)
    if [[ $total -gt $shown ]]; then
        tail -n +"$((shown + 1))" "$work/events.jsonl"
        shown=$total
    else
        echo "(no events)"
    fi
}

say "starting walbus (it creates the publication and the slot)"
start_walbus
echo "walbus is streaming (pid $walbus_pid)"

say "commit: the price of item 42 drops from 24.99 to 19.99"
sql -c "UPDATE walbus_demo.catalog_items SET price = 19.99 WHERE id = 42"
show_new_events

say "commit: an order is placed and paid in one transaction"
sql <<'SQL'
BEGIN;
INSERT INTO walbus_demo.orders VALUES (1001, 42, 'placed', NULL);
UPDATE walbus_demo.orders SET state = 'paid', paid_at = now() WHERE id = 1001;
COMMIT;
SQL
show_new_events

say "a transaction that rolls back produces nothing"
sql <<'SQL'
BEGIN;
UPDATE walbus_demo.catalog_items SET price = 0 WHERE id = 43;
ROLLBACK;
SQL
show_new_events

say "stopping walbus (SIGTERM), committing while it is down, starting it again"
kill -TERM "$walbus_pid"; wait "$walbus_pid" || true; walbus_pid=""
cat "$work/walbus.checkpoint"
sql -c "UPDATE walbus_demo.catalog_items SET price = 35.00 WHERE id = 43" \
    -c "DELETE FROM walbus_demo.orders WHERE id = 1001"
start_walbus
show_new_events

kill -TERM "$walbus_pid"; wait "$walbus_pid" || true; walbus_pid=""
count=$(wc -l <"$work/events.jsonl")
unique=$(python3 -c 'import json,sys; print(len({(e["source"]["commit_lsn"], e["source"]["seq"]) for e in map(json.loads, open(sys.argv[1]))}))' "$work/events.jsonl")
say "done: $count events for the 5 committed row changes, $unique distinct positions (commit_lsn, seq)"
echo "walbus's log:"
cat "$work/walbus.log"
