#!/usr/bin/env bash
# Installs what building, testing and the demo need, from Debian's packages. Installs only what
# is missing, so running it again is quick and changes nothing.
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config
    libpq-dev libssl-dev librdkafka-dev libsimdjson-dev libcli11-dev libspdlog-dev libyaml-cpp-dev catch2
    libcpp-httplib-dev
    postgresql-15 postgresql-client-15 postgresql-15-wal2json
    clang-16 libclang-rt-16-dev clang-format-16
    python3
)
# The Kafka broker of the tests and the demo (scripts/kafka.sh) runs on Java, and Maven fetches
# its jars; a Java runtime or Maven that is already on the PATH is used as it is.
command -v java >/dev/null || packages+=(default-jre-headless)
command -v mvn >/dev/null || packages+=(maven)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
    sudo="sudo"
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql packages create and start a cluster of their own; walbus never uses it.
$sudo mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/walbus.conf >/dev/null
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
