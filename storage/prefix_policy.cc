#include "prefix_policy.h"

#include <iterator>

namespace prefixcache::storage {

void PrefixPolicy::OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) {
  Insert(PrefixNode{key, tick, depth});
}

std::optional<BlockKey> PrefixPolicy::Victim() const {
  if (order().empty()) return std::nullopt;
  auto best = order().begin();
  std::size_t seen = 1;
  // Strictly greater: on equal depth the earlier (less recent) node stays the choice.
  for (auto it = std::next(best); it != order().end() && seen < kWindow; ++it, ++seen) {
    if (it->depth > best->depth) best = it;
  }
  return best->key;
}

}  // namespace prefixcache::storage
