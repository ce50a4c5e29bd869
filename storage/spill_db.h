// SpillDb: the spill tier's RocksDB folder in its on-disk layout (spill format 3), below
// SpillTier's queue and index. Private to storage/.
//
// Column families:
// - "values": block bytes, in chunks of up to 256 KiB under (write seq, block key, chunk
//   index), big-endian, in table files that SpillDb writes itself, one "segment" of
//   consecutive writes per file, and ingests into RocksDB's last level. Nothing ever
//   compacts or rewrites them: a segment leaves whole (DeleteSegment) once the tier holds
//   none of its values. Each chunk is a data block of its own, uncompressed: SpillDb reads
//   a chunk itself, with one pread() from the segment's file at the place Append returned
//   (kept in the value's record) straight into the caller's buffer, checks the block's
//   entry header and key against the ones it expects, and the tier checks its own XXH3 of
//   the whole value. RocksDB never reads those blocks; its block checksum (XXH3) guards
//   the index and meta blocks it reads when it opens a table. RocksDB keeps the files:
//   ingestion, the manifest, deletion by key range.
// - "records": block key -> SpillRecord (version 4, or 5 with an expiry or a name), written
//   with the write-ahead log; RocksDB's XXH3 block checksums.
// - "default": the format marker, "prefixcache.spill.format" -> "3".
// Folders of format 1 (BlobDB) and 2 (values read through RocksDB, records without the
// place) are emptied at Open, with one notice.
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
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
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
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    // The data block added last, written out by the next Append or by Finish.
    std::uint64_t pending_block_at = 0;
    std::uint64_t pending_block_bytes = 0;
  };

  // --- Segments. Begin, then Append in increasing seq, then Finish (or destroy).
  // A new segment file for the writes from `first_seq` on. IoError if it cannot be
  // created.
  Result<std::unique_ptr<Segment>> BeginSegment(std::uint64_t first_seq);
  // Appends one value (seq above the previous one's) and returns where it starts in the
  // segment's file (for ReadValue). IoError on a write failure, or when RocksDB laid the
  // previous block out otherwise than expected, after which the segment can only be
  // destroyed.
  Result<std::uint64_t> Append(Segment& segment, const BlockKey& key, std::uint64_t seq,
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
  // Reads the value stored at `seq` under `key` from `offset` (Append's answer), of
  // value.size() bytes (its record's size), into `value`: Ok, NotFound (no segment holds
  // `seq`), Corruption (the file ends early, or a chunk's header or key is not the one
  // expected there) or IoError. `value` holds partial bytes on failure.
  Status ReadValue(const BlockKey& key, std::uint64_t seq, std::uint64_t offset,
                   std::span<std::byte> value) const;

  // Deletes every ingested segment and every record.
  Status Clear();

  // Closes RocksDB. Idempotent; returns the first error.
  Status Close();

  const std::string& path() const { return path_; }

 private:
  // An ingested segment's file, open for reading while a read may use it.
  struct SegmentReader {
    SegmentReader(int fd_in, std::uint64_t last_seq_in, std::uint64_t bytes_in)
        : fd(fd_in), last_seq(last_seq_in), bytes(bytes_in) {}
    ~SegmentReader();
    SegmentReader(const SegmentReader&) = delete;
    SegmentReader& operator=(const SegmentReader&) = delete;
    const int fd;
    const std::uint64_t last_seq;
    const std::uint64_t bytes;  // the file's size
  };

  SpillDb(std::string path, rocksdb::Env* env);
  Status Error(const std::string& what, const std::string& why) const;
  // Opens every ingested segment's file for reading (at Open).
  Status OpenSegmentReaders();
  std::shared_ptr<const SegmentReader> ReaderFor(std::uint64_t seq) const;

  const std::string path_;
  rocksdb::Env* const env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* values_ = nullptr;
  rocksdb::ColumnFamilyHandle* records_ = nullptr;
  mutable std::shared_mutex readers_mu_;
  std::map<std::uint64_t, std::shared_ptr<const SegmentReader>> readers_;  // by first seq
};

}  // namespace prefixcache::storage
