// Simulator: replays a trace (trace.h) through one node's storage engine -- a real
// BlockStore, its memory tier and eviction policy, and its RocksDB spill tier when asked
// for -- as inference workers would use it: for each request, read its blocks in chain
// order while they hit (each read refreshes recency, as GET and GetPrefix do in the
// daemon), then store every block from the first miss on with its depth (index in the
// chain). A request's hit is that leading run. One simulation at a time per thread; the
// trace is only read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "prefixcache/status.h"
#include "trace.h"

namespace prefixcache::bench {

struct SimulateOptions {
  // A storage policy name ("lru", "prefix", "tiered"), "default" (the daemon's default,
  // defaults::kEvictionPolicy) or an offline reference: "belady" (evicts the block used
  // farthest in the future) or "lru-dead-oracle" (LRU that evicts blocks with no future
  // use first).
  std::string policy = "default";
  // Memory capacity, as a fraction of the trace's distinct blocks: the tier holds
  // ceil(fraction x distinct) blocks of block_bytes, charged as the daemon charges them
  // (value + kMemoryEntryOverheadBytes).
  double capacity_fraction = 0.1;
  std::size_t shards = 1;
  // Bytes of every block (one shared buffer, so memory use does not grow with it). The
  // hit ratio does not depend on it; the spill tier's disk writes do.
  std::uint64_t block_bytes = 1024;
  // Spill tier off unless set: then its capacity is ceil(fraction x distinct) blocks of
  // block_bytes, in a fresh RocksDB folder under spill_parent (removed afterwards).
  std::optional<double> spill_fraction;
  std::string spill_parent;  // empty: the system's temporary folder
  // When > 0, on_window is called after every this many requests (and for a last, shorter
  // window).
  std::uint64_t report_every = 0;
};

struct WindowResult {
  std::uint64_t window = 0;  // 0, 1, ...
  std::uint64_t requests = 0;
  std::uint64_t blocks = 0;
  std::uint64_t hit_blocks = 0;
  std::uint64_t errors = 0;  // reads or writes the store failed (not misses)

  double hit_ratio() const { return blocks == 0 ? 0.0 : double(hit_blocks) / double(blocks); }
};

struct RunResult {
  std::string trace;
  std::string policy;           // as asked for
  std::string resolved_policy;  // what ran
  double capacity_fraction = 0;
  std::uint64_t capacity_blocks = 0;
  std::uint64_t requests = 0;
  std::uint64_t blocks = 0;
  std::uint64_t hit_blocks = 0;
  std::uint64_t prefill_tokens_saved = 0;  // the hit blocks' tokens
  std::uint64_t errors = 0;

  double hit_ratio() const { return blocks == 0 ? 0.0 : double(hit_blocks) / double(blocks); }
};

// The policy `name` stands for: "default" resolves to defaults::kEvictionPolicy, others
// to themselves.
std::string ResolvePolicy(const std::string& name);

// Runs one replay. InvalidArgument for an unknown policy, a capacity_fraction or
// spill_fraction that is not > 0, zero shards or block_bytes; IoError when the spill
// folder cannot be made; otherwise the figures (failed reads and writes are counted in
// `errors`, never stop the replay).
Result<RunResult> Simulate(const Trace& trace, const SimulateOptions& options,
                           const std::function<void(const WindowResult&)>& on_window = {});

}  // namespace prefixcache::bench
