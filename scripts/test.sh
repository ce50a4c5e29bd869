#!/usr/bin/env bash
# The README's test command: installs dependencies, builds into build/ and runs every test
# with ctest, builds Release into build-release/ (warnings are errors in every build), then
# builds into build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs every test again, then gives each libFuzzer target (protocol/, config/, daemon/ and
# client_lib/ fuzz/) a short run.
#   ./scripts/test.sh            everything
#   FULL=1 ./scripts/test.sh        also the tests labelled slow (stress, soak-like cases)
#   SKIP_ASAN=1 ./scripts/test.sh   skip the sanitizer pass (quicker local iteration)
#   SKIP_FUZZ=1 ./scripts/test.sh   skip the fuzz runs
# Without FULL, `ctest -LE slow` runs: every unit and integration test, within minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
ctest_filter=(-LE slow)
if [ -n "${FULL:-}" ]; then ctest_filter=(); fi

./scripts/install-deps.sh

echo "== clang-format check (.clang-format)"
git ls-files '*.cc' '*.h' '*.cpp' | xargs clang-format --dry-run --Werror

echo "== build (RelWithDebInfo) into build/"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFIXCACHE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600 "${ctest_filter[@]}")

echo "== build (Release, warnings as errors) into build-release/"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPREFIXCACHE_WERROR=ON >/dev/null
cmake --build build-release -j"$jobs"

if [ -z "${SKIP_ASAN:-}" ]; then
  echo "== build with ASan + UBSan into build-asan/"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPREFIXCACHE_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== tests under ASan + UBSan"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 900 "${ctest_filter[@]}")
fi

if [ -z "${SKIP_FUZZ:-}" ]; then
  # Every <folder>/fuzz/<name>_fuzz.cc is a target; each runs FUZZ_SECONDS (default 20) from
  # its committed seed corpus (<folder>/fuzz/corpus/, copied so the run adds nothing to it).
  echo "== libFuzzer: short runs of the RESP parsers, the config loader, the command handler and the client's chunk reader"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPREFIXCACHE_FUZZ=ON >/dev/null
  fuzz_dirs=(protocol/fuzz config/fuzz daemon/fuzz client_lib/fuzz)
  targets=()
  for dir in "${fuzz_dirs[@]}"; do
    for source in "$dir"/*_fuzz.cc; do targets+=("$(basename "$source" .cc):$dir"); done
  done
  cmake --build build-fuzz -j"$jobs" --target "${targets[@]%%:*}"
  for entry in "${targets[@]}"; do
    t=${entry%%:*}
    dir=${entry#*:}
    corpus=$(mktemp -d)
    cp "$dir"/corpus/* "$corpus"/ 2>/dev/null || true
    ./build-fuzz/bin/"$t" -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 "$corpus" \
      2>"$corpus.log" || { tail -50 "$corpus.log"; exit 1; }
    echo "$t: $(grep -m1 'stat::number_of_executed_units' "$corpus.log" | awk '{print $2}') runs, no crash"
    rm -rf "$corpus" "$corpus.log"
  done
fi
echo "== all tests passed"
