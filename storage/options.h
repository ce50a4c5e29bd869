// Options of the storage engine: plain structs with inline defaults, one comment a field.
// config/ fills these from JSON (through the daemon); storage reads no files itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace prefixcache::storage {

inline constexpr std::uint64_t kMiB = 1024ull * 1024;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

struct MemoryTierOptions {
  // Hard byte capacity of the memory tier: value bytes plus kEntryOverheadBytes per entry.
  std::uint64_t capacity_bytes = 1 * kGiB;
  // "lru" or "prefix" (prefix-aware LRU: among the coldest blocks, deeper chain depth
  // goes first). See eviction_policy.h.
  std::string eviction_policy = "prefix";
  // Number of independently locked shards (keys are spread by hash). Must be >= 1.
  std::size_t shards = 16;
};

struct SpillTierOptions {
  // Off: evicted blocks are dropped, nothing touches the disk.
  bool enabled = true;
  // RocksDB folder; created if missing. Reopening it serves the blocks spilled before.
  std::string path = "./prefixcache-spill";
  // Byte capacity of the spill tier (value bytes); past it the coldest spilled blocks go.
  std::uint64_t capacity_bytes = 16 * kGiB;
  // Evicted blocks waiting to be written are held in RAM up to this many bytes; an
  // eviction beyond it is dropped and counted (demotion_drops), never blocks the caller.
  std::uint64_t queue_bytes = 256 * kMiB;
  // The background writer commits at most this many bytes in one RocksDB write batch (a
  // batch holds at least one block). Each value is copied into the batch and again into
  // the memtable: small batches keep both copies in the CPU cache and the batch in reused
  // heap memory; 64 MiB batches cost a third more CPU per byte (bench/storage_bench).
  std::uint64_t batch_bytes = 1 * kMiB;
  // Values of at least this size go to RocksDB blob files (integrated BlobDB).
  std::uint64_t min_blob_bytes = 4096;
  // On a clean Close(), write the memory tier's blocks to the spill tier first.
  bool flush_on_close = true;
};

struct StoreOptions {
  MemoryTierOptions memory;
  SpillTierOptions spill;
  // Largest value Put accepts; larger ones are Rejected.
  std::uint64_t max_value_bytes = 128 * kMiB;
};

}  // namespace prefixcache::storage
