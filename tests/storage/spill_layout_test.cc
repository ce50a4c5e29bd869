// The spill tier's on-disk layout (spill format 3, spill_db.h): segments and their
// deletion, damage to the files on disk, recovery from lost records or segments, and
// folders of other formats.
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "spill_record.h"
#include "spill_tier.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace prefixcache::storage {
namespace {

using namespace prefixcache::testing;  // TempDir and storage_test_util.h

constexpr std::size_t kBlockBytes = 8192;

BlockKey Key(std::uint64_t i) { return BlockKey::FromHalves(0x1a7, i); }

// Pseudo-random bytes of block i (fixed seed), so no run of them appears in another block.
Block MakeBlock(std::uint64_t i, std::size_t size = kBlockBytes) {
  MutableBuffer bytes(size);
  std::mt19937_64 rng(i);
  for (std::size_t j = 0; j < size; ++j) bytes.data()[j] = static_cast<std::byte>(rng() & 0xff);
  return Block{std::move(bytes).Freeze(), static_cast<std::uint32_t>(i)};
}

// Segments of four blocks, so a few writes make several segment files.
SpillTierOptions Options(const TempDir& dir, std::uint64_t capacity_blocks) {
  SpillTierOptions options;
  options.path = (dir.path() / "spill").string();
  options.capacity_bytes = capacity_blocks * kBlockBytes;
  options.segment_bytes = 4 * kBlockBytes;
  options.queue_bytes = 64 * kMiB;
  return options;
}

std::unique_ptr<SpillTier> OpenTier(const SpillTierOptions& options) {
  return RequireValue(SpillTier::Open(options));
}

// Puts blocks 0 .. count-1 into a tier on the folder, then closes it.
void WriteBlocks(const SpillTierOptions& options, std::uint64_t count) {
  auto tier = OpenTier(options);
  for (std::uint64_t i = 0; i < count; ++i) REQUIRE(tier->Put(Key(i), MakeBlock(i)).ok());
  REQUIRE(tier->Close().ok());
}

// Flips one byte in the middle of `value`'s bytes in whichever segment file holds them, as
// a bad sector would.
void DamageOnDisk(const std::string& path, const Buffer& value) {
  DamageSegmentFile(path, value.view().substr(value.size() / 2, 64), 7);
}

std::vector<std::string> ColumnFamilies(const std::string& path) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("SpillTier detects a data block damaged on disk and drops it", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 100);
  WriteBlocks(options, 10);
  DamageOnDisk(options.path, MakeBlock(3).value);
  {
    auto tier = OpenTier(options);
    CHECK(tier->Contains(Key(3)));
    CHECK(tier->Get(Key(3)).status().code() == StatusCode::kCorruption);
    CHECK(tier->Stats().checksum_failures == 1);
    CHECK_FALSE(tier->Contains(Key(3)));
    for (std::uint64_t i = 0; i < 10; ++i) {
      if (i == 3) continue;
      auto got = tier->Get(Key(i));
      REQUIRE(got.ok());
      CHECK(SameBytes(got->value, MakeBlock(i).value));
    }
  }
  // Its record is deleted too, so a restart does not bring it back.
  auto tier = OpenTier(options);
  CHECK_FALSE(tier->Contains(Key(3)));
  CHECK(tier->Stats().entries == 9);
}

