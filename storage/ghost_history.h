// GhostHistory: how often each of a policy's most recently departed blocks had been used,
// remembered by a 64-bit fingerprint of its key, so that a block which comes back soon
// after its eviction is known for what it was. Holds the newest `capacity` departures
// (older ones are forgotten first, FIFO) in 12-16 bytes each: a ring of fingerprints and
// an open-addressing index into it. Every operation O(1) amortised. Not thread-safe (the
// shard's lock guards the policy that owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace prefixcache::storage {

class GhostHistory {
 public:
  // Uses are remembered up to this count (larger ones are stored as it).
  static constexpr std::uint8_t kMaxUses = 3;

  // Makes room for at least `capacity` departures; never shrinks.
  void Grow(std::size_t capacity);

  // Remembers that the block of `fingerprint` left after `uses` uses (>= 1), forgetting
  // the oldest departure when full. A no-op while the capacity is 0.
  void Remember(std::uint64_t fingerprint, std::uint8_t uses);

  // The uses remembered for `fingerprint` (then forgotten), or 0 when none are.
  std::uint8_t Take(std::uint64_t fingerprint);

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return ring_.size(); }

 private:
  static constexpr std::uint64_t kUsesMask = 3;  // low bits of an entry; 0 = empty

  std::size_t Home(std::uint64_t entry) const;
  // The index slot pointing at ring slot `ring_slot`, which must be indexed.
  std::size_t FindSlot(std::size_t ring_slot) const;
  void EraseSlot(std::size_t slot);
  void Index(std::size_t ring_slot);

  // Entries: the fingerprint with its low two bits replaced by the uses (1..3); 0 = empty.
  std::vector<std::uint64_t> ring_;
  // ring slot + 1 (0 = empty); linear probing; a power of two, at least 1.5x ring_.size().
  std::vector<std::uint32_t> index_;
  std::size_t next_ = 0;  // the ring slot written next: the oldest entry, or empty
  std::size_t size_ = 0;
  int index_bits_ = 0;
};

}  // namespace prefixcache::storage
