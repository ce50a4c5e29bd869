#include "spill_tier.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <new>
#include <queue>
#include <system_error>
#include <utility>

#include "counters.h"
#include "prefixcache/check.h"

namespace prefixcache::storage {
namespace {

constexpr char kBlocksFamily[] = "blocks";
constexpr char kMetaFamily[] = "meta";
// RocksDB stores value lengths in 32 bits.
constexpr std::uint64_t kMaxValueBytes = std::numeric_limits<std::uint32_t>::max();

rocksdb::Slice KeySlice(const BlockKey& key) {
  return {reinterpret_cast<const char*>(key.bytes.data()), BlockKey::kSize};
}

std::uint64_t Checksum(const Buffer& value) { return XXH3_64bits(value.data(), value.size()); }

rocksdb::WriteOptions SpillWriteOptions() {
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // see "Durability" in spill_tier.h
  return options;
}

// Memtables of both families. With atomic_flush every flush switches the memtables of both
// families at once, so they need the same number of slots, or the tiny "meta" memtables
// stop writes while the "blocks" ones are still being flushed. Four slots let the writer
// fill two memtables while two others flush in parallel (kFlushThreads). Values pass
// through the memtables, so this bounds the RAM they take there: 4 x 32 MiB.
constexpr std::size_t kMemtableBytes = 32 * kMiB;
constexpr int kMemtables = 4;
// Flushing a memtable into a blob file is CPU-bound: Debian's portable librocksdb computes
// each blob record's CRC32C in software, about 1 GB/s a core. Two flushes run in parallel.
constexpr int kFlushThreads = 2;

rocksdb::ColumnFamilyOptions BlocksFamilyOptions(const SpillTierOptions& options) {
  rocksdb::ColumnFamilyOptions family;
  family.compression = rocksdb::kNoCompression;  // KV tensors do not compress
  family.enable_blob_files = true;
  family.min_blob_size = options.min_blob_bytes;
  family.blob_compression_type = rocksdb::kNoCompression;
  // No blob GC: it relocates every live blob of the oldest blob files at each compaction,
  // 30-45% more disk writes while the tier fills (bench/storage_bench). A blob file is
  // deleted once all its blobs are garbage; see "Blob files" in spill_tier.h.
  family.enable_blob_garbage_collection = false;
  family.write_buffer_size = kMemtableBytes;
  family.max_write_buffer_number = kMemtables;
  return family;
}

// A copy of `value` checked against its record: Corruption (the message says why) on a
// size or checksum mismatch, Rejected when the copy cannot be allocated.
Result<Block> CopyVerified(const rocksdb::Slice& value, const SpillRecord& record) {
  if (value.size() != record.size_bytes) {
    return Status::Corruption("value of " + std::to_string(value.size()) + " bytes, expected " +
                              std::to_string(record.size_bytes));
  }
  MutableBuffer copy;
  try {
    copy = MutableBuffer(value.size());
  } catch (const std::bad_alloc&) {
    return Status::Rejected("spill read: no memory for " + std::to_string(value.size()) + " bytes");
  }
  if (value.size() != 0) std::memcpy(copy.data(), value.data(), value.size());
  // The checksum covers the bytes handed out, after the copy.
  if (XXH3_64bits(copy.data(), copy.size()) != record.checksum) {
    return Status::Corruption("XXH3-64 checksum mismatch");
  }
  return Block{std::move(copy).Freeze(), record.depth};
}

rocksdb::ColumnFamilyOptions MetaFamilyOptions() {
  rocksdb::ColumnFamilyOptions family;
  family.compression = rocksdb::kNoCompression;  // 28-byte records of hashes and counters
  family.max_write_buffer_number = kMemtables;   // see kMemtables
  return family;
}

void DeleteBoth(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* blocks,
                rocksdb::ColumnFamilyHandle* meta, const BlockKey& key) {
  batch.Delete(blocks, KeySlice(key));
  batch.Delete(meta, KeySlice(key));
}

}  // namespace

Status SpillTier::ValidateOptions(const SpillTierOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("spill.path: must not be empty");
  if (options.capacity_bytes == 0) {
    return Status::InvalidArgument("spill.capacity_bytes: must be > 0");
  }
  if (options.batch_bytes == 0) return Status::InvalidArgument("spill.batch_bytes: must be > 0");
  return Status::Ok();
}

Result<std::unique_ptr<SpillTier>> SpillTier::Open(const SpillTierOptions& options) {
  return Open(options, nullptr);
}

Result<std::unique_ptr<SpillTier>> SpillTier::Open(const SpillTierOptions& options,
                                                   rocksdb::Env* env) {
  if (Status valid = ValidateOptions(options); !valid.ok()) return valid;

  // RocksDB creates only the last level of the path. A failure here is left to RocksDB,
  // whose error then names the reason.
  const std::filesystem::path path(options.path);
  if (path.has_parent_path()) {
    std::error_code ignored;
    std::filesystem::create_directories(path.parent_path(), ignored);
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // A block and its meta record reach the disk together (the WAL is off).
  db_options.atomic_flush = true;
  db_options.max_background_flushes = kFlushThreads;
  // Compactions only merge the small tables of blob references.
  db_options.max_background_compactions = 1;
  // Blob files are written back as they grow, not all at the end of a flush.
  db_options.bytes_per_sync = 1 * kMiB;
  db_options.keep_log_file_num = 4;
  if (env != nullptr) db_options.env = env;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kBlocksFamily, BlocksFamilyOptions(options)},
      {kMetaFamily, MetaFamilyOptions()},
  };
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status opened = rocksdb::DB::Open(db_options, options.path, families, &handles, &raw);
  if (!opened.ok()) {
    return Status::IoError("spill folder " + options.path + ": " + opened.ToString());
  }
  std::unique_ptr<SpillTier> tier(new SpillTier(options, raw, std::move(handles)));
  if (Status loaded = tier->LoadIndex(); !loaded.ok()) {
    (void)tier->Close();  // the load failure is what is reported
    return loaded;
  }
  try {
    tier->writer_ = std::thread(&SpillTier::WriterLoop, tier.get());
  } catch (const std::system_error& e) {
    (void)tier->Close();  // the thread failure is what is reported
    return Status::IoError("spill folder " + options.path +
                           ": cannot start the writer: " + e.what());
  }
  return tier;
}

