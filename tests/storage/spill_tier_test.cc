#include "spill_tier.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "spill_index.h"
#include "spill_record.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace prefixcache::storage {
namespace {

using namespace prefixcache::testing;  // TempDir and storage_test_util.h

constexpr std::size_t kBlockBytes = 8192;  // a data block of its own on disk

BlockKey Key(std::uint64_t i) { return BlockKey::FromHalves(0x5b111, i); }

Block MakeBlock(std::uint64_t i, std::uint32_t depth = 0, std::size_t size = kBlockBytes,
                std::uint8_t salt = 0) {
  MutableBuffer bytes(size);
  for (std::size_t j = 0; j < size; ++j) {
    bytes.data()[j] = static_cast<std::byte>((i * 131 + j * 7 + salt) & 0xff);
  }
  return Block{std::move(bytes).Freeze(), depth};
}

SpillTierOptions Options(const TempDir& dir, std::uint64_t capacity_blocks = 1000) {
  SpillTierOptions options;
  options.path = (dir.path() / "spill").string();
  options.capacity_bytes = capacity_blocks * kBlockBytes;
  options.queue_bytes = 64 * kMiB;
  options.batch_bytes = 4 * kMiB;
  // No reopen after a failed write unless a test asks for one (retry_min_ms).
  options.retry_min_ms = 3'600'000;
  options.retry_max_ms = 3'600'000;
  return options;
}

// Waits (bounded) until the tier's health is Ok again; whether it got there is the caller's
// to check.
void AwaitHealthy(const SpillTier& tier) {
  for (int i = 0; i < 3000 && !tier.Health().ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::unique_ptr<SpillTier> OpenTier(const SpillTierOptions& options) {
  return RequireValue(SpillTier::Open(options));
}

TEST_CASE("SpillRecord encodes a versioned little-endian layout", "[unit]") {
  SpillRecord record{0x0102030405060708ull, 0x1122ull, 0xa0b0c0d0u, 0x99ull, 0x3377ull};
  const std::string raw = record.Encode();
  REQUIRE(raw.size() == SpillRecord::kEncodedBytes);
  CHECK(static_cast<unsigned char>(raw[0]) == 4);      // version
  CHECK(static_cast<unsigned char>(raw[4]) == 0xd0);   // depth, low byte first
  CHECK(static_cast<unsigned char>(raw[8]) == 0x22);   // size
  CHECK(static_cast<unsigned char>(raw[16]) == 0x08);  // checksum
  CHECK(static_cast<unsigned char>(raw[23]) == 0x01);
  CHECK(static_cast<unsigned char>(raw[24]) == 0x99);  // seq
  CHECK(static_cast<unsigned char>(raw[32]) == 0x77);  // offset
  CHECK(static_cast<unsigned char>(raw[33]) == 0x33);
  REQUIRE(SpillRecord::Decode(raw).has_value());
  CHECK(*SpillRecord::Decode(raw) == record);
  CHECK_FALSE(SpillRecord::Decode(raw.substr(1)).has_value());
  CHECK_FALSE(SpillRecord::Decode(raw + "x").has_value());
  // Every single damaged byte of the header is refused; the rest are values.
  for (std::size_t at = 0; at < 4; ++at) {
    std::string damaged = raw;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x40);
    CHECK_FALSE(SpillRecord::Decode(damaged).has_value());
  }
  // Version 1 (the BlobDB layout's 28 bytes) does not decode.
  CHECK_FALSE(SpillRecord::Decode(std::string(28, '\0')).has_value());
}

TEST_CASE("SpillIndex tracks bytes and picks the coldest victims", "[unit]") {
  SpillIndex index;
  index.OpenSegment(1);
  for (std::uint64_t i = 0; i < 5; ++i) {
    index.AppendToOpenSegment(i + 1, 100);
    index.Insert(Key(i), SpillRecord{i, 100, 0, i + 1});
  }
  CHECK(index.size() == 5);
  CHECK(index.bytes() == 500);

  index.AppendToOpenSegment(10, 40);
  index.Insert(Key(2), SpillRecord{7, 40, 3, 10});  // replaced: smaller, now the newest
  CHECK(index.size() == 5);
  CHECK(index.bytes() == 440);
  REQUIRE(index.Find(Key(2)) != nullptr);
  CHECK(index.Find(Key(2))->depth == 3);

  index.Touch(Key(0));  // read: no longer the coldest
  auto victims = index.PickVictims(index.bytes() + 100, 400, {});
  // Needs 140 bytes freed: Key(1) then Key(3) (Key(2) is newer, Key(0) was touched).
  REQUIRE(victims.size() == 2);
  CHECK(victims[0] == Key(1));
  CHECK(victims[1] == Key(3));

  SpillIndex::KeySet keep{Key(1)};
  victims = index.PickVictims(index.bytes(), 340, keep);
  REQUIRE(victims.size() == 1);
  CHECK(victims[0] == Key(3));
  CHECK(index.PickVictims(index.bytes(), index.bytes(), {}).empty());

  // Bytes inserted after each key's record: 100 x 5 first, then Key(2) again (40).
  CHECK(index.BytesInsertedSince(Key(2)) == 0);
  CHECK(index.BytesInsertedSince(Key(4)) == 40);
  CHECK(index.BytesInsertedSince(Key(0)) == 440);  // Touch does not move the write position
  CHECK(index.BytesInsertedSince(Key(99)) == 0);

  CHECK(index.Erase(Key(1)));
  CHECK_FALSE(index.Erase(Key(1)));
  CHECK(index.bytes() == 340);
  index.Clear();
  CHECK(index.empty());
  CHECK(index.bytes() == 0);
  CHECK(index.segment_count() == 0);
}

TEST_CASE("SpillIndex counts each segment's live bytes and hands back the empty ones", "[unit]") {
  SpillIndex index;
  index.AddSegment(1, 2, 300);  // on disk: more than the values (table overhead)
  index.AddSegment(3, 4, 250);
  CHECK(index.Covers(1));
  CHECK(index.Covers(4));
  CHECK_FALSE(index.Covers(5));
  index.Insert(Key(1), SpillRecord{0, 100, 0, 1});
  index.Insert(Key(2), SpillRecord{0, 100, 0, 2});
  index.Insert(Key(3), SpillRecord{0, 100, 0, 3});
  index.OpenSegment(5);
  index.AppendToOpenSegment(5, 100);
  index.Insert(Key(5), SpillRecord{0, 100, 0, 5});
  CHECK(index.segment_bytes() == 650);
  REQUIRE(index.OldestOnDiskSegment() != nullptr);
  CHECK(index.OldestOnDiskSegment()->first_seq == 1);
  std::vector<BlockKey> keys = index.KeysIn(1, 2);
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<BlockKey>{Key(1), Key(2)});

  // Segment [3, 4] empties once Key(3) is replaced by a write in the open segment.
  index.AppendToOpenSegment(6, 100);
  index.Insert(Key(3), SpillRecord{0, 100, 0, 6});
  std::vector<SpillIndex::Segment> empty = index.TakeEmptySegments();
  REQUIRE(empty.size() == 1);
  CHECK(empty[0].first_seq == 3);
  CHECK(empty[0].last_seq == 4);
  CHECK(index.segment_bytes() == 500);
  CHECK_FALSE(index.Covers(3));

  // A segment not on disk yet is never handed back, even when empty.
  index.Erase(Key(5));
  index.Erase(Key(3));
  CHECK(index.TakeEmptySegments().empty());
  index.SealOpenSegment();
  CHECK(index.open_segment() == nullptr);
  CHECK(index.TakeEmptySegments().empty());
  index.SegmentOnDisk(5);
  CHECK(index.TakeEmptySegments().size() == 1);
  index.Erase(Key(1));
  index.Erase(Key(2));
  CHECK(index.TakeEmptySegments().size() == 1);
  CHECK(index.segment_bytes() == 0);
  CHECK(index.segment_count() == 0);
}

TEST_CASE("SpillTier serves queued blocks and writes them in the background", "[integration]") {
  TempDir dir("spill");
  auto tier = OpenTier(Options(dir));
  for (std::uint64_t i = 0; i < 20; ++i) {
    tier->Enqueue(Key(i), MakeBlock(i, static_cast<std::uint32_t>(i)));
    CHECK(tier->Contains(Key(i)));  // queued or written, never absent
  }
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto got = tier->Get(Key(i));
    REQUIRE(got.ok());
    CHECK(SameBytes(got->value, MakeBlock(i).value));
  }
  REQUIRE(tier->Drain().ok());
  TierStats stats = tier->Stats();
  CHECK(stats.demotions == 20);
  CHECK(stats.entries == 20);
  CHECK(stats.bytes == 20 * kBlockBytes);
  CHECK(stats.queue_bytes == 0);
  CHECK(tier->NeedsDiskRead(Key(3)));
  auto got = tier->Get(Key(3));
  REQUIRE(got.ok());
  CHECK(got->depth == 3);
  CHECK(SameBytes(got->value, MakeBlock(3).value));
  CHECK(tier->Get(Key(99)).status().IsNotFound());

