// TieredPolicy: LRU by use count, for workloads where most blocks are used once. A shard's
// blocks sit in one LRU list per tier -- used once, twice, three or more times (an insert
// is a use, a read another) -- and a block of tier t counts as used t * B ticks later
// than it was, B being the number of blocks the whole memory tier holds (one tick is one
// insert or read, so B ticks are about one turnover of the tier). So a block used once gives way
// before one used twice that has sat unused for up to a turnover longer, and a run of one-off
// prompts cannot flush the blocks that are being reused. Blocks that leave are remembered (their
// use count, by key fingerprint, as many as the shard holds) so that one coming back soon after its
// eviction re-enters at the tier it had reached. Depth is not used: within a tier the least recent
// block goes, which in a chain read or written in order is the shallowest, but its
// descendants were used with it and follow it out soon (bench/RESULTS.md: picking the
// deepest of the coldest, as PrefixPolicy does, lost hits here). Every operation O(1)
// amortised. Not thread-safe (the shard's lock guards it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

#include "eviction_policy.h"
#include "ghost_history.h"
#include "prefixcache/block_key.h"

namespace prefixcache::storage {

struct TieredNode {
  BlockKey key;
  std::uint64_t tick;  // last use
  std::uint8_t uses;   // 1..GhostHistory::kMaxUses; the tier is uses - 1
};

class TieredPolicy final : public EvictionPolicy {
 public:
  static constexpr std::size_t kTiers = GhostHistory::kMaxUses;

  // B is *view.entries, or this policy's own block count when view.entries is null.
  explicit TieredPolicy(TierView view = {}) : view_(view) {}

  void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) override;
  void OnAccess(const BlockKey& key, std::uint64_t tick) override;
  void OnErase(const BlockKey& key) override;
  std::optional<BlockKey> Victim() const override;
  // The chosen tier's least recent tick plus that tier's bonus: comparable across shards
  // (ticks and B are both store-wide), though not a tick that was ever seen.
  std::uint64_t VictimTick() const override;

  // The bonus, in ticks, of tier `tier` (0-based) at this moment.
  std::uint64_t Bonus(std::size_t tier) const;
  const GhostHistory& ghost() const { return ghost_; }

 private:
  using List = std::list<TieredNode>;
  // The tier whose least recent block is coldest once bonuses are added; kTiers if empty.
  std::size_t ColdestTier() const;

  std::array<List, kTiers> tiers_;
  std::unordered_map<BlockKey, List::iterator, BlockKeyHash> index_;
  GhostHistory ghost_;
  // A shard's own count would not do for B: a shard that holds more would keep its blocks
  // longer and so hold more still.
  TierView view_;
};

}  // namespace prefixcache::storage
