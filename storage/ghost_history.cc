#include "ghost_history.h"

#include <algorithm>
#include <utility>

#include "prefixcache/check.h"

namespace prefixcache::storage {

std::size_t GhostHistory::Home(std::uint64_t entry) const {
  // Multiply-shift takes the index from every bit of the fingerprint: keys of one memory-tier
  // shard share their high hash bits (they chose the shard).
  return static_cast<std::size_t>(((entry & ~kUsesMask) * 0x9E3779B97F4A7C15ull) >>
                                  (64 - index_bits_));
}

void GhostHistory::Grow(std::size_t capacity) {
  if (capacity <= ring_.size()) return;
  const std::size_t new_capacity = std::max<std::size_t>({capacity, ring_.size() * 3 / 2, 64});
  PC_CHECK(new_capacity < (std::size_t{1} << 31));
  std::vector<std::uint64_t> ring(new_capacity, 0);
  std::size_t n = 0;
  // Oldest first, so the FIFO order survives.
  for (std::size_t i = 0; i < ring_.size(); ++i) {
    const std::uint64_t entry = ring_[(next_ + i) % ring_.size()];
    if (entry != 0) ring[n++] = entry;
  }
  ring_ = std::move(ring);
  next_ = n;
  index_bits_ = 1;
  while ((std::size_t{1} << index_bits_) < new_capacity + new_capacity / 2) ++index_bits_;
  index_.assign(std::size_t{1} << index_bits_, 0);
  for (std::size_t i = 0; i < n; ++i) Index(i);
}

void GhostHistory::Index(std::size_t ring_slot) {
  const std::size_t mask = index_.size() - 1;
  std::size_t slot = Home(ring_[ring_slot]);
  while (index_[slot] != 0) slot = (slot + 1) & mask;
  index_[slot] = static_cast<std::uint32_t>(ring_slot + 1);
}

std::size_t GhostHistory::FindSlot(std::size_t ring_slot) const {
  const std::size_t mask = index_.size() - 1;
  std::size_t slot = Home(ring_[ring_slot]);
  while (index_[slot] != ring_slot + 1) {
    PC_CHECK(index_[slot] != 0);
    slot = (slot + 1) & mask;
  }
  return slot;
}

// Backward-shift deletion: later entries of the probe run move up into the hole unless
// their home lies cyclically after it, so every lookup still finds its entry.
void GhostHistory::EraseSlot(std::size_t slot) {
  const std::size_t mask = index_.size() - 1;
  std::size_t hole = slot;
  for (std::size_t next = (hole + 1) & mask; index_[next] != 0; next = (next + 1) & mask) {
    const std::size_t home = Home(ring_[index_[next] - 1]);
    const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    index_[hole] = index_[next];
    hole = next;
  }
  index_[hole] = 0;
}

void GhostHistory::Remember(std::uint64_t fingerprint, std::uint8_t uses) {
  if (ring_.empty()) return;
  const std::uint64_t clamped = std::clamp<std::uint8_t>(uses, 1, kMaxUses);
  if (ring_[next_] != 0) {  // full: forget the oldest
    EraseSlot(FindSlot(next_));
    --size_;
  }
  ring_[next_] = (fingerprint & ~kUsesMask) | clamped;
  Index(next_);
  ++size_;
  next_ = (next_ + 1) % ring_.size();
}

std::uint8_t GhostHistory::Take(std::uint64_t fingerprint) {
  if (ring_.empty()) return 0;
  const std::uint64_t wanted = fingerprint & ~kUsesMask;
  const std::size_t mask = index_.size() - 1;
  for (std::size_t slot = Home(wanted); index_[slot] != 0; slot = (slot + 1) & mask) {
    std::uint64_t& entry = ring_[index_[slot] - 1];
    if ((entry & ~kUsesMask) != wanted) continue;
    const auto uses = static_cast<std::uint8_t>(entry & kUsesMask);
    entry = 0;
    EraseSlot(slot);
    --size_;
    return uses;
  }
  return 0;
}

}  // namespace prefixcache::storage
