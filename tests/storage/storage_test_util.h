// Helpers the SpillTier and BlockStore tests share: taking a Result's value, comparing
// buffers, and opening a spill folder's RocksDB directly to damage it as a disk fault
// would. For tests only.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "prefixcache/status.h"

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

// The spill tier's RocksDB, opened with its column families ("blocks": key -> value,
// "meta": key -> SpillRecord; see spill_tier.h) while no SpillTier has it open. REQUIREs
// that opening and closing succeed.
class RawSpillDb {
 public:
  explicit RawSpillDb(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"blocks", {}}, {"meta", {}}};
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
  rocksdb::ColumnFamilyHandle* blocks() { return handles_[1]; }
  static rocksdb::Slice KeySlice(const BlockKey& key) {
    return {key.View().data(), key.View().size()};
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace prefixcache::testing