  // The same bytes again are skipped; different bytes replace.
  tier->Enqueue(Key(3), MakeBlock(3, 3));
  tier->Enqueue(Key(4), MakeBlock(4, 4, kBlockBytes / 2, 1));
  REQUIRE(tier->Drain().ok());
  stats = tier->Stats();
  CHECK(stats.demotions == 21);
  CHECK(stats.entries == 20);
  CHECK(stats.bytes == 20 * kBlockBytes - kBlockBytes / 2);
  got = tier->Get(Key(4));
  REQUIRE(got.ok());
  CHECK(SameBytes(got->value, MakeBlock(4, 4, kBlockBytes / 2, 1).value));
  CHECK(tier->Stats().checksum_failures == 0);
}

TEST_CASE("SpillTier writes an unchanged block again once its copy is old", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 10);
  {
    auto tier = OpenTier(options);
    REQUIRE(tier->Put(Key(0), MakeBlock(0)).ok());
    for (std::uint64_t i = 1; i <= 4; ++i) tier->Enqueue(Key(i), MakeBlock(i));
    // Four blocks written since: not old yet (half the capacity is five), so no write.
    tier->Enqueue(Key(0), MakeBlock(0));
    REQUIRE(tier->Drain().ok());
    CHECK(tier->Stats().demotions == 5);

    tier->Enqueue(Key(5), MakeBlock(5));
    REQUIRE(tier->Drain().ok());
    tier->Enqueue(Key(0), MakeBlock(0));  // five written since: written again
    REQUIRE(tier->Drain().ok());
    TierStats stats = tier->Stats();
    CHECK(stats.demotions == 7);
    CHECK(stats.entries == 6);
    CHECK(stats.bytes == 6 * kBlockBytes);
    tier->Enqueue(Key(0), MakeBlock(0));  // just written: skipped
    REQUIRE(tier->Flush().ok());
    CHECK(tier->Stats().demotions == 7);
  }
  // The write order survives a restart: Key(0) is now the newest copy, Key(1) the oldest.
  auto tier = OpenTier(options);
  CHECK(tier->Stats().entries == 6);
  REQUIRE(tier->Put(Key(1), MakeBlock(1)).ok());  // five written after Key(1): written again
  CHECK(tier->Stats().demotions == 1);
  REQUIRE(tier->Put(Key(0), MakeBlock(0)).ok());  // one written after Key(0): skipped
  CHECK(tier->Stats().demotions == 1);
  for (std::uint64_t i = 0; i <= 5; ++i) {
    auto got = tier->Get(Key(i));
    REQUIRE(got.ok());
    CHECK(SameBytes(got->value, MakeBlock(i).value));
  }
}

