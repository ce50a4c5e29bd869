#include "storage/block_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "spill_tier.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace prefixcache::storage {
namespace {

using namespace prefixcache::testing;  // TempDir and storage_test_util.h

constexpr std::size_t kBlockBytes = 8192;  // a data block of its own on disk
constexpr std::uint64_t kCharge = kBlockBytes + kMemoryEntryOverheadBytes;

BlockKey Key(std::uint64_t i) { return BlockKey::FromHalves(0xb10c, i); }

// Bytes derived from (i, version), so any read can be checked on its own: the first eight
// bytes hold i, the ninth the version, the rest a pattern of both.
Buffer Value(std::uint64_t i, std::uint8_t version = 0, std::size_t size = kBlockBytes) {
  MutableBuffer bytes(size);
  for (std::size_t j = 0; j < size; ++j) {
    bytes.data()[j] = static_cast<std::byte>((i * 31 + j * 13 + version * 101) & 0xff);
  }
  if (size >= 9) {
    std::memcpy(bytes.data(), &i, 8);
    bytes.data()[8] = static_cast<std::byte>(version);
  }
  return std::move(bytes).Freeze();
}

// Whether `got` is exactly Value(i, v) for the version its ninth byte names.
bool IsValueOf(std::uint64_t i, const Buffer& got) {
  if (got.size() != kBlockBytes) return false;
  return SameBytes(got, Value(i, static_cast<std::uint8_t>(got.data()[8])));
}

StoreOptions Options(const TempDir& dir, std::uint64_t memory_blocks = 4) {
  StoreOptions options;
  options.memory.capacity_bytes = memory_blocks * kCharge;
  options.memory.eviction_policy = "lru";
  options.memory.shards = 1;
  options.spill.path = (dir.path() / "spill").string();
  options.spill.capacity_bytes = 1000 * kBlockBytes;
  options.spill.queue_bytes = 16 * kMiB;
  options.spill.batch_bytes = 1 * kMiB;
  options.max_value_bytes = 1 * kMiB;
  return options;
}

std::unique_ptr<BlockStore> OpenStore(const StoreOptions& options) {
  return RequireValue(BlockStore::Open(options));
}

void PutRange(BlockStore& store, std::uint64_t first, std::uint64_t last) {
  for (std::uint64_t i = first; i < last; ++i) {
    REQUIRE(store.Put(Key(i), Value(i), static_cast<std::uint32_t>(i)).ok());
  }
}

TEST_CASE("BlockStore demotes evicted blocks and promotes spill hits", "[integration]") {
  TempDir dir("store");
  auto store = OpenStore(Options(dir));
  PutRange(*store, 0, 10);  // memory holds 4: 0..5 are demoted
  REQUIRE(store->Flush().ok());
  StoreStats stats = store->Stats();
  CHECK(stats.spill_enabled);
  CHECK(stats.spill_healthy);
  CHECK(stats.spill_error.empty());
  CHECK(stats.memory.evictions == 6);
  CHECK(stats.spill.demotions == 6);
  CHECK(store->Size() == 10);
  CHECK(store->NeedsDiskRead(Key(0)));
  CHECK_FALSE(store->NeedsDiskRead(Key(9)));
  CHECK(store->GetFromMemory(Key(0)).status().IsNotFound());

  auto got = store->Get(Key(0));
  REQUIRE(got.ok());
  CHECK(SameBytes(*got, Value(0)));
  stats = store->Stats();
  CHECK(stats.memory.promotions == 1);
  CHECK(stats.spill.hits == 1);
  CHECK_FALSE(store->NeedsDiskRead(Key(0)));  // in memory now, and still spilled
  CHECK(store->Size() == 10);                 // counted once
  REQUIRE(store->GetFromMemory(Key(0)).ok());

  // The promotion evicted 6; then 7, 8, 9 and 0 go. 0 is already spilled: no write.
  PutRange(*store, 10, 14);
  REQUIRE(store->Flush().ok());
  stats = store->Stats();
  CHECK(stats.spill.demotions == 10);
  CHECK(stats.spill.entries == 10);
  CHECK(store->Size() == 14);
  for (std::uint64_t i = 0; i < 14; ++i) {
    auto value = store->Get(Key(i));
    REQUIRE(value.ok());
    CHECK(SameBytes(*value, Value(i)));
  }
  CHECK(store->Get(Key(99)).status().IsNotFound());
  CHECK(store->Stats().spill.checksum_failures == 0);
}

TEST_CASE("BlockStore counts each lookup once in each tier it reached", "[integration]") {
  TempDir dir("store");
  auto store = OpenStore(Options(dir));
  PutRange(*store, 0, 6);  // memory holds 4: 0 and 1 are demoted
  REQUIRE(store->Flush().ok());
  auto counts = [&] {
    const StoreStats stats = store->Stats();
    return std::array<std::uint64_t, 4>{stats.memory.hits, stats.memory.misses, stats.spill.hits,
                                        stats.spill.misses};
  };
  using Counts = std::array<std::uint64_t, 4>;  // memory hits, misses; spill hits, misses
  REQUIRE(counts() == Counts{0, 0, 0, 0});

  REQUIRE(store->GetFromMemory(Key(5)).ok());  // a memory hit
  CHECK(counts() == Counts{1, 0, 0, 0});
  CHECK(store->GetFromMemory(Key(99)).status().IsNotFound());  // held nowhere: a miss in both
  CHECK(counts() == Counts{1, 1, 0, 1});
  CHECK(store->Get(Key(98)).status().IsNotFound());  // the same through Get
  CHECK(counts() == Counts{1, 2, 0, 2});
  // On disk: GetFromMemory leaves the lookup to the Get that follows.
  CHECK(store->GetFromMemory(Key(0)).status().IsNotFound());
  CHECK(counts() == Counts{1, 2, 0, 2});
  REQUIRE(store->Get(Key(0)).ok());  // a memory miss and a spill hit, promoted
  CHECK(counts() == Counts{1, 3, 1, 2});
  REQUIRE(store->GetFromMemory(Key(0)).ok());
  CHECK(counts() == Counts{2, 3, 1, 2});
  CHECK(store->Size() == 6);

  // Without a spill tier every miss is counted by GetFromMemory.
  StoreOptions options = Options(dir);
  options.spill.enabled = false;
  auto memory_only = OpenStore(options);
  CHECK(memory_only->GetFromMemory(Key(1)).status().IsNotFound());
  CHECK(memory_only->Stats().memory.misses == 1);
}

TEST_CASE("BlockStore Size counts a block in both tiers once", "[integration]") {
  TempDir dir("store");
  auto store = OpenStore(Options(dir));
  PutRange(*store, 0, 8);  // 0..3 demoted, 4..7 in memory
  REQUIRE(store->Flush().ok());
  CHECK(store->Size() == 8);
  REQUIRE(store->Get(Key(0)).ok());  // promoted (4 demoted): 0 in both tiers
  REQUIRE(store->Get(Key(1)).ok());  // promoted (5 demoted)
  REQUIRE(store->Flush().ok());
  CHECK(store->Stats().memory.entries == 4);
  CHECK(store->Stats().spill.entries == 6);
  CHECK(store->Size() == 8);
  PutRange(*store, 8, 10);  // 6 and 7 demoted; 0 and 1 stay
  REQUIRE(store->Flush().ok());
  CHECK(store->Size() == 10);
  REQUIRE(store->Put(Key(0), Value(0, 1), 0).ok());  // replaced: the spilled copy goes
  CHECK(store->Size() == 10);
  REQUIRE(store->Erase(Key(1)).ok());  // from both tiers
  CHECK(store->Size() == 9);
  PutRange(*store, 10, 14);  // 0, 8 and 9 go to spill, 0 with its new bytes
  REQUIRE(store->Flush().ok());
  CHECK(store->Size() == 13);
  REQUIRE(store->Clear().ok());
  CHECK(store->Size() == 0);
}

TEST_CASE("BlockStore serves spilled blocks after a restart", "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  {
    auto store = OpenStore(options);
    PutRange(*store, 0, 20);
    REQUIRE(store->Close().ok());
    CHECK(store->SpillStatus().code() == StatusCode::kUnavailable);
    // Memory keeps serving after Close; demotions are dropped.
    REQUIRE(store->Get(Key(19)).ok());
    PutRange(*store, 20, 30);
  }
  {
    // Depth and seq order were stored with each block.
    auto tier = SpillTier::Open(options.spill);
    REQUIRE(tier.ok());
    CHECK((*tier)->Stats().entries == 20);
    for (std::uint64_t i = 0; i < 20; ++i) {
      auto block = (*tier)->Get(Key(i));
      REQUIRE(block.ok());
      CHECK(block->depth == i);
      CHECK(SameBytes(block->value, Value(i)));
    }
  }
  auto store = OpenStore(options);
  for (std::uint64_t i = 0; i < 20; ++i) {
    CHECK(store->Contains(Key(i)));
    CHECK(store->NeedsDiskRead(Key(i)));
  }
  CHECK_FALSE(store->Contains(Key(25)));
  std::vector<BlockKey> keys = {Key(0), Key(25), Key(19)};
  std::vector<std::uint8_t> present(keys.size(), 7);
  store->Contains(keys, present);
  CHECK(present == std::vector<std::uint8_t>{1, 0, 1});
  CHECK(store->Size() == 20);
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto got = store->Get(Key(i));
    REQUIRE(got.ok());
    CHECK(SameBytes(*got, Value(i)));
  }
}

