#!/usr/bin/env bash
# Throwaway single-node Apache Kafka broker (KRaft, broker and controller in one process) for
# tests, benchmarks and the demo.
#
#   scripts/kafka.sh start DIR   fetch the broker's jars if not cached, format a new log in DIR,
#                                start on free ports of 127.0.0.1, wait until it serves
#                                requests; writes DIR/port and DIR/pid, prints the bootstrap
#                                address 127.0.0.1:PORT (a broker still running for DIR is
#                                stopped first)
#   scripts/kafka.sh halt DIR    stop the broker but keep DIR (its log, settings and port)
#   scripts/kafka.sh resume DIR  start a halted broker again, on the same port
#   scripts/kafka.sh stop DIR    stop the broker (SIGTERM, then SIGKILL after
#                                WALBUS_KAFKA_STOP_SECONDS, default 30) and remove DIR
#
# The jars come from Maven Central through scripts/kafka/pom.xml (the Kafka version is pinned
# there) and are cached in ${WALBUS_CACHE_DIR:-$HOME/.cache/walbus}/kafka-VERSION/.
# The broker is set up for transactions on one node (replication factors and min.insync.replicas
# of 1) and does not create topics on first use (auto.create.topics.enable=false): whoever
# produces creates its topics. WALBUS_KAFKA_EXTRA_PROPS adds lines to server.properties (e.g.
# "auto.create.topics.enable=true"); WALBUS_KAFKA_HEAP sets the heap (default 512m).
#
# Start time: the JVMs run with C1 only (-XX:TieredStopAtLevel=1) and with class data sharing
# archives made on first use (in the jars' cache, per Java runtime), which takes about half the
# start time off. WALBUS_KAFKA_JVM_OPTS replaces the JIT and GC options (a benchmark that loads
# the broker hard may want "-XX:+UseG1GC", with C2); WALBUS_KAFKA_CDS=0 turns the archives off.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z "$cmd" || -z "$dir" ]]; then
    echo "usage: $0 start|halt|resume|stop DIR" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
pom="$root/scripts/kafka/pom.xml"
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
cache_root=${WALBUS_CACHE_DIR:-${HOME:?set HOME or WALBUS_CACHE_DIR}/.cache/walbus}
jars="$cache_root/kafka-$version"

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if port_free "$port"; then
            echo "$port"
            return 0
        fi
    done
    echo "error: no free port found on 127.0.0.1" >&2
    return 1
}

# True when $1 is the pid of the broker started for this DIR (not a recycled pid).
is_our_broker() {
    local cmdline
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
    [[ "$cmdline" == *kafka.Kafka*"$dir/server.properties"* ]]
}

# True while process $1 exists and has not exited (a zombie has exited).
running() {
    local state
    state=$(sed 's/.*) //' 2>/dev/null <"/proc/$1/stat") || return 1
    [[ -n "$state" && "${state:0:1}" != Z ]]
}

fetch_jars() {
    if [[ -f "$jars/kafka_2.13-$version.jar" ]]; then
        return 0
    fi
    if ! command -v mvn >/dev/null; then
        echo "error: Maven (mvn) is needed to fetch the Kafka $version jars; run scripts/install-deps.sh" >&2
        exit 1
    fi
    mkdir -p "$cache_root"
    # One download at a time; a second start waits and then finds the jars cached.
    exec 9>"$cache_root/kafka-$version.lock"
    flock 9
    if [[ ! -f "$jars/kafka_2.13-$version.jar" ]]; then
        echo "fetching the Kafka $version jars into $jars" >&2
        local tmp="$jars.tmp.$$"
        rm -rf "$tmp"
        if ! mvn -B -q -f "$pom" dependency:copy-dependencies \
            -DoutputDirectory="$tmp" >"$tmp.log" 2>&1 || [[ ! -f "$tmp/kafka_2.13-$version.jar" ]]; then
            echo "error: could not fetch the Kafka $version jars with Maven (is Maven Central reachable?):" >&2
            sed 's/\x1b\[[0-9;]*m//g' "$tmp.log" | tail -30 >&2
            rm -rf "$tmp" "$tmp.log"
            exit 1
        fi
        rm -f "$tmp.log"
        rm -rf "$jars"
        mv "$tmp" "$jars"
    fi
    exec 9>&-
}

