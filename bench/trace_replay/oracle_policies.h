// Offline reference policies for the trace replayer, never for the daemon: they are told
// the future. The replayer records, before each access, when the accessed block will be
// accessed next (NextUseOracle); the policies read it when the memory tier reports that
// access. Not thread-safe (the replay is single-threaded; the shard lock guards a policy).
#pragma once

#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "eviction_policy.h"
#include "prefixcache/block_key.h"

namespace prefixcache::bench {

// For each block, the position (in the trace's sequence of block accesses) of its next
// access after the one being made now; kNever when there is none.
class NextUseOracle {
 public:
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

  void Set(const BlockKey& key, std::uint64_t next_use) { next_use_[key] = next_use; }
  // The value Set last for `key`; kNever for a key never Set.
  std::uint64_t NextUse(const BlockKey& key) const;

 private:
  std::unordered_map<BlockKey, std::uint64_t, BlockKeyHash> next_use_;
};

// Belady's MIN: evicts the block whose next use is farthest away (never used again first).
// Updates and Victim() O(log n).
class BeladyPolicy final : public storage::EvictionPolicy {
 public:
  explicit BeladyPolicy(const NextUseOracle* oracle) : oracle_(oracle) {}

  void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) override;
  void OnAccess(const BlockKey& key, std::uint64_t tick) override;
  void OnErase(const BlockKey& key) override;
  std::optional<BlockKey> Victim() const override;
  // kNever - (the victim's next use): the farthest next use is the coldest across shards.
  std::uint64_t VictimTick() const override;

 private:
  void Place(const BlockKey& key);

  const NextUseOracle* oracle_;
  std::set<std::pair<std::uint64_t, BlockKey>> by_next_use_;
  std::unordered_map<BlockKey, std::uint64_t, BlockKeyHash> next_use_;
};

// LRU told which blocks are dead (never used again): those go first, least recent first,
// then the live ones in LRU order. How far perfect dead-block prediction alone takes LRU.
// Every operation O(1).
class DeadBlockLruPolicy final : public storage::EvictionPolicy {
 public:
  explicit DeadBlockLruPolicy(const NextUseOracle* oracle) : oracle_(oracle) {}

  void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) override;
  void OnAccess(const BlockKey& key, std::uint64_t tick) override;
  void OnErase(const BlockKey& key) override;
  std::optional<BlockKey> Victim() const override;
  // A dead block's tick is 0 (colder than any live one), a live one's its last use.
  std::uint64_t VictimTick() const override;

 private:
  struct Node {
    BlockKey key;
    std::uint64_t tick;
  };
  void Place(const BlockKey& key, std::uint64_t tick);

  const NextUseOracle* oracle_;
  std::list<Node> dead_;
  std::list<Node> live_;
  struct Where {
    bool dead;
    std::list<Node>::iterator it;
  };
  std::unordered_map<BlockKey, Where, BlockKeyHash> index_;
};

}  // namespace prefixcache::bench