TEST_CASE("BlockStore flush_on_close decides whether memory blocks survive", "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  const bool flush_on_close = GENERATE(false, true);
  options.spill.flush_on_close = flush_on_close;
  {
    auto store = OpenStore(options);
    PutRange(*store, 0, 10);  // 0..5 spilled, 6..9 in memory only
  }
  auto store = OpenStore(options);
  for (std::uint64_t i = 0; i < 6; ++i) CHECK(store->Get(Key(i)).ok());
  for (std::uint64_t i = 6; i < 10; ++i) {
    auto got = store->Get(Key(i));
    CHECK(got.ok() == flush_on_close);
    if (got.ok()) CHECK(SameBytes(*got, Value(i)));
  }
}

TEST_CASE("BlockStore drops a spilled block whose bytes changed on disk", "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  {
    auto store = OpenStore(options);
    PutRange(*store, 0, 10);
  }
  const std::string bytes(Value(3).view());
  // In the segment file itself: the tier reads values from the files.
  SECTION("a byte of the value") {
    // The first bytes hold the block's number, so they occur in no other block.
    DamageSegmentFile(options.spill.path, std::string_view(bytes).substr(0, 64), 100, 0x5a);
  }
  SECTION("the value's length in its entry") {
    RawSpillDb raw(options.spill.path);
    // The entry: shared (1 byte), key length (1), value length (varint), key, value.
    DamageSegmentFile(options.spill.path, raw.EntryKey(Key(3)), -1, 0x01);
  }

  auto store = OpenStore(options);
  CHECK(store->Contains(Key(3)));
  CHECK(store->Get(Key(3)).status().IsNotFound());
  StoreStats stats = store->Stats();
  CHECK(stats.spill.checksum_failures == 1);
  CHECK_FALSE(store->Contains(Key(3)));
  CHECK(store->Get(Key(3)).status().IsNotFound());
  CHECK(store->Stats().spill.checksum_failures == 1);
  for (std::uint64_t i = 0; i < 10; ++i) {
    if (i == 3) continue;
    auto got = store->Get(Key(i));
    REQUIRE(got.ok());
    CHECK(SameBytes(*got, Value(i)));
  }
  // Deleted on disk too, not just forgotten.
  store.reset();
  auto reopened = OpenStore(options);
  CHECK_FALSE(reopened->Contains(Key(3)));
}

