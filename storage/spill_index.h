// SpillIndex: the spill tier's in-memory view of what is on disk -- each spilled key's
// record (size, checksum, depth, write seq) plus a recency order (the seq, refreshed on
// read) for choosing the coldest blocks to evict, and each key's write position (the bytes
// inserted before it) for telling how old its copy on disk is. Lets Contains and capacity
// checks run without touching RocksDB. Not thread-safe: SpillTier guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "prefixcache/block_key.h"
#include "spill_record.h"

namespace prefixcache::storage {

class SpillIndex {
 public:
  using KeySet = std::unordered_set<BlockKey, BlockKeyHash>;

  // The record of `key`, or nullptr. Valid until the next change to the index.
  const SpillRecord* Find(const BlockKey& key) const;

  // Adds or replaces the key's record; its recency is record.seq. Its write position is
  // the number of bytes inserted so far, which then grows by record.size_bytes.
  void Insert(const BlockKey& key, const SpillRecord& record);

  // Removes the key; false if it was not held.
  bool Erase(const BlockKey& key);

  // Marks a held key used at `recency` (larger = more recent; the store's seq counter).
  // The on-disk record keeps its write seq. No-op for a key not held.
  void Touch(const BlockKey& key, std::uint64_t recency);

  void Clear();

  // The coldest keys, coldest first, whose removal brings `projected_bytes` (the bytes the
  // index would hold after a pending write) down to at most `capacity_bytes`. Keys in
  // `keep` are never chosen. Returns fewer if the index runs out. Does not remove them.
  std::vector<BlockKey> PickVictims(std::uint64_t projected_bytes, std::uint64_t capacity_bytes,
                                    const KeySet& keep) const;

  // Calls visit(key) for every held key, in no particular order. `visit` must not change
  // the index.
  template <typename Visit>
  void ForEachKey(const Visit& visit) const {
    for (const auto& [key, entry] : entries_) visit(key);
  }

  // Value bytes inserted after the key's current record (0 for a key not held): how far
  // behind the newest writes its copy on disk is.
  std::uint64_t BytesInsertedSince(const BlockKey& key) const;

  std::uint64_t bytes() const { return bytes_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    SpillRecord record;
    std::uint64_t recency = 0;
    std::uint64_t position = 0;  // inserted_bytes_ when the record was inserted
  };

  std::unordered_map<BlockKey, Entry, BlockKeyHash> entries_;
  // Recency -> key, coldest first. Recencies are unique (one counter hands them out), but
  // a multimap keeps the index sound even if a caller reuses one.
  std::multimap<std::uint64_t, BlockKey> by_recency_;
  std::uint64_t bytes_ = 0;
  std::uint64_t inserted_bytes_ = 0;  // every Insert's size_bytes, since construction

  void Unlink(const BlockKey& key, std::uint64_t recency);
};

}  // namespace prefixcache::storage