TEST_CASE("SpillTier reads a block of many chunks, and one whose chunk is misplaced drops it",
          "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 1000);
  const std::size_t large = 600 * 1024 + 5;  // three chunks of up to 256 KiB
  {
    auto tier = OpenTier(options);
    REQUIRE(tier->Put(Key(1), MakeBlock(1, large)).ok());
    REQUIRE(tier->Put(Key(2), MakeBlock(2, large)).ok());
    REQUIRE(tier->Put(Key(3), MakeBlock(3, 0)).ok());
    REQUIRE(tier->Drain().ok());
    for (std::uint64_t i = 1; i <= 2; ++i) {
      auto got = tier->Get(Key(i));
      REQUIRE(got.ok());
      CHECK(SameBytes(got->value, MakeBlock(i, large).value));
    }
    auto empty = tier->Get(Key(3));
    REQUIRE(empty.ok());
    CHECK(empty->value.size() == 0);
  }
  {
    // The last chunk's entry in the file names another chunk (a byte of its key changed),
    // as if the record pointed at the wrong place.
    RawSpillDb raw(options.path);
    std::string last_chunk = raw.EntryKey(Key(2));
    last_chunk[8 + BlockKey::kSize + 3] = 2;
    DamageSegmentFile(options.path, last_chunk, 8 + 5, 0x01);
  }
  std::vector<std::string> notices;
  options.notice = [&](const std::string& line) { notices.push_back(line); };
  auto tier = OpenTier(options);
  CHECK(tier->Get(Key(2)).status().code() == StatusCode::kCorruption);
  CHECK_FALSE(tier->Contains(Key(2)));
  REQUIRE(notices.size() == 1);
  CHECK_THAT(notices[0], Catch::Contains("chunk 2: another entry at offset"));
  auto first = tier->Get(Key(1));
  REQUIRE(first.ok());
  CHECK(SameBytes(first->value, MakeBlock(1, large).value));
}

TEST_CASE("SpillTier deletes a segment file once it holds no block", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 8);
  {
    auto tier = OpenTier(options);
    // Three segments of four; the capacity keeps the newest eight blocks.
    for (std::uint64_t i = 0; i < 12; ++i) REQUIRE(tier->Put(Key(i), MakeBlock(i)).ok());
    REQUIRE(tier->Flush().ok());
    CHECK(tier->Stats().evictions == 4);
    for (std::uint64_t i = 0; i < 12; ++i) CHECK(tier->Contains(Key(i)) == (i >= 4));
  }
  RawSpillDb raw(options.path);
  CHECK(raw.SegmentFiles() == 2);
}

TEST_CASE("SpillTier evicts the oldest segment whole once dead values pass the disk limit",
          "[integration]") {
  // Capacity 8 blocks, segments of 4: the segments may take 8 + 8 / 8 + 2 x 4 = 17 blocks.
  // Reading the first block of every segment keeps each segment alive (LRU), so dead
  // values pile up in old segments until the oldest goes with its live block.
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 8);
  {
    auto tier = OpenTier(options);
    for (std::uint64_t round = 0; round < 4; ++round) {
      for (std::uint64_t i = 4 * round; i < 4 * round + 4; ++i) {
        REQUIRE(tier->Put(Key(i), MakeBlock(i)).ok());
      }
      REQUIRE(tier->Drain().ok());  // the segment is on disk
      for (std::uint64_t first = 0; first <= 4 * round; first += 4) {
        REQUIRE(tier->Get(Key(first)).ok());
      }
    }
    // Coldest first: 1, 2, 3, 5 (round 2), 6, 7, 9, 10 (round 3); read blocks stay.
    CHECK(tier->Stats().evictions == 8);
    REQUIRE(tier->Put(Key(16), MakeBlock(16)).ok());  // 17 blocks of segments: at the limit
    CHECK(tier->Contains(Key(0)));
    CHECK(tier->Stats().evictions == 9);              // Key(11), by capacity
    REQUIRE(tier->Put(Key(17), MakeBlock(17)).ok());  // past it: the oldest segment goes
    CHECK_FALSE(tier->Contains(Key(0)));
    CHECK_FALSE(tier->Contains(Key(13)));  // by capacity
    CHECK(tier->Contains(Key(4)));
    CHECK(tier->Contains(Key(14)));
    CHECK(tier->Stats().evictions == 11);
    CHECK(tier->Stats().entries == 7);
  }
  {
    RawSpillDb raw(options.path);
    CHECK(raw.SegmentFiles() == 4);  // blocks 4, 8, 12 and 16 each keep one alive
  }
  auto tier = OpenTier(options);
  CHECK(tier->Stats().entries == 7);
  CHECK_FALSE(tier->Contains(Key(0)));
  CHECK(tier->Get(Key(4)).ok());
}