SpillTier::SpillTier(const SpillTierOptions& options, rocksdb::DB* db,
                     std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(options), db_(db), handles_(std::move(handles)) {
  PC_CHECK(handles_.size() == 3);
  blocks_cf_ = handles_[1];
  meta_cf_ = handles_[2];
}

SpillTier::~SpillTier() { (void)Close(); }  // no one to report to; Close() callers get it

// Runs before the writer starts, so nothing else touches the tier yet.
Status SpillTier::LoadIndex() {
  std::vector<BlockKey> broken;
  std::vector<std::pair<BlockKey, SpillRecord>> loaded;
  {
    rocksdb::ReadOptions read;
    read.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, meta_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view raw_key(it->key().data(), it->key().size());
      std::optional<BlockKey> key = BlockKey::FromBytes(raw_key);
      std::optional<SpillRecord> record =
          SpillRecord::Decode(std::string_view(it->value().data(), it->value().size()));
      if (!key) continue;  // never written by this tier; harmless
      if (!record) {
        broken.push_back(*key);
        continue;
      }
      loaded.emplace_back(*key, *record);
      next_seq_ = std::max(next_seq_, record->seq + 1);
    }
    if (!it->status().ok()) {
      return Status::IoError("spill folder " + options_.path +
                             ": reading the index: " + it->status().ToString());
    }
  }
  // In write order, so that the index knows how old each copy is.
  std::sort(loaded.begin(), loaded.end(),
            [](const auto& a, const auto& b) { return a.second.seq < b.second.seq; });
  for (const auto& [key, record] : loaded) index_.Insert(key, record);
  // Records that cannot be decoded, and the coldest blocks past a capacity that shrank
  // since the last run, go now.
  std::vector<BlockKey> victims =
      index_.PickVictims(index_.bytes(), options_.capacity_bytes, SpillIndex::KeySet());
  if (broken.empty() && victims.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  for (const BlockKey& key : broken) DeleteBoth(batch, blocks_cf_, meta_cf_, key);
  for (const BlockKey& key : victims) DeleteBoth(batch, blocks_cf_, meta_cf_, key);
  rocksdb::Status written = db_->Write(SpillWriteOptions(), &batch);
  if (!written.ok()) {
    return Status::IoError("spill folder " + options_.path +
                           ": trimming to capacity: " + written.ToString());
  }
  for (const BlockKey& key : victims) index_.Erase(key);
  Add(evictions_, victims.size());
  Add(checksum_failures_, broken.size());
  return Status::Ok();
}

void SpillTier::WriterLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is written
    }
    std::lock_guard write_lock(write_mu_);
    WriteQueuedBatch();
  }
}

