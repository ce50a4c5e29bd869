// SpillDb: the spill tier's RocksDB folder in its on-disk layout (spill format 2), below
// SpillTier's queue and index. Private to storage/.
//
// Column families:
// - "values": block bytes, in chunks of up to 256 KiB under (write seq, block key, chunk
//   index), big-endian, in table files that SpillDb writes itself, one "segment" of
//   consecutive writes per file, and ingests into RocksDB's last level. Nothing ever
//   compacts or rewrites them: a segment leaves whole (DeleteSegment) once the tier holds
//   none of its values. No compression; RocksDB's block checksum is XXH3, which guards its
//   index and meta blocks; the values are checked by the tier's own XXH3 on every read.
// - "records": block key -> SpillRecord (version 2, or 3 with an expiry or a name), written
//   with the write-ahead log.
// - "default": the format marker, "prefixcache.spill.format" -> "2".
// A value is ingested (its file synced) before its record is written, so a record never
// names a value that was not on disk; a value whose record is lost (crash) is forgotten,
// and its segment deleted, at the next Open.
//
// Thread-safety: ReadValue, Segments, ScanRecords, FlushRecords and FinishSegment may run
// at once with anything but Close and the destructor; every other method must be
// serialised by the caller (SpillTier holds its write lock). Segments must be destroyed
// or finished before Close.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/status.h"
#include "spill_record.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
class SstFileWriter;
}  // namespace rocksdb

namespace prefixcache::storage {

class SpillDb {
 public:
  // One line for the operator's log (a folder upgraded or discarded).
  using Notice = std::function<void(const std::string&)>;

  struct SegmentFile {
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    std::uint64_t bytes = 0;  // the file's size
  };

  // Opens `path` (creating it and missing parent folders). A folder of an earlier format
  // (format 1: BlobDB, column families "blocks" and "meta") is emptied of it, and one
  // notice says so; so is a folder of this format that RocksDB reports corrupt. IoError
  // naming the path and the reason when the folder cannot be opened, was written by a
  // newer format, or is not a spill folder at all (other column families); the folder is
  // left as it was then. `env` (not owned, may be nullptr for the default) must outlive
  // the SpillDb.
  static Result<std::unique_ptr<SpillDb>> Open(const std::string& path, rocksdb::Env* env,
                                               const Notice& notice);

  // Deletes the folder's RocksDB files and leftovers (for a folder that failed to load).
  // Must not be open.
  static Status Destroy(const std::string& path, rocksdb::Env* env);

  // Calls Close().
  ~SpillDb();
  SpillDb(const SpillDb&) = delete;
  SpillDb& operator=(const SpillDb&) = delete;

  // One segment file being written. Destroying it before FinishSegment removes the file.
  class Segment {
   public:
    ~Segment();
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;

   private:
    friend class SpillDb;
    Segment() = default;
    std::unique_ptr<rocksdb::SstFileWriter> writer;
    std::string path;
  };

  // --- Segments. Begin, then Append in increasing seq, then Finish (or destroy).
  // A new segment file for the writes from `first_seq` on. IoError if it cannot be
  // created.
  Result<std::unique_ptr<Segment>> BeginSegment(std::uint64_t first_seq);
  // Appends one value (seq above the previous one's). IoError on a write failure, after
  // which the segment can only be destroyed.
  Status Append(Segment& segment, const BlockKey& key, std::uint64_t seq,
                std::span<const std::byte> value);
  // Completes the segment, syncs it and ingests it: its values are readable from then on.
  // IoError (and the file is removed) on failure. Safe on another thread than the one
  // appending to the next segment, at once with every method but Close.
  Status FinishSegment(std::unique_ptr<Segment> segment);
  // The ingested segments, in seq order.
  std::vector<SegmentFile> Segments() const;
  // Deletes the ingested segment [first_seq, last_seq] (whole files only).
  Status DeleteSegment(std::uint64_t first_seq, std::uint64_t last_seq);

  // --- Records.
  // Writes the puts and deletes in one atomic batch (a key in both ends deleted). IoError
  // on failure.
  Status WriteRecords(const std::vector<std::pair<BlockKey, SpillRecord>>& puts,
                      const std::vector<BlockKey>& deletes);
  // Calls visit(key, record) for every stored record; record is nullopt when the bytes do
  // not decode. Keys of another length are skipped. IoError or Corruption (from RocksDB)
  // when the scan fails.
  Status ScanRecords(
      const std::function<void(const BlockKey&, const std::optional<SpillRecord>&)>& visit) const;
  // Flushes the records' memtable (and the marker's) to table files.
  Status FlushRecords();

  // --- Values.
  // Reads the value stored at `seq` under `key`, of value.size() bytes (its record's
  // size), into `value`: Ok, NotFound (a chunk is missing), Corruption (a chunk of another
  // size, or RocksDB's checksum or format check failed) or IoError. `value` holds partial
  // bytes on failure.
  Status ReadValue(const BlockKey& key, std::uint64_t seq, std::span<std::byte> value) const;

  // Deletes every ingested segment and every record.
  Status Clear();

  // Closes RocksDB. Idempotent; returns the first error.
  Status Close();

  const std::string& path() const { return path_; }

 private:
  SpillDb(std::string path, rocksdb::Env* env);
  Status Error(const std::string& what, const std::string& why) const;

  const std::string path_;
  rocksdb::Env* const env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* values_ = nullptr;
  rocksdb::ColumnFamilyHandle* records_ = nullptr;
};

}  // namespace prefixcache::storage
