#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 60), seeded from
# tests/data. A crash leaves its input in build-fuzz/artifacts/; add it to tests/data as a
# regression case.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
"$root/scripts/install-deps.sh"
build="$root/build-fuzz"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-16 -DWALBUS_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
mkdir -p "$build/artifacts"
for target in "$build"/tests/fuzz/fuzz_*; do
    name=$(basename "$target")
    corpus="$build/corpus/$name"
    mkdir -p "$corpus"
    # A target is seeded from every file in tests/data/<target> (fuzz_rules), else from the
    # recordings in tests/data/<decoder> (fuzz_pgoutput from tests/data/pgoutput).
    seeds="$build/seeds/$name"
    rm -rf "$seeds" && mkdir -p "$seeds"
    if [[ -d "$root/tests/data/$name" ]]; then
        cp "$root/tests/data/$name"/* "$seeds"/
    else
        cp "$root/tests/data/${name#fuzz_}"/*.bin "$seeds"/
    fi
    echo "-- $name for ${seconds}s"
    "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$build/artifacts/$name-" "$corpus" "$seeds" \
        2>"$build/$name.log" || { tail -50 "$build/$name.log" >&2; exit 1; }
    tail -1 "$build/$name.log"
done