TEST_CASE("BlockStore spill capacity evicts the coldest spilled blocks", "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir, 2);
  options.spill.capacity_bytes = 5 * kBlockBytes;
  auto store = OpenStore(options);
  PutRange(*store, 0, 20);  // 0..17 demoted in order; 18, 19 in memory
  REQUIRE(store->Flush().ok());
  StoreStats stats = store->Stats();
  CHECK(stats.spill.bytes <= stats.spill.capacity_bytes);
  CHECK(stats.spill.entries == 5);
  CHECK(stats.spill.evictions == 13);
  for (std::uint64_t i = 0; i < 20; ++i) CHECK(store->Contains(Key(i)) == (i >= 13));
}

TEST_CASE("BlockStore counts demotions dropped by a full queue", "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  options.spill.queue_bytes = kBlockBytes / 2;
  auto store = OpenStore(options);
  PutRange(*store, 0, 10);
  REQUIRE(store->Flush().ok());
  StoreStats stats = store->Stats();
  CHECK(stats.memory.demotions == 6);
  CHECK(stats.spill.demotion_drops == 6);
  CHECK(stats.spill.demotions == 0);
  CHECK(stats.spill.queue_bytes == 0);
  CHECK_FALSE(store->Contains(Key(0)));
  CHECK(store->Contains(Key(9)));
}

