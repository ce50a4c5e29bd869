#include "memory_tier.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace prefixcache::storage {
namespace {

constexpr std::uint64_t kOverhead = kMemoryEntryOverheadBytes;

BlockKey Key(std::uint64_t i) { return BlockKey::FromHalves(0, i); }

Block MakeBlock(std::size_t size, std::uint8_t fill, std::uint32_t depth = 0) {
  MutableBuffer bytes(size);
  std::fill_n(bytes.data(), size, std::byte{fill});
  return Block{std::move(bytes).Freeze(), depth};
}

bool AllBytesAre(const Buffer& buffer, std::uint8_t fill) {
  return std::all_of(buffer.data(), buffer.data() + buffer.size(),
                     [&](std::byte b) { return b == std::byte{fill}; });
}

std::unique_ptr<MemoryTier> MakeTier(std::uint64_t capacity_bytes, const std::string& policy,
                                     std::size_t shards, MemoryTier::EvictionSink sink = {}) {
  MemoryTierOptions options;
  options.capacity_bytes = capacity_bytes;
  options.eviction_policy = policy;
  options.shards = shards;
  auto tier = MemoryTier::Create(options, std::move(sink));
  REQUIRE(tier.ok());
  return std::move(tier).value();
}

// Collects what the tier hands to its eviction sink.
struct SinkLog {
  std::mutex mu;
  std::vector<std::pair<BlockKey, Block>> blocks;

  MemoryTier::EvictionSink Sink() {
    return [this](const BlockKey& key, Block block) {
      std::lock_guard lock(mu);
      blocks.emplace_back(key, std::move(block));
    };
  }
  std::vector<BlockKey> Keys() {
    std::lock_guard lock(mu);
    std::vector<BlockKey> keys;
    for (const auto& [key, block] : blocks) keys.push_back(key);
    return keys;
  }
};

}  // namespace

TEST_CASE("MemoryTier::Create validates its options", "[unit]") {
  MemoryTierOptions options;
  options.capacity_bytes = 0;
  auto r = MemoryTier::Create(options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);

  options = {};
  options.shards = 0;
  CHECK(MemoryTier::Create(options).status().code() == StatusCode::kInvalidArgument);

  options = {};
  options.eviction_policy = "mru";
  r = MemoryTier::Create(options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("\"mru\"") != std::string::npos);

  CHECK(MemoryTier::Create(MemoryTierOptions{}).ok());
}

TEST_CASE("MemoryTier put/get shares the buffer, replace and erase", "[unit]") {
  auto tier = MakeTier(1 << 20, "lru", 4);
  Block block = MakeBlock(1000, 0xab, 3);
  const std::byte* data = block.value.data();
  REQUIRE(tier->Put(Key(1), block).ok());
  CHECK(tier->Contains(Key(1)));

  auto got = tier->Get(Key(1));
  REQUIRE(got.ok());
  CHECK(got->value.data() == data);  // no copy
  CHECK(got->value.size() == 1000);
  CHECK(got->depth == 3);
  CHECK(tier->Get(Key(2)).status().IsNotFound());
  CHECK(tier->GetIfPresent(Key(2)).status().IsNotFound());  // not counted
  CHECK(tier->GetIfPresent(Key(1)).ok());

  TierStats stats = tier->Stats();
  CHECK(stats.hits == 2);
  CHECK(stats.misses == 1);
  CHECK(stats.entries == 1);
  CHECK(stats.bytes == 1000 + kOverhead);
  CHECK(stats.capacity_bytes == 1 << 20);

  REQUIRE(tier->Put(Key(1), MakeBlock(200, 0xcd)).ok());
  got = tier->Get(Key(1));
  REQUIRE(got.ok());
  CHECK(got->value.size() == 200);
  CHECK(AllBytesAre(got->value, 0xcd));
  stats = tier->Stats();
  CHECK(stats.entries == 1);
  CHECK(stats.bytes == 200 + kOverhead);

  tier->Erase(Key(1));
  tier->Erase(Key(1));  // absent: nothing happens
  CHECK_FALSE(tier->Contains(Key(1)));
  stats = tier->Stats();
  CHECK(stats.entries == 0);
  CHECK(stats.bytes == 0);
  CHECK(stats.evictions == 0);
}