void SpillTier::WriteQueuedBatch() {
  std::shared_lock db_lock(db_mu_);  // db_ stays open: Close() joins this thread first
  std::vector<Op> ops;
  std::uint64_t popped_bytes = 0;
  {
    std::lock_guard lock(mu_);
    while (!queue_.empty()) {
      const Op& front = queue_.front();
      const std::uint64_t size = front.block ? front.block->value.size() : 0;
      if (!ops.empty() && popped_bytes + size > options_.batch_bytes) break;
      popped_bytes += size;
      ops.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  if (ops.empty()) return;

  // Hashing MiBs of values happens outside mu_ so readers are not held up.
  std::vector<std::uint64_t> checksums(ops.size(), 0);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].block) checksums[i] = Checksum(ops[i].block->value);
  }

  // A put op is live only while queued_ still names it: a later Enqueue, Put, Erase or
  // Clear of the key supersedes it. Live ops never precede a delete op of the
  // same key in one batch (Erase removes the queued_ entry), so writing the deletes
  // first keeps the order that matters.
  std::vector<BlockKey> deletes;
  std::vector<PlannedPut> planned;
  std::vector<BlockKey> victims;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < ops.size(); ++i) {
      Op& op = ops[i];
      if (!op.block) {
        deletes.push_back(op.key);
        continue;
      }
      auto queued = queued_.find(op.key);
      if (queued == queued_.end() || queued->second.op_id != op.id) continue;
      const std::uint64_t size = op.block->value.size();
      if (HoldsRecentCopyLocked(op.key, checksums[i], size)) {
        // Already stored (a promoted block evicted again): refresh, nothing to write.
        index_.Touch(op.key, next_seq_++);
        UnqueueLocked(queued);
        continue;
      }
      SpillRecord record{checksums[i], size, op.block->depth, next_seq_++};
      planned.push_back(PlannedPut{op.key, std::move(*op.block), record, op.id});
    }
    victims = TakeVictimsLocked(planned);
  }

  Status written = WriteLocked(deletes, victims, planned);

  std::lock_guard lock(mu_);
  if (written.ok()) {
    for (const PlannedPut& put : planned) {
      auto queued = queued_.find(put.key);
      // Erased while being written: its delete op follows in the queue.
      if (queued == queued_.end()) continue;
      IndexLocked(put.key, put.record);  // first: the key stays held throughout
      if (queued->second.op_id == put.op_id) UnqueueLocked(queued);
    }
    Add(demotions_, planned.size());
  } else {
    for (const PlannedPut& put : planned) {
      auto queued = queued_.find(put.key);
      if (queued != queued_.end() && queued->second.op_id == put.op_id) UnqueueLocked(queued);
    }
    Add(demotion_drops_, planned.size());
    // Out of memory for the batch drops it; a RocksDB failure also stops the tier.
    if (written.code() == StatusCode::kIoError) FailLocked(written.message());
  }
  queue_bytes_.fetch_sub(popped_bytes, kRelaxed);
  done_op_id_ = std::max(done_op_id_, ops.back().id);
  drain_cv_.notify_all();
}

