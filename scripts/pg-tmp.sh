#!/usr/bin/env bash
# Throwaway PostgreSQL server for tests, benchmarks and the demo.
#
#   scripts/pg-tmp.sh start DIR   initdb in DIR/data, start on a free port of 127.0.0.1 with
#                                 wal_level=logical; writes DIR/port and DIR/dsn, prints the DSN
#   scripts/pg-tmp.sh stop DIR    stop the server and remove DIR
#   scripts/pg-tmp.sh halt DIR    stop the server, keep its data (for restart tests)
#   scripts/pg-tmp.sh resume DIR  start a halted server again on the same port
#
# WALBUS_PG_EXTRA_OPTS adds server options at start (e.g. "-c wal_level=replica").
#
# postgres refuses to run as root, so as root the server runs as the unprivileged system user
# walbus-pg (created when missing). Authentication is trust on loopback, except for the role
# walbus_pw, which needs its password (for the tests of password handling).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z "$cmd" || -z "$dir" ]]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi

pgbin=${WALBUS_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [[ ! -x "$pgbin/initdb" ]]; then
    echo "error: PostgreSQL server binaries not found (install postgresql-15 or set WALBUS_PG_BIN)" >&2
    exit 1
fi

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u walbus-pg -- "$@"
    else
        "$@"
    fi
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ $(id -u) -eq 0 ]]; then
        id walbus-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin walbus-pg
        chown walbus-pg "$dir"
        chmod 755 "$dir"
    fi
    if ! as_pg test -w "$dir"; then
        echo "error: $dir is not writable by the server's user; check the permissions of its parent directories" >&2
        exit 1
    fi
    as_pg "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 \
        --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >"$dir/data/pg_hba.conf" <<HBA
local all all trust
host all walbus_pw 127.0.0.1/32 scram-sha-256
host replication walbus_pw 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
    for attempt in $(seq 1 20); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_free "$port" || continue
        opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir"
        opts+=" -c wal_level=logical -c max_wal_senders=64 -c max_replication_slots=100"
        opts+=" -c fsync=off -c full_page_writes=off"
        opts+=" -c shared_buffers=128MB -c max_wal_size=2GB -c wal_sender_timeout=60s"
        # Servers that restrict output plugins must allow wal2json too (source.decoder: wal2json).
        if [[ $("$pgbin/postgres" --describe-config 2>/dev/null) == *$'\n'output_plugin_libraries* ]]; then
            opts+=" -c output_plugin_libraries=pgoutput,test_decoding,wal2json"
        fi
        opts+=" ${WALBUS_PG_EXTRA_OPTS:-}"
        if as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$opts" \
            >>"$dir/pg_ctl.log" 2>&1; then
            echo "$port" >"$dir/port"
            echo "$opts" >"$dir/opts"
            echo "host=127.0.0.1 port=$port user=postgres dbname=postgres" >"$dir/dsn"
            cat "$dir/dsn"
            exit 0
        fi
    done
    echo "error: could not start PostgreSQL; see $dir/server.log" >&2
    tail -20 "$dir/server.log" >&2 || true
    exit 1
    ;;
halt)
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >>"$dir/pg_ctl.log" 2>&1
    ;;
resume)
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$(cat "$dir/opts")" \
        >>"$dir/pg_ctl.log" 2>&1 || { tail -20 "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    if [[ -d "$dir/data" ]]; then
        as_pg "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop|halt|resume DIR" >&2
    exit 2
    ;;
esac