TEST_CASE("SpillTier GetQueued counts a miss only for keys held nowhere", "[integration]") {
  TempDir dir("spill");
  auto tier = OpenTier(Options(dir));
  tier->Enqueue(Key(1), MakeBlock(1));
  bool on_disk = true;
  auto got = tier->GetQueued(Key(1), &on_disk);
  CHECK(got.ok() != on_disk);  // still queued, or already written
  REQUIRE(tier->Drain().ok());
  const TierStats before = tier->Stats();
  CHECK(tier->GetQueued(Key(1), &on_disk).status().IsNotFound());
  CHECK(on_disk);  // left to Get, which counts it
  CHECK(tier->Stats().hits == before.hits);
  CHECK(tier->Stats().misses == before.misses);
  CHECK(tier->GetQueued(Key(2), &on_disk).status().IsNotFound());
  CHECK_FALSE(on_disk);
  CHECK(tier->Stats().misses == before.misses + 1);
}

TEST_CASE("SpillTier counts the keys not marked in memory", "[integration]") {
  TempDir dir("spill");
  auto tier = OpenTier(Options(dir));
  for (std::uint64_t i = 0; i < 3; ++i) tier->Enqueue(Key(i), MakeBlock(i));
  CHECK(tier->CountNotInMemory() == 3);  // queued or written, each once
  REQUIRE(tier->Drain().ok());
  CHECK(tier->CountNotInMemory() == 3);
  tier->MarkInMemory(Key(1));
  tier->MarkInMemory(Key(1));
  tier->MarkInMemory(Key(99));  // not held: no mark
  CHECK(tier->CountNotInMemory() == 2);
  tier->Enqueue(Key(1), MakeBlock(1));  // evicted from memory again
  CHECK(tier->CountNotInMemory() == 3);
  REQUIRE(tier->Drain().ok());
  CHECK(tier->CountNotInMemory() == 3);
  tier->MarkInMemory(Key(2));
  tier->Erase(Key(2));  // the key and its mark go
  CHECK(tier->CountNotInMemory() == 2);
  tier->MarkInMemory(Key(0));
  tier->MarkNotInMemory(Key(0));
  CHECK(tier->CountNotInMemory() == 2);
  tier->MarkInMemory(Key(0));
  REQUIRE(tier->Drain().ok());
  tier->Erase(Key(0));  // on disk only
  CHECK(tier->CountNotInMemory() == 1);
  tier->MarkInMemory(Key(1));
  CHECK(tier->CountNotInMemory() == 0);
  REQUIRE(tier->Clear().ok());
  tier->Enqueue(Key(5), MakeBlock(5));
  CHECK(tier->CountNotInMemory() == 1);
  REQUIRE(tier->Close().ok());
  CHECK(tier->CountNotInMemory() == 0);
}

