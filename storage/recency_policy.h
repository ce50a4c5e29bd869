// RecencyPolicy: what the eviction policies share -- a shard's blocks in recency order (a
// list, least recent first, plus an index into it: every update O(1)). A policy derives
// from it with its own node type, which holds at least `key` and `tick` (its last insert
// or access); it adds the node in OnInsert and picks from order() in Victim. Not
// thread-safe (the shard's lock guards it).
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <utility>

#include "eviction_policy.h"
#include "prefixcache/block_key.h"

namespace prefixcache::storage {

template <typename Node>
class RecencyPolicy : public EvictionPolicy {
 public:
  void OnAccess(const BlockKey& key, std::uint64_t tick) final {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    it->second->tick = tick;
    order_.splice(order_.end(), order_, it->second);
  }

  void OnErase(const BlockKey& key) final {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

  // The tick of the least recent block: how cold this shard's cold end is, which is what
  // the store compares across shards.
  std::uint64_t VictimTick() const final { return order_.empty() ? 0 : order_.front().tick; }

 protected:
  // Adds `node` as the most recent, replacing any node of its key.
  void Insert(Node node) {
    auto [it, inserted] = index_.try_emplace(node.key);
    if (!inserted) order_.erase(it->second);
    it->second = order_.insert(order_.end(), std::move(node));
  }

  // Every held block's node, least recent first.
  const std::list<Node>& order() const { return order_; }

 private:
  std::list<Node> order_;
  std::unordered_map<BlockKey, typename std::list<Node>::iterator, BlockKeyHash> index_;
};

}  // namespace prefixcache::storage
