// Helpers the SpillTier and BlockStore tests share: taking a Result's value, comparing
// buffers, and opening a spill folder's RocksDB directly to damage it as a disk fault
// would. For tests only.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "prefixcache/status.h"
#include "spill_record.h"

namespace prefixcache::testing {

// The value of `result`; REQUIREs that it has one (and shows the status if not).
template <typename T>
T RequireValue(Result<T> result) {
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  return std::move(result).value();
}

inline bool SameBytes(const Buffer& a, const Buffer& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}

// The spill tier's RocksDB, opened with its column families ("values": (seq, key) ->
// value bytes in segment files, "records": key -> SpillRecord; see spill_db.h) while no
// SpillTier has it open, with compactions off as the tier has them. REQUIREs that opening
// and closing succeed.
class RawSpillDb {
 public:
  explicit RawSpillDb(const std::string& path) {
    rocksdb::ColumnFamilyOptions values;
    values.num_levels = 2;
    values.disable_auto_compactions = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"values", values}, {"records", {}}};
    rocksdb::DB* raw = nullptr;
    rocksdb::Status opened = rocksdb::DB::Open(rocksdb::Options(), path, families, &handles_, &raw);
    INFO(opened.ToString());
    REQUIRE(opened.ok());
    db_.reset(raw);
  }
  ~RawSpillDb() {
    for (auto* handle : handles_) CHECK(db_->DestroyColumnFamilyHandle(handle).ok());
    CHECK(db_->Close().ok());
  }
  RawSpillDb(const RawSpillDb&) = delete;
  RawSpillDb& operator=(const RawSpillDb&) = delete;

  rocksdb::DB& db() { return *db_; }
  rocksdb::ColumnFamilyHandle* format() { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* values() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* records() { return handles_[2]; }
  static rocksdb::Slice KeySlice(const BlockKey& key) {
    return {key.View().data(), key.View().size()};
  }
  // The key in "values" of the (first) chunk of the block stored under `key`, from its
  // record (REQUIREd).
  std::string ValueKey(const BlockKey& key) {
    std::string raw;
    REQUIRE(db_->Get({}, records(), KeySlice(key), &raw).ok());
    std::optional<storage::SpillRecord> record = storage::SpillRecord::Decode(raw);
    REQUIRE(record.has_value());
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(record->seq >> (56 - 8 * i));
    return out + std::string(key.View()) + std::string(4, '\0');
  }
  // The first bytes of the segment file's entry for the (first) chunk of `key`'s value:
  // its internal key (ValueKey and 8 bytes of sequence number 0 and type 1) as the file
  // holds it.
  std::string EntryKey(const BlockKey& key) {
    return ValueKey(key) + std::string("\x01", 1) + std::string(7, '\0');
  }
  // The segment files of "values" (table files below level 0).
  std::size_t SegmentFiles() {
    std::vector<rocksdb::LiveFileMetaData> files;
    db_->GetLiveFilesMetaData(&files);
    return static_cast<std::size_t>(std::count_if(files.begin(), files.end(), [](const auto& f) {
      return f.column_family_name == "values" && f.level > 0;
    }));
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// The bytes of the file at `path`.
inline std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// XORs `mask` into the byte `delta` bytes past where `probe` occurs in the spill folder's
// table files, as a bad sector would, in the file itself (the tier reads values from the
// files, not through RocksDB). REQUIREs that exactly one file holds `probe`.
inline void DamageSegmentFile(const std::string& path, std::string_view probe, std::ptrdiff_t delta,
                              unsigned char mask = 0x10) {
  int damaged = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
    if (entry.path().extension() != ".sst") continue;
    std::string bytes = ReadWholeFile(entry.path());
    const std::size_t at = bytes.find(probe);
    if (at == std::string::npos) continue;
    char& byte = bytes[static_cast<std::size_t>(static_cast<std::ptrdiff_t>(at) + delta)];
    byte = static_cast<char>(static_cast<unsigned char>(byte) ^ mask);
    std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << bytes;
    ++damaged;
  }
  REQUIRE(damaged == 1);
}

}  // namespace prefixcache::testing
