// Counters of one storage tier and of the whole store. Plain values: a snapshot read
// from relaxed atomics, so fields taken at slightly different moments may disagree.
#pragma once

#include <cstdint>
#include <string>

namespace prefixcache::storage {

struct TierStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t bytes = 0;           // bytes charged now (memory: values + overhead; spill: values)
  std::uint64_t entries = 0;         // blocks held now
  std::uint64_t capacity_bytes = 0;  // configured capacity
  std::uint64_t evictions = 0;       // blocks pushed out by capacity
  std::uint64_t demotions = 0;       // memory: blocks handed to spill; spill: blocks written
  std::uint64_t promotions = 0;      // spill hits copied back into memory
  std::uint64_t checksum_failures = 0;  // spill: blocks that failed verification, deleted
  std::uint64_t demotion_drops = 0;     // evicted blocks never written (queue full, too
                                        // large, spill tier failing or closed)
  std::uint64_t io_errors = 0;          // failed RocksDB reads/writes
  std::uint64_t reopens = 0;            // spill: folder reopened after a failed write
  std::uint64_t queue_bytes = 0;        // spill: evicted bytes waiting to be written
};

struct StoreStats {
  TierStats memory;
  TierStats spill;
  bool spill_enabled = false;  // configured on
  bool spill_healthy = false;  // open and writing; false after an open or write failure
  std::string spill_error;     // why not healthy; empty when healthy or disabled
};

}  // namespace prefixcache::storage