TEST_CASE("MemoryTier rejects a block larger than its capacity", "[unit]") {
  auto tier = MakeTier(4096, "prefix", 1);
  Status s = tier->Put(Key(1), MakeBlock(5000, 1));
  CHECK(s.code() == StatusCode::kRejected);
  CHECK(s.message().find("5000 bytes") != std::string::npos);
  CHECK(s.message().find("4096 bytes") != std::string::npos);
  // The overhead counts too: exactly the capacity fits, one byte more does not.
  CHECK(tier->Put(Key(2), MakeBlock(4096 - kOverhead + 1, 1)).code() == StatusCode::kRejected);
  CHECK(tier->Put(Key(3), MakeBlock(4096 - kOverhead, 1)).ok());
  CHECK(tier->Stats().bytes == 4096);
  CHECK(tier->Stats().entries == 1);
}

TEST_CASE("MemoryTier evicts in LRU order and hands blocks to the sink", "[unit]") {
  SinkLog log;
  auto tier = MakeTier(4 * (100 + kOverhead), "lru", 1, log.Sink());
  for (std::uint64_t i = 1; i <= 4; ++i) REQUIRE(tier->Put(Key(i), MakeBlock(100, i)).ok());
  REQUIRE(tier->Get(Key(1)).ok());
  REQUIRE(tier->Put(Key(5), MakeBlock(100, 5)).ok());
  REQUIRE(tier->Put(Key(6), MakeBlock(100, 6)).ok());
  CHECK(log.Keys() == std::vector<BlockKey>{Key(2), Key(3)});
  CHECK(AllBytesAre(log.blocks[0].second.value, 2));
  CHECK(AllBytesAre(log.blocks[1].second.value, 3));
  CHECK(tier->Contains(Key(1)));
  CHECK_FALSE(tier->Contains(Key(2)));

  // A bigger block pushes out as many as it needs.
  REQUIRE(tier->Put(Key(7), MakeBlock(200 + kOverhead, 7)).ok());
  CHECK(log.Keys() == std::vector<BlockKey>{Key(2), Key(3), Key(4), Key(1)});
  TierStats stats = tier->Stats();
  CHECK(stats.evictions == 4);
  CHECK(stats.demotions == 4);
  CHECK(stats.entries == 3);
  CHECK(stats.bytes <= stats.capacity_bytes);
}

TEST_CASE("MemoryTier replaces a block in a full tier without evicting others", "[unit]") {
  SinkLog log;
  auto tier = MakeTier(3 * (100 + kOverhead), "lru", 2, log.Sink());
  for (std::uint64_t i = 1; i <= 3; ++i) REQUIRE(tier->Put(Key(i), MakeBlock(100, i)).ok());
  REQUIRE(tier->Put(Key(1), MakeBlock(100, 9)).ok());  // same size
  REQUIRE(tier->Put(Key(2), MakeBlock(50, 9)).ok());   // smaller
  CHECK(log.Keys().empty());
  CHECK(tier->Stats().bytes == 250 + 3 * kOverhead);
  // A larger one reserves its whole charge first: here that evicts the coldest block,
  // which is the old version of key 3 itself, then key 1.
  REQUIRE(tier->Put(Key(3), MakeBlock(160, 9)).ok());
  CHECK(log.Keys() == std::vector<BlockKey>{Key(3), Key(1)});
  CHECK(AllBytesAre(log.blocks[0].second.value, 3));
  auto got = tier->Get(Key(3));
  REQUIRE(got.ok());
  CHECK(got->value.size() == 160);
  CHECK(tier->Stats().bytes == 210 + 2 * kOverhead);
  CHECK(tier->Stats().entries == 2);
}

TEST_CASE("MemoryTier with the prefix policy evicts the deepest cold block", "[unit]") {
  SinkLog log;
  auto tier = MakeTier(4 * (100 + kOverhead), "prefix", 1, log.Sink());
  // One chain: depths 0..3.
  for (std::uint32_t d = 0; d < 4; ++d) REQUIRE(tier->Put(Key(d + 1), MakeBlock(100, 0, d)).ok());
  REQUIRE(tier->Put(Key(10), MakeBlock(100, 0, 0)).ok());
  REQUIRE(tier->Put(Key(11), MakeBlock(100, 0, 0)).ok());
  // The chain's tail goes first although its head is older.
  CHECK(log.Keys() == std::vector<BlockKey>{Key(4), Key(3)});
  CHECK(tier->Contains(Key(1)));
  CHECK(tier->Contains(Key(2)));
}