TEST_CASE("SpillTier blocks survive a restart with depth and order", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  {
    auto tier = OpenTier(options);
    for (std::uint64_t i = 0; i < 10; ++i) {
      REQUIRE(tier->Put(Key(i), MakeBlock(i, static_cast<std::uint32_t>(i + 1))).ok());
    }
    tier->Enqueue(Key(10), MakeBlock(10, 11));
    REQUIRE(tier->Close().ok());
    CHECK(tier->Health().code() == StatusCode::kUnavailable);
    CHECK_FALSE(tier->Contains(Key(1)));
    CHECK(tier->Put(Key(1), MakeBlock(1)).code() == StatusCode::kUnavailable);
  }
  {
    auto tier = OpenTier(options);
    CHECK(tier->Stats().entries == 11);
    for (std::uint64_t i = 0; i <= 10; ++i) {
      CHECK(tier->Contains(Key(i)));
      auto got = tier->Get(Key(i));
      REQUIRE(got.ok());
      CHECK(got->depth == i + 1);
      CHECK(SameBytes(got->value, MakeBlock(i).value));
    }
  }
  // A smaller capacity on the next open trims the oldest writes at once.
  options.capacity_bytes = 4 * kBlockBytes;
  auto tier = OpenTier(options);
  TierStats stats = tier->Stats();
  CHECK(stats.entries == 4);
  CHECK(stats.evictions == 7);
  for (std::uint64_t i = 0; i <= 10; ++i) CHECK(tier->Contains(Key(i)) == (i >= 7));
}

TEST_CASE("SpillTier evicts its coldest blocks; a read refreshes a block", "[integration]") {
  TempDir dir("spill");
  auto tier = OpenTier(Options(dir, 3));
  REQUIRE(tier->Put(Key(0), MakeBlock(0)).ok());
  REQUIRE(tier->Put(Key(1), MakeBlock(1)).ok());
  REQUIRE(tier->Put(Key(2), MakeBlock(2)).ok());
  REQUIRE(tier->Get(Key(0)).ok());
  REQUIRE(tier->Put(Key(3), MakeBlock(3)).ok());
  CHECK(tier->Contains(Key(0)));
  CHECK_FALSE(tier->Contains(Key(1)));
  CHECK(tier->Stats().evictions == 1);

  // A batch larger than the capacity keeps only its newest blocks.
  for (std::uint64_t i = 10; i < 20; ++i) tier->Enqueue(Key(i), MakeBlock(i));
  REQUIRE(tier->Drain().ok());
  TierStats stats = tier->Stats();
  CHECK(stats.bytes <= stats.capacity_bytes);
  CHECK(stats.entries == 3);
  for (std::uint64_t i = 17; i < 20; ++i) CHECK(tier->Contains(Key(i)));
  CHECK(tier->Put(Key(50), MakeBlock(50, 0, 4 * kBlockBytes)).code() == StatusCode::kRejected);
}

