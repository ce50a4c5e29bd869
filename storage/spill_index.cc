#include "spill_index.h"

#include <algorithm>

#include "prefixcache/check.h"

namespace prefixcache::storage {

const SpillRecord* SpillIndex::Find(const BlockKey& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second.record;
}

void SpillIndex::Insert(const BlockKey& key, const SpillRecord& record) {
  Segment* segment = SegmentOf(record.seq);
  PC_CHECK(segment != nullptr && "SpillIndex: a record outside every segment");
  auto [it, added] = entries_.try_emplace(key);
  rehashes_.Note(entries_.bucket_count());
  if (!added) {
    Unlink(&*it);
    Forget(&*it);
  }
  it->second = Entry{record, inserted_bytes_, nullptr, nullptr};
  Link(&*it);
  segment->live_bytes += record.size_bytes;
  bytes_ += record.size_bytes;
  inserted_bytes_ += record.size_bytes;
}

bool SpillIndex::Erase(const BlockKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  Unlink(&*it);
  Forget(&*it);
  entries_.erase(it);
  return true;
}

void SpillIndex::Reserve(std::size_t keys) {
  entries_.reserve(keys);
  rehashes_.Note(entries_.bucket_count());
}

bool SpillIndex::SetMeta(const BlockKey& key, KeyMetaRef meta) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  it->second.record.meta = std::move(meta);
  return true;
}

void SpillIndex::Touch(const BlockKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Unlink(&*it);
  Link(&*it);
}

void SpillIndex::Clear() {
  entries_.clear();
  head_ = tail_ = nullptr;
  segments_.clear();
  bytes_ = 0;
  segment_bytes_ = 0;
}

std::vector<BlockKey> SpillIndex::PickVictims(std::uint64_t projected_bytes,
                                              std::uint64_t capacity_bytes,
                                              const KeySet& keep) const {
  std::vector<BlockKey> victims;
  for (const Node* node = head_; node != nullptr && projected_bytes > capacity_bytes;
       node = node->second.newer) {
    if (keep.contains(node->first)) continue;
    projected_bytes -= std::min(node->second.record.size_bytes, projected_bytes);
    victims.push_back(node->first);
  }
  return victims;
}

std::uint64_t SpillIndex::BytesInsertedSince(const BlockKey& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  return inserted_bytes_ - it->second.position - it->second.record.size_bytes;
}

void SpillIndex::AddSegment(std::uint64_t first_seq, std::uint64_t last_seq, std::uint64_t bytes) {
  PC_CHECK(first_seq <= last_seq);
  auto next = segments_.lower_bound(first_seq);
  PC_CHECK(next == segments_.end() || next->first > last_seq);
  PC_CHECK(next == segments_.begin() || std::prev(next)->second.last_seq < first_seq);
  segments_.emplace(first_seq, Segment{first_seq, last_seq, bytes, 0, Segment::State::kOnDisk});
  segment_bytes_ += bytes;
}

void SpillIndex::OpenSegment(std::uint64_t first_seq) {
  PC_CHECK(open_segment() == nullptr);
  PC_CHECK(segments_.empty() || segments_.rbegin()->second.last_seq < first_seq);
  segments_.emplace(first_seq, Segment{first_seq, first_seq, 0, 0, Segment::State::kOpen});
}

void SpillIndex::AppendToOpenSegment(std::uint64_t seq, std::uint64_t bytes) {
  PC_CHECK(open_segment() != nullptr);
  Segment& segment = segments_.rbegin()->second;
  PC_CHECK(seq >= segment.last_seq);
  segment.last_seq = seq;
  segment.bytes += bytes;
  segment_bytes_ += bytes;
}

void SpillIndex::SealOpenSegment() {
  PC_CHECK(open_segment() != nullptr);
  segments_.rbegin()->second.state = Segment::State::kSealing;
}

void SpillIndex::SegmentOnDisk(std::uint64_t first_seq) {
  auto it = segments_.find(first_seq);
  PC_CHECK(it != segments_.end() && it->second.state == Segment::State::kSealing);
  it->second.state = Segment::State::kOnDisk;
}

void SpillIndex::DiscardSegment(std::uint64_t first_seq) {
  auto it = segments_.find(first_seq);
  PC_CHECK(it != segments_.end() && it->second.live_bytes == 0);
  segment_bytes_ -= it->second.bytes;
  segments_.erase(it);
}

const SpillIndex::Segment* SpillIndex::open_segment() const {
  if (segments_.empty() || segments_.rbegin()->second.state != Segment::State::kOpen) {
    return nullptr;
  }
  return &segments_.rbegin()->second;
}

bool SpillIndex::Covers(std::uint64_t seq) const {
  auto it = segments_.upper_bound(seq);
  return it != segments_.begin() && std::prev(it)->second.last_seq >= seq;
}

const SpillIndex::Segment* SpillIndex::OldestOnDiskSegment() const {
  if (segments_.empty() || segments_.begin()->second.state != Segment::State::kOnDisk) {
    return nullptr;
  }
  return &segments_.begin()->second;
}

std::vector<BlockKey> SpillIndex::KeysIn(std::uint64_t first_seq, std::uint64_t last_seq) const {
  std::vector<BlockKey> keys;
  for (const auto& [key, entry] : entries_) {
    if (entry.record.seq >= first_seq && entry.record.seq <= last_seq) keys.push_back(key);
  }
  return keys;
}

std::vector<SpillIndex::Segment> SpillIndex::TakeEmptySegments() {
  std::vector<Segment> empty;
  for (auto it = segments_.begin(); it != segments_.end();) {
    if (it->second.state != Segment::State::kOnDisk || it->second.live_bytes != 0) {
      ++it;
      continue;
    }
    empty.push_back(it->second);
    segment_bytes_ -= it->second.bytes;
    it = segments_.erase(it);
  }
  return empty;
}

SpillIndex::Segment* SpillIndex::SegmentOf(std::uint64_t seq) {
  auto it = segments_.upper_bound(seq);
  if (it == segments_.begin()) return nullptr;
  Segment& segment = std::prev(it)->second;
  return segment.last_seq >= seq || segment.state == Segment::State::kOpen ? &segment : nullptr;
}

void SpillIndex::Link(Node* node) {
  node->second.older = tail_;
  node->second.newer = nullptr;
  if (tail_ != nullptr) {
    tail_->second.newer = node;
  } else {
    head_ = node;
  }
  tail_ = node;
}

void SpillIndex::Unlink(Node* node) {
  Entry& entry = node->second;
  (entry.older != nullptr ? entry.older->second.newer : head_) = entry.newer;
  (entry.newer != nullptr ? entry.newer->second.older : tail_) = entry.older;
  entry.older = entry.newer = nullptr;
}

void SpillIndex::Forget(Node* node) {
  const SpillRecord& record = node->second.record;
  Segment* segment = SegmentOf(record.seq);
  PC_CHECK(segment != nullptr && segment->live_bytes >= record.size_bytes);
  segment->live_bytes -= record.size_bytes;
  PC_CHECK(bytes_ >= record.size_bytes);
  bytes_ -= record.size_bytes;
}

}  // namespace prefixcache::storage
