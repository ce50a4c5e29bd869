#include "prefix_policy.h"

#include <iterator>

namespace prefixcache::storage {

void PrefixPolicy::OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) {
  auto [it, inserted] = index_.try_emplace(key);
  if (!inserted) order_.erase(it->second);
  it->second = order_.insert(order_.end(), Node{key, tick, depth});
}

void PrefixPolicy::OnAccess(const BlockKey& key, std::uint64_t tick) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  it->second->tick = tick;
  order_.splice(order_.end(), order_, it->second);
}

void PrefixPolicy::OnErase(const BlockKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  order_.erase(it->second);
  index_.erase(it);
}

std::optional<BlockKey> PrefixPolicy::Victim() const {
  if (order_.empty()) return std::nullopt;
  auto best = order_.begin();
  std::size_t seen = 1;
  // Strictly greater: on equal depth the earlier (less recent) node stays the choice.
  for (auto it = std::next(best); it != order_.end() && seen < kWindow; ++it, ++seen) {
    if (it->depth > best->depth) best = it;
  }
  return best->key;
}

std::uint64_t PrefixPolicy::VictimTick() const { return order_.empty() ? 0 : order_.front().tick; }

}  // namespace prefixcache::storage