find_java() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        echo "$JAVA_HOME/bin/java"
    elif command -v java >/dev/null; then
        command -v java
    else
        echo "error: no Java runtime found; run scripts/install-deps.sh or set JAVA_HOME" >&2
        return 1
    fi
}

# Class data sharing: sets cds_opts for the JVM named $1 (format or broker), either using its
# archive or making it; a new archive is written to a temporary file when that JVM exits and
# then moved into place (cds_pending names it). Needs Java 13 or later; skipped otherwise.
cds_opts=()
cds_pending=""
cds_setup() {
    cds_opts=()
    cds_pending=""
    [[ "${WALBUS_KAFKA_CDS:-1}" == 1 ]] || return 0
    local home feature key cds_dir
    home=$(dirname "$(dirname "$(readlink -f "$java")")")
    [[ -f "$home/release" ]] || return 0
    feature=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
    [[ -n "$feature" && "$feature" -ge 13 ]] || return 0
    key=$({ echo "$home"; cat "$home/release"; } | md5sum | cut -c1-12)
    cds_dir="$jars/cds/$key"
    mkdir -p "$cds_dir" || return 0
    if [[ -s "$cds_dir/$1.jsa" ]]; then
        cds_opts=("-Xlog:cds*=error" "-XX:SharedArchiveFile=$cds_dir/$1.jsa")
    else
        cds_pending="$cds_dir/$1.jsa.tmp.$$"
        cds_opts=("-Xlog:cds*=error" "-XX:ArchiveClassesAtExit=$cds_pending")
    fi
}

# Moves the archive a JVM wrote at exit into place ($1: the temporary file; $2: 1 if the JVM
# exited normally, so that the archive is complete).
cds_finish() {
    local tmp=$1 complete=$2
    [[ -n "$tmp" ]] || return 0
    if [[ "$complete" == 1 && -s "$tmp" ]]; then
        mv -f "$tmp" "${tmp%.tmp.*}" 2>/dev/null || rm -f "$tmp"
    else
        rm -f "$tmp"
    fi
}

write_config() {
    local port=$1 controller_port=$2
    cat >"$dir/server.properties" <<PROPS
# Written by scripts/kafka.sh: one KRaft node that is both broker and controller, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data

# Transactions and consumer groups on a single node.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
min.insync.replicas=1
default.replication.factor=1
num.partitions=1
group.initial.rebalance.delay.ms=0

# Topics are created explicitly by whoever produces to them.
auto.create.topics.enable=false

# Small machine: fewer threads.
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
PROPS
    if [[ -n "${WALBUS_KAFKA_EXTRA_PROPS:-}" ]]; then
        printf '%s\n' "$WALBUS_KAFKA_EXTRA_PROPS" >>"$dir/server.properties"
    fi
    cat >"$dir/log4j.properties" <<'LOG4J'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.common.config.AbstractConfig=WARN
log4j.logger.kafka.server.KafkaConfig=WARN
LOG4J
}

fail_start() {
    echo "error: $1; first errors in $dir/server.log:" >&2
    grep -m 5 -E '^\[[^]]*\] (ERROR|FATAL) |^[A-Za-z.]*(Exception|Error): ' "$dir/server.log" >&2 || true
    echo "last lines of $dir/server.log:" >&2
    tail -25 "$dir/server.log" >&2 || true
    stop_broker
    exit 1
}

stop_broker() {
    local pid pending clean=0
    pid=$(cat "$dir/pid" 2>/dev/null) || return 0
    pending=$(cat "$dir/cds-pending" 2>/dev/null) || true
    if is_our_broker "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$(( SECONDS + ${WALBUS_KAFKA_STOP_SECONDS:-30} ))
        while is_our_broker "$pid" && (( SECONDS < deadline )); do
            sleep 0.1
        done
        if is_our_broker "$pid"; then
            echo "warning: the Kafka broker (pid $pid) did not stop on SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            while is_our_broker "$pid"; do
                sleep 0.1
            done
        else
            clean=1
        fi
    fi
    cds_finish "$pending" "$clean"
    rm -f "$dir/pid" "$dir/cds-pending"
}

