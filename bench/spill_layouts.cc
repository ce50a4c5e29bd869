#include "spill_layouts.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <xxh_x86dispatch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <unordered_map>

#include "bench_util.h"

namespace prefixcache::bench {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
// As the spill tier: 1 MiB write batches (SpillTierOptions::batch_bytes), 32-byte records,
// 64 MiB segments (SpillTierOptions::segment_bytes) in 256 KiB chunks, values hashed with
// XXH3-64. Unlike the tier, a segment is synced and ingested on the writing thread.
constexpr std::uint64_t kBatchBytes = 1 * kMiB;
constexpr std::size_t kRecordBytes = 32;
constexpr std::uint64_t kSegmentBytes = 64 * kMiB;
constexpr std::uint64_t kChunkBytes = 256 * 1024;
// The values written come from this many distinct bytes, so they are not in the CPU cache
// when written, as demoted blocks are not.
constexpr std::uint64_t kPoolBytes = 64 * kMiB;

[[noreturn]] void Fail(const std::string& what, const rocksdb::Status& status) {
  std::fprintf(stderr, "storage_bench: spill layouts: %s: %s\n", what.c_str(),
               status.ToString().c_str());
  std::exit(1);
}

void Check(const std::string& what, const rocksdb::Status& status) {
  if (!status.ok()) Fail(what, status);
}

void StoreBigEndian(char* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (56 - 8 * i));
}

// A 16-byte block key.
std::string BlockKeyBytes(std::uint64_t i) {
  std::string key(16, '\0');
  StoreBigEndian(key.data(), 0x5b111a70u);
  StoreBigEndian(key.data() + 8, i);
  return key;
}

struct Item {
  std::string key;  // the block key
  std::uint64_t seq = 0;
  rocksdb::Slice value;
  std::uint64_t checksum = 0;
  std::string record;  // kRecordBytes: checksum, size, seq, depth, as a spill record holds
};

// One candidate layout's RocksDB folder: a "values" column family in the layout's style
// and a "records" one (key -> record) beside it.
class Candidate {
 public:
  explicit Candidate(SpillLayout layout) : layout_(layout) {}
  ~Candidate() { Close(); }

