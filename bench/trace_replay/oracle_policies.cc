#include "oracle_policies.h"

#include "prefixcache/check.h"

namespace prefixcache::bench {

std::uint64_t NextUseOracle::NextUse(const BlockKey& key) const {
  auto it = next_use_.find(key);
  return it == next_use_.end() ? NextUseOracle::kNever : it->second;
}

std::uint64_t OraclePolicy::Score(const BlockKey& key, std::uint64_t tick) const {
  const std::uint64_t next = oracle_->NextUse(key);
  if (rule_ == Rule::kBelady) return NextUseOracle::kNever - next;
  // Ticks stay far below 2^63: the live blocks all score above the dead ones.
  constexpr std::uint64_t kLive = std::uint64_t{1} << 63;
  return next == NextUseOracle::kNever ? tick : kLive + tick;
}

void OraclePolicy::Place(const BlockKey& key, std::uint64_t tick) {
  OnErase(key);
  const std::uint64_t score = Score(key, tick);
  score_.emplace(key, score);
  by_score_.emplace(score, key);
}

void OraclePolicy::OnInsert(const BlockKey& key, std::uint32_t /*depth*/, std::uint64_t tick) {
  Place(key, tick);
}

void OraclePolicy::OnAccess(const BlockKey& key, std::uint64_t tick) {
  if (score_.contains(key)) Place(key, tick);
}

void OraclePolicy::OnErase(const BlockKey& key) {
  auto it = score_.find(key);
  if (it == score_.end()) return;
  by_score_.erase({it->second, key});
  score_.erase(it);
}

std::optional<BlockKey> OraclePolicy::Victim() const {
  if (by_score_.empty()) return std::nullopt;
  return by_score_.begin()->second;
}

std::uint64_t OraclePolicy::VictimTick() const {
  PC_CHECK(!by_score_.empty());
  return by_score_.begin()->first;
}

}  // namespace prefixcache::bench
