// Tier: one level of block storage (memory or RocksDB spill) behind one interface.
// Implementations are thread-safe: every method may be called from any thread at once.
#pragma once

#include <cstdint>
#include <string_view>

#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "prefixcache/status.h"
#include "storage/stats.h"

namespace prefixcache::storage {

// A stored block: its bytes and its depth in the prefix chain (0 = first block).
struct Block {
  Buffer value;
  std::uint32_t depth = 0;
};

class Tier {
 public:
  virtual ~Tier() = default;

  virtual std::string_view Name() const = 0;

  // The block, or NotFound on a miss; Corruption/IoError only from disk tiers (the block
  // is then also gone). Counts a hit or a miss.
  virtual Result<Block> Get(const BlockKey& key) = 0;

  // Stores the block, replacing any block under the key. Takes a reference to the bytes,
  // never copies them (the memory tier) or writes them before returning (the spill tier).
  virtual Status Put(const BlockKey& key, Block block) = 0;

  // Whether the key is held; counts nothing, never touches the disk.
  virtual bool Contains(const BlockKey& key) const = 0;

  // Removes the key if held (Ok either way; IoError if a disk delete failed).
  virtual Status Erase(const BlockKey& key) = 0;

  // Removes every block.
  virtual Status Clear() = 0;

  virtual TierStats Stats() const = 0;
};

}  // namespace prefixcache::storage
