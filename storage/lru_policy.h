// LruPolicy: evicts the least recently inserted-or-read block. A list in recency order
// plus an index into it: every operation O(1). Not thread-safe (the shard's lock guards it).
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

#include "eviction_policy.h"

namespace prefixcache::storage {

class LruPolicy final : public EvictionPolicy {
 public:
  void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) override;
  void OnAccess(const BlockKey& key, std::uint64_t tick) override;
  void OnErase(const BlockKey& key) override;
  std::optional<BlockKey> Victim() const override;
  std::uint64_t VictimTick() const override;

 private:
  struct Node {
    BlockKey key;
    std::uint64_t tick;
  };
  std::list<Node> order_;  // front = least recent
  std::unordered_map<BlockKey, std::list<Node>::iterator, BlockKeyHash> index_;
};

}  // namespace prefixcache::storage
