#include "spill_db.h"

#include <fcntl.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "prefixcache/defaults.h"

namespace prefixcache::storage {
namespace {

constexpr char kValuesFamily[] = "values";
constexpr char kRecordsFamily[] = "records";
// Format 1 (integrated BlobDB): "blocks" (key -> value in blob files), "meta" (key ->
// 28-byte record). No marker.
constexpr char kLegacyBlocksFamily[] = "blocks";
constexpr char kLegacyMetaFamily[] = "meta";
constexpr char kFormatKey[] = "prefixcache.spill.format";
constexpr char kFormat[] = "3";
// Values read through RocksDB, records without the value's place: emptied at Open.
constexpr char kFormatBeforeOffsets[] = "2";
constexpr std::size_t kSeqBytes = 8;

rocksdb::Slice KeySlice(const BlockKey& key) {
  return {reinterpret_cast<const char*>(key.bytes.data()), BlockKey::kSize};
}

// Values are stored in chunks of at most this many bytes, each a data block of its own:
// RocksDB copies a value into its block and writes it, and a chunk this size stays in the
// CPU's L2 cache for the two.
constexpr std::uint64_t kChunkBytes = 256 * 1024;
constexpr std::size_t kChunkIndexBytes = 4;
constexpr std::size_t kValueKeyBytes = kSeqBytes + BlockKey::kSize + kChunkIndexBytes;

// A data block of one entry, as RocksDB's block-based table writes it (table/block_based/
// block_builder.cc, format_version 2 and later): the entry -- varint32 shared key bytes (0),
// varint32 unshared key bytes, varint32 value bytes, the internal key (the user key and 8
// bytes of sequence number 0 and type kTypeValue, as SstFileWriter adds it), the value --
// then the restart array (one fixed32) and the restart count (fixed32), then the block
// trailer (compression type byte and fixed32 checksum). Append checks every block against
// RocksDB's own count of the bytes it wrote.
constexpr std::size_t kInternalKeyBytes = kValueKeyBytes + 8;
constexpr std::size_t kBlockTailBytes = 4 + 4 + 5;

constexpr std::size_t VarintBytes(std::uint64_t v) {
  std::size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// The bytes of a chunk's entry before its value: the three varints and the internal key.
constexpr std::size_t EntryHeadBytes(std::uint64_t value_bytes) {
  return 1 + VarintBytes(kInternalKeyBytes) + VarintBytes(value_bytes) + kInternalKeyBytes;
}
constexpr std::size_t kMaxEntryHeadBytes = EntryHeadBytes(kChunkBytes);

constexpr std::uint64_t BlockBytes(std::uint64_t value_bytes) {
  return EntryHeadBytes(value_bytes) + value_bytes + kBlockTailBytes;
}
// Every chunk of a value but its last is this far from the next.
constexpr std::uint64_t kFullChunkBlockBytes = BlockBytes(kChunkBytes);

void StoreBigEndian(char* out, std::uint64_t v, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) out[i] = static_cast<char>(v >> (8 * (width - 1 - i)));
}

// The first bytes of every value key of write `seq`: seq big-endian, so keys sort in
// write order and each segment file covers one key range.
std::string SeqPrefix(std::uint64_t seq) {
  std::string out(kSeqBytes, '\0');
  StoreBigEndian(out.data(), seq, kSeqBytes);
  return out;
}

// (seq, key, chunk), each big-endian: the chunks of a value in order after its seq.
std::string ValueKey(const BlockKey& key, std::uint64_t seq, std::uint64_t chunk) {
  std::string out(kValueKeyBytes, '\0');
  StoreBigEndian(out.data(), seq, kSeqBytes);
  std::memcpy(out.data() + kSeqBytes, key.bytes.data(), BlockKey::kSize);
  StoreBigEndian(out.data() + kSeqBytes + BlockKey::kSize, chunk, kChunkIndexBytes);
  return out;
}

// Writes into `out` the head of chunk `chunk`'s entry (EntryHeadBytes(value_bytes) bytes)
// as SstFileWriter lays it out for ValueKey(key, seq, chunk) and a value of value_bytes.
void EncodeEntryHead(const BlockKey& key, std::uint64_t seq, std::uint64_t chunk,
                     std::uint64_t value_bytes, char* out) {
  auto varint = [&out](std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) *out++ = static_cast<char>(v | 0x80);
    *out++ = static_cast<char>(v);
  };
  varint(0);
  varint(kInternalKeyBytes);
  varint(value_bytes);
  const std::string user_key = ValueKey(key, seq, chunk);
  std::memcpy(out, user_key.data(), user_key.size());
  out += user_key.size();
  std::memset(out, 0, 8);
  out[0] = 1;  // sequence number 0, kTypeValue, little-endian
}

std::optional<std::uint64_t> SeqOf(const std::string& value_key) {
  if (value_key.size() != kValueKeyBytes) return std::nullopt;
  std::uint64_t seq = 0;
  for (std::size_t i = 0; i < kSeqBytes; ++i) {
    seq = seq << 8 | static_cast<unsigned char>(value_key[i]);
  }
  return seq;
}

// A value of `size` bytes takes this many chunks (an empty one takes one).
std::uint64_t Chunks(std::uint64_t size) {
  return std::max<std::uint64_t>(1, (size + kChunkBytes - 1) / kChunkBytes);
}

rocksdb::DBOptions DbOptions(rocksdb::Env* env) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Flushes and compactions touch only the small records; segments are written by the
  // tier's own writer thread.
  options.max_background_jobs = 2;
  // Segment files are written back as they grow, not all at once when they are synced.
  options.bytes_per_sync = 1 * kMiB;
  options.keep_log_file_num = 4;
  // Table files are opened when read, not all at Open (RocksDB then opens at most two):
  // RocksDB reads only the records' tables; segments are read by SpillDb.
  options.max_open_files = 256;
  options.skip_stats_update_on_db_open = true;
  if (env != nullptr) options.env = env;
  return options;
}