bool SpillTier::HoldsRecentCopyLocked(const BlockKey& key, std::uint64_t checksum,
                                      std::uint64_t size) const {
  const SpillRecord* old = index_.Find(key);
  return old != nullptr && old->checksum == checksum && old->size_bytes == size &&
         index_.BytesInsertedSince(key) < options_.capacity_bytes / 2;
}

std::vector<BlockKey> SpillTier::TakeVictimsLocked(std::vector<PlannedPut>& planned) {
  std::vector<BlockKey> victims;
  // A batch larger than the whole capacity: its oldest blocks would be evicted as soon as
  // written, so they are not written (and an older copy of their key goes too).
  std::uint64_t planned_bytes = 0;
  for (const PlannedPut& put : planned) planned_bytes += put.record.size_bytes;
  std::size_t trimmed = 0;
  for (; trimmed < planned.size() && planned_bytes > options_.capacity_bytes; ++trimmed) {
    const PlannedPut& put = planned[trimmed];
    planned_bytes -= put.record.size_bytes;
    if (index_.Find(put.key) != nullptr) victims.push_back(put.key);
    auto queued = queued_.find(put.key);
    if (queued != queued_.end() && queued->second.op_id == put.op_id) UnqueueLocked(queued);
  }
  planned.erase(planned.begin(), planned.begin() + static_cast<std::ptrdiff_t>(trimmed));
  Add(evictions_, trimmed);
  for (const BlockKey& key : victims) UnindexLocked(key);

  SpillIndex::KeySet keep;
  std::uint64_t projected = index_.bytes();
  for (const PlannedPut& put : planned) {
    keep.insert(put.key);
    projected += put.record.size_bytes;
    if (const SpillRecord* old = index_.Find(put.key)) projected -= old->size_bytes;
  }
  // The coldest leave the index now, so readers miss them while the batch deletes them.
  for (const BlockKey& key : index_.PickVictims(projected, options_.capacity_bytes, keep)) {
    UnindexLocked(key);
    victims.push_back(key);
    Add(evictions_);
  }
  return victims;
}

Status SpillTier::WriteLocked(const std::vector<BlockKey>& deletes,
                              const std::vector<BlockKey>& victims,
                              const std::vector<PlannedPut>& planned) {
  if (deletes.empty() && victims.empty() && planned.empty()) return Status::Ok();
  rocksdb::Status status;
  try {
    std::size_t reserve_bytes = 0;
    for (const PlannedPut& put : planned) reserve_bytes += put.block.value.size() + 128;
    rocksdb::WriteBatch batch(reserve_bytes);
    for (const BlockKey& key : deletes) DeleteBoth(batch, blocks_cf_, meta_cf_, key);
    for (const BlockKey& key : victims) DeleteBoth(batch, blocks_cf_, meta_cf_, key);
    for (const PlannedPut& put : planned) {
      const rocksdb::Slice value(reinterpret_cast<const char*>(put.block.value.data()),
                                 put.block.value.size());
      status = batch.Put(blocks_cf_, KeySlice(put.key), value);
      if (status.ok()) status = batch.Put(meta_cf_, KeySlice(put.key), put.record.Encode());
      if (!status.ok()) break;
    }
    if (status.ok()) status = db_->Write(SpillWriteOptions(), &batch);
  } catch (const std::bad_alloc&) {
    return Status::Rejected("spill: out of memory for a write batch");
  }
  if (status.ok()) return Status::Ok();
  Add(io_errors_);
  return Status::IoError("spill folder " + options_.path + ": write failed: " + status.ToString());
}