TEST_CASE("BlockStore runs memory-only when the spill folder cannot be opened", "[integration]") {
  TempDir dir("store");
  const std::filesystem::path file = dir.path() / "plain-file";
  std::ofstream(file) << "not a folder";
  StoreOptions options = Options(dir);
  options.spill.path = (file / "spill").string();
  auto store = OpenStore(options);
  Status spill = store->SpillStatus();
  CHECK(spill.code() == StatusCode::kIoError);
  CHECK_THAT(spill.message(), Catch::Contains(options.spill.path));
  StoreStats stats = store->Stats();
  CHECK(stats.spill_enabled);
  CHECK_FALSE(stats.spill_healthy);
  CHECK_THAT(stats.spill_error, Catch::Contains(options.spill.path));

  PutRange(*store, 0, 6);
  auto got = store->Get(Key(5));
  REQUIRE(got.ok());
  CHECK(SameBytes(*got, Value(5)));
  CHECK(store->Get(Key(0)).status().IsNotFound());  // evicted, nowhere to go
  CHECK(store->Flush().ok());
  CHECK(store->Close().ok());
}

TEST_CASE("BlockStore validates its options", "[unit]") {
  StoreOptions options;
  options.spill.enabled = false;
  options.memory.capacity_bytes = 0;
  CHECK(BlockStore::Open(options).status().code() == StatusCode::kInvalidArgument);
  options.memory.capacity_bytes = kMiB;
  options.memory.eviction_policy = "fifo";
  CHECK(BlockStore::Open(options).status().code() == StatusCode::kInvalidArgument);
  options.memory.eviction_policy = "lru";
  options.spill.enabled = true;
  options.spill.capacity_bytes = 0;
  CHECK(BlockStore::Open(options).status().code() == StatusCode::kInvalidArgument);

  options.spill.enabled = false;
  auto store = BlockStore::Open(options);
  REQUIRE(store.ok());
  CHECK((*store)->SpillStatus().ok());
  CHECK_FALSE((*store)->Stats().spill_enabled);
  CHECK((*store)->Stats().spill_error.empty());
}

TEST_CASE("BlockStore accepts values up to max_value_bytes", "[unit]") {
  StoreOptions options;
  options.spill.enabled = false;
  options.memory.capacity_bytes = 4 * kMiB;
  options.max_value_bytes = 1 * kMiB;
  auto opened = BlockStore::Open(options);
  REQUIRE(opened.ok());
  BlockStore& store = **opened;

  REQUIRE(store.Put(Key(1), Value(1, 0, kMiB), 0).ok());
  auto got = store.Get(Key(1));
  REQUIRE(got.ok());
  CHECK(SameBytes(*got, Value(1, 0, kMiB)));

  Status too_big = store.Put(Key(2), Value(2, 0, kMiB + 1), 0);
  CHECK(too_big.code() == StatusCode::kRejected);
  CHECK_THAT(too_big.message(), Catch::Contains("1048577") && Catch::Contains("1048576"));
  CHECK_FALSE(store.Contains(Key(2)));

  const std::string exact(kMiB, 'x');
  CHECK(store.Put(Key(3), std::as_bytes(std::span(exact.data(), exact.size())), 0).ok());
  got = store.Get(Key(3));
  REQUIRE(got.ok());
  CHECK(got->view() == exact);
  const std::string over(kMiB + 1, 'y');
  Status rejected = store.Put(Key(4), std::as_bytes(std::span(over.data(), over.size())), 0);
  CHECK(rejected.code() == StatusCode::kRejected);
  CHECK_THAT(rejected.message(), Catch::Contains("1048577") && Catch::Contains("1048576"));
}