rocksdb::ColumnFamilyOptions ValuesOptions() {
  rocksdb::ColumnFamilyOptions family;
  family.compression = rocksdb::kNoCompression;  // KV tensors do not compress
  // Segments are ingested into the last level (L1) and leave whole: nothing is compacted.
  family.num_levels = 2;
  family.disable_auto_compactions = true;
  family.ttl = 0;
  family.periodic_compaction_seconds = 0;
  rocksdb::BlockBasedTableOptions table;
  // XXH3 rather than CRC32C, which Debian's portable librocksdb computes in software
  // (bench/RESULTS.md). RocksDB checks it on the index and meta blocks when it opens a
  // table (at ingestion, and a few tables at DB::Open); it never reads the data blocks,
  // which ReadValue reads and checks itself. Without it (kNoChecksum) RocksDB would parse
  // an unchecked index block at Open, and Debian's librocksdb asserts on some damaged ones.
  table.checksum = rocksdb::kXXH3;
  // Every entry ends its block: one chunk, one data block, at a place Append computes.
  table.block_size = 1;
  table.no_block_cache = true;
  family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return family;
}

rocksdb::ColumnFamilyOptions RecordsOptions() {
  rocksdb::ColumnFamilyOptions family;
  family.compression = rocksdb::kNoCompression;  // 32-byte records of hashes and counters
  family.write_buffer_size = 16 * kMiB;          // about 300k records
  return family;
}

std::vector<rocksdb::ColumnFamilyDescriptor> Families(bool with_legacy) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kValuesFamily, ValuesOptions()},
      {kRecordsFamily, RecordsOptions()},
  };
  if (with_legacy) {
    families.emplace_back(kLegacyBlocksFamily, rocksdb::ColumnFamilyOptions());
    families.emplace_back(kLegacyMetaFamily, rocksdb::ColumnFamilyOptions());
  }
  return families;
}

// The keys in `family`, for the notice that discards a folder of an earlier format (once).
std::uint64_t CountKeys(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family) {
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(read, family));
  std::uint64_t keys = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++keys;
  return keys;
}

Status FromRocks(const rocksdb::Status& status, const std::string& what) {
  if (status.ok()) return Status::Ok();
  if (status.IsNotFound()) return Status::NotFound(what);
  if (status.IsCorruption()) return Status::Corruption(what + ": " + status.ToString());
  return Status::IoError(what + ": " + status.ToString());
}

}  // namespace

SpillDb::SpillDb(std::string path, rocksdb::Env* env)
    : path_(std::move(path)), env_(env != nullptr ? env : rocksdb::Env::Default()) {}

SpillDb::~SpillDb() { (void)Close(); }  // no one to report to; Close() callers get it

Status SpillDb::Error(const std::string& what, const std::string& why) const {
  return Status::IoError("spill folder " + path_ + (what.empty() ? "" : ": " + what) + ": " + why);
}