// The tail of a segment file (RocksDB's index, meta blocks and footer) is read only by
// RocksDB, when it opens the table: the few it opens at DB::Open find the damage by their
// checksums and the folder starts empty (a cache may forget); the others are never parsed,
// and their values read on. Either way no wrong block, and the tier writes on.
TEST_CASE("SpillTier survives damage to the tail of every segment file", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 100);
  WriteBlocks(options, 20);
  int damaged = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(options.path)) {
    if (entry.path().extension() != ".sst") continue;
    std::string bytes = ReadWholeFile(entry.path());
    if (bytes.size() < 4 * kBlockBytes) continue;  // the records' tables, not segments
    // Every byte after the last value: the index, meta blocks and footer.
    std::size_t tail = bytes.size() - 1024;
    for (std::uint64_t i = 0; i < 20; ++i) {
      const std::string end(MakeBlock(i).value.view().substr(kBlockBytes - 64, 64));
      const std::size_t at = bytes.find(end);
      if (at != std::string::npos) tail = std::max<std::size_t>(tail, at + 64);
    }
    tail = std::min(tail, bytes.size() - 1024);
    for (std::size_t at = tail; at < bytes.size(); ++at) bytes[at] = static_cast<char>(~bytes[at]);
    std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << bytes;
    ++damaged;
  }
  REQUIRE(damaged >= 2);
  std::vector<std::string> notices;
  options.notice = [&](const std::string& line) { notices.push_back(line); };
  auto tier = OpenTier(options);
  std::uint64_t exact = 0;
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto got = tier->Get(Key(i));
    if (!got.ok()) continue;
    CHECK(SameBytes(got->value, MakeBlock(i).value));  // never a wrong block
    ++exact;
  }
  INFO(exact << " of 20 read back; " << (notices.empty() ? std::string("no notice") : notices[0]));
  if (notices.empty()) {
    CHECK(exact == 20);
  } else {
    REQUIRE(notices.size() == 1);
    CHECK_THAT(notices[0], Catch::Contains("unreadable"));
    CHECK(exact == 0);
  }
  // Still writing, and a new segment reads back.
  REQUIRE(tier->Put(Key(100), MakeBlock(100)).ok());
  REQUIRE(tier->Drain().ok());
  auto fresh = tier->Get(Key(100));
  REQUIRE(fresh.ok());
  CHECK(SameBytes(fresh->value, MakeBlock(100).value));
}

TEST_CASE("SpillTier forgets records whose segment is gone, and segments without records",
          "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 100);
  WriteBlocks(options, 12);
  {
    // As a crash can leave them: the first segment's file deleted without its records,
    // the second's records lost while its file stays.
    RawSpillDb raw(options.path);
    const std::string end = raw.ValueKey(Key(4));
    const rocksdb::Slice end_slice(end);
    REQUIRE(rocksdb::DeleteFilesInRange(&raw.db(), raw.values(), nullptr, &end_slice).ok());
    for (std::uint64_t i = 4; i < 8; ++i) {
      REQUIRE(raw.db().Delete({}, raw.records(), RawSpillDb::KeySlice(Key(i))).ok());
    }
    CHECK(raw.SegmentFiles() == 2);
  }
  {
    auto tier = OpenTier(options);
    for (std::uint64_t i = 0; i < 12; ++i) CHECK(tier->Contains(Key(i)) == (i >= 8));
    CHECK(tier->Stats().checksum_failures == 0);
    for (std::uint64_t i = 8; i < 12; ++i) CHECK(tier->Get(Key(i)).ok());
    REQUIRE(tier->Put(Key(20), MakeBlock(20)).ok());  // a new seq, past every file's
  }
  RawSpillDb raw(options.path);
  CHECK(raw.SegmentFiles() == 2);
}

TEST_CASE("SpillTier drops a record that does not decode", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 100);
  WriteBlocks(options, 3);
  {
    RawSpillDb raw(options.path);
    REQUIRE(raw.db().Put({}, raw.records(), RawSpillDb::KeySlice(Key(1)), "not a record").ok());
  }
  auto tier = OpenTier(options);
  CHECK(tier->Stats().checksum_failures == 1);
  CHECK(tier->Stats().entries == 2);
  CHECK_FALSE(tier->Contains(Key(1)));
  CHECK(tier->Get(Key(2)).ok());
}

