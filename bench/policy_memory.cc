// policy_memory: the real RAM each memory-tier entry costs beyond its value, per eviction
// policy -- what kMemoryEntryOverheadBytes (storage/include/storage/options.h) must cover.
// For each policy it fills a 16-shard MemoryTier with 200,000 blocks of 64 bytes, each its
// own buffer as in the daemon, then evicts through a second 200,000 (so a policy's history
// of departed blocks, if it keeps one, is full) and reports glibc's in-use heap bytes
// (mallinfo2) per entry, less the value bytes.
//
//   policy_memory [--entries N]
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "memory_tier.h"
#include "prefixcache/buffer.h"

namespace {

using prefixcache::BlockKey;
using prefixcache::MutableBuffer;
namespace storage = prefixcache::storage;

constexpr std::uint64_t kValueBytes = 64;

std::size_t HeapInUse() { return mallinfo2().uordblks; }

BlockKey Key(std::uint64_t i) {
  // Uniform keys, as chained hashes are: the shard is chosen by their high bits.
  std::uint64_t x = i * 0x9E3779B97F4A7C15ull;
  return BlockKey::FromHalves(x ^ (x >> 29), i);
}

void Put(storage::MemoryTier& tier, std::uint64_t i) {
  MutableBuffer bytes(kValueBytes);
  std::memset(bytes.data(), 1, kValueBytes);
  if (!tier.Put(Key(i), storage::Block{std::move(bytes).Freeze(), 0}).ok()) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t entries = 200000;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--entries" && i + 1 < argc) {
      entries = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: policy_memory [--entries N]\n");
      return 2;
    }
  }
  for (const char* policy : {"lru", "prefix", "tiered"}) {
    const std::size_t before = HeapInUse();
    {
      storage::MemoryTierOptions options;
      options.capacity_bytes = entries * (kValueBytes + storage::kMemoryEntryOverheadBytes);
      options.eviction_policy = policy;
      options.shards = 16;
      auto tier = storage::MemoryTier::Create(options);
      if (!tier.ok()) std::abort();
      for (std::uint64_t i = 0; i < 2 * entries; ++i) Put(*tier.value(), i);
      const std::uint64_t held = tier.value()->Stats().entries;
      const double per_entry =
          (static_cast<double>(HeapInUse() - before) - double(held * kValueBytes)) / double(held);
      std::printf("%-8s %llu entries held: %.0f bytes per entry beyond the value (budget %llu)\n",
                  policy, static_cast<unsigned long long>(held), per_entry,
                  static_cast<unsigned long long>(storage::kMemoryEntryOverheadBytes));
    }
  }
  return 0;
}