TEST_CASE("SpillTier drops demotions past its queue bytes", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  options.queue_bytes = kBlockBytes - 1;
  auto tier = OpenTier(options);
  for (std::uint64_t i = 0; i < 5; ++i) tier->Enqueue(Key(i), MakeBlock(i));
  REQUIRE(tier->Drain().ok());
  TierStats stats = tier->Stats();
  CHECK(stats.demotion_drops == 5);
  CHECK(stats.demotions == 0);
  CHECK(stats.entries == 0);
  CHECK_FALSE(tier->Contains(Key(0)));
}

TEST_CASE("SpillTier Erase and Clear reach the disk", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  {
    auto tier = OpenTier(options);
    for (std::uint64_t i = 0; i < 6; ++i) tier->Enqueue(Key(i), MakeBlock(i));
    REQUIRE(tier->Drain().ok());
    tier->Erase(Key(0));
    tier->Erase(Key(77));  // held nowhere
    tier->Erase(Key(1));
    tier->Enqueue(Key(9), MakeBlock(9));
    tier->Erase(Key(9));  // queued, maybe already being written
    CHECK_FALSE(tier->Contains(Key(0)));
    CHECK_FALSE(tier->Contains(Key(1)));
    CHECK_FALSE(tier->Contains(Key(9)));
    CHECK(tier->Get(Key(1)).status().IsNotFound());
    std::vector<std::pair<BlockKey, KeyMetaRef>> held;
    for (int table : {1, 0}) {
      TableScan step;
      do {
        tier->ScanStep(table, step, 3, held);
      } while (step.bucket != TableScan::kDone);
    }
    CHECK(held.size() == 4);
  }
  {
    auto tier = OpenTier(options);
    CHECK(tier->Stats().entries == 4);
    CHECK_FALSE(tier->Contains(Key(0)));
    CHECK_FALSE(tier->Contains(Key(1)));
    CHECK_FALSE(tier->Contains(Key(9)));
    CHECK(tier->Contains(Key(5)));
    tier->Enqueue(Key(8), MakeBlock(8));
    REQUIRE(tier->Clear().ok());
    CHECK(tier->Stats().entries == 0);
    CHECK(tier->Stats().bytes == 0);
    CHECK_FALSE(tier->Contains(Key(8)));
    REQUIRE(tier->Put(Key(20), MakeBlock(20)).ok());
  }
  auto tier = OpenTier(options);
  CHECK(tier->Stats().entries == 1);
  CHECK(tier->Contains(Key(20)));
}

// An Erase queues the delete of the key's record for the writer; a Put right after it
// must not have its new record removed by that delete when the writer gets to it after
// the Put's segment is ingested (then the key would be held until a restart forgot it).
TEST_CASE("SpillTier keeps a block put right after its key was erased", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  options.segment_bytes = kBlockBytes;  // each Put completes a segment for the sealer
  constexpr std::uint64_t kKeys = 200;
  {
    auto tier = OpenTier(options);
    for (std::uint64_t i = 0; i < kKeys; ++i) {
      REQUIRE(tier->Put(Key(i), MakeBlock(i)).ok());
      REQUIRE(tier->Drain().ok());
      tier->Erase(Key(i));
      REQUIRE(tier->Put(Key(i), MakeBlock(i, 0, kBlockBytes, 1)).ok());
      REQUIRE(tier->Put(Key(1000 + i), MakeBlock(1000 + i)).ok());  // ingests the one before
    }
    REQUIRE(tier->Flush().ok());
    for (std::uint64_t i = 0; i < kKeys; ++i) REQUIRE(tier->Contains(Key(i)));
  }
  auto tier = OpenTier(options);
  std::uint64_t held = 0;
  for (std::uint64_t i = 0; i < kKeys; ++i) {
    auto got = tier->Get(Key(i));
    if (!got.ok()) continue;
    ++held;
    CHECK(SameBytes(got->value, MakeBlock(i, 0, kBlockBytes, 1).value));
  }
  CHECK(held == kKeys);
}