// A folder as the BlobDB layout (spill format 1) left it: "blocks" with values in blob
// files, "meta" with 28-byte records.
void WriteFormatOneFolder(const std::string& path) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.atomic_flush = true;
  rocksdb::ColumnFamilyOptions blocks;
  blocks.enable_blob_files = true;
  blocks.min_blob_size = 4096;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"blocks", blocks}, {"meta", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(db_options, path, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (std::uint64_t i = 0; i < 5; ++i) {
    REQUIRE(db->Put({}, handles[1], RawSpillDb::KeySlice(Key(i)), MakeBlock(i).value.view()).ok());
    REQUIRE(db->Put({}, handles[2], RawSpillDb::KeySlice(Key(i)), std::string(28, 'r')).ok());
  }
  REQUIRE(db->Flush(rocksdb::FlushOptions(), {handles[1], handles[2]}).ok());
  for (auto* handle : handles) REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
  REQUIRE(db->Close().ok());
}

std::size_t CountFiles(const std::string& path, const std::string& extension) {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
    if (entry.path().extension() == extension) ++count;
  }
  return count;
}

TEST_CASE("SpillTier discards a folder of the BlobDB format with one notice", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 100);
  WriteFormatOneFolder(options.path);
  REQUIRE(CountFiles(options.path, ".blob") > 0);
  std::vector<std::string> notices;
  options.notice = [&](const std::string& line) { notices.push_back(line); };
  {
    auto tier = OpenTier(options);
    REQUIRE(notices.size() == 1);
    CHECK_THAT(notices[0], Catch::Contains(options.path));
    CHECK_THAT(notices[0], Catch::Contains("spill format 1"));
    CHECK_THAT(notices[0], Catch::Contains("about 5"));
    CHECK(tier->Stats().entries == 0);
    for (std::uint64_t i = 0; i < 5; ++i) CHECK_FALSE(tier->Contains(Key(i)));
    CHECK(tier->Get(Key(1)).status().IsNotFound());
    REQUIRE(tier->Put(Key(1), MakeBlock(1)).ok());
  }
  CHECK(ColumnFamilies(options.path) == std::vector<std::string>{"default", "records", "values"});
  CHECK(CountFiles(options.path, ".blob") == 0);
  auto tier = OpenTier(options);
  CHECK(notices.size() == 1);  // upgraded once
  auto got = tier->Get(Key(1));
  REQUIRE(got.ok());
  CHECK(SameBytes(got->value, MakeBlock(1).value));
}

// Spill format 2 read values through RocksDB and its records did not say where a value
// lies: such a folder (here, this format's folder marked "2" with records of that format's
// 32 bytes) is emptied at Open with one notice.
TEST_CASE("SpillTier discards a folder of spill format 2 with one notice", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 100);
  WriteBlocks(options, 5);
  {
    RawSpillDb raw(options.path);
    REQUIRE(raw.db().Put({}, raw.format(), "prefixcache.spill.format", "2").ok());
    for (std::uint64_t i = 0; i < 5; ++i) {
      std::string record;
      REQUIRE(raw.db().Get({}, raw.records(), RawSpillDb::KeySlice(Key(i)), &record).ok());
      record.resize(32);
      record[0] = 2;
      REQUIRE(raw.db().Put({}, raw.records(), RawSpillDb::KeySlice(Key(i)), record).ok());
    }
    REQUIRE(raw.SegmentFiles() > 0);
  }
  std::vector<std::string> notices;
  options.notice = [&](const std::string& line) { notices.push_back(line); };
  {
    auto tier = OpenTier(options);
    REQUIRE(notices.size() == 1);
    CHECK_THAT(notices[0], Catch::Contains(options.path));
    CHECK_THAT(notices[0], Catch::Contains("spill format 2"));
    CHECK_THAT(notices[0], Catch::Contains("discarded"));
    CHECK(tier->Stats().entries == 0);
    for (std::uint64_t i = 0; i < 5; ++i) CHECK(tier->Get(Key(i)).status().IsNotFound());
    REQUIRE(tier->Put(Key(1), MakeBlock(1)).ok());
  }
  {
    RawSpillDb raw(options.path);
    std::string format;
    REQUIRE(raw.db().Get({}, raw.format(), "prefixcache.spill.format", &format).ok());
    CHECK(format == "3");
  }
  auto tier = OpenTier(options);
  CHECK(notices.size() == 1);  // upgraded once
  auto got = tier->Get(Key(1));
  REQUIRE(got.ok());
  CHECK(SameBytes(got->value, MakeBlock(1).value));
}

