#include "oracle_policies.h"

#include "prefixcache/check.h"

namespace prefixcache::bench {

std::uint64_t NextUseOracle::NextUse(const BlockKey& key) const {
  auto it = next_use_.find(key);
  return it == next_use_.end() ? kNever : it->second;
}

void BeladyPolicy::Place(const BlockKey& key) {
  OnErase(key);
  const std::uint64_t next = oracle_->NextUse(key);
  next_use_.emplace(key, next);
  by_next_use_.emplace(next, key);
}

void BeladyPolicy::OnInsert(const BlockKey& key, std::uint32_t /*depth*/, std::uint64_t /*tick*/) {
  Place(key);
}

void BeladyPolicy::OnAccess(const BlockKey& key, std::uint64_t /*tick*/) {
  if (next_use_.contains(key)) Place(key);
}

void BeladyPolicy::OnErase(const BlockKey& key) {
  auto it = next_use_.find(key);
  if (it == next_use_.end()) return;
  by_next_use_.erase({it->second, key});
  next_use_.erase(it);
}

std::optional<BlockKey> BeladyPolicy::Victim() const {
  if (by_next_use_.empty()) return std::nullopt;
  return by_next_use_.rbegin()->second;
}

std::uint64_t BeladyPolicy::VictimTick() const {
  PC_CHECK(!by_next_use_.empty());
  return NextUseOracle::kNever - by_next_use_.rbegin()->first;
}

void DeadBlockLruPolicy::Place(const BlockKey& key, std::uint64_t tick) {
  OnErase(key);
  const bool dead = oracle_->NextUse(key) == NextUseOracle::kNever;
  std::list<Node>& list = dead ? dead_ : live_;
  index_.emplace(key, Where{dead, list.insert(list.end(), Node{key, tick})});
}

void DeadBlockLruPolicy::OnInsert(const BlockKey& key, std::uint32_t /*depth*/,
                                  std::uint64_t tick) {
  Place(key, tick);
}

void DeadBlockLruPolicy::OnAccess(const BlockKey& key, std::uint64_t tick) {
  if (index_.contains(key)) Place(key, tick);
}

void DeadBlockLruPolicy::OnErase(const BlockKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  (it->second.dead ? dead_ : live_).erase(it->second.it);
  index_.erase(it);
}

std::optional<BlockKey> DeadBlockLruPolicy::Victim() const {
  if (!dead_.empty()) return dead_.front().key;
  if (!live_.empty()) return live_.front().key;
  return std::nullopt;
}

std::uint64_t DeadBlockLruPolicy::VictimTick() const {
  if (!dead_.empty()) return 0;
  PC_CHECK(!live_.empty());
  return live_.front().tick;
}

}  // namespace prefixcache::bench