// The record decoder reads a fixed layout (SpillRecord::Decode refuses a damaged header);
// a damaged field decodes to another record, which the read then catches: a wrong size,
// checksum or seq never hands out a block, a wrong depth only misplaces it in eviction.
TEST_CASE("SpillTier never returns a wrong block whatever byte of its record is damaged",
          "[integration]") {
  for (std::size_t at = 0; at < SpillRecord::kEncodedBytes; ++at) {
    {
      // The lowest bit of even bytes, every bit of odd ones.
      const unsigned mask = at % 2 == 0 ? 0x01u : 0xffu;
      CAPTURE(at, mask);
      TempDir dir("spill");
      SpillTierOptions options = Options(dir);
      options.notice = [](const std::string&) {};
      {
        auto tier = OpenTier(options);
        REQUIRE(tier->Put(Key(1), MakeBlock(1, 3)).ok());
        REQUIRE(tier->Put(Key(2), MakeBlock(2)).ok());
      }
      {
        RawSpillDb raw(options.path);
        std::string record;
        REQUIRE(raw.db().Get({}, raw.records(), RawSpillDb::KeySlice(Key(1)), &record).ok());
        record[at] = static_cast<char>(static_cast<unsigned char>(record[at]) ^ mask);
        REQUIRE(raw.db().Put({}, raw.records(), RawSpillDb::KeySlice(Key(1)), record).ok());
      }
      auto tier = OpenTier(options);
      auto got = tier->Get(Key(1));
      if (got.ok()) {
        CHECK(SameBytes(got->value, MakeBlock(1).value));
        CHECK(at >= 4);  // a depth byte: the only field no read can check
        CHECK(at < 8);
      } else {
        CHECK((got.status().IsNotFound() || got.status().code() == StatusCode::kCorruption));
        CHECK_FALSE(tier->Contains(Key(1)));
      }
      auto other = tier->Get(Key(2));
      REQUIRE(other.ok());
      CHECK(SameBytes(other->value, MakeBlock(2).value));
    }
  }
}

TEST_CASE("SpillTier deletes a block whose entry on disk is not the one its record names",
          "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  {
    auto tier = OpenTier(options);
    REQUIRE(tier->Put(Key(1), MakeBlock(1)).ok());
    REQUIRE(tier->Put(Key(2), MakeBlock(2)).ok());
  }
  {
    // A byte of the block key in key 1's entry: the bytes there are another block's.
    RawSpillDb raw(options.path);
    DamageSegmentFile(options.path, raw.EntryKey(Key(1)), 8 + 3, 0x01);
  }
  auto tier = OpenTier(options);
  CHECK(tier->Contains(Key(1)));
  CHECK(tier->Get(Key(1)).status().code() == StatusCode::kCorruption);
  CHECK(tier->Stats().checksum_failures == 1);
  CHECK_FALSE(tier->Contains(Key(1)));
  CHECK(tier->Get(Key(2)).ok());
}

TEST_CASE("SpillTier::Open names the path and the reason when it fails", "[integration]") {
  TempDir dir("spill");
  const std::filesystem::path file = dir.path() / "plain-file";
  std::ofstream(file) << "not a folder";
  SpillTierOptions options = Options(dir);
  options.path = (file / "spill").string();
  auto tier = SpillTier::Open(options);
  REQUIRE_FALSE(tier.ok());
  CHECK(tier.status().code() == StatusCode::kIoError);
  CHECK_THAT(tier.status().message(), Catch::Contains(options.path));
  CHECK_THAT(tier.status().message(), Catch::Contains("Not a directory"));

  options.capacity_bytes = 0;
  CHECK(SpillTier::Open(options).status().code() == StatusCode::kInvalidArgument);
}

// Fails the creation of table files once `full` is set, as a full disk would, and of every
// file (the logs and manifest RocksDB opens with) while `everything` is set too.
class FullDiskFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FullDiskFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FullDiskFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    const bool data_file = name.ends_with(".sst");
    if (full && (data_file || everything)) {
      return rocksdb::IOStatus::NoSpace("injected: no space left");
    }
    return target()->NewWritableFile(name, options, file, debug);
  }
  std::atomic<bool> full{false};
  std::atomic<bool> everything{false};
};

