// PrefixPolicy: prefix-aware LRU. A block is useful only while its ancestors are cached,
// so among the kWindow least recently used blocks the deepest in its chain goes first
// (ties: the least recent). Updates O(1), Victim() O(kWindow). Not thread-safe (the
// shard's lock guards it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "prefixcache/block_key.h"
#include "recency_policy.h"

namespace prefixcache::storage {

struct PrefixNode {
  BlockKey key;
  std::uint64_t tick;
  std::uint32_t depth;
};

class PrefixPolicy final : public RecencyPolicy<PrefixNode> {
 public:
  static constexpr std::size_t kWindow = 8;

  void OnInsert(const BlockKey& key, std::uint32_t depth, std::uint64_t tick) override;
  // May be a little warmer than the least recent block, whose tick VictimTick() reports:
  // that tick says how cold the shard's cold end is, which is what the store compares.
  std::optional<BlockKey> Victim() const override;
};

}  // namespace prefixcache::storage