TEST_CASE("MemoryTier with the tiered policy keeps a reused block over newer one-off ones",
          "[unit]") {
  SinkLog log;
  auto tier = MakeTier(4 * (100 + kOverhead), "tiered", 16, log.Sink());
  for (std::uint64_t i = 1; i <= 4; ++i) REQUIRE(tier->Put(Key(i), MakeBlock(100, 0)).ok());
  REQUIRE(tier->Get(Key(1)).ok());  // used twice: worth a turnover (4 ticks) more
  REQUIRE(tier->Put(Key(5), MakeBlock(100, 0)).ok());
  REQUIRE(tier->Put(Key(6), MakeBlock(100, 0)).ok());
  // Across 16 shards, as with one: the once-used blocks go first, oldest first.
  CHECK(log.Keys() == std::vector<BlockKey>{Key(2), Key(3)});
  CHECK(tier->Contains(Key(1)));
  CHECK(tier->Stats().entries == 4);
}

TEST_CASE("A block being evicted is in the tier or in the sink, never in neither", "[unit]") {
  std::mutex sunk_mu;
  std::set<BlockKey> sunk;
  auto tier = MakeTier(8 * (10 + kOverhead), "lru", 1, [&](const BlockKey& key, Block) {
    std::lock_guard lock(sunk_mu);
    sunk.insert(key);
  });
  constexpr std::uint64_t kKeys = 2000;
  std::atomic<std::uint64_t> written{0};
  std::atomic<int> lost{0};
  std::thread reader([&] {
    while (written.load() < kKeys) {
      const std::uint64_t upto = written.load();
      for (std::uint64_t i = upto > 8 ? upto - 8 : 0; i < upto; ++i) {
        // Tier first, then the sink: with the sink fed before the block leaves the map, a
        // miss in the tier means the sink has it already.
        if (tier->Contains(Key(i))) continue;
        std::lock_guard lock(sunk_mu);
        if (!sunk.contains(Key(i))) lost.fetch_add(1);
      }
    }
  });
  for (std::uint64_t i = 0; i < kKeys; ++i) {
    REQUIRE(tier->Put(Key(i), MakeBlock(10, 0)).ok());
    written.store(i + 1);
  }
  reader.join();
  CHECK(lost.load() == 0);
  CHECK(sunk.size() == kKeys - 8);
}

TEST_CASE("MemoryTier without a sink still evicts and counts", "[unit]") {
  auto tier = MakeTier(2 * (10 + kOverhead), "lru", 2);
  for (std::uint64_t i = 0; i < 10; ++i) REQUIRE(tier->Put(Key(i), MakeBlock(10, 0)).ok());
  TierStats stats = tier->Stats();
  CHECK(stats.entries == 2);
  CHECK(stats.evictions == 8);
  CHECK(stats.demotions == 0);
  CHECK(tier->Contains(Key(8)));
  CHECK(tier->Contains(Key(9)));
}

TEST_CASE("MemoryTier evicts the globally coldest block across shards", "[unit]") {
  SinkLog log;
  auto tier = MakeTier(32 * (64 + kOverhead), "lru", 16, log.Sink());
  for (std::uint64_t i = 0; i < 32; ++i) REQUIRE(tier->Put(Key(i), MakeBlock(64, 0)).ok());
  for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(tier->Get(Key(i)).ok());
  for (std::uint64_t i = 32; i < 40; ++i) REQUIRE(tier->Put(Key(i), MakeBlock(64, 0)).ok());
  std::vector<BlockKey> expected;
  for (std::uint64_t i = 8; i < 16; ++i) expected.push_back(Key(i));
  CHECK(log.Keys() == expected);
}