void SpillTier::FailLocked(const std::string& error) {
  if (health_.ok()) health_ = Status::IoError(error);
  std::uint64_t dropped_bytes = 0;
  for (const Op& op : queue_) {
    if (!op.block) continue;
    dropped_bytes += op.block->value.size();
    Add(demotion_drops_);
  }
  queue_.clear();
  while (!queued_.empty()) UnqueueLocked(queued_.begin());
  queue_bytes_.fetch_sub(dropped_bytes, kRelaxed);
  done_op_id_ = last_op_id_;
  drain_cv_.notify_all();
}

void SpillTier::Enqueue(const BlockKey& key, Block block) {
  const std::uint64_t size = block.value.size();
  std::lock_guard lock(mu_);
  in_memory_.erase(key);  // evicted from memory, whether or not it is queued
  if (closed_ || stopping_ || !health_.ok() || size > options_.capacity_bytes ||
      size > kMaxValueBytes || queue_bytes_.load(kRelaxed) + size > options_.queue_bytes) {
    Add(demotion_drops_);
    return;
  }
  const std::uint64_t id = ++last_op_id_;
  QueueLocked(key, Queued{block, id});
  queue_.push_back(Op{key, std::move(block), id});
  Add(queue_bytes_, size);
  work_cv_.notify_one();
}

void SpillTier::Erase(const BlockKey& key) {
  std::lock_guard lock(mu_);
  const bool queued = UnqueueLocked(key);
  const bool indexed = UnindexLocked(key);
  // A queued block may be in the writer's hands already, so its disk copy is deleted
  // too. Past stopping_ the writer may be gone, and an unhealthy tier writes nothing: the
  // delete is then lost (see Erase in spill_tier.h).
  if (!(queued || indexed) || closed_ || stopping_ || !health_.ok()) return;
  queue_.push_back(Op{key, std::nullopt, ++last_op_id_});
  work_cv_.notify_one();
}

Result<Block> SpillTier::GetQueued(const BlockKey& key, bool* on_disk) {
  std::lock_guard lock(mu_);
  auto queued = queued_.find(key);
  const bool indexed = index_.Find(key) != nullptr;
  if (on_disk != nullptr) *on_disk = queued == queued_.end() && indexed;
  if (queued != queued_.end()) {
    Add(hits_);
    return queued->second.block;
  }
  if (!indexed) Add(misses_);
  return Status::NotFound();
}

Result<Block> SpillTier::Get(const BlockKey& key) {
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    if (auto queued = queued_.find(key); queued != queued_.end()) {
      Add(hits_);
      return queued->second.block;
    }
    const SpillRecord* record = index_.Find(key);
    if (record == nullptr) {
      Add(misses_);
      return Status::NotFound();
    }
    seq = record->seq;
    index_.Touch(key, next_seq_++);
  }
  return ReadFromDisk(key, seq);
}

