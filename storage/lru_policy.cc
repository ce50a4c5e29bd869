#include "lru_policy.h"

namespace prefixcache::storage {

void LruPolicy::OnInsert(const BlockKey& key, std::uint32_t /*depth*/, std::uint64_t tick) {
  Insert(LruNode{key, tick});
}

std::optional<BlockKey> LruPolicy::Victim() const {
  if (order().empty()) return std::nullopt;
  return order().front().key;
}

}  // namespace prefixcache::storage