TEST_CASE("A Buffer held by a reader outlives the eviction of its block", "[unit]") {
  auto tier = MakeTier(100 + kOverhead, "lru", 1);
  REQUIRE(tier->Put(Key(1), MakeBlock(100, 0x5a)).ok());
  Buffer held = tier->Get(Key(1))->value;
  REQUIRE(tier->Put(Key(2), MakeBlock(100, 0x00)).ok());  // evicts key 1, no sink
  CHECK_FALSE(tier->Contains(Key(1)));
  CHECK(held.use_count() == 1);
  CHECK(held.size() == 100);
  CHECK(AllBytesAre(held, 0x5a));
}

TEST_CASE("MemoryTier Snapshot and Clear", "[unit]") {
  auto tier = MakeTier(1 << 20, "prefix", 4);
  for (std::uint64_t i = 0; i < 20; ++i) {
    REQUIRE(tier->Put(Key(i), MakeBlock(i, static_cast<std::uint8_t>(i), i)).ok());
  }
  auto snapshot = tier->Snapshot();
  REQUIRE(snapshot.size() == 20);
  std::sort(snapshot.begin(), snapshot.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::uint64_t i = 0; i < 20; ++i) {
    CHECK(snapshot[i].first == Key(i));
    CHECK(snapshot[i].second.value.size() == i);
    CHECK(snapshot[i].second.depth == i);
  }
  tier->Clear();
  CHECK(tier->Stats().entries == 0);
  CHECK(tier->Stats().bytes == 0);
  CHECK(tier->Snapshot().empty());
  REQUIRE(tier->Put(Key(1), MakeBlock(1, 1)).ok());  // usable after Clear
  CHECK(tier->Contains(Key(1)));
}

TEST_CASE("MemoryTier stays within capacity under concurrent load", "[unit]") {
  const std::string policy = GENERATE(as<std::string>{}, "lru", "prefix", "tiered");
  INFO(policy);
  constexpr std::uint64_t kCapacity = 4 * kMiB;
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 20000;
  constexpr std::uint64_t kKeySpace = 512;

  // Shared buffers of assorted sizes up to 512 KiB: the test measures accounting, not malloc.
  std::vector<Buffer> pool;
  std::mt19937_64 pool_rng(7);
  for (int i = 0; i < 64; ++i) {
    const std::size_t size = i < 8 ? 256 * 1024 + pool_rng() % (256 * 1024) : pool_rng() % 65536;
    pool.push_back(MakeBlock(size, static_cast<std::uint8_t>(i)).value);
  }

  std::atomic<std::uint64_t> sunk{0};
  auto tier = MakeTier(kCapacity, policy, 16, [&](const BlockKey&, Block) { ++sunk; });

  std::atomic<bool> done{false};
  std::uint64_t max_seen = 0;
  std::uint64_t samples = 0;
  std::thread sampler([&] {
    while (!done.load()) {
      max_seen = std::max(max_seen, tier->Stats().bytes);
      ++samples;
    }
  });
  std::atomic<std::uint64_t> failed_puts{0};
  std::atomic<std::uint64_t> gets{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(1000 + t);
      for (int op = 0; op < kOpsPerThread; ++op) {
        const BlockKey key = Key(rng() % kKeySpace);
        const std::uint64_t roll = rng() % 10;
        if (roll < 6) {
          Block block{pool[rng() % pool.size()], static_cast<std::uint32_t>(rng() % 16)};
          if (!tier->Put(key, std::move(block)).ok()) ++failed_puts;
        } else if (roll < 9) {
          (void)tier->Get(key);
          ++gets;
        } else {
          tier->Erase(key);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  sampler.join();

  const TierStats stats = tier->Stats();
  INFO("samples " << samples << ", max " << max_seen << ", final " << stats.bytes);
  CHECK(failed_puts == 0);
  CHECK(samples > 0);
  CHECK(max_seen <= kCapacity + kCapacity / 20);
  CHECK(stats.bytes <= kCapacity);
  CHECK(stats.evictions > 0);
  CHECK(stats.demotions == stats.evictions);
  CHECK(sunk == stats.evictions);
  CHECK(stats.hits + stats.misses == gets);

  auto snapshot = tier->Snapshot();
  std::uint64_t charged = 0;
  for (const auto& [key, block] : snapshot) charged += block.value.size() + kOverhead;
  CHECK(stats.entries == snapshot.size());
  CHECK(stats.bytes == charged);
}

}  // namespace prefixcache::storage