  void Open(const std::string& path) {
    path_ = path;
    std::filesystem::create_directories(path + "/incoming");
    db_options_.create_if_missing = true;
    db_options_.create_missing_column_families = true;
    db_options_.atomic_flush = !ingest();  // a value and its record flush together
    db_options_.max_background_flushes = 2;
    db_options_.max_background_compactions = 1;
    db_options_.bytes_per_sync = 1 * kMiB;
    db_options_.keep_log_file_num = 4;
    rocksdb::ColumnFamilyOptions records;
    records.compression = rocksdb::kNoCompression;
    records.max_write_buffer_number = 4;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"values", ValuesOptions()}, {"records", records}};
    rocksdb::DB* raw = nullptr;
    Check("open " + path, rocksdb::DB::Open(db_options_, path, families, &handles_, &raw));
    db_.reset(raw);
    values_ = handles_[1];
    records_ = handles_[2];
  }

  // One write batch of the spill tier.
  void Write(const std::vector<Item>& items) {
    if (ingest()) {
      for (const Item& item : items) AppendToSegment(item);
      return;
    }
    batch_.Clear();
    for (const Item& item : items) {
      for (std::uint64_t chunk = 0; chunk < Chunks(item); ++chunk) {
        Check("batch", batch_.Put(values_, ValueKey(item, chunk), ChunkOf(item, chunk)));
      }
      Check("batch", batch_.Put(records_, item.key, item.record));
    }
    rocksdb::WriteOptions write;
    write.disableWAL = true;
    Check("write", db_->Write(write, &batch_));
  }

  // Everything written is on disk and readable from RocksDB.
  void Finish() {
    if (ingest()) IngestSegment();
    rocksdb::FlushOptions flush;
    flush.wait = true;
    if (ingest()) {
      Check("flush", db_->Flush(flush, records_));
    } else {
      Check("flush", db_->Flush(flush, {values_, records_}));
    }
  }

  // Reads the item's value into `out` (value.size() bytes), chunk by chunk.
  rocksdb::Status Read(const Item& item, bool verify, char* out) {
    rocksdb::ReadOptions read;
    read.verify_checksums = verify;
    read.fill_cache = false;
    for (std::uint64_t chunk = 0; chunk < Chunks(item); ++chunk) {
      rocksdb::PinnableSlice value;
      rocksdb::Status status = db_->Get(read, values_, ValueKey(item, chunk), &value);
      if (!status.ok()) return status;
      const rocksdb::Slice expected = ChunkOf(item, chunk);
      if (value.size() != expected.size()) return rocksdb::Status::Corruption("chunk size");
      std::memcpy(out + (expected.data() - item.value.data()), value.data(), value.size());
    }
    return rocksdb::Status::OK();
  }

  // Reads every record, as the spill tier's restart does; returns how many.
  std::size_t ScanRecords() {
    std::unordered_map<std::string, std::string> index;
    rocksdb::ReadOptions read;
    read.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, records_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      index.emplace(it->key().ToString(), it->value().ToString());
    }
    Check("scan records", it->status());
    return index.size();
  }

  std::uint64_t TableReaderBytes() {
    std::uint64_t total = 0;
    for (auto* handle : handles_) {
      std::uint64_t bytes = 0;
      if (db_->GetIntProperty(handle, "rocksdb.estimate-table-readers-mem", &bytes)) total += bytes;
    }
    return total;
  }

  void Close() {
    if (!db_) return;
    for (auto* handle : handles_) Check("close", db_->DestroyColumnFamilyHandle(handle));
    handles_.clear();
    Check("close", db_->Close());
    db_.reset();
  }

 private:
  bool blob() const {
    return layout_ == SpillLayout::kBlobToday || layout_ == SpillLayout::kBlobTuned;
  }
  bool ingest() const {
    return layout_ == SpillLayout::kSstIngest || layout_ == SpillLayout::kSstIngestNoCheck ||
           layout_ == SpillLayout::kSstIngestDirect;
  }

  // Blob layouts key values by the block key (as the previous spill tier); SST layouts by
  // the write sequence first, so each file covers one range of writes, and in chunks of
  // up to 256 KiB (as the spill tier), each a data block that stays in the L2 cache while
  // RocksDB copies, hashes and writes it.
  std::string ValueKey(const Item& item, std::uint64_t chunk) const {
    if (blob()) return item.key;
    std::string key(8, '\0');
    StoreBigEndian(key.data(), item.seq);
    std::string index(8, '\0');
    StoreBigEndian(index.data(), chunk);
    return key + item.key + index.substr(4);
  }
  std::uint64_t Chunks(const Item& item) const {
    if (blob()) return 1;
    return std::max<std::uint64_t>(1, (item.value.size() + kChunkBytes - 1) / kChunkBytes);
  }
  rocksdb::Slice ChunkOf(const Item& item, std::uint64_t chunk) const {
    if (blob()) return item.value;
    const std::size_t at = chunk * kChunkBytes;
    return {item.value.data() + at, std::min<std::size_t>(kChunkBytes, item.value.size() - at)};
  }

  rocksdb::ColumnFamilyOptions ValuesOptions() const {
    rocksdb::ColumnFamilyOptions family;
    family.compression = rocksdb::kNoCompression;
    rocksdb::BlockBasedTableOptions table;
    switch (layout_) {
      case SpillLayout::kBlobToday:
      case SpillLayout::kBlobTuned:
        family.enable_blob_files = true;
        family.min_blob_size = 4096;
        family.blob_compression_type = rocksdb::kNoCompression;
        family.enable_blob_garbage_collection = false;
        family.write_buffer_size = 32 * kMiB;
        family.max_write_buffer_number = 4;
        if (layout_ == SpillLayout::kBlobTuned) {
          family.write_buffer_size = 128 * kMiB;
          family.blob_file_size = 1024 * kMiB;
        }
        return family;
      case SpillLayout::kSstMemtableFifo:
        family.compaction_style = rocksdb::kCompactionStyleFIFO;
        family.compaction_options_fifo.max_table_files_size = 1ull << 40;  // no drops here
        family.write_buffer_size = 64 * kMiB;
        family.max_write_buffer_number = 4;
        break;
      case SpillLayout::kSstIngest:
      case SpillLayout::kSstIngestNoCheck:
      case SpillLayout::kSstIngestDirect:
        family.disable_auto_compactions = true;
        family.num_levels = 2;
        break;
    }
    table.checksum =
        layout_ == SpillLayout::kSstIngestNoCheck ? rocksdb::kNoChecksum : rocksdb::kXXH3;
    table.no_block_cache = true;  // values are read once into their own buffer
    family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return family;
  }

  void AppendToSegment(const Item& item) {
    if (!segment_) {
      rocksdb::EnvOptions env(db_options_);
      env.writable_file_max_buffer_size = 64 * 1024;  // larger blocks bypass the buffer
      if (layout_ == SpillLayout::kSstIngestDirect) {
        env.use_direct_writes = true;
        env.writable_file_max_buffer_size = 4 * kMiB;  // direct writes always go through it
      }
      rocksdb::Options options(db_options_, ValuesOptions());
      segment_ = std::make_unique<rocksdb::SstFileWriter>(env, options, values_,
                                                          /*invalidate_page_cache=*/false);
      segment_path_ = path_ + "/incoming/segment-" + std::to_string(item.seq) + ".sst";
      Check("open segment", segment_->Open(segment_path_));
      segment_bytes_ = 0;
    }
    for (std::uint64_t chunk = 0; chunk < Chunks(item); ++chunk) {
      Check("segment put", segment_->Put(ValueKey(item, chunk), ChunkOf(item, chunk)));
    }
    segment_records_.emplace_back(item.key, item.record);
    segment_bytes_ += item.value.size();
    if (segment_bytes_ >= kSegmentBytes) IngestSegment();
  }

  void IngestSegment() {
    if (!segment_) return;
    Check("finish segment", segment_->Finish());
    segment_.reset();
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    ingest.write_global_seqno = false;
    ingest.fail_if_not_bottommost_level = true;
    Check("ingest", db_->IngestExternalFile(values_, {segment_path_}, ingest));
    batch_.Clear();
    for (const auto& [key, record] : segment_records_)
      Check("batch", batch_.Put(records_, key, record));
    segment_records_.clear();
    Check("records", db_->Write(rocksdb::WriteOptions(), &batch_));
  }

  const SpillLayout layout_;
  std::string path_;
  rocksdb::DBOptions db_options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* values_ = nullptr;
  rocksdb::ColumnFamilyHandle* records_ = nullptr;
  rocksdb::WriteBatch batch_;
  std::unique_ptr<rocksdb::SstFileWriter> segment_;
  std::string segment_path_;
  std::uint64_t segment_bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> segment_records_;
};