Result<Block> SpillTier::ReadFromDisk(const BlockKey& key, std::uint64_t seq) {
  std::string why;
  {
    std::shared_lock db_lock(db_mu_);
    if (!db_) {
      Add(misses_);
      return Status::NotFound();
    }
    // Value and record from one snapshot, so a concurrent rewrite of the key cannot pair
    // new bytes with an old checksum.
    rocksdb::ManagedSnapshot snapshot(db_.get());
    rocksdb::ReadOptions read;
    read.snapshot = snapshot.snapshot();
    std::string raw_record;
    rocksdb::Status status = db_->Get(read, meta_cf_, KeySlice(key), &raw_record);
    if (status.IsNotFound()) {  // erased or evicted since the index lookup
      Add(misses_);
      return Status::NotFound();
    }
    if (!status.ok() && !status.IsCorruption()) {
      Add(io_errors_);
      return Status::IoError("spill read of " + key.ToHex() + ": " + status.ToString());
    }
    std::optional<SpillRecord> record;
    if (status.ok()) record = SpillRecord::Decode(raw_record);
    if (!record) {
      why = "unreadable meta record";
    } else {
      seq = record->seq;
      // The value is checked against the record's XXH3 below, so RocksDB's own CRC32C of
      // the blob (in software in Debian's build) would only read the bytes a second time.
      rocksdb::ReadOptions read_value = read;
      read_value.verify_checksums = false;
      rocksdb::PinnableSlice value;
      status = db_->Get(read_value, blocks_cf_, KeySlice(key), &value);
      if (status.ok()) {
        Result<Block> block = CopyVerified(value, *record);
        if (block.ok()) {
          Add(hits_);
          return block;
        }
        if (block.status().code() != StatusCode::kCorruption) return block.status();
        why = block.status().message();
      } else if (status.IsNotFound()) {
        why = "value missing";
      } else if (status.IsCorruption()) {
        why = status.ToString();
      } else {
        Add(io_errors_);
        return Status::IoError("spill read of " + key.ToHex() + ": " + status.ToString());
      }
    }
  }
  DropCorrupt(key, seq);
  Add(checksum_failures_);
  Add(misses_);
  return Status::Corruption("spill block " + key.ToHex() + ": " + why + "; deleted");
}

void SpillTier::DropCorrupt(const BlockKey& key, std::uint64_t seq) {
  std::lock_guard write_lock(write_mu_);
  std::shared_lock db_lock(db_mu_);
  {
    std::lock_guard lock(mu_);
    const SpillRecord* record = index_.Find(key);
    if (record == nullptr || record->seq != seq) return;  // erased or rewritten meanwhile
    UnindexLocked(key);
  }
  if (!db_) return;
  rocksdb::WriteBatch batch;
  DeleteBoth(batch, blocks_cf_, meta_cf_, key);
  if (!db_->Write(SpillWriteOptions(), &batch).ok()) Add(io_errors_);
}

Status SpillTier::Put(const BlockKey& key, Block block) {
  const std::uint64_t size = block.value.size();
  if (size > options_.capacity_bytes || size > kMaxValueBytes) {
    return Status::Rejected(
        "block of " + std::to_string(size) + " bytes exceeds the spill tier capacity of " +
        std::to_string(std::min(options_.capacity_bytes, kMaxValueBytes)) + " bytes");
  }
  const std::uint64_t checksum = Checksum(block.value);
  std::lock_guard write_lock(write_mu_);
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Status::Unavailable("spill tier closed");
  std::vector<PlannedPut> planned;
  std::vector<BlockKey> victims;
  {
    std::lock_guard lock(mu_);
    if (!health_.ok()) return health_;
    UnqueueLocked(key);  // older queued copies are superseded
    if (HoldsRecentCopyLocked(key, checksum, size)) {
      index_.Touch(key, next_seq_++);
      return Status::Ok();
    }
    SpillRecord record{checksum, size, block.depth, next_seq_++};
    planned.push_back(PlannedPut{key, std::move(block), record, 0});
    victims = TakeVictimsLocked(planned);
  }
  Status written = WriteLocked({}, victims, planned);
  std::lock_guard lock(mu_);
  if (!written.ok()) {
    if (written.code() == StatusCode::kIoError) FailLocked(written.message());
    return written;
  }
  IndexLocked(key, planned.front().record);
  Add(demotions_);
  return Status::Ok();
}

void SpillTier::QueueLocked(const BlockKey& key, Queued queued) {
  const bool added = queued_.insert_or_assign(key, std::move(queued)).second;
  if (added && index_.Find(key) == nullptr) ++queued_only_;
}