TEST_CASE("SpillTier turns unhealthy when its writes fail and drops demotions", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  auto file_system = std::make_shared<FullDiskFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(file_system);
  {
    auto opened = SpillTier::Open(options, env.get());
    REQUIRE(opened.ok());
    SpillTier& tier = **opened;
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tier.Put(Key(i), MakeBlock(i)).ok());
    REQUIRE(tier.Flush().ok());

    file_system->full = true;
    tier.Enqueue(Key(10), MakeBlock(10));  // its segment file cannot be created
    Status flushed = tier.Flush();
    CHECK(flushed.code() == StatusCode::kIoError);
    CHECK(tier.Stats().io_errors >= 1);
    // The tier has stopped writing: the next demotion is dropped.
    tier.Enqueue(Key(11), MakeBlock(11));
    (void)tier.Drain();  // its failure is checked through Health() below
    Status health = tier.Health();
    CHECK(health.code() == StatusCode::kIoError);
    CHECK_FALSE(health.message().empty());
    TierStats stats = tier.Stats();
    CHECK(stats.demotion_drops >= 1);
    CHECK(stats.queue_bytes == 0);
    tier.Enqueue(Key(12), MakeBlock(12));
    CHECK_FALSE(tier.Contains(Key(12)));
    CHECK(tier.Stats().demotion_drops == stats.demotion_drops + 1);
    CHECK(tier.Put(Key(13), MakeBlock(13)).code() == StatusCode::kIoError);
    // Reads of what was flushed before still work.
    auto got = tier.Get(Key(1));
    REQUIRE(got.ok());
    CHECK(SameBytes(got->value, MakeBlock(1).value));
    CHECK_FALSE(tier.Close().ok());
  }
  file_system->full = false;
  auto tier = OpenTier(options);
  for (std::uint64_t i = 0; i < 3; ++i) CHECK(tier->Get(Key(i)).ok());
  CHECK(tier->Health().ok());
}

// Segment files take `space` bytes in all, then every write to them fails with "no space",
// as a disk that fills up while a segment is being written.
class FillingDiskFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FillingDiskFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FillingDiskFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus opened = target()->NewWritableFile(name, options, file, debug);
    if (opened.ok() && name.find("/incoming/") != std::string::npos) {
      *file = std::make_unique<Filling>(std::move(*file), space);
    }
    return opened;
  }
  std::atomic<std::int64_t> space{std::numeric_limits<std::int64_t>::max()};

 private:
  class Filling : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    Filling(std::unique_ptr<rocksdb::FSWritableFile> file, std::atomic<std::int64_t>& space)
        : FSWritableFileOwnerWrapper(std::move(file)), space_(space) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override {
      if (space_.fetch_sub(static_cast<std::int64_t>(data.size())) <
          static_cast<std::int64_t>(data.size())) {
        return rocksdb::IOStatus::NoSpace("injected: no space left");
      }
      return target()->Append(data, options, debug);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo&,
                             rocksdb::IODebugContext* debug) override {
      return Append(data, options, debug);
    }

   private:
    std::atomic<std::int64_t>& space_;
  };
};

TEST_CASE("SpillTier loses only the segment that a full disk cut short", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  options.segment_bytes = 4 * kBlockBytes;
  auto file_system = std::make_shared<FillingDiskFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(file_system);
  {
    auto tier = RequireValue(SpillTier::Open(options, env.get()));
    for (std::uint64_t i = 0; i < 4; ++i) tier->Enqueue(Key(i), MakeBlock(i));
    REQUIRE(tier->Drain().ok());  // one segment, on disk

    file_system->space = kBlockBytes + kBlockBytes / 2;
    for (std::uint64_t i = 4; i < 8; ++i) tier->Enqueue(Key(i), MakeBlock(i));
    CHECK(tier->Drain().code() == StatusCode::kIoError);
    CHECK(tier->Health().code() == StatusCode::kIoError);
    CHECK(tier->Stats().io_errors >= 1);
    for (std::uint64_t i = 4; i < 8; ++i) CHECK_FALSE(tier->Contains(Key(i)));
    for (std::uint64_t i = 0; i < 4; ++i) {
      auto got = tier->Get(Key(i));
      REQUIRE(got.ok());
      CHECK(SameBytes(got->value, MakeBlock(i).value));
    }
    tier->Enqueue(Key(9), MakeBlock(9));
    CHECK_FALSE(tier->Contains(Key(9)));
  }
  CHECK(std::filesystem::is_empty(std::filesystem::path(options.path) / "incoming"));
  file_system->space = std::numeric_limits<std::int64_t>::max();
  auto tier = RequireValue(SpillTier::Open(options, env.get()));
  CHECK(tier->Health().ok());
  CHECK(tier->Stats().entries == 4);
  for (std::uint64_t i = 0; i < 8; ++i) CHECK(tier->Contains(Key(i)) == (i < 4));
  tier->Enqueue(Key(9), MakeBlock(9));
  REQUIRE(tier->Drain().ok());
  CHECK(tier->Get(Key(9)).ok());
}

