#!/usr/bin/env bash
# prefixcached against Redis, driven by the same redis-benchmark in one run, interleaved.
# SET and GET at 4 KiB, 256 KiB, 2 MiB and 8 MiB values with 4 clients, and EXISTS
# pipelined 64 deep; prefixcached with 1 and with 2 I/O threads. Prints requests/s, GB/s
# and the ratio prefixcached/Redis (medians of REPEAT runs, the order of the two servers
# alternating), and each server's peak RSS.
#   bench/vs_redis.sh [REPEAT]        (default 3; builds build-release/ if needed)
# Servers run on core 0 (both cores for 2 I/O threads), redis-benchmark on core 1.
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-3}
jobs=$(nproc 2>/dev/null || echo 2)

./scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$jobs" --target prefixcached >/dev/null

work=$(mktemp -d /var/tmp/vs-redis.XXXXXX)
redis_port=16379; pc_port=17379; metrics_port=19379
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {  # wait until something answers PING on port $1
  for _ in $(seq 1 100); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; exit 1
}

start_redis() {
  taskset -c 0 redis-server --port $redis_port --save '' --appendonly no \
    --maxmemory 8gb --protected-mode yes --dir "$work" >"$work/redis.log" 2>&1 &
  redis_pid=$!; pids+=("$redis_pid"); wait_port $redis_port
}

start_prefixcached() {  # $1 = I/O threads
  local cores=0; [ "$1" -gt 1 ] && cores=0-1
  cat >"$work/pc.json" <<JSON
{ "node": {"id": "bench", "listen": "127.0.0.1:$pc_port", "io_threads": $1},
  "memory": {"capacity": "8GiB"},
  "spill": {"enabled": false},
  "metrics": {"listen": "127.0.0.1:$metrics_port"} }
JSON
  taskset -c $cores ./build-release/bin/prefixcached --config "$work/pc.json" --log-level warn \
    >"$work/pc.log" 2>&1 &
  pc_pid=$!; pids+=("$pc_pid"); wait_port $pc_port
}

peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/"$1"/status; }

# One redis-benchmark figure (requests/s) for port $1 and the test in "${@:2}".
rps() {
  local port=$1; shift
  taskset -c 1 redis-benchmark -p "$port" --csv "$@" 2>/dev/null |
    awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}'
}

declare -A results
run_case() {  # name size -- redis-benchmark args
  local name=$1 size=$2; shift 3
  for r in $(seq 1 "$repeat"); do
    if (( r % 2 )); then order="redis pc"; else order="pc redis"; fi
    for who in $order; do
      port=$redis_port; [ "$who" = pc ] && port=$pc_port
      results["$name/$who/$r"]=$(rps "$port" "$@")
    done
  done
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

report() {  # threads
  printf '\n### prefixcached with %s I/O thread(s) vs Redis (median of %s runs)\n\n' "$1" "$repeat"
  printf '| test | value | Redis req/s | prefixcached req/s | Redis GB/s | prefixcached GB/s | ratio |\n'
  printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
  for c in "${cases[@]}"; do
    IFS=: read -r name size _ <<<"$c"
    rr=(); pp=()
    for r in $(seq 1 "$repeat"); do rr+=("${results[$name/redis/$r]}"); pp+=("${results[$name/pc/$r]}"); done
    mr=$(median "${rr[@]}"); mp=$(median "${pp[@]}")
    awk -v n="$name" -v s="$size" -v r="$mr" -v p="$mp" 'BEGIN {
      gr = r * s / 1e9; gp = p * s / 1e9
      printf "| %s | %s | %.0f | %.0f | %.3f | %.3f | %.2f |\n", n, (s>=1048576? s/1048576 "MiB" : s/1024 "KiB"), r, p, gr, gp, (r>0? p/r : 0) }'
  done
}

cases=(
  "SET-4KiB:4096:-t set -d 4096 -c 4 -n 100000"
  "GET-4KiB:4096:-t get -d 4096 -c 4 -n 100000"
  "SET-256KiB:262144:-t set -d 262144 -c 4 -n 10000"
  "GET-256KiB:262144:-t get -d 262144 -c 4 -n 10000"
  "SET-2MiB:2097152:-t set -d 2097152 -c 4 -n 2000"
  "GET-2MiB:2097152:-t get -d 2097152 -c 4 -n 2000"
  "SET-8MiB:8388608:-t set -d 8388608 -c 4 -n 600"
  "GET-8MiB:8388608:-t get -d 8388608 -c 4 -n 600"
  "EXISTS-P64:16:-P 64 -c 4 -n 1000000 exists key:000000000001"
)

for threads in 1 2; do
  start_redis; start_prefixcached "$threads"
  for c in "${cases[@]}"; do
    IFS=: read -r name size args <<<"$c"
    # GET needs the value stored first at the same size: the SET case of that size ran just before.
    # shellcheck disable=SC2086
    run_case "$name" "$size" -- $args
  done
  report "$threads"
  printf '\npeak RSS: Redis %s MiB, prefixcached %s MiB (memory capacity 8 GiB, spill off)\n' \
    "$(peak_rss_mib "$redis_pid")" "$(peak_rss_mib "$pc_pid")"
  kill "$redis_pid" "$pc_pid"; wait "$redis_pid" "$pc_pid" 2>/dev/null || true; pids=()
done