void SpillTier::UnqueueLocked(QueuedMap::iterator queued) {
  const BlockKey key = queued->first;
  queued_.erase(queued);
  if (index_.Find(key) == nullptr) {
    --queued_only_;
    in_memory_.erase(key);
  }
}

bool SpillTier::UnqueueLocked(const BlockKey& key) {
  auto queued = queued_.find(key);
  if (queued == queued_.end()) return false;
  UnqueueLocked(queued);
  return true;
}

void SpillTier::IndexLocked(const BlockKey& key, const SpillRecord& record) {
  if (index_.Find(key) == nullptr && queued_.contains(key)) --queued_only_;
  index_.Insert(key, record);
}

bool SpillTier::UnindexLocked(const BlockKey& key) {
  if (!index_.Erase(key)) return false;
  if (queued_.contains(key)) {
    ++queued_only_;
  } else {
    in_memory_.erase(key);
  }
  return true;
}

void SpillTier::ForgetAllLocked() {
  queued_.clear();
  index_.Clear();
  in_memory_.clear();
  queued_only_ = 0;
}

void SpillTier::MarkInMemory(const BlockKey& key) {
  std::lock_guard lock(mu_);
  if (queued_.contains(key) || index_.Find(key) != nullptr) in_memory_.insert(key);
}

void SpillTier::MarkNotInMemory(const BlockKey& key) {
  std::lock_guard lock(mu_);
  in_memory_.erase(key);
}

std::uint64_t SpillTier::CountNotInMemory() const {
  std::lock_guard lock(mu_);
  return index_.size() + queued_only_ - in_memory_.size();
}

bool SpillTier::Contains(const BlockKey& key) const {
  std::lock_guard lock(mu_);
  return queued_.contains(key) || index_.Find(key) != nullptr;
}

bool SpillTier::NeedsDiskRead(const BlockKey& key) const {
  std::lock_guard lock(mu_);
  return !queued_.contains(key) && index_.Find(key) != nullptr;
}

SpillTier::ScanPage SpillTier::Scan(std::uint64_t cursor, std::size_t count) const {
  static_assert(sizeof(std::size_t) == sizeof(std::uint64_t), "positions are 64-bit hashes");
  constexpr std::uint64_t kLastPosition = std::numeric_limits<std::uint64_t>::max();
  count = std::max<std::size_t>(count, 1);
  auto position = [](const BlockKey& key) -> std::uint64_t { return BlockKeyHash()(key); };
  std::lock_guard lock(mu_);
  auto for_each_key = [&](const auto& visit) {
    index_.ForEachKey(visit);
    for (const auto& [key, queued] : queued_) {
      if (index_.Find(key) == nullptr) visit(key);
    }
  };
  // The page ends at the count-th smallest position at or past the cursor, or at the end
  // when fewer remain; a max-heap keeps the `count` smallest positions seen.
  std::priority_queue<std::uint64_t> smallest;
  for_each_key([&](const BlockKey& key) {
    const std::uint64_t at = position(key);
    if (at < cursor) return;
    if (smallest.size() < count) {
      smallest.push(at);
    } else if (at < smallest.top()) {
      smallest.pop();
      smallest.push(at);
    }
  });
  ScanPage page;
  if (smallest.empty()) return page;
  const std::uint64_t last = smallest.size() < count ? kLastPosition : smallest.top();
  for_each_key([&](const BlockKey& key) {
    const std::uint64_t at = position(key);
    if (at >= cursor && at <= last) page.keys.push_back(key);
  });
  std::sort(page.keys.begin(), page.keys.end(), [&](const BlockKey& a, const BlockKey& b) {
    const std::uint64_t at_a = position(a);
    const std::uint64_t at_b = position(b);
    return at_a != at_b ? at_a < at_b : a < b;
  });
  page.next_cursor = last == kLastPosition ? 0 : last + 1;
  return page;
}

