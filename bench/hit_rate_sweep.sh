#!/usr/bin/env bash
# Hit ratio against memory capacity for every eviction policy, on the two shared Mooncake
# traces and on the generated workloads (bench/make_workloads.py), replayed through the
# storage engine by build/bin/trace_replay --simulate. Writes JSON lines (trace_replay's
# format) to OUT_DIR, then draws docs/hit_rate.png with bench/plot_hit_rate.py when
# matplotlib is installed (Debian: python3-matplotlib).
#
#   bench/hit_rate_sweep.sh [OUT_DIR]      # default bench/results
#
# OUT_DIR/hit_rate.jsonl           1 shard, spill off: lru prefix tiered belady lru-dead-oracle
# OUT_DIR/hit_rate_16_shards.jsonl the daemon's 16 shards, spill off: lru tiered
# OUT_DIR/hit_rate_spill.jsonl     1 shard, spill tier holding 20% of the distinct blocks
# Environment: BIN (default build/bin), DATA (the shared traces, default ../shared/data
# beside the repository, as laid out for sessions).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bench/results}
bin=${BIN:-$root/build/bin}
data=${DATA:-$root/../shared/data}
fractions=0.02,0.05,0.1,0.2
mkdir -p "$out"
workloads=$(mktemp -d)
trap 'rm -rf "$workloads"' EXIT
/usr/bin/python3 "$root/bench/make_workloads.py" "$workloads" >&2

shared=("$data/mooncake_conversation_trace.jsonl" "$data/mooncake_synthetic_trace.jsonl")
generated=("$workloads/chat.jsonl" "$workloads/rag.jsonl" "$workloads/mixed.jsonl")

: >"$out/hit_rate.jsonl"
for trace in "${shared[@]}" "${generated[@]}"; do
  "$bin/trace_replay" --simulate --trace "$trace" --capacity-fraction "$fractions" \
    --policy lru,prefix,tiered,belady,lru-dead-oracle >>"$out/hit_rate.jsonl"
done
: >"$out/hit_rate_16_shards.jsonl"
: >"$out/hit_rate_spill.jsonl"
for trace in "${shared[@]}"; do
  "$bin/trace_replay" --simulate --trace "$trace" --capacity-fraction "$fractions" \
    --policy lru,tiered --shards 16 >>"$out/hit_rate_16_shards.jsonl"
  "$bin/trace_replay" --simulate --trace "$trace" --capacity-fraction "$fractions" \
    --policy lru,tiered --spill-fraction 0.2 >>"$out/hit_rate_spill.jsonl"
done

if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  /usr/bin/python3 "$root/bench/plot_hit_rate.py" "$out/hit_rate.jsonl" "$root/docs/hit_rate.png"
else
  echo "hit_rate_sweep: python3-matplotlib not installed; no plot drawn" >&2
fi