TEST_CASE("BlockStore Put replaces a spilled block with new bytes", "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  {
    auto store = OpenStore(options);
    PutRange(*store, 0, 10);
    REQUIRE(store->Flush().ok());
    REQUIRE(store->NeedsDiskRead(Key(2)));
    REQUIRE(store->Put(Key(2), Value(2, 1), 2).ok());
    CHECK_FALSE(store->NeedsDiskRead(Key(2)));  // the old copy left the index
    REQUIRE(store->Flush().ok());
    CHECK(store->Stats().spill.entries == 6);  // 0, 1, 3, 4, 5 and the newly evicted 6
    auto got = store->Get(Key(2));
    REQUIRE(got.ok());
    CHECK(SameBytes(*got, Value(2, 1)));
  }
  auto store = OpenStore(options);
  auto got = store->Get(Key(2));
  REQUIRE(got.ok());
  CHECK(SameBytes(*got, Value(2, 1)));
}

TEST_CASE("BlockStore PutIf: NX / XX / previous value from either tier", "[integration]") {
  using Condition = BlockStore::PutCondition;
  TempDir dir("store");
  auto store = OpenStore(Options(dir));

  // kIfAbsent stores once; kIfPresent only over an existing block.
  auto first = store->PutIf(Key(1), Value(1, 1), 0, Condition::kIfAbsent, false, false);
  REQUIRE(first.ok());
  CHECK(first->stored);
  CHECK_FALSE(first->had);
  auto again = store->PutIf(Key(1), Value(1, 2), 0, Condition::kIfAbsent, true, false);
  REQUIRE(again.ok());
  CHECK_FALSE(again->stored);
  CHECK(again->had);
  CHECK(SameBytes(again->previous, Value(1, 1)));
  auto absent = store->PutIf(Key(2), Value(2, 1), 0, Condition::kIfPresent, true, false);
  REQUIRE(absent.ok());
  CHECK_FALSE(absent->stored);
  CHECK_FALSE(absent->had);
  CHECK(store->GetFromMemory(Key(2)).status().IsNotFound());
  auto swapped = store->PutIf(Key(1), Value(1, 3), 0, Condition::kIfPresent, true, false);
  REQUIRE(swapped.ok());
  CHECK(swapped->stored);
  CHECK(SameBytes(swapped->previous, Value(1, 1)));
  CHECK(SameBytes(*store->Get(Key(1)), Value(1, 3)));

  // A previous block on disk only: refused without disk reads, read (and replaced) with.
  PutRange(*store, 10, 20);
  REQUIRE(store->Flush().ok());
  REQUIRE(store->NeedsDiskRead(Key(1)));
  auto blocked = store->PutIf(Key(1), Value(1, 4), 0, Condition::kAlways, true, false);
  REQUIRE(blocked.ok());
  CHECK(blocked->needs_disk);
  CHECK_FALSE(blocked->stored);
  CHECK(store->NeedsDiskRead(Key(1)));  // nothing changed
  // Presence alone never needs the disk.
  auto nx = store->PutIf(Key(1), Value(1, 4), 0, Condition::kIfAbsent, false, false);
  REQUIRE(nx.ok());
  CHECK_FALSE(nx->needs_disk);
  CHECK_FALSE(nx->stored);
  CHECK(nx->had);
  auto read = store->PutIf(Key(1), Value(1, 5), 0, Condition::kAlways, true, true);
  REQUIRE(read.ok());
  CHECK(read->stored);
  CHECK(SameBytes(read->previous, Value(1, 3)));
  CHECK(SameBytes(*store->Get(Key(1)), Value(1, 5)));

  // A write too large for the memory tier is refused and leaves the older block.
  StoreOptions options = Options(dir);
  const std::size_t too_big = options.memory.capacity_bytes;
  CHECK(store->Put(Key(1), Value(1, 6, too_big), 0).code() == StatusCode::kRejected);
  auto big = store->PutIf(Key(1), Value(1, 6, too_big), 0, Condition::kAlways, false, false);
  CHECK(big.status().code() == StatusCode::kRejected);
  CHECK(SameBytes(*store->Get(Key(1)), Value(1, 5)));
}

