// MemoryTier: the RAM level of a node's BlockStore -- blocks held as reference-counted
// Buffers up to a hard byte capacity, sharded by key hash with one mutex per shard.
// Thread-safe: every method may be called from any thread at once, and none touches the
// disk, so the BlockStore calls them from network I/O threads and worker threads alike.
//
// A concrete class, not one implementation of a tier interface: BlockStore, its only user,
// uses it as the top tier -- lookups that leave a miss for the next tier to count, an
// eviction sink that feeds the spill tier, a snapshot for flush-on-close -- while the
// spill tier's operations may queue, read or wait on the disk (spill_tier.h). The two
// share their verbs (Get, Put, Erase, Contains, Clear, Stats), not a base class.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "block.h"
#include "bucket_walk.h"
#include "eviction_policy.h"
#include "prefixcache/block_key.h"
#include "prefixcache/status.h"
#include "storage/options.h"
#include "storage/stats.h"

namespace prefixcache::storage {

class MemoryTier {
 public:
  // Receives each block evicted by capacity (never one that leaves by Erase, Clear or
  // replacement). Called on the thread whose Put caused the eviction, with the evicted
  // block's shard lock held, before the block leaves the shard (so a reader finds it in
  // this tier or the sink's, never in neither). It must therefore be quick, thread-safe
  // and never call back into this tier; it may take locks of its own, provided no holder
  // of those calls into this tier.
  using EvictionSink = std::function<void(const BlockKey&, Block)>;

  // InvalidArgument on capacity_bytes == 0, shards == 0 or an unknown eviction policy
  // (unless options.make_policy is set).
  static Status ValidateOptions(const MemoryTierOptions& options);

  // ValidateOptions, then the tier.
  // `clock_ms` (empty: the system clock) tells which blocks have expired.
  static Result<std::unique_ptr<MemoryTier>> Create(const MemoryTierOptions& options,
                                                    EvictionSink sink = {}, ClockMs clock_ms = {});

  // `options` must be valid (CHECKed); Create() validates them first.
  MemoryTier(const MemoryTierOptions& options, EvictionSink sink, ClockMs clock_ms = {});
  ~MemoryTier();

  MemoryTier(const MemoryTier&) = delete;
  MemoryTier& operator=(const MemoryTier&) = delete;

  // An expired block (its KeyMeta's expiry passed) is never returned, counted or handed to
  // the sink: every lookup treats it as absent, and the lookups that may (Get,
  // GetIfPresent, SweepExpired) drop it.
  //
  // The block (sharing its bytes, no copy) or NotFound. Counts a hit or a miss and marks
  // the block recently used.
  Result<Block> Get(const BlockKey& key);

  // As Get, but a miss is not counted (for a caller that goes on to the next tier).
  Result<Block> GetIfPresent(const BlockKey& key);

  // Counts a miss of `key`, for a lookup GetIfPresent answered NotFound that no Get will
  // count.
  void CountMiss(const BlockKey& key);

  // Stores the block without copying its bytes, replacing any block under the key.
  // Makes room first by evicting the coldest blocks of all shards, handing each to the
  // sink. A replacement no larger than the old block swaps in place and evicts nothing; a
  // larger one reserves its whole charge before the old one is released, so the old block
  // itself may be evicted to the sink during this Put. Rejected when value size +
  // kMemoryEntryOverheadBytes exceeds the capacity. May wait (yielding) while other
  // threads' in-flight Puts hold the only free space.
  Status Put(const BlockKey& key, Block block);

  // Whether the key is held. Counts nothing.
  bool Contains(const BlockKey& key) const;

  // Removes the key if held; the block does not go to the sink.
  void Erase(const BlockKey& key);

  // The KeyMeta of the held key (null when it has none), or NotFound. Counts nothing.
  Result<KeyMetaRef> MetaOf(const BlockKey& key) const;
  // Replaces the held key's KeyMeta; false (nothing done) when the key is not held. Space
  // the new meta needs beyond the old one is made first, as Put makes it.
  bool SetMeta(const BlockKey& key, KeyMetaRef meta);

  // Drops expired blocks, looking at about `max_entries` entries (at least one bucket of
  // each shard's table) from where the last call stopped; a full pass over the tier takes
  // about entries / max_entries calls. Returns the number dropped.
  std::size_t SweepExpired(std::size_t max_entries);

  // One step of a scan over shard `shard` (< shard_count()): appends the key and KeyMeta
  // of about `want` of its unexpired blocks to `out`, going on from `step` (see
  // ScanTableStep). A block held in the shard from the step that starts its scan (bucket
  // 0) to the one that ends it (kDone) is appended at least once.
  void ScanShard(std::size_t shard, TableScan& step, std::size_t want,
                 std::vector<std::pair<BlockKey, KeyMetaRef>>& out) const;
  std::size_t shard_count() const { return shards_.size(); }

  // Drops every block; none goes to the sink.
  void Clear();

  // The counters of stats.h; `bytes` includes the space reserved by Puts in flight and
  // never exceeds the capacity.
  TierStats Stats() const;

  // Every resident block, in no particular order (for flush-on-close). Each shard is
  // copied under its lock; blocks put or evicted meanwhile may or may not appear.
  std::vector<std::pair<BlockKey, Block>> Snapshot() const;

  std::uint64_t capacity_bytes() const { return capacity_bytes_; }

 private:
  struct Shard;

  static std::uint64_t Charge(const Block& block) {
    return block.value.size() + kMemoryEntryOverheadBytes + block.meta.ChargeBytes();
  }
  std::int64_t NowMs() const { return clock_ms_ ? clock_ms_() : SystemNowMs(); }
  // Removes the entry at `it` from the shard whose lock the caller holds; returns it.
  template <typename It>
  Block EraseLocked(Shard& shard, It it);
  Shard& ShardFor(const BlockKey& key) const;
  Result<Block> Lookup(const BlockKey& key, bool count_miss);
  // Adds `charge` to used_bytes_ without passing the capacity, evicting as needed.
  void Reserve(std::uint64_t charge);
  // Evicts the victim of the shard whose victim is coldest; false if every shard is empty.
  bool EvictOne();
  // A new policy for one shard: from make_policy_ when set, else by policy_name_.
  std::unique_ptr<EvictionPolicy> NewPolicy() const;

  const std::uint64_t capacity_bytes_;
  const std::string policy_name_;
  const std::function<std::unique_ptr<EvictionPolicy>()> make_policy_;
  const EvictionSink sink_;
  const ClockMs clock_ms_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> tick_{0};
  std::atomic<std::uint64_t> used_bytes_{0};
  // Blocks held by all shards, changed under the changing shard's lock; policies read it
  // (TierView) and so does Stats().
  std::atomic<std::uint64_t> entries_{0};
};

}  // namespace prefixcache::storage