Result<std::unique_ptr<SpillDb>> SpillDb::Open(const std::string& path, rocksdb::Env* env,
                                               const Notice& notice) {
  // RocksDB creates only the last level of the path. A failure here is left to RocksDB,
  // whose error then names the reason.
  const std::filesystem::path folder(path);
  if (folder.has_parent_path()) {
    std::error_code ignored;
    std::filesystem::create_directories(folder.parent_path(), ignored);
  }
  std::unique_ptr<SpillDb> db(new SpillDb(path, env));
  const rocksdb::DBOptions options = DbOptions(db->env_);

  std::vector<std::string> families;
  if (db->env_->FileExists(path + "/CURRENT").ok()) {
    rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(options, path, &families);
    if (!listed.ok()) return db->Error("reading its column families", listed.ToString());
  }
  bool legacy = false;
  bool ours = false;
  std::string unknown;
  for (const std::string& name : families) {
    if (name == kLegacyBlocksFamily || name == kLegacyMetaFamily) {
      legacy = true;
    } else if (name == kValuesFamily || name == kRecordsFamily) {
      ours = true;
    } else if (name != rocksdb::kDefaultColumnFamilyName) {
      unknown = name;
    }
  }
  if (!unknown.empty()) {
    return db->Error("",
                     ours ? "written in a later spill format (column family \"" + unknown +
                                "\"), this build reads format " + kFormat + "; not opened"
                          : "not a prefixcache spill folder (column family \"" + unknown + "\")");
  }

  auto open = [&](bool with_legacy) {
    db->handles_.clear();
    rocksdb::DB* raw = nullptr;
    rocksdb::Status status =
        rocksdb::DB::Open(options, path, Families(with_legacy), &db->handles_, &raw);
    db->db_.reset(raw);
    if (status.ok()) {
      db->values_ = db->handles_[1];
      db->records_ = db->handles_[2];
    }
    return status;
  };
  rocksdb::Status opened = open(legacy);
  if (opened.IsCorruption() && !families.empty()) {
    // A cache may forget: a folder RocksDB cannot read is started again, empty.
    notice("spill folder " + path + ": unreadable (" + opened.ToString() +
           "); its blocks are discarded and the tier starts empty");
    if (Status destroyed = Destroy(path, env); !destroyed.ok()) return destroyed;
    legacy = false;
    opened = open(false);
  }
  if (!opened.ok()) return db->Error("", opened.ToString());

  std::string format;
  rocksdb::Status read = db->db_->Get({}, db->handles_[0], kFormatKey, &format);
  if (read.ok() && format == kFormatBeforeOffsets) {
    const std::uint64_t blocks = CountKeys(*db->db_, db->records_);
    if (Status closed = db->Close(); !closed.ok()) return closed;
    if (Status destroyed = Destroy(path, env); !destroyed.ok()) return destroyed;
    notice("spill folder " + path + ": written in spill format 2 by an earlier prefixcache; " +
           "its blocks (about " + std::to_string(blocks) +
           ") are discarded and the tier starts empty in format " + kFormat);
    legacy = false;
    opened = open(false);
    if (!opened.ok()) return db->Error("", opened.ToString());
    read = db->db_->Get({}, db->handles_[0], kFormatKey, &format);
  }
  if (read.ok() && format != kFormat) {
    (void)db->Close();  // the format mismatch is what is reported
    return db->Error("", "written in spill format " + format + ", this build reads format " +
                             kFormat + "; not opened");
  }
  if (!read.ok() && !read.IsNotFound()) return db->Error("reading its format", read.ToString());

  if (legacy) {
    const std::uint64_t blocks = CountKeys(*db->db_, db->handles_[4]);
    std::vector<rocksdb::ColumnFamilyHandle*> old = {db->handles_[3], db->handles_[4]};
    rocksdb::Status dropped = db->db_->DropColumnFamilies(old);
    for (rocksdb::ColumnFamilyHandle* handle : old) db->db_->DestroyColumnFamilyHandle(handle);
    db->handles_.resize(3);
    if (!dropped.ok()) return db->Error("discarding spill format 1", dropped.ToString());
    notice("spill folder " + path + ": written in spill format 1 (BlobDB) by an earlier " +
           "prefixcache; its blocks (about " + std::to_string(blocks) +
           ") are discarded and the tier starts empty in format " + kFormat);
  }
  if (read.IsNotFound()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    rocksdb::Status marked = db->db_->Put(sync, db->handles_[0], kFormatKey, kFormat);
    // Flushed at once, so the marker does not keep the write-ahead log of every later
    // record alive until Close.
    if (marked.ok()) marked = db->db_->Flush(rocksdb::FlushOptions(), db->handles_[0]);
    if (!marked.ok()) return db->Error("writing its format", marked.ToString());
  }

  // Segments a crash left unfinished.
  std::error_code ec;
  std::filesystem::remove_all(folder / "incoming", ec);
  std::filesystem::create_directories(folder / "incoming", ec);
  if (ec) return db->Error("creating incoming/", ec.message());
  if (Status readers = db->OpenSegmentReaders(); !readers.ok()) return readers;
  return db;
}

