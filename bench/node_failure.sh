#!/usr/bin/env bash
# Hit ratio through a node failure: a 3-node cluster on this machine (scripts/cluster.sh),
# the conversation trace replayed through the client library (build/bin/trace_replay
# --config, one JSON line per window), one node SIGKILLed a third of the way through and
# restarted on its spill folder at two thirds. Three runs: R=1 without a failure (the
# reference), R=1 and R=2 with it. Then bench/plot_node_failure.py prints the summary and
# draws docs/node_failure.png (when matplotlib is installed: Debian python3-matplotlib).
#
#   bench/node_failure.sh [OUT_DIR]      # default bench/results
#
# OUT_DIR/node_failure_{baseline,r1,r2}.jsonl  trace_replay's window lines and run line
# OUT_DIR/node_failure_events.jsonl            the window after which the node was killed
#                                              and restarted, per run
# OUT_DIR/node_failure_summary.json            the summary plot_node_failure.py prints
# Environment: BIN (default build/bin), DATA (default ../shared/data beside the repository),
# TRACE (default the conversation trace), REPORT_EVERY (requests per window, 250),
# BLOCK_BYTES (1024: the hit ratio does not depend on it), MEMORY (each node's memory
# tier, 24MiB: about a third of the trace's distinct blocks in the cluster, so nodes spill),
# SPILL (each node's spill tier, 1GiB).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bench/results}
bin=${BIN:-$root/build/bin}
data=${DATA:-$root/../shared/data}
trace=${TRACE:-$data/mooncake_conversation_trace.jsonl}
every=${REPORT_EVERY:-250}
block_bytes=${BLOCK_BYTES:-1024}
memory=${MEMORY:-24MiB}
spill=${SPILL:-1GiB}
victim=n2
mkdir -p "$out"
[[ -x "$bin/trace_replay" && -x "$bin/prefixcached" ]] || {
  echo "node_failure: build trace_replay and prefixcached first ($bin)" >&2
  exit 2
}

requests=$(grep -c . "$trace")
windows=$(((requests + every - 1) / every))
kill_after=$((windows / 3))
restart_after=$((2 * windows / 3))
: >"$out/node_failure_events.jsonl"

# A cluster config on three free loopback ports, replication `replicas`.
write_config() {
  /usr/bin/python3 "$root/bench/cluster_config.py" "$1" --replicas "$2" --memory "$memory" \
    --spill "$spill"
}

windows_done() { grep -c '"window"' "$1" 2>/dev/null || true; }

# run NAME REPLICAS FAIL(0|1)
run() {
  local name=$1 replicas=$2 fail=$3
  local dir result
  dir=$(mktemp -d)
  result="$out/node_failure_$name.jsonl"
  write_config "$dir/cluster.json" "$replicas"
  "$root/scripts/cluster.sh" start "$dir/cluster.json" --run-dir "$dir" --bin-dir "$bin" >&2
  "$bin/trace_replay" --config "$dir/cluster.json" --trace "$trace" --block-bytes "$block_bytes" \
    --report-every "$every" >"$result" &
  local replay=$!
  local killed=-1 restarted=-1
  if [[ $fail == 1 ]]; then
    while kill -0 "$replay" 2>/dev/null; do
      local done_windows
      done_windows=$(windows_done "$result")
      if ((killed < 0 && done_windows >= kill_after)); then
        "$root/scripts/cluster.sh" kill "$dir/cluster.json" "$victim" --run-dir "$dir" >&2
        killed=$done_windows
      elif ((killed >= 0 && restarted < 0 && done_windows >= restart_after)); then
        "$root/scripts/cluster.sh" restart "$dir/cluster.json" "$victim" --run-dir "$dir" \
          --bin-dir "$bin" >&2
        restarted=$done_windows
      fi
      sleep 0.02
    done
  fi
  wait "$replay"
  "$root/scripts/cluster.sh" stop "$dir/cluster.json" --run-dir "$dir" >&2
  rm -rf "$dir"
  printf '{"run":"%s","replicas":%d,"killed":"%s","kill_after_window":%d,"restart_after_window":%d}\n' \
    "$name" "$replicas" "$([[ $fail == 1 ]] && echo $victim)" "$killed" "$restarted" \
    >>"$out/node_failure_events.jsonl"
}

run baseline 1 0
run r1 1 1
run r2 2 1

args=("$out/node_failure_events.jsonl" "$out")
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  args+=("$root/docs/node_failure.png")
else
  echo "node_failure: python3-matplotlib not installed; no plot drawn" >&2
fi
/usr/bin/python3 "$root/bench/plot_node_failure.py" "${args[@]}" | tee "$out/node_failure_summary.json"
