#include "lru_policy.h"

namespace prefixcache::storage {

void LruPolicy::OnInsert(const BlockKey& key, std::uint32_t /*depth*/, std::uint64_t tick) {
  auto [it, inserted] = index_.try_emplace(key);
  if (!inserted) order_.erase(it->second);
  it->second = order_.insert(order_.end(), Node{key, tick});
}

void LruPolicy::OnAccess(const BlockKey& key, std::uint64_t tick) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  it->second->tick = tick;
  order_.splice(order_.end(), order_, it->second);
}

void LruPolicy::OnErase(const BlockKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  order_.erase(it->second);
  index_.erase(it);
}

std::optional<BlockKey> LruPolicy::Victim() const {
  if (order_.empty()) return std::nullopt;
  return order_.front().key;
}

std::uint64_t LruPolicy::VictimTick() const { return order_.empty() ? 0 : order_.front().tick; }

}  // namespace prefixcache::storage