SpillDb::SegmentReader::~SegmentReader() { ::close(fd); }

Status SpillDb::OpenSegmentReaders() {
  std::vector<rocksdb::LiveFileMetaData> files;
  db_->GetLiveFilesMetaData(&files);
  std::map<std::uint64_t, std::shared_ptr<const SegmentReader>> readers;
  for (const rocksdb::LiveFileMetaData& file : files) {
    if (file.column_family_name != kValuesFamily || file.level == 0) continue;
    std::optional<std::uint64_t> first = SeqOf(file.smallestkey);
    std::optional<std::uint64_t> last = SeqOf(file.largestkey);
    if (!first || !last || *first > *last) continue;  // not a segment; never read
    const std::string name = file.db_path + file.name;
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error("opening segment " + name, std::strerror(errno));
    readers.emplace(*first, std::make_shared<const SegmentReader>(fd, *last, file.size));
  }
  std::unique_lock lock(readers_mu_);
  readers_ = std::move(readers);
  return Status::Ok();
}

std::shared_ptr<const SpillDb::SegmentReader> SpillDb::ReaderFor(std::uint64_t seq) const {
  std::shared_lock lock(readers_mu_);
  auto it = readers_.upper_bound(seq);
  if (it == readers_.begin()) return nullptr;
  --it;
  return seq <= it->second->last_seq ? it->second : nullptr;
}

Status SpillDb::Destroy(const std::string& path, rocksdb::Env* env) {
  rocksdb::Options options(DbOptions(env), rocksdb::ColumnFamilyOptions());
  rocksdb::Status destroyed = rocksdb::DestroyDB(path, options, Families(true));
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::path(path) / "incoming", ignored);
  if (destroyed.ok()) return Status::Ok();
  return Status::IoError("spill folder " + path + ": discarding it: " + destroyed.ToString());
}

SpillDb::Segment::~Segment() {
  writer.reset();
  if (path.empty()) return;
  std::error_code ignored;  // a leftover goes at the next Open
  std::filesystem::remove(path, ignored);
}

Result<std::unique_ptr<SpillDb::Segment>> SpillDb::BeginSegment(std::uint64_t first_seq) {
  const rocksdb::DBOptions db_options = DbOptions(env_);
  rocksdb::EnvOptions env_options(db_options);
  // Blocks larger than this go from their own buffer straight to write(): no extra copy.
  env_options.writable_file_max_buffer_size = 64 * 1024;
  std::unique_ptr<Segment> segment(new Segment());
  segment->writer = std::make_unique<rocksdb::SstFileWriter>(
      env_options, rocksdb::Options(db_options, ValuesOptions()), values_,
      /*invalidate_page_cache=*/false);
  segment->path = path_ + "/incoming/segment-" + std::to_string(first_seq) + ".sst";
  segment->first_seq = first_seq;
  rocksdb::Status opened = segment->writer->Open(segment->path);
  if (!opened.ok()) return Error("creating a segment", opened.ToString());
  return segment;
}

