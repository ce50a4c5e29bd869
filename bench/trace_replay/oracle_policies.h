// Offline reference policies for the trace replayer, never for the daemon: they are told
// the future. The replayer records, before each access, when the accessed block will be
// accessed next (NextUseOracle); the policies read it when the memory tier reports that
// access. Not thread-safe (the replay is single-threaded; the shard lock guards a policy).
#pragma once

#include <cstdint>
#include <limits>
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

// Evicts the block with the lowest score, given at each insert or access by its rule:
//   kBelady        Belady's MIN: the block used farthest in the future goes first (never
//                  used again before all others).
//   kDeadBlockLru  LRU told which blocks are dead (never used again): those go first,
//                  least recent first, then the live ones in LRU order -- how far perfect
//                  dead-block prediction alone takes LRU.
// Scores are comparable across shards, so VictimTick() is the victim's score. Updates and
// Victim() O(log n).
class OraclePolicy final : public storage::EvictionPolicy {
 public:
  enum class Rule : std::uint8_t { kBelady, kDeadBlockLru };

  OraclePolicy(const NextUseOracle* oracle, Rule rule) : oracle_(oracle), rule_(rule) {}

  void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) override;
  void OnAccess(const BlockKey& key, std::uint64_t tick) override;
  void OnErase(const BlockKey& key) override;
  std::optional<BlockKey> Victim() const override;
  std::uint64_t VictimTick() const override;

 private:
  std::uint64_t Score(const BlockKey& key, std::uint64_t tick) const;
  void Place(const BlockKey& key, std::uint64_t tick);

  const NextUseOracle* oracle_;
  const Rule rule_;
  std::set<std::pair<std::uint64_t, BlockKey>> by_score_;
  std::unordered_map<BlockKey, std::uint64_t, BlockKeyHash> score_;
};

}  // namespace prefixcache::bench