# The JVM options of the formatting tool and the broker: sets jvm_opts.
set_jvm_opts() {
    local heap=${WALBUS_KAFKA_HEAP:-512m} tuning
    # shellcheck disable=SC2206 # WALBUS_KAFKA_JVM_OPTS is a list of options
    tuning=(${WALBUS_KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1})
    jvm_opts=(-Xms64m "-Xmx$heap" "${tuning[@]}" -Djava.awt.headless=true
              -Dlog4j.configuration="file:$dir/log4j.properties")
}

# Starts the broker on DIR's server.properties and waits until it serves requests on $port or
# exits; sets pid and ready (1 when it is serving).
launch_broker() {
    cds_setup broker
    echo "$cds_pending" >"$dir/cds-pending"
    : >"$dir/server.log"
    # setsid: the broker outlives this script and does not hold its terminal or pipes.
    setsid "$java" "${jvm_opts[@]}" "${cds_opts[@]}" -cp "$jars/*" kafka.Kafka "$dir/server.properties" \
        </dev/null >>"$dir/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    local deadline=$(( SECONDS + ${WALBUS_KAFKA_START_SECONDS:-90} ))
    ready=0
    while (( SECONDS < deadline )); do
        if ! running "$pid"; then
            break
        fi
        # "Kafka Server started" is logged once the broker has caught up with the metadata
        # log and been unfenced by the controller, i.e. it can serve requests.
        if grep -q "Kafka Server started" "$dir/server.log" && ! port_free "$port"; then
            ready=1
            break
        fi
        sleep 0.1
    done
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f "$dir/pid" ]] && is_our_broker "$(cat "$dir/pid")"; then
        # Left over from a run that never called stop (an interrupted ctest): start afresh.
        echo "note: stopping the Kafka broker still running for $dir (pid $(cat "$dir/pid"))" >&2
        stop_broker
    fi
    java=$(find_java)
    fetch_jars
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    set_jvm_opts
    for attempt in 1 2 3; do
        port=$(free_port)
        controller_port=$(free_port)
        [[ "$port" != "$controller_port" ]] || continue
        rm -rf "$dir/data" "$dir/port"
        write_config "$port" "$controller_port"
        cds_setup format
        if ! "$java" "${jvm_opts[@]}" "${cds_opts[@]}" -cp "$jars/*" kafka.tools.StorageTool \
            format -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.log" 2>&1; then
            cds_finish "$cds_pending" 0
            echo "error: formatting the Kafka log in $dir/data failed:" >&2
            tail -20 "$dir/format.log" >&2
            exit 1
        fi
        cds_finish "$cds_pending" 1
        launch_broker
        if [[ $ready -eq 1 ]]; then
            echo "$port" >"$dir/port"
            echo "127.0.0.1:$port"
            exit 0
        fi
        if ! running "$pid" && grep -q "Address already in use" "$dir/server.log" &&
            [[ $attempt -lt 3 ]]; then
            wait "$pid" 2>/dev/null || true
            continue # a port was taken between choosing and binding it: choose again
        fi
        if running "$pid"; then
            fail_start "the Kafka broker did not become ready within ${WALBUS_KAFKA_START_SECONDS:-90}s"
        fi
        fail_start "the Kafka broker exited during start"
    done
    fail_start "could not start the Kafka broker"
    ;;
halt)
    # Stops the broker but keeps its log, configuration and port, for resume.
    dir=$(cd "$dir" && pwd)
    stop_broker
    ;;
resume)
    dir=$(cd "$dir" && pwd)
    [[ -f "$dir/server.properties" && -f "$dir/port" ]] ||
        { echo "error: $dir holds no halted Kafka broker" >&2; exit 1; }
    java=$(find_java)
    set_jvm_opts
    port=$(cat "$dir/port")
    launch_broker
    if [[ $ready -eq 1 ]]; then
        echo "127.0.0.1:$port"
        exit 0
    fi
    fail_start "the Kafka broker did not come back on port $port"
    ;;
stop)
    if [[ -d "$dir" ]]; then
        dir=$(cd "$dir" && pwd)
        stop_broker
        rm -rf "$dir"
    fi
    ;;
*)
    echo "usage: $0 start|halt|resume|stop DIR" >&2
    exit 2
    ;;
esac