Result<std::uint64_t> SpillDb::Append(Segment& segment, const BlockKey& key, std::uint64_t seq,
                                      std::span<const std::byte> value) {
  std::uint64_t first_block_at = 0;
  for (std::uint64_t chunk = 0; chunk < Chunks(value.size()); ++chunk) {
    const std::size_t at = chunk * kChunkBytes;
    const rocksdb::Slice bytes(reinterpret_cast<const char*>(value.data()) + at,
                               std::min<std::size_t>(kChunkBytes, value.size() - at));
    rocksdb::Status put = segment.writer->Put(ValueKey(key, seq, chunk), bytes);
    if (!put.ok()) return Error("writing a segment", put.ToString());
    // The Put wrote the previous block out; this one starts where it ended.
    const std::uint64_t written = segment.writer->FileSize();
    if (written != segment.pending_block_at + segment.pending_block_bytes) {
      return Error("writing a segment",
                   "RocksDB wrote " + std::to_string(written) + " bytes where " +
                       std::to_string(segment.pending_block_at + segment.pending_block_bytes) +
                       " were expected: its table layout is not the one this build reads");
    }
    segment.pending_block_at = written;
    segment.pending_block_bytes = BlockBytes(bytes.size());
    if (chunk == 0) first_block_at = written;
  }
  segment.last_seq = seq;
  return first_block_at;
}

Status SpillDb::FinishSegment(std::unique_ptr<Segment> segment) {
  rocksdb::ExternalSstFileInfo info;
  rocksdb::Status status = segment->writer->Finish(&info);
  segment->writer.reset();
  if (status.ok() && info.file_size < segment->pending_block_at + segment->pending_block_bytes) {
    status = rocksdb::Status::Corruption("a segment file shorter than its last block");
  }
  // Opened before it is ingested (and renamed): the descriptor reads the same file after.
  std::shared_ptr<const SegmentReader> reader;
  if (status.ok()) {
    const int fd = ::open(segment->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error("opening segment " + segment->path, std::strerror(errno));
    reader = std::make_shared<const SegmentReader>(fd, segment->last_seq, info.file_size);
  }
  if (status.ok()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;  // a hard link: the bytes are not copied
    ingest.snapshot_consistency = false;
    ingest.write_global_seqno = false;
    // In the last level, or DeleteSegment could not delete it.
    ingest.fail_if_not_bottommost_level = true;
    status = db_->IngestExternalFile(values_, {segment->path}, ingest);
  }
  if (status.ok()) {
    segment->path.clear();  // moved into the database
    std::unique_lock lock(readers_mu_);
    readers_.insert_or_assign(segment->first_seq, std::move(reader));
    return Status::Ok();
  }
  return Error("ingesting a segment", status.ToString());
}

std::vector<SpillDb::SegmentFile> SpillDb::Segments() const {
  std::vector<rocksdb::LiveFileMetaData> files;
  db_->GetLiveFilesMetaData(&files);
  std::vector<SegmentFile> segments;
  for (const rocksdb::LiveFileMetaData& file : files) {
    if (file.column_family_name != kValuesFamily || file.level == 0) continue;
    std::optional<std::uint64_t> first = SeqOf(file.smallestkey);
    std::optional<std::uint64_t> last = SeqOf(file.largestkey);
    if (first && last && *first <= *last) segments.push_back({*first, *last, file.size});
  }
  std::sort(segments.begin(), segments.end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.first_seq < b.first_seq; });
  return segments;
}

Status SpillDb::DeleteSegment(std::uint64_t first_seq, std::uint64_t last_seq) {
  const std::string begin = SeqPrefix(first_seq);
  const std::string end = SeqPrefix(last_seq + 1);
  const rocksdb::Slice begin_slice(begin);
  const rocksdb::Slice end_slice(end);
  rocksdb::Status deleted =
      rocksdb::DeleteFilesInRange(db_.get(), values_, &begin_slice, &end_slice, false);
  if (deleted.ok()) {
    std::unique_lock lock(readers_mu_);
    readers_.erase(readers_.lower_bound(first_seq), readers_.upper_bound(last_seq));
    return Status::Ok();
  }
  return Error("deleting a segment", deleted.ToString());
}

Status SpillDb::WriteRecords(const std::vector<std::pair<BlockKey, SpillRecord>>& puts,
                             const std::vector<BlockKey>& deletes) {
  if (puts.empty() && deletes.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  rocksdb::Status status;
  for (const auto& [key, record] : puts) {
    if (status.ok()) status = batch.Put(records_, KeySlice(key), record.Encode());
  }
  for (const BlockKey& key : deletes) {
    if (status.ok()) status = batch.Delete(records_, KeySlice(key));
  }
  // With the write-ahead log: a record outlives a crash of the process (not of the
  // machine, the log is not synced) from here on.
  if (status.ok()) status = db_->Write(rocksdb::WriteOptions(), &batch);
  if (status.ok()) return Status::Ok();
  return Error("writing records", status.ToString());
}

Status SpillDb::ScanRecords(
    const std::function<void(const BlockKey&, const std::optional<SpillRecord>&)>& visit) const {
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  read.readahead_size = 2 * kMiB;  // one pass in key order
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, records_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::optional<BlockKey> key =
        BlockKey::FromBytes(std::string_view(it->key().data(), it->key().size()));
    if (!key) continue;  // never written by this tier; harmless
    visit(*key, SpillRecord::Decode(std::string_view(it->value().data(), it->value().size())));
  }
  return FromRocks(it->status(), "spill folder " + path_ + ": reading the records");
}