std::vector<std::string> ValuePool(std::size_t block_bytes) {
  const std::size_t count = std::max<std::size_t>(1, kPoolBytes / block_bytes);
  std::vector<std::string> pool(count, std::string(block_bytes, '\0'));
  std::mt19937_64 rng(block_bytes);
  for (std::string& value : pool) {
    for (std::size_t i = 0; i + 8 <= value.size(); i += 8) {
      const std::uint64_t word = rng();
      std::memcpy(value.data() + i, &word, 8);
    }
  }
  return pool;
}

Item MakeItem(const std::vector<std::string>& pool, std::uint64_t i) {
  Item item;
  item.key = BlockKeyBytes(i);
  item.seq = i + 1;
  const std::string& value = pool[i % pool.size()];
  item.value = rocksdb::Slice(value);
  item.record.assign(kRecordBytes, '\0');
  StoreBigEndian(item.record.data() + 16, item.seq);
  StoreBigEndian(item.record.data() + 8, value.size());
  return item;
}

}  // namespace

namespace {

struct LayoutNames {
  SpillLayout layout;
  const char* id;
  const char* name;
};

// Every candidate, in the order of the table.
constexpr LayoutNames kLayouts[] = {
    {SpillLayout::kBlobToday, "blob", "BlobDB (previous)"},
    {SpillLayout::kBlobTuned, "blob-tuned", "BlobDB tuned"},
    {SpillLayout::kSstMemtableFifo, "sst-fifo", "SST via memtable, FIFO"},
    {SpillLayout::kSstIngest, "sst-ingest", "SST ingested (chosen)"},
    {SpillLayout::kSstIngestNoCheck, "sst-ingest-nocheck", "SST ingested, no RocksDB crc"},
    {SpillLayout::kSstIngestDirect, "sst-ingest-direct", "SST ingested, O_DIRECT"},
};

const LayoutNames& NamesOf(SpillLayout layout) {
  for (const LayoutNames& names : kLayouts) {
    if (names.layout == layout) return names;
  }
  return kLayouts[0];  // every enumerator is in the table
}

}  // namespace