TEST_CASE("BlockStore PutIf: racing NX writers, exactly one stores each key", "[integration]") {
  TempDir dir("store");
  auto store = OpenStore(Options(dir, 64));
  constexpr int kThreads = 4;
  constexpr std::uint64_t kKeys = 600;  // more than memory holds, less than spill holds
  std::array<std::vector<std::uint8_t>, kThreads> won;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      won[t].assign(kKeys, 0);
      for (std::uint64_t i = 0; i < kKeys; ++i) {
        auto done = store->PutIf(Key(i), Value(i, static_cast<std::uint8_t>(t)), 0,
                                 BlockStore::PutCondition::kIfAbsent, false, true);
        won[t][i] = done.ok() && done->stored ? 1 : 0;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (std::uint64_t i = 0; i < kKeys; ++i) {
    int winners = 0, winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      if (won[t][i]) {
        ++winners;
        winner = t;
      }
    }
    INFO("key " << i);
    REQUIRE(winners == 1);
    auto got = store->Get(Key(i));  // many were demoted to disk meanwhile
    REQUIRE(got.ok());
    CHECK(SameBytes(*got, Value(i, static_cast<std::uint8_t>(winner))));
  }
}

TEST_CASE("BlockStore Erase and Clear reach every tier", "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  {
    auto store = OpenStore(options);
    PutRange(*store, 0, 10);
    REQUIRE(store->Flush().ok());
    REQUIRE(store->Erase(Key(1)).ok());   // spilled
    REQUIRE(store->Erase(Key(8)).ok());   // in memory
    REQUIRE(store->Erase(Key(99)).ok());  // nowhere
    CHECK_FALSE(store->Contains(Key(1)));
    CHECK_FALSE(store->Contains(Key(8)));
    CHECK(store->Get(Key(1)).status().IsNotFound());
    CHECK(store->Get(Key(8)).status().IsNotFound());
    CHECK(store->Size() == 8);
  }
  {
    auto store = OpenStore(options);
    CHECK_FALSE(store->Contains(Key(1)));
    CHECK_FALSE(store->Contains(Key(8)));
    CHECK(store->Contains(Key(0)));
    CHECK(store->Contains(Key(9)));
    CHECK(store->Size() == 8);
    REQUIRE(store->Get(Key(0)).ok());  // promoted: now in both tiers
    REQUIRE(store->Clear().ok());
    CHECK(store->Size() == 0);
    StoreStats stats = store->Stats();
    CHECK(stats.memory.entries == 0);
    CHECK(stats.spill.entries == 0);
    CHECK(stats.spill.bytes == 0);
    for (std::uint64_t i = 0; i < 10; ++i) CHECK_FALSE(store->Contains(Key(i)));
    PutRange(*store, 100, 102);
  }
  auto store = OpenStore(options);
  CHECK(store->Size() == 2);
  CHECK_FALSE(store->Contains(Key(0)));
  CHECK(store->Contains(Key(101)));
}

