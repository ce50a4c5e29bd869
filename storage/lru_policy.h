// LruPolicy: evicts the least recently inserted-or-read block. Every operation O(1). Not
// thread-safe (the shard's lock guards it).
#pragma once

#include <cstdint>
#include <optional>

#include "prefixcache/block_key.h"
#include "recency_policy.h"

namespace prefixcache::storage {

struct LruNode {
  BlockKey key;
  std::uint64_t tick;
};

class LruPolicy final : public RecencyPolicy<LruNode> {
 public:
  void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) override;
  std::optional<BlockKey> Victim() const override;
};

}  // namespace prefixcache::storage
