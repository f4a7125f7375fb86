#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   0. the source format (.clang-format),
#   1. unit tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#   2. libFuzzer targets for the decoders and the rule parser, briefly (WALBUS_FUZZ_SECONDS
#      each, default 60),
#   3. the whole ctest suite (unit tests, and integration tests against a throwaway PostgreSQL
#      and a throwaway Kafka broker) on a warnings-as-errors build.
# Options: --quick skips 1 and 2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
for arg in "$@"; do
    case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
    esac
done

"$root/scripts/install-deps.sh"
jobs=$(nproc)

echo "== source format (clang-format-16 --dry-run)"
(cd "$root" && git ls-files '*.cpp' '*.h' | xargs clang-format-16 --dry-run --Werror)

if [[ $quick -eq 0 ]]; then
    echo "== unit tests with ASan + UBSan"
    cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
        -DWALBUS_SANITIZE=ON -DWALBUS_WERROR=ON >/dev/null
    cmake --build "$root/build-asan" --target walbus_unit_tests -j "$jobs"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$root/build-asan/tests/walbus_unit_tests"

    echo "== fuzzing the decoders (${WALBUS_FUZZ_SECONDS:-60}s each)"
    "$root/scripts/fuzz.sh" "${WALBUS_FUZZ_SECONDS:-60}"
fi

echo "== build (warnings are errors) and the full test suite"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWALBUS_WERROR=ON >/dev/null
cmake --build "$root/build" -j "$jobs"
cd "$root/build"
ctest --output-on-failure --timeout 1200
