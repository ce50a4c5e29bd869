// Options of the storage engine: plain structs with inline defaults, one comment a field.
// config/ fills these from JSON (through the daemon); storage reads no files itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "prefixcache/defaults.h"

namespace prefixcache::storage {

class EvictionPolicy;  // storage/eviction_policy.h, private to storage/

// Bytes charged per entry on top of its value, so that many small blocks cannot exceed
// the capacity in real RAM. With glibc malloc on x86-64 (chunk sizes in brackets): the
// shard map node {next, key, Block, cached hash} (80), the policy's list node (48-64) and
// its index node (48), the Buffer's shared_ptr control block with its free() deleter
// (48), the value allocation's own malloc header (16), and the two hash tables' bucket
// arrays (2 x 8-16); the tiered policy adds its ghost history (12-24 per entry: a ring
// and an index that grow by half). Measured with mallinfo2 over 200k entries in 16
// shards: 267 (lru) and 283 (prefix) bytes; bench/policy_memory (the same, after another
// 200k evicted through): 240 (lru), 284 (prefix), 303 (tiered). Rounded up to 320 for
// allocator slack.
inline constexpr std::uint64_t kMemoryEntryOverheadBytes = 320;

struct MemoryTierOptions {
  // Hard byte capacity of the memory tier: value bytes plus kMemoryEntryOverheadBytes per entry.
  std::uint64_t capacity_bytes = defaults::kMemoryCapacityBytes;
  // "lru", "prefix" (prefix-aware LRU: among the coldest blocks, deeper chain depth goes
  // first) or "tiered" (LRU by use count: blocks used more often stay about one turnover
  // longer per use; see tiered_policy.h).
  std::string eviction_policy = defaults::kEvictionPolicy;
  // For benchmarks (bench/trace_replay's offline Belady policy) and tests: when set, each
  // shard's policy is made by this -- once per shard when the tier is created and again at
  // each Clear(), on the calling thread -- and `eviction_policy` is not checked (it only
  // names the policy in stats). The daemon never sets it.
  std::function<std::unique_ptr<EvictionPolicy>()> make_policy;
  // Number of independently locked shards (keys are spread by hash). Must be >= 1.
  std::size_t shards = defaults::kMemoryShards;
};

struct SpillTierOptions {
  // Off: evicted blocks are dropped, nothing touches the disk.
  bool enabled = true;
  // RocksDB folder; created if missing. Reopening it serves the blocks spilled before.
  std::string path = "./prefixcache-spill";
  // Byte capacity of the spill tier (value bytes); past it the coldest spilled blocks go.
  std::uint64_t capacity_bytes = defaults::kSpillCapacityBytes;
  // Evicted blocks waiting to be written are held in RAM up to this many bytes; an
  // eviction beyond it is dropped and counted (demotion_drops), never blocks the caller.
  std::uint64_t queue_bytes = defaults::kSpillQueueBytes;
  // The background writer takes at most this many bytes of queued blocks at a time (at
  // least one block) and writes their deletes and evictions as one batch of records.
  std::uint64_t batch_bytes = 1 * kMiB;
  // Written blocks are gathered into segments of min(segment_bytes, max(1 MiB,
  // capacity_bytes / 16)) bytes, each one RocksDB table file that the tier writes, syncs
  // and ingests whole. A segment's blocks stay readable from RAM until it is ingested:
  // while one segment is synced the next fills, so up to two segments of RAM are held
  // beyond queue_bytes, and lost by a crash (Flush and Close complete them). On disk the
  // segments, live and dead values together, take at most capacity_bytes +
  // capacity_bytes / 8 + 2 segments.
  std::uint64_t segment_bytes = 64 * kMiB;
  // On a clean Close(), write the memory tier's blocks to the spill tier first.
  bool flush_on_close = true;
  // After a failed write the tier stops writing and reopens its folder retry_min_ms later,
  // doubling the wait after each failed attempt up to retry_max_ms (see SpillTier::Health).
  std::uint32_t retry_min_ms = defaults::kSpillRetryMinMs;
  std::uint32_t retry_max_ms = defaults::kSpillRetryMaxMs;
  // Receives the one line Open writes when it discards what a folder held (a folder of an
  // earlier spill format, or one RocksDB reports corrupt). Empty: the line goes to stderr.
  // Called on the thread that opens the tier, before Open returns.
  std::function<void(const std::string&)> notice;
};

// The time expiry is measured against: Unix time in milliseconds.
using ClockMs = std::function<std::int64_t()>;

struct StoreOptions {
  MemoryTierOptions memory;
  SpillTierOptions spill;
  // Largest value Put accepts; larger ones are Rejected.
  std::uint64_t max_value_bytes = defaults::kMaxValueBytes;
  // Expired blocks nobody reads are found by a background sweep: every
  // expiry_sweep_interval_ms it looks at up to expiry_sweep_entries entries of each tier
  // (walking on from where the last sweep stopped) and drops the expired ones. The sweep
  // runs only once some block has had an expiry. 0 turns the thread off (SweepExpired
  // still works).
  std::uint32_t expiry_sweep_interval_ms = 100;
  std::uint32_t expiry_sweep_entries = 20000;
  // For tests: the clock expiry is read from; empty means the system clock.
  ClockMs clock_ms;
};

}  // namespace prefixcache::storage
