#!/usr/bin/env bash
# A bounded soak, not part of the test command: a 3-node cluster on this machine
# (scripts/cluster.sh), the shared traces (../shared/data) replayed through the client
# library one after the other, again and again (build/bin/trace_replay --config, one JSON
# line per window), and every RESTART_EVERY seconds one node in turn SIGKILLed and, DOWN
# seconds later, restarted on its spill folder. Stops after DURATION seconds (default 600)
# and prints the summary: requests, errors surfaced to the client (target 0), wrong blocks
# (hits with another block's bytes, target 0), corrupt reads (detected, never used), and
# the hit ratio of every window, which also goes to OUT (default bench/results/soak.jsonl).
#
#   scripts/soak.sh [DURATION_SECONDS]
#   environment: BIN (build/bin), DATA (../shared/data beside the repository), RESTART_EVERY
#   (60), DOWN (5), REPORT_EVERY (requests per window, 250), MEMORY (each node's memory
#   tier, 24MiB), SPILL (each node's spill tier, 1GiB), BLOCK_BYTES (4096), OUT
# Exit status: 0 when errors and wrong blocks are both 0, 1 otherwise, 2 for a setup problem.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-600}
bin=${BIN:-$root/build/bin}
data=${DATA:-$root/../shared/data}
restart_every=${RESTART_EVERY:-60}
down=${DOWN:-5}
every=${REPORT_EVERY:-250}
memory=${MEMORY:-24MiB}
spill=${SPILL:-1GiB}
block_bytes=${BLOCK_BYTES:-4096}
out=${OUT:-$root/bench/results/soak.jsonl}
[[ -x "$bin/trace_replay" && -x "$bin/prefixcached" ]] || {
  echo "soak: build trace_replay and prefixcached first ($bin)" >&2
  exit 2
}
traces=("$data"/mooncake_*_trace.jsonl)
[[ -e "${traces[0]}" ]] || {
  echo "soak: no traces in $data" >&2
  exit 2
}
mkdir -p "$(dirname "$out")"
: >"$out"

dir=$(mktemp -d)
cluster() { "$root/scripts/cluster.sh" "$@" --run-dir "$dir" --bin-dir "$bin" >&2; }
cleanup() {
  [[ -n ${replay:-} ]] && kill "$replay" 2>/dev/null || true
  cluster stop "$dir/cluster.json" || true
  rm -rf "$dir"
}
trap cleanup EXIT

/usr/bin/python3 "$root/bench/cluster_config.py" "$dir/cluster.json" --memory "$memory" \
  --spill "$spill"
cluster start "$dir/cluster.json"

start=$(date +%s)
next_restart=$((start + restart_every))
victim=0
pass=0
while (($(date +%s) < start + duration)); do
  trace=${traces[$((pass % ${#traces[@]}))]}
  pass=$((pass + 1))
  "$bin/trace_replay" --config "$dir/cluster.json" --trace "$trace" \
    --block-bytes "$block_bytes" --report-every "$every" >>"$out" &
  replay=$!
  while kill -0 "$replay" 2>/dev/null; do
    now=$(date +%s)
    if ((now >= start + duration)); then
      kill "$replay" 2>/dev/null || true
      break
    fi
    if ((now >= next_restart)); then
      node=n$((victim % 3 + 1))
      victim=$((victim + 1))
      echo "soak: $((now - start)) s: SIGKILL $node, restart in $down s" >&2
      printf '{"event":"kill","node":"%s","second":%d}\n' "$node" $((now - start)) >>"$out"
      cluster kill "$dir/cluster.json" "$node"
      sleep "$down"
      cluster restart "$dir/cluster.json" "$node"
      printf '{"event":"restart","node":"%s","second":%d}\n' "$node" $(($(date +%s) - start)) \
        >>"$out"
      next_restart=$((now + restart_every))
    fi
    sleep 0.2
  done
  wait "$replay" 2>/dev/null || true
  replay=
done

/usr/bin/python3 - "$out" "$duration" <<'PY'
import json, sys
windows, runs, events = [], [], []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    record = json.loads(line)
    if "event" in record:
        events.append(record)
    elif "window" in record:
        windows.append(record)
    elif "hit_ratio" in record:
        runs.append(record)
total = lambda key: sum(w.get(key, 0) for w in windows)
summary = {
    "seconds": int(sys.argv[2]),
    "passes_completed": len(runs),
    "windows": len(windows),
    "requests": total("requests"),
    "errors": total("errors"),
    "wrong_blocks": total("wrong_blocks"),
    "corrupt_reads": total("corrupt"),
    "not_stored": total("not_stored"),
    "node_kills": sum(1 for e in events if e["event"] == "kill"),
    "hit_ratio_per_window": [round(w["hit_ratio"], 3) for w in windows],
}
print(json.dumps(summary))
sys.exit(0 if summary["errors"] == 0 and summary["wrong_blocks"] == 0 else 1)
PY