TEST_CASE("SpillTier refuses a folder of a newer format or of something else", "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 100);
  std::vector<std::string> notices;
  options.notice = [&](const std::string& line) { notices.push_back(line); };
  SECTION("a newer format: left as it was") {
    {
      auto tier = OpenTier(options);
      REQUIRE(tier->Put(Key(1), MakeBlock(1)).ok());
    }
    {
      RawSpillDb raw(options.path);
      REQUIRE(raw.db().Put({}, raw.format(), "prefixcache.spill.format", "4").ok());
    }
    auto tier = SpillTier::Open(options);
    REQUIRE_FALSE(tier.ok());
    CHECK(tier.status().code() == StatusCode::kIoError);
    CHECK_THAT(tier.status().message(), Catch::Contains("spill format 4"));
    RawSpillDb raw(options.path);
    std::string format;
    REQUIRE(raw.db().Get({}, raw.format(), "prefixcache.spill.format", &format).ok());
    CHECK(format == "4");
    CHECK(raw.SegmentFiles() == 1);
  }
  SECTION("a later format with a column family of its own") {
    OpenTier(options).reset();
    {
      RawSpillDb raw(options.path);
      rocksdb::ColumnFamilyHandle* family = nullptr;
      REQUIRE(raw.db().CreateColumnFamily({}, "expiry", &family).ok());
      REQUIRE(raw.db().DestroyColumnFamilyHandle(family).ok());
    }
    auto tier = SpillTier::Open(options);
    REQUIRE_FALSE(tier.ok());
    CHECK_THAT(tier.status().message(), Catch::Contains("later spill format"));
    CHECK(ColumnFamilies(options.path) ==
          std::vector<std::string>{"default", "expiry", "records", "values"});
  }
  SECTION("another program's RocksDB") {
    rocksdb::Options other;
    other.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(other, options.path, &raw).ok());
    rocksdb::ColumnFamilyHandle* family = nullptr;
    REQUIRE(raw->CreateColumnFamily({}, "orders", &family).ok());
    REQUIRE(raw->DestroyColumnFamilyHandle(family).ok());
    delete raw;
    auto tier = SpillTier::Open(options);
    REQUIRE_FALSE(tier.ok());
    CHECK_THAT(tier.status().message(), Catch::Contains("not a prefixcache spill folder"));
    CHECK(ColumnFamilies(options.path) == std::vector<std::string>{"default", "orders"});
  }
  CHECK(notices.empty());
}

TEST_CASE("SpillTier starts empty, with one notice, on a folder RocksDB reports corrupt",
          "[integration]") {
  TempDir dir("spill");
  SpillTierOptions options = Options(dir, 100);
  WriteBlocks(options, 8);
  // A table file lost from under RocksDB (a disk fault, a careless clean-up).
  std::vector<std::filesystem::path> tables;
  for (const auto& entry : std::filesystem::directory_iterator(options.path)) {
    if (entry.path().extension() == ".sst") tables.push_back(entry.path());
  }
  REQUIRE_FALSE(tables.empty());
  std::filesystem::remove(tables.front());
  std::vector<std::string> notices;
  options.notice = [&](const std::string& line) { notices.push_back(line); };
  auto tier = OpenTier(options);
  REQUIRE(notices.size() == 1);
  CHECK_THAT(notices[0], Catch::Contains("discarded"));
  CHECK(tier->Stats().entries == 0);
  REQUIRE(tier->Put(Key(1), MakeBlock(1)).ok());
  CHECK(tier->Get(Key(1)).ok());
}

}  // namespace
}  // namespace prefixcache::storage
