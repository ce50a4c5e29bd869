// PrefixPolicy: prefix-aware LRU. A block is useful only while its ancestors are cached,
// so among the kWindow least recently used blocks the deepest in its chain goes first
// (ties: the least recent). Operations O(1), Victim() O(kWindow). Not thread-safe (the
// shard's lock guards it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

#include "eviction_policy.h"

namespace prefixcache::storage {

class PrefixPolicy final : public EvictionPolicy {
 public:
  static constexpr std::size_t kWindow = 8;

  void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) override;
  void OnAccess(const BlockKey& key, std::uint64_t tick) override;
  void OnErase(const BlockKey& key) override;
  std::optional<BlockKey> Victim() const override;
  // The tick of the least recent block (not of Victim(), which may be a little warmer):
  // it says how cold this shard's cold end is, which is what the store compares.
  std::uint64_t VictimTick() const override;

 private:
  struct Node {
    BlockKey key;
    std::uint64_t tick;
    std::uint32_t depth;
  };
  std::list<Node> order_;  // front = least recent
  std::unordered_map<BlockKey, std::list<Node>::iterator, BlockKeyHash> index_;
};

}  // namespace prefixcache::storage
