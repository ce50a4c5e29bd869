// Expiry, key names and Scan of the BlockStore, in both tiers and across a restart on the
// spill folder; the spill record's versions. The store's clock is a test clock moved by
// hand, and the background sweep is off unless a test runs it.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "spill_record.h"
#include "storage/block_store.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace prefixcache::storage {
namespace {

using namespace prefixcache::testing;  // TempDir and storage_test_util.h

constexpr std::size_t kBlockBytes = 4096;
constexpr std::int64_t kStart = 1'700'000'000'000;  // the test clock's first reading

BlockKey Key(std::uint64_t i) { return BlockKey::FromHalves(0xe1e1, i); }

Buffer Value(std::uint64_t i) {
  MutableBuffer bytes(kBlockBytes);
  for (std::size_t j = 0; j < kBlockBytes; ++j) {
    bytes.data()[j] = static_cast<std::byte>((i * 7 + j) & 0xff);
  }
  return std::move(bytes).Freeze();
}

struct TestClock {
  std::atomic<std::int64_t> now{kStart};
  ClockMs Fn() {
    return [this] { return now.load(); };
  }
};

StoreOptions Options(const TempDir& dir, TestClock& clock, std::uint64_t memory_blocks = 4) {
  StoreOptions options;
  options.memory.capacity_bytes = memory_blocks * (kBlockBytes + kMemoryEntryOverheadBytes + 128);
  options.memory.eviction_policy = "lru";
  options.memory.shards = 2;
  options.spill.path = (dir.path() / "spill").string();
  options.spill.capacity_bytes = 4000 * kBlockBytes;
  options.spill.queue_bytes = 64 * kMiB;
  options.max_value_bytes = 1 * kMiB;
  options.expiry_sweep_interval_ms = 0;
  options.clock_ms = clock.Fn();
  return options;
}

std::unique_ptr<BlockStore> OpenStore(const StoreOptions& options) {
  return RequireValue(BlockStore::Open(options));
}

KeyOptions Expiring(std::int64_t at_ms, std::optional<std::string_view> name = std::nullopt) {
  KeyOptions key_options;
  key_options.expire_at_ms = at_ms;
  key_options.name = name;
  return key_options;
}

// Puts blocks under keys [first, last) with no expiry, pushing older blocks to spill.
void Fill(BlockStore& store, std::uint64_t first, std::uint64_t last) {
  for (std::uint64_t i = first; i < last; ++i) REQUIRE(store.Put(Key(i), Value(i), 0).ok());
}

std::set<BlockKey> ScanAll(const BlockStore& store, std::size_t count) {
  std::set<BlockKey> keys;
  std::uint64_t cursor = 0;
  do {
    BlockStore::ScanPage page = store.Scan(cursor, count);
    for (const auto& entry : page.entries) keys.insert(entry.key);
    cursor = page.next_cursor;
  } while (cursor != 0);
  return keys;
}

TEST_CASE("SpillRecord: version 4 without meta, version 5 with expiry and name", "[unit]") {
  SpillRecord plain{0x0102030405060708ull, 0x1122ull, 7, 0x99ull, 0x4000ull};
  const std::string v2 = plain.Encode();  // the record without meta
  REQUIRE(v2.size() == SpillRecord::kEncodedBytes);
  CHECK(static_cast<unsigned char>(v2[0]) == 4);
  auto back = SpillRecord::Decode(v2);
  REQUIRE(back.has_value());
  CHECK(*back == plain);
  CHECK_FALSE(back->meta);

  SpillRecord named = plain;
  named.meta = KeyMetaRef::Make(kStart + 5, "user:42");
  const std::string v3 = named.Encode();
  CHECK(static_cast<unsigned char>(v3[0]) == 5);
  CHECK(v3.size() == SpillRecord::kEncodedBytes + 12 + 7);
  CHECK(v3.compare(1, SpillRecord::kEncodedBytes - 1, v2, 1) == 0);  // v2's fields first
  back = SpillRecord::Decode(v3);
  REQUIRE(back.has_value());
  CHECK(*back == named);
  CHECK(back->meta.name() == "user:42");
  CHECK(back->meta.expire_at_ms() == kStart + 5);

  CHECK_FALSE(SpillRecord::Decode(v3.substr(0, v3.size() - 1)).has_value());  // name cut

  // An empty name is a name; an expiry alone is written with "no name".
  SpillRecord empty_name = plain;
  empty_name.meta = KeyMetaRef::Make(0, "");
  back = SpillRecord::Decode(empty_name.Encode());
  REQUIRE(back.has_value());
  CHECK(back->meta.name() == std::optional<std::string_view>(""));
  SpillRecord expiry_only = plain;
  expiry_only.meta = KeyMetaRef::Make(kStart, std::nullopt);
  back = SpillRecord::Decode(expiry_only.Encode());
  REQUIRE(back.has_value());
  CHECK_FALSE(back->meta.name().has_value());
  CHECK(back->meta.expire_at_ms() == kStart);
  std::string bad_version = v2;
  bad_version[0] = 6;
  CHECK_FALSE(SpillRecord::Decode(bad_version).has_value());
  // Spill format 2's versions (32 bytes, before the offset) do not decode.
  std::string format2 = v2.substr(0, 32);
  format2[0] = 2;
  CHECK_FALSE(SpillRecord::Decode(format2).has_value());
  std::string v2_too_long = v2 + "x";
  CHECK_FALSE(SpillRecord::Decode(v2_too_long).has_value());
}

TEST_CASE("Expiry in the memory tier: never returned, reclaimed on access and by the sweep",
          "[integration]") {
  TempDir dir("expiry");
  TestClock clock;
  auto store = OpenStore(Options(dir, clock, 100));
  REQUIRE(store->Put(Key(1), Value(1), 0, Expiring(kStart + 1000)).ok());
  REQUIRE(store->Put(Key(2), Value(2), 0, Expiring(kStart + 1000)).ok());
  REQUIRE(store->Put(Key(3), Value(3), 0).ok());
  CHECK(store->Get(Key(1)).ok());
  CHECK(RequireValue(store->ExpiryOf(Key(1))) == kStart + 1000);
  CHECK(RequireValue(store->ExpiryOf(Key(3))) == 0);
  const std::uint64_t bytes_before = store->Stats().memory.bytes;

  clock.now = kStart + 1000;  // expiry is inclusive: at the instant it is gone
  CHECK_FALSE(store->Contains(Key(1)));
  CHECK_FALSE(store->GetFromMemory(Key(1)).ok());
  CHECK(store->Get(Key(1)).status().code() == StatusCode::kNotFound);
  CHECK(store->ExpiryOf(Key(1)).status().code() == StatusCode::kNotFound);
  CHECK(store->Size() == 2);  // key 1 reclaimed by the read, key 2 not yet touched

  CHECK(store->SweepExpired(1000) == 1);  // key 2, never read
  CHECK(store->Size() == 1);
  CHECK(store->Stats().memory.bytes < bytes_before - 2 * kBlockBytes);
  CHECK(store->Get(Key(3)).ok());
  CHECK(ScanAll(*store, 10) == std::set<BlockKey>{Key(3)});
}

TEST_CASE("Expiry in the spill tier, and across a restart", "[integration]") {
  TempDir dir("expiry");
  TestClock clock;
  StoreOptions options = Options(dir, clock, 4);
  {
    auto store = OpenStore(options);
    REQUIRE(store->Put(Key(1), Value(1), 0, Expiring(kStart + 1000, "soon")).ok());
    REQUIRE(store->Put(Key(2), Value(2), 0, Expiring(kStart + 5000, "later")).ok());
    REQUIRE(store->Put(Key(3), Value(3), 0, Expiring(kStart + 1000)).ok());
    Fill(*store, 100, 120);  // pushes keys 1-3 to spill
    REQUIRE(store->Drain().ok());
    CHECK(store->NeedsDiskRead(Key(1)));
    CHECK(store->NeedsDiskRead(Key(3)));
    CHECK(RequireValue(store->ExpiryOf(Key(2))) == kStart + 5000);
    REQUIRE(store->Close().ok());
  }
  {
    // Reopened before the expiry: the blocks, their expiry and their names are back.
    auto store = OpenStore(options);
    CHECK(RequireValue(store->ExpiryOf(Key(1))) == kStart + 1000);
    CHECK(RequireValue(store->ExpiryOf(Key(2))) == kStart + 5000);
    CHECK(store->Get(Key(2)).ok());
    std::set<std::string> names;
    for (std::uint64_t cursor = 0;;) {
      auto page = store->Scan(cursor, 3);
      for (const auto& entry : page.entries) {
        if (entry.name) names.insert(*entry.name);
      }
      if ((cursor = page.next_cursor) == 0) break;
    }
    CHECK(names == std::set<std::string>{"soon", "later"});

    clock.now = kStart + 1000;
    CHECK_FALSE(store->Contains(Key(1)));
    CHECK_FALSE(store->NeedsDiskRead(Key(1)));
    CHECK(store->Get(Key(1)).status().code() == StatusCode::kNotFound);
    const std::uint64_t spilled = store->Stats().spill.entries;
    CHECK(store->SweepExpired(100000) == 1);  // key 3, never read, on disk only
    CHECK(store->Stats().spill.entries == spilled - 1);
    CHECK(store->Get(Key(2)).ok());
    REQUIRE(store->Close().ok());
  }
  {
    // Reopened after key 2's expiry: Open drops its record.
    clock.now = kStart + 6000;
    auto store = OpenStore(options);
    CHECK_FALSE(store->Contains(Key(2)));
    for (std::uint64_t i = 100; i < 120; ++i) CHECK(store->Contains(Key(i)));
    CHECK(store->Size() == 20);
  }
}

TEST_CASE("SetExpiry conditions, Persist and KEEPTTL", "[integration]") {
  TempDir dir("expiry");
  TestClock clock;
  auto store = OpenStore(Options(dir, clock, 100));
  using C = BlockStore::ExpireCondition;
  CHECK(store->SetExpiry(Key(9), kStart + 10, C::kAlways).status().code() == StatusCode::kNotFound);
  REQUIRE(store->Put(Key(1), Value(1), 0).ok());
  CHECK_FALSE(RequireValue(store->SetExpiry(Key(1), kStart + 100, C::kIfSome)));   // XX
  CHECK_FALSE(RequireValue(store->SetExpiry(Key(1), kStart + 100, C::kIfLater)));  // GT: none is ∞
  CHECK(RequireValue(store->SetExpiry(Key(1), kStart + 100, C::kIfSooner)));       // LT
  CHECK_FALSE(RequireValue(store->SetExpiry(Key(1), kStart + 50, C::kIfNone)));    // NX
  CHECK_FALSE(RequireValue(store->SetExpiry(Key(1), kStart + 50, C::kIfLater)));
  CHECK(RequireValue(store->SetExpiry(Key(1), kStart + 200, C::kIfLater)));
  CHECK(RequireValue(store->ExpiryOf(Key(1))) == kStart + 200);

  // KEEPTTL keeps it through a rewrite; a plain Put drops it.
  KeyOptions keep;
  keep.keep_ttl = true;
  REQUIRE(store->Put(Key(1), Value(11), 0, keep).ok());
  CHECK(RequireValue(store->ExpiryOf(Key(1))) == kStart + 200);
  REQUIRE(store->Put(Key(1), Value(12), 0).ok());
  CHECK(RequireValue(store->ExpiryOf(Key(1))) == 0);

  CHECK_FALSE(RequireValue(store->Persist(Key(1))));
  REQUIRE(store->SetExpiry(Key(1), kStart + 300, C::kAlways).ok());
  CHECK(RequireValue(store->Persist(Key(1))));
  CHECK(RequireValue(store->ExpiryOf(Key(1))) == 0);
  clock.now = kStart + 1000;
  CHECK(store->Contains(Key(1)));

  // An expiry in the past erases the key.
  CHECK(RequireValue(store->SetExpiry(Key(1), kStart + 999, C::kAlways)));
  CHECK_FALSE(store->Contains(Key(1)));
  CHECK(store->Size() == 0);
}

TEST_CASE("An expiry set on a spilled block is written to its record", "[integration]") {
  TempDir dir("expiry");
  TestClock clock;
  StoreOptions options = Options(dir, clock, 4);
  {
    auto store = OpenStore(options);
    Fill(*store, 0, 20);
    REQUIRE(store->Drain().ok());
    REQUIRE(store->NeedsDiskRead(Key(0)));
    REQUIRE(store->Get(Key(1)).ok());  // promoted: in both tiers
    using C = BlockStore::ExpireCondition;
    REQUIRE(RequireValue(store->SetExpiry(Key(0), kStart + 500, C::kAlways)));
    REQUIRE(RequireValue(store->SetExpiry(Key(1), kStart + 500, C::kAlways)));
    REQUIRE(RequireValue(store->SetExpiry(Key(2), kStart + 9000, C::kAlways)));
    REQUIRE(RequireValue(store->Persist(Key(2))));
    REQUIRE(store->Flush().ok());
    REQUIRE(store->Close().ok());
  }
  {
    auto store = OpenStore(options);
    CHECK(RequireValue(store->ExpiryOf(Key(0))) == kStart + 500);
    CHECK(RequireValue(store->ExpiryOf(Key(1))) == kStart + 500);
    CHECK(RequireValue(store->ExpiryOf(Key(2))) == 0);
    REQUIRE(store->Close().ok());
  }
  clock.now = kStart + 500;
  auto store = OpenStore(options);
  CHECK_FALSE(store->Contains(Key(0)));
  CHECK_FALSE(store->Contains(Key(1)));
  CHECK(store->Contains(Key(2)));
}

TEST_CASE("A spill folder of records written before expiry reads as no expiry, no name",
          "[integration]") {
  TempDir dir("expiry");
  TestClock clock;
  StoreOptions options = Options(dir, clock, 2);
  {
    auto store = OpenStore(options);
    REQUIRE(store->Put(Key(1), Value(1), 3, Expiring(kStart + 100, "named")).ok());
    Fill(*store, 10, 14);
    REQUIRE(store->Close().ok());
  }
  {
    // Key 1's record rewritten without its meta: version 4, 40 bytes, as a block without
    // expiry is written.
    RawSpillDb raw(options.spill.path);
    std::string bytes;
    REQUIRE(raw.db().Get({}, raw.records(), RawSpillDb::KeySlice(Key(1)), &bytes).ok());
    REQUIRE(static_cast<unsigned char>(bytes[0]) == SpillRecord::kVersionWithMeta);
    std::string old_format = bytes.substr(0, SpillRecord::kEncodedBytes);
    old_format[0] = static_cast<char>(SpillRecord::kVersion);
    REQUIRE(raw.db().Put({}, raw.records(), RawSpillDb::KeySlice(Key(1)), old_format).ok());
  }
  clock.now = kStart + 1000;  // past the expiry the old record never had
  auto store = OpenStore(options);
  CHECK(RequireValue(store->ExpiryOf(Key(1))) == 0);
  Result<Buffer> value = store->Get(Key(1));
  REQUIRE(value.ok());
  CHECK(SameBytes(*value, Value(1)));
  bool found = false;
  for (std::uint64_t cursor = 0;;) {
    auto page = store->Scan(cursor, 100);
    for (const auto& entry : page.entries) {
      if (entry.key == Key(1)) {
        found = true;
        CHECK_FALSE(entry.name);
      }
    }
    if ((cursor = page.next_cursor) == 0) break;
  }
  CHECK(found);
}

TEST_CASE("Scan pages through both tiers; count 0 counts as 1", "[integration]") {
  TempDir dir("scan");
  TestClock clock;
  auto store = OpenStore(Options(dir, clock, 8));
  CHECK(store->Scan(0, 10).entries.empty());
  CHECK(store->Scan(0, 10).next_cursor == 0);
  std::set<BlockKey> held;
  for (std::uint64_t i = 0; i < 60; ++i) {
    REQUIRE(store->Put(Key(i), Value(i), 0, Expiring(0, "k" + std::to_string(i))).ok());
    held.insert(Key(i));
  }
  for (std::size_t count : {0, 1, 7, 1000}) {
    CHECK(ScanAll(*store, count) == held);
  }
  REQUIRE(store->Drain().ok());
  CHECK(ScanAll(*store, 5) == held);
  // A cursor that is not this store's ends the scan.
  CHECK(store->Scan(~std::uint64_t{0}, 10).next_cursor == 0);
}

TEST_CASE("Scan while keys are added and evicted returns every key held throughout",
          "[integration]") {
  TempDir dir("scan");
  TestClock clock;
  StoreOptions options = Options(dir, clock, 16);
  options.memory.shards = 4;
  auto store = OpenStore(options);
  // Keys held from the first call to the last: 200, most of them spilled as the writer
  // thread adds more, which evicts the stable ones from memory down into spill.
  Fill(*store, 0, 200);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::uint64_t i = 10000;
    while (!stop.load()) {
      if (!store->Put(Key(i), Value(i), 0).ok()) break;
      if (i % 3 == 0) (void)store->Get(Key(i % 200));  // promotions of stable keys
      ++i;
    }
  });
  std::set<BlockKey> seen;
  for (int round = 0; round < 3; ++round) {
    seen.clear();
    std::uint64_t cursor = 0;
    do {
      auto page = store->Scan(cursor, 5);
      for (const auto& entry : page.entries) seen.insert(entry.key);
      cursor = page.next_cursor;
    } while (cursor != 0);
    for (std::uint64_t i = 0; i < 200; ++i) {
      INFO("round " << round << " key " << i);
      CHECK(seen.contains(Key(i)));
    }
  }
  stop = true;
  writer.join();
}

TEST_CASE("The background sweep drops expired blocks nobody reads", "[integration]") {
  TempDir dir("expiry");
  TestClock clock;
  StoreOptions options = Options(dir, clock, 4);
  options.expiry_sweep_interval_ms = 5;
  auto store = OpenStore(options);
  for (std::uint64_t i = 0; i < 20; ++i) {
    REQUIRE(store->Put(Key(i), Value(i), 0, Expiring(kStart + 10)).ok());
  }
  Fill(*store, 100, 102);
  REQUIRE(store->Drain().ok());
  clock.now = kStart + 10;
  // Waits for the sweep (an event, not a time bound): the test times out if it never runs.
  while (store->Size() != 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(store->Contains(Key(100)));
  CHECK(store->Contains(Key(101)));
}

}  // namespace
}  // namespace prefixcache::storage