// Stores Key(0..3) durably, then fills the disk for every file and fails a Put: the tier is
// unhealthy, and its reopens fail (RocksDB cannot create its logs) until `full` is cleared.
void WriteThenFillDisk(SpillTier& tier, FullDiskFileSystem& file_system) {
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(tier.Put(Key(i), MakeBlock(i)).ok());
  REQUIRE(tier.Flush().ok());
  file_system.everything = true;
  file_system.full = true;
  CHECK(tier.Put(Key(10), MakeBlock(10)).code() == StatusCode::kIoError);
}

TEST_CASE("SpillTier reopens its folder after a failed write and writes again", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  options.retry_min_ms = 20;
  options.retry_max_ms = 40;
  std::vector<std::string> notices;
  std::mutex notices_mu;
  options.notice = [&](const std::string& line) {
    std::lock_guard lock(notices_mu);
    notices.push_back(line);
  };
  auto file_system = std::make_shared<FullDiskFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(file_system);
  {
    auto tier = RequireValue(SpillTier::Open(options, env.get()));
    WriteThenFillDisk(*tier, *file_system);
    tier->Erase(Key(1));  // to be deleted from the folder once it is reopened
    CHECK_FALSE(tier->Contains(Key(1)));
    file_system->full = false;
    AwaitHealthy(*tier);
    REQUIRE(tier->Health().ok());
    CHECK(tier->Stats().reopens >= 1);
    // Rebuilt from the folder: what was written before the failure, without the erased key.
    for (std::uint64_t i : {0, 2, 3}) {
      auto got = tier->Get(Key(i));
      REQUIRE(got.ok());
      CHECK(SameBytes(got->value, MakeBlock(i).value));
    }
    CHECK_FALSE(tier->Contains(Key(1)));
    CHECK_FALSE(tier->Contains(Key(10)));
    // Writing again.
    tier->Enqueue(Key(20), MakeBlock(20));
    REQUIRE(tier->Drain().ok());
    CHECK(tier->NeedsDiskRead(Key(20)));
    CHECK(tier->Get(Key(20)).ok());
    REQUIRE(tier->Close().ok());
  }
  {
    std::lock_guard lock(notices_mu);
    REQUIRE(notices.size() >= 2);
    CHECK_THAT(notices.front(), Catch::Contains("injected: no space left"));
    CHECK_THAT(notices.front(), Catch::Contains("spill writes stop"));
    CHECK_THAT(notices.back(), Catch::Contains("reopened, writing again"));
  }
  // The erase made while unhealthy reached the disk: a restart does not bring it back.
  auto tier = OpenTier(options);
  CHECK(tier->Contains(Key(0)));
  CHECK(tier->Contains(Key(20)));
  CHECK_FALSE(tier->Contains(Key(1)));
}

TEST_CASE("SpillTier applies a Clear made while unhealthy when it reopens", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir);
  auto file_system = std::make_shared<FullDiskFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(file_system);
  options.retry_min_ms = 20;
  options.retry_max_ms = 40;
  options.notice = [](const std::string&) {};
  auto tier = RequireValue(SpillTier::Open(options, env.get()));
  WriteThenFillDisk(*tier, *file_system);
  REQUIRE(tier->Clear().ok());
  file_system->full = false;
  AwaitHealthy(*tier);
  REQUIRE(tier->Health().ok());
  CHECK(tier->Stats().entries == 0);
  for (std::uint64_t i = 0; i < 4; ++i) CHECK_FALSE(tier->Contains(Key(i)));
  REQUIRE(tier->Close().ok());
  auto reopened = OpenTier(options);
  CHECK(reopened->Stats().entries == 0);
}

}  // namespace
}  // namespace prefixcache::storage
