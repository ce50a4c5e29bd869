#include "spill_index.h"

#include <algorithm>

#include "prefixcache/check.h"

namespace prefixcache::storage {

const SpillRecord* SpillIndex::Find(const BlockKey& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second.record;
}

void SpillIndex::Insert(const BlockKey& key, const SpillRecord& record) {
  Erase(key);
  entries_.emplace(key, Entry{record, record.seq, inserted_bytes_});
  by_recency_.emplace(record.seq, key);
  bytes_ += record.size_bytes;
  inserted_bytes_ += record.size_bytes;
}

bool SpillIndex::Erase(const BlockKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  Unlink(key, it->second.recency);
  PC_CHECK(bytes_ >= it->second.record.size_bytes);
  bytes_ -= it->second.record.size_bytes;
  entries_.erase(it);
  return true;
}

void SpillIndex::Touch(const BlockKey& key, std::uint64_t recency) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Unlink(key, it->second.recency);
  it->second.recency = recency;
  by_recency_.emplace(recency, key);
}

void SpillIndex::Clear() {
  entries_.clear();
  by_recency_.clear();
  bytes_ = 0;
}

std::vector<BlockKey> SpillIndex::PickVictims(std::uint64_t projected_bytes,
                                              std::uint64_t capacity_bytes,
                                              const KeySet& keep) const {
  std::vector<BlockKey> victims;
  for (auto it = by_recency_.begin(); it != by_recency_.end() && projected_bytes > capacity_bytes;
       ++it) {
    if (keep.contains(it->second)) continue;
    const std::uint64_t size = entries_.at(it->second).record.size_bytes;
    projected_bytes -= std::min(size, projected_bytes);
    victims.push_back(it->second);
  }
  return victims;
}

std::uint64_t SpillIndex::BytesInsertedSince(const BlockKey& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  return inserted_bytes_ - it->second.position - it->second.record.size_bytes;
}

void SpillIndex::Unlink(const BlockKey& key, std::uint64_t recency) {
  auto [first, last] = by_recency_.equal_range(recency);
  for (auto it = first; it != last; ++it) {
    if (it->second == key) {
      by_recency_.erase(it);
      return;
    }
  }
  PC_CHECK(false && "SpillIndex: recency order out of step with entries");
}

}  // namespace prefixcache::storage
