// EvictionPolicy: decides which block of one memory-tier shard goes first. A shard owns
// one policy and calls it under the shard's lock, so implementations need no locking of
// their own (not thread-safe by themselves).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "prefixcache/block_key.h"
#include "prefixcache/status.h"

namespace prefixcache::storage {

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;

  // A block entered the shard at logical time `tick` (a store-wide increasing counter).
  virtual void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) = 0;
  // A held block was read at `tick`.
  virtual void OnAccess(const BlockKey& key, std::uint64_t tick) = 0;
  // A held block left the shard (erased, replaced or evicted).
  virtual void OnErase(const BlockKey& key) = 0;

  // The block to evict next, or nullopt when the shard is empty. Does not remove it.
  virtual std::optional<BlockKey> Victim() const = 0;
  // A tick that says how cold this shard's cold end is (for LRU, Victim()'s last-access
  // tick), which the store compares across shards to choose the one to evict from. Asked
  // of non-empty shards only.
  virtual std::uint64_t VictimTick() const = 0;
};

// What a shard's policy may know of the whole memory tier beyond its own shard. Read
// without any lock; null members mean "not known" (a policy on its own, in a test).
struct TierView {
  // Blocks held by every shard of the tier together (relaxed; may lag by the Puts and
  // evictions in flight).
  const std::atomic<std::uint64_t>* entries = nullptr;
};

// "lru" (lru_policy.h), "prefix" (prefix_policy.h) or "tiered" (tiered_policy.h);
// InvalidArgument naming the policy otherwise.
Result<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name,
                                                           TierView view = {});

}  // namespace prefixcache::storage
