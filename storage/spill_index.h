// SpillIndex: the spill tier's in-memory view of what is on disk -- each spilled key's
// record (size, checksum, depth, write seq) in a recency order (least recently written or
// read first) for choosing the coldest blocks to evict, each key's write position (the
// bytes inserted before it) for telling how old its copy is, and the segments: the ranges
// of write seqs stored together in one file, with the bytes each holds and how many of
// those are still live. Lets Contains, capacity and disk-space questions run without
// touching RocksDB. Not thread-safe: SpillTier guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bucket_walk.h"
#include "prefixcache/block_key.h"
#include "spill_record.h"

namespace prefixcache::storage {

class SpillIndex {
 public:
  using KeySet = std::unordered_set<BlockKey, BlockKeyHash>;

  // One file of values: the writes [first_seq, last_seq], `bytes` of values in all, of
  // which `live_bytes` belong to records held here. A segment is open while it is written
  // (the newest one), then sealing while its file is synced and ingested, then on disk.
  struct Segment {
    enum class State { kOpen, kSealing, kOnDisk };
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    std::uint64_t bytes = 0;
    std::uint64_t live_bytes = 0;
    State state = State::kOnDisk;
  };

  SpillIndex() = default;
  SpillIndex(const SpillIndex&) = delete;  // entries link to each other
  SpillIndex& operator=(const SpillIndex&) = delete;

  // The record of `key`, or nullptr. Valid until the next change to the index.
  const SpillRecord* Find(const BlockKey& key) const;

  // Adds or replaces the key's record as the most recently used. record.seq must lie in a
  // segment (CHECKed), whose live bytes grow by record.size_bytes; a replaced record's
  // segment loses its. The key's write position is the number of bytes inserted so far,
  // which then grows by record.size_bytes.
  void Insert(const BlockKey& key, const SpillRecord& record);

  // Makes room for `keys` keys at once (Open inserts every record it finds).
  void Reserve(std::size_t keys);

  // Removes the key (its segment loses its live bytes); false if it was not held.
  bool Erase(const BlockKey& key);

  // Replaces a held key's KeyMeta (the record keeps everything else); false if not held.
  bool SetMeta(const BlockKey& key, KeyMetaRef meta);

  // Calls visit(key, record) for the keys of the buckets from `bucket` on, up to about
  // `want` keys; returns the next bucket, or bucket_count() at the end (see WalkBuckets).
  template <typename Visit>
  std::size_t WalkFrom(std::size_t bucket, std::size_t want, const Visit& visit) const {
    return WalkBuckets(entries_, bucket, want, want,
                       [&](const BlockKey& key, const Entry& entry) { visit(key, entry.record); });
  }
  std::size_t bucket_count() const { return entries_.bucket_count(); }
  // One step of a scan over the keys held (see ScanTableStep); visit(key, record).
  template <typename Visit>
  void ScanStep(TableScan& step, std::size_t want, const Visit& visit) const {
    ScanTableStep(entries_, rehashes_, step, want,
                  [&](const BlockKey& key, const Entry& entry) { visit(key, entry.record); });
  }

  // Marks a held key the most recently used. The record keeps its write seq. No-op for a
  // key not held.
  void Touch(const BlockKey& key);

  // Forgets every key and every segment.
  void Clear();

  // The least recently used keys, coldest first, whose removal brings `projected_bytes`
  // (the bytes the index would hold after a pending write) down to at most
  // `capacity_bytes`. Keys in `keep` are never chosen. Returns fewer if the index runs out.
  // Does not remove them.
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

  // Registers a segment found on disk. Segments may be added in any order but must not
  // overlap (CHECKed).
  void AddSegment(std::uint64_t first_seq, std::uint64_t last_seq, std::uint64_t bytes);
  // Starts the open segment with the write `first_seq`, past every segment (CHECKed, as
  // that there is no open one; a sealing one may remain).
  void OpenSegment(std::uint64_t first_seq);
  // A value of `bytes` was written at `seq` (past the last one) into the open segment.
  void AppendToOpenSegment(std::uint64_t seq, std::uint64_t bytes);
  // The open segment is complete and being ingested now. CHECKs that there is one.
  void SealOpenSegment();
  // The sealing segment that starts at `first_seq` is on disk now (CHECKed).
  void SegmentOnDisk(std::uint64_t first_seq);
  // Forgets the segment that starts at `first_seq` (its file was lost); every key in it
  // must be erased first (CHECKed: no live bytes).
  void DiscardSegment(std::uint64_t first_seq);
  // The open segment, or nullptr.
  const Segment* open_segment() const;
  // Whether a segment holds the write `seq`.
  bool Covers(std::uint64_t seq) const;
  // The oldest segment if it is on disk, or nullptr.
  const Segment* OldestOnDiskSegment() const;
  // The held keys whose records lie in [first_seq, last_seq]. Walks every key: O(keys held).
  std::vector<BlockKey> KeysIn(std::uint64_t first_seq, std::uint64_t last_seq) const;
  // Removes and returns the segments on disk that hold no live byte, oldest first.
  std::vector<Segment> TakeEmptySegments();
  // The bytes of every segment, live or not: what the values take on disk (and in RAM for
  // the open one).
  std::uint64_t segment_bytes() const { return segment_bytes_; }
  std::size_t segment_count() const { return segments_.size(); }

 private:
  struct Entry;
  using Node = std::pair<const BlockKey, Entry>;
  struct Entry {
    SpillRecord record;
    std::uint64_t position = 0;  // inserted_bytes_ when the record was inserted
    // The recency list: coldest at head_, newest at tail_. unordered_map nodes never move.
    Node* older = nullptr;
    Node* newer = nullptr;
  };

  Segment* SegmentOf(std::uint64_t seq);
  void Link(Node* node);    // as the newest
  void Unlink(Node* node);  // from the recency list
  void Forget(Node* node);  // from the segment's live bytes and the totals

  std::unordered_map<BlockKey, Entry, BlockKeyHash> entries_;
  RehashWatch rehashes_;  // of entries_
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
  std::map<std::uint64_t, Segment> segments_;  // by first_seq
  std::uint64_t bytes_ = 0;
  std::uint64_t inserted_bytes_ = 0;  // every Insert's size_bytes, since construction
  std::uint64_t segment_bytes_ = 0;
};

}  // namespace prefixcache::storage