Status SpillDb::FlushRecords() {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  // With the marker's family too, so no write-ahead log is kept for it: the next Open
  // then replays none.
  rocksdb::Status status = db_->Flush(flush, {handles_[0], records_});
  if (status.ok()) return Status::Ok();
  return Error("flush failed", status.ToString());
}

Status SpillDb::ReadValue(const BlockKey& key, std::uint64_t seq, std::uint64_t offset,
                          std::span<std::byte> value) const {
  const std::shared_ptr<const SegmentReader> reader = ReaderFor(seq);
  if (!reader) return Status::NotFound("spill read of " + key.ToHex() + ": no segment holds it");
  for (std::uint64_t chunk = 0; chunk < Chunks(value.size()); ++chunk) {
    const std::size_t at = chunk * kChunkBytes;
    const std::size_t bytes = std::min<std::size_t>(kChunkBytes, value.size() - at);
    // The entry's head as Append wrote it, then the value's bytes.
    const std::size_t head = EntryHeadBytes(bytes);
    std::array<char, kMaxEntryHeadBytes> expected;
    EncodeEntryHead(key, seq, chunk, bytes, expected.data());
    std::array<char, kMaxEntryHeadBytes> got;
    iovec parts[2] = {{got.data(), head}, {value.data() + at, bytes}};
    const std::uint64_t block_at = offset + chunk * kFullChunkBlockBytes;
    if (offset > reader->bytes || block_at > reader->bytes ||
        reader->bytes - block_at < head + bytes) {
      return Status::Corruption("chunk " + std::to_string(chunk) + " at offset " +
                                std::to_string(block_at) + ": past the end of its segment file");
    }
    ssize_t read = 0;
    do {
      read = ::preadv(reader->fd, parts, 2, static_cast<off_t>(block_at));
    } while (read < 0 && errno == EINTR);
    if (read < 0) {
      return Status::IoError("spill read of " + key.ToHex() + ": " + std::strerror(errno));
    }
    if (static_cast<std::size_t>(read) != head + bytes) {
      return Status::Corruption("chunk " + std::to_string(chunk) + ": its segment file ends early");
    }
    if (std::memcmp(got.data(), expected.data(), head) != 0) {
      return Status::Corruption("chunk " + std::to_string(chunk) + ": another entry at offset " +
                                std::to_string(block_at) + " of its segment");
    }
  }
  return Status::Ok();
}

Status SpillDb::Clear() {
  // Every key is 16 bytes, so [16 x 0x00, 17 x 0xff) covers them all.
  const std::string begin(BlockKey::kSize, '\0');
  const std::string end(BlockKey::kSize + 1, '\xff');
  rocksdb::Status status = rocksdb::DeleteFilesInRange(db_.get(), values_, nullptr, nullptr);
  if (status.ok()) {
    std::unique_lock lock(readers_mu_);
    readers_.clear();
  }
  rocksdb::WriteBatch batch;
  if (status.ok()) status = batch.DeleteRange(records_, begin, end);
  if (status.ok()) status = db_->Write(rocksdb::WriteOptions(), &batch);
  // Compaction drops the deleted records; they are small.
  if (status.ok())
    status = db_->CompactRange(rocksdb::CompactRangeOptions(), records_, nullptr, nullptr);
  if (status.ok()) return Status::Ok();
  return Error("clear failed", status.ToString());
}

Status SpillDb::Close() {
  {
    std::unique_lock lock(readers_mu_);
    readers_.clear();
  }
  if (!db_) return Status::Ok();
  for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  handles_.clear();
  values_ = records_ = nullptr;
  rocksdb::Status closed = db_->Close();
  db_.reset();
  if (closed.ok()) return Status::Ok();
  return Error("close failed", closed.ToString());
}

}  // namespace prefixcache::storage