std::vector<SpillLayout> AllSpillLayouts() {
  std::vector<SpillLayout> layouts;
  for (const LayoutNames& names : kLayouts) layouts.push_back(names.layout);
  return layouts;
}

const char* SpillLayoutName(SpillLayout layout) { return NamesOf(layout).name; }

const char* SpillLayoutId(SpillLayout layout) { return NamesOf(layout).id; }

SpillLayoutFigures RunSpillLayout(SpillLayout layout, std::size_t block_bytes,
                                  std::uint64_t total_bytes, const std::string& dir) {
  const std::size_t n = std::max<std::size_t>(1, total_bytes / block_bytes);
  const std::vector<std::string> pool = ValuePool(block_bytes);
  const std::string path = dir + "/layout-" + std::to_string(static_cast<int>(layout));
  std::filesystem::remove_all(path);
  SpillLayoutFigures f;
  const double gib = static_cast<double>(n) * static_cast<double>(block_bytes) / (1024.0 * kMiB);
  std::vector<std::uint64_t> checksums(n);
  {
    Candidate candidate(layout);
    candidate.Open(path);
    SyncFileSystem(path);
    const double cpu0 = ProcessCpuSeconds();
    const double disk0 = ProcessDiskWriteBytes();
    const auto t0 = Clock::now();
    std::vector<Item> batch;
    std::uint64_t batch_bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      Item item = MakeItem(pool, i);
      item.checksum = XXH3_64bits_dispatch(item.value.data(), item.value.size());
      std::memcpy(item.record.data(), &item.checksum, 8);
      checksums[i] = item.checksum;
      batch_bytes += item.value.size();
      batch.push_back(std::move(item));
      if (batch_bytes >= kBatchBytes) {
        candidate.Write(batch);
        batch.clear();
        batch_bytes = 0;
      }
    }
    if (!batch.empty()) candidate.Write(batch);
    candidate.Finish();
    SyncFileSystem(path);
    const double seconds = Seconds(Clock::now() - t0);
    f.write_gbps = static_cast<double>(n * block_bytes) / 1e9 / seconds;
    f.cpu_s_per_gib = (ProcessCpuSeconds() - cpu0) / gib;
    f.write_amp = (ProcessDiskWriteBytes() - disk0) / static_cast<double>(n * block_bytes);

    // Reads as the spill tier's: the value, copied into a buffer of its own, checked.
    for (const bool verify : {false, true}) {
      Samples reads;
      for (std::size_t i = 0; i < n; ++i) {
        const Item item = MakeItem(pool, i);
        const auto start = Clock::now();
        std::unique_ptr<char, decltype(&std::free)> copy(
            static_cast<char*>(std::malloc(block_bytes)), &std::free);
        const bool good = candidate.Read(item, verify, copy.get()).ok() &&
                          XXH3_64bits_dispatch(copy.get(), block_bytes) == checksums[i];
        reads.Add(Clock::now() - start);
        if (!good) ++f.bad;
      }
      const double gbps = static_cast<double>(n * block_bytes) / 1e9 / reads.total;
      if (verify) {
        f.read_checked_gbps = gbps;
      } else {
        f.read_gbps = gbps;
        f.read_p50_us = reads.Percentile(0.5) * 1e6;
        f.read_p99_us = reads.Percentile(0.99) * 1e6;
      }
    }
  }
  {
    Candidate candidate(layout);
    const auto t0 = Clock::now();
    candidate.Open(path);
    const std::size_t records = candidate.ScanRecords();
    f.reopen_s = Seconds(Clock::now() - t0);
    if (records != n) f.bad += n - std::min(n, records);
    f.table_reader_bytes_per_block =
        static_cast<double>(candidate.TableReaderBytes()) / static_cast<double>(n);
  }
  std::filesystem::remove_all(path);
  return f;
}

}  // namespace prefixcache::bench