// Writers overwrite their own keys with ever deeper blocks, so the prefix policy evicts the
// freshest block first, often another writer's right after its Put. A block must never
// drop out of both tiers in that hand-off.
TEST_CASE("BlockStore never loses a block evicted while its Put is finishing", "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  options.memory.eviction_policy = "prefix";
  options.memory.capacity_bytes = 6 * (3 * kBlockBytes + kMemoryEntryOverheadBytes);
  options.spill.queue_bytes = 256 * kMiB;
  auto store = OpenStore(options);

  constexpr int kWriters = 4;
  constexpr int kRounds = 1500;
  constexpr std::uint64_t kKeys = 4;
  std::atomic<int> missing{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(500 + w);
      for (int i = 0; i < kRounds; ++i) {
        const std::uint64_t key = 1000 * (w + 1) + i % kKeys;
        const std::size_t size = kBlockBytes + rng() % (2 * kBlockBytes);
        MutableBuffer bytes(size);
        std::memset(bytes.data(), i & 0xff, size);
        if (!store->Put(Key(key), std::move(bytes).Freeze(), 1000 + i).ok()) ++missing;
        for (std::uint64_t k = 0; k <= std::min<std::uint64_t>(i, kKeys - 1); ++k) {
          if (!store->Contains(Key(1000 * (w + 1) + k))) ++missing;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  REQUIRE(store->Flush().ok());
  CHECK(missing == 0);
  CHECK(store->Stats().memory.demotion_drops == 0);
  CHECK(store->Stats().spill.demotion_drops == 0);
  CHECK(store->Size() == kWriters * kKeys);
}

TEST_CASE("BlockStore stays consistent under concurrent puts, gets and demotions",
          "[integration]") {
  TempDir dir("store");
  StoreOptions options = Options(dir, 32);
  options.memory.shards = 4;
  options.spill.capacity_bytes = 300 * kBlockBytes;
  options.spill.batch_bytes = 16 * kBlockBytes;
  auto store = OpenStore(options);

  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 4000;
  constexpr std::uint64_t kKeys = 400;
  std::atomic<int> bad_reads{0};
  std::atomic<int> hits{0};
  std::atomic<int> failed_puts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(1234 + t);
      for (int op = 0; op < kOpsPerThread; ++op) {
        const std::uint64_t i = rng() % kKeys;
        switch (rng() % 8) {
          case 0:
          case 1: {
            const auto version = static_cast<std::uint8_t>(rng() % 2);
            if (!store->Put(Key(i), Value(i, version), 0).ok()) ++failed_puts;
            break;
          }
          case 2:
            if (rng() % 8 == 0) {
              if (!store->Erase(Key(i)).ok()) ++failed_puts;
            } else {
              store->Contains(Key(i));
            }
            break;
          case 3: {
            auto got = store->GetFromMemory(Key(i));
            if (got.ok() && !IsValueOf(i, *got)) ++bad_reads;
            break;
          }
          default: {
            auto got = store->Get(Key(i));
            if (got.ok()) {
              ++hits;
              if (!IsValueOf(i, *got)) ++bad_reads;
            } else if (!got.status().IsNotFound()) {
              ++bad_reads;
            }
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  REQUIRE(store->Flush().ok());
  CHECK(bad_reads == 0);
  CHECK(failed_puts == 0);
  CHECK(hits > 0);

  StoreStats stats = store->Stats();
  CHECK(stats.spill.demotions > 0);
  CHECK(stats.memory.promotions > 0);
  CHECK(stats.spill.checksum_failures == 0);
  CHECK(stats.spill.io_errors == 0);
  CHECK(stats.spill.bytes <= stats.spill.capacity_bytes);
  CHECK(stats.memory.bytes <= stats.memory.capacity_bytes);
  // Once quiet, Size counts every block held exactly once.
  std::uint64_t held = 0;
  for (std::uint64_t i = 0; i < kKeys; ++i) held += store->Contains(Key(i)) ? 1 : 0;
  CHECK(store->Size() == held);
  for (std::uint64_t i = 0; i < kKeys; ++i) {
    auto got = store->Get(Key(i));
    if (got.ok()) CHECK(IsValueOf(i, *got));
  }
  REQUIRE(store->Flush().ok());
  held = 0;
  for (std::uint64_t i = 0; i < kKeys; ++i) held += store->Contains(Key(i)) ? 1 : 0;
  CHECK(store->Size() == held);
  REQUIRE(store->Close().ok());
}

}  // namespace
}  // namespace prefixcache::storage