Status SpillTier::Clear() {
  std::lock_guard write_lock(write_mu_);
  std::shared_lock db_lock(db_mu_);
  {
    std::lock_guard lock(mu_);
    queue_.clear();
    ForgetAllLocked();
    queue_bytes_.store(0, kRelaxed);
    done_op_id_ = last_op_id_;
    drain_cv_.notify_all();
  }
  if (!db_) return Status::Ok();
  // Every key is 16 bytes, so [16 x 0x00, 17 x 0xff) covers them all.
  const std::string begin(BlockKey::kSize, '\0');
  const std::string end(BlockKey::kSize + 1, '\xff');
  rocksdb::WriteBatch batch;
  rocksdb::Status status = batch.DeleteRange(blocks_cf_, begin, end);
  if (status.ok()) status = batch.DeleteRange(meta_cf_, begin, end);
  if (status.ok()) status = db_->Write(SpillWriteOptions(), &batch);
  // Compaction drops the deleted entries and thereby their blob files. It is cheap: the
  // tables hold only blob references and small values.
  rocksdb::CompactRangeOptions compact;
  if (status.ok()) status = db_->CompactRange(compact, blocks_cf_, nullptr, nullptr);
  if (status.ok()) status = db_->CompactRange(compact, meta_cf_, nullptr, nullptr);
  if (status.ok()) return Status::Ok();
  Add(io_errors_);
  return Status::IoError("spill folder " + options_.path + ": clear failed: " + status.ToString());
}

Status SpillTier::Drain() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = last_op_id_;
  drain_cv_.wait(lock, [&] { return done_op_id_ >= target; });
  return closed_ ? Status::Unavailable("spill tier closed") : health_;
}

Status SpillTier::Flush() {
  Status drained = Drain();
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Status::Unavailable("spill tier closed");
  Status flushed = FlushLocked();
  return drained.ok() ? flushed : drained;
}

Status SpillTier::FlushLocked() {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  rocksdb::Status status = db_->Flush(flush, {blocks_cf_, meta_cf_});
  if (status.ok()) return Status::Ok();
  Add(io_errors_);
  return Status::IoError("spill folder " + options_.path + ": flush failed: " + status.ToString());
}

Status SpillTier::Health() const {
  std::lock_guard lock(mu_);
  return closed_ ? Status::Unavailable("spill tier closed") : health_;
}

Status SpillTier::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    if (closed_) return Status::Ok();
  }
  Status status = Drain();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();

  std::unique_lock db_lock(db_mu_);  // waits for readers and writers in flight
  if (Status flushed = FlushLocked(); status.ok()) status = flushed;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  handles_.clear();
  blocks_cf_ = meta_cf_ = nullptr;
  rocksdb::Status closed = db_->Close();
  if (!closed.ok() && status.ok()) {
    status =
        Status::IoError("spill folder " + options_.path + ": close failed: " + closed.ToString());
  }
  db_.reset();

  std::lock_guard lock(mu_);
  closed_ = true;
  queue_.clear();
  ForgetAllLocked();
  queue_bytes_.store(0, kRelaxed);
  done_op_id_ = last_op_id_;
  drain_cv_.notify_all();
  return status;
}

TierStats SpillTier::Stats() const {
  TierStats stats;
  {
    std::lock_guard lock(mu_);
    stats.bytes = index_.bytes();
    stats.entries = index_.size();
  }
  stats.capacity_bytes = options_.capacity_bytes;
  stats.hits = hits_.load(kRelaxed);
  stats.misses = misses_.load(kRelaxed);
  stats.evictions = evictions_.load(kRelaxed);
  stats.demotions = demotions_.load(kRelaxed);
  stats.checksum_failures = checksum_failures_.load(kRelaxed);
  stats.demotion_drops = demotion_drops_.load(kRelaxed);
  stats.io_errors = io_errors_.load(kRelaxed);
  stats.queue_bytes = queue_bytes_.load(kRelaxed);
  return stats;
}

}  // namespace prefixcache::storage
