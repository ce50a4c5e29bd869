#include "tiered_policy.h"

#include <algorithm>
#include <limits>

#include "prefixcache/check.h"

namespace prefixcache::storage {

void TieredPolicy::OnInsert(const BlockKey& key, std::uint32_t /*depth*/, std::uint64_t tick) {
  OnErase(key);  // a replaced block's uses go to the ghost and come straight back
  const std::uint64_t fingerprint = BlockKeyHash()(key);
  const auto uses = static_cast<std::uint8_t>(
      std::min<unsigned>(ghost_.Take(fingerprint) + 1u, GhostHistory::kMaxUses));
  List& tier = tiers_[uses - 1];
  index_.emplace(key, tier.insert(tier.end(), TieredNode{key, tick, uses}));
  ghost_.Grow(index_.size());
}

void TieredPolicy::OnAccess(const BlockKey& key, std::uint64_t tick) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  TieredNode& node = *it->second;
  List& from = tiers_[node.uses - 1];
  node.tick = tick;
  if (node.uses < GhostHistory::kMaxUses) ++node.uses;
  List& to = tiers_[node.uses - 1];
  to.splice(to.end(), from, it->second);
}

void TieredPolicy::OnErase(const BlockKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  ghost_.Remember(BlockKeyHash()(key), it->second->uses);
  tiers_[it->second->uses - 1].erase(it->second);
  index_.erase(it);
}

std::uint64_t TieredPolicy::Bonus(std::size_t tier) const {
  const std::uint64_t held =
      view_.entries != nullptr ? view_.entries->load(std::memory_order_relaxed) : index_.size();
  return held * tier;
}

std::size_t TieredPolicy::ColdestTier() const {
  std::size_t coldest = kTiers;
  std::uint64_t coldest_score = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t t = 0; t < kTiers; ++t) {
    if (tiers_[t].empty()) continue;
    const std::uint64_t score = tiers_[t].front().tick + Bonus(t);
    if (coldest == kTiers || score < coldest_score) {
      coldest = t;
      coldest_score = score;
    }
  }
  return coldest;
}

std::optional<BlockKey> TieredPolicy::Victim() const {
  const std::size_t t = ColdestTier();
  if (t == kTiers) return std::nullopt;
  return tiers_[t].front().key;
}

std::uint64_t TieredPolicy::VictimTick() const {
  const std::size_t t = ColdestTier();
  PC_CHECK(t != kTiers);
  return tiers_[t].front().tick + Bonus(t);
}

}  // namespace prefixcache::storage
