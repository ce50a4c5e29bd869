// SpillTier's write path: the writer thread, Put, Enqueue and Erase, capacity and disk
// eviction, and the segment being written.
#include <pthread.h>
#include <xxh_x86dispatch.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <utility>

#include "counters.h"
#include "prefixcache/check.h"
#include "spill_tier.h"

namespace prefixcache::storage {
namespace {

std::uint64_t Checksum(const Buffer& value) {
  return XXH3_64bits_dispatch(value.data(), value.size());
}

// Syncs and ingests `segment`; Rejected when out of memory.
Status Seal(SpillDb& db, std::unique_ptr<SpillDb::Segment> segment) {
  try {
    return db.FinishSegment(std::move(segment));
  } catch (const std::bad_alloc&) {
    return Status::Rejected("spill: out of memory while sealing a segment");
  }
}

}  // namespace

void SpillTier::WriterLoop() {
  // Named for top -H and for storage_bench's CPU split (at most 15 characters).
  pthread_setname_np(pthread_self(), "spill-writer");
  const std::chrono::milliseconds longest(std::max(options_.retry_min_ms, options_.retry_max_ms));
  std::chrono::milliseconds backoff(options_.retry_min_ms);
  for (;;) {
    std::string failure;  // a failure not reported yet
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || !health_.ok(); });
      if (health_.ok()) {
        if (queue_.empty()) return;  // stopping, and everything is written
      } else {
        if (!failure_reported_) failure = health_.message();
        failure_reported_ = true;
      }
    }
    if (!failure.empty()) {
      notice_(failure + "; spill writes stop (reads go on), reopening the folder in " +
              std::to_string(backoff.count()) + " ms");
    }
    if (Health().ok()) {
      {
        std::lock_guard write_lock(write_mu_);
        WriteQueuedBatch();
      }
      // The wait starts short again only once writes succeed: a disk that is still full
      // lets the folder reopen and fails the next write.
      if (Health().ok()) backoff = std::chrono::milliseconds(options_.retry_min_ms);
      continue;
    }
    {
      // An unhealthy tier queues nothing (Enqueue drops), so only Close ends the wait.
      std::unique_lock lock(mu_);
      if (work_cv_.wait_for(lock, backoff, [this] { return stopping_; })) return;
    }
    Status recovered = Recover();
    backoff = std::min(backoff * 2, longest);
    if (recovered.ok()) {
      notice_("spill tier " + options_.path + ": reopened, writing again");
    } else {
      notice_("spill tier " + options_.path + ": reopen failed: " + recovered.message() +
              "; next attempt in " + std::to_string(backoff.count()) + " ms");
    }
  }
}

Status SpillTier::Recover() {
  std::lock_guard write_lock(write_mu_);
  {
    std::shared_lock db_lock(db_mu_);
    if (db_) {
      (void)FinishSealLocked(true);  // the seal in flight; its result no longer matters
      std::lock_guard lock(mu_);
      AbandonSegmentLocked();
    }
  }
  std::unique_lock db_lock(db_mu_);  // waits for the reads in flight
  {
    std::lock_guard lock(mu_);
    if (stopping_ || closed_) return Status::Unavailable("spill tier closed");
  }
  return ReopenLocked();
}

Status SpillTier::ReopenLocked() {
  std::unordered_set<BlockKey, BlockKeyHash> in_memory;
  {
    std::lock_guard lock(mu_);
    in_memory = std::move(in_memory_);
    ForgetAllLocked();
    reopen_failed_ = true;  // until the folder is open and indexed again
  }
  if (db_) (void)db_->Close();  // the tier failed already; the reopen tells what works
  db_.reset();
  auto fail = [&](Status status) {
    Add(io_errors_);
    std::lock_guard lock(mu_);
    health_ = Status::IoError(status.message());
    return status;
  };
  Status loaded;
  for (int attempt = 0;; ++attempt) {
    auto opened = SpillDb::Open(options_.path, env_, notice_);
    if (!opened.ok()) return fail(opened.status());
    db_ = std::move(opened).value();
    loaded = LoadIndexLocked();
    if (loaded.code() != StatusCode::kCorruption || attempt > 0) break;
    // As Open does: records RocksDB cannot read are started again, empty.
    notice_(loaded.message() + "; its blocks are discarded and the tier starts empty");
    (void)db_->Close();  // the folder is destroyed next
    db_.reset();
    {
      std::lock_guard lock(mu_);
      ForgetAllLocked();
    }
    if (Status destroyed = SpillDb::Destroy(options_.path, env_); !destroyed.ok()) {
      return fail(destroyed);
    }
  }
  std::vector<BlockKey> erased;
  bool clear = false;
  {
    std::lock_guard lock(mu_);
    clear = clear_on_reopen_;
    erased.assign(erased_while_failed_.begin(), erased_while_failed_.end());
    for (const BlockKey& key : erased) UnindexLocked(key);
  }
  if (loaded.ok() && clear) loaded = db_->Clear();
  if (loaded.ok() && !clear) loaded = db_->WriteRecords({}, erased);
  if (!loaded.ok()) {
    (void)db_->Close();  // reported through `loaded`
    db_.reset();
    std::lock_guard lock(mu_);
    ForgetAllLocked();
    return fail(loaded);
  }
  std::lock_guard lock(mu_);
  if (clear) ForgetAllLocked();
  for (const BlockKey& key : in_memory) {
    if (index_.Find(key) != nullptr) in_memory_.insert(key);
  }
  erased_while_failed_.clear();
  clear_on_reopen_ = false;
  reopen_failed_ = false;
  failure_reported_ = false;
  health_ = Status::Ok();
  Add(reopens_);
  return Status::Ok();
}

void SpillTier::RememberErasedLocked(const BlockKey& key) {
  constexpr std::size_t kMostErased = 65536;
  if (clear_on_reopen_) return;
  if (erased_while_failed_.size() >= kMostErased) {
    clear_on_reopen_ = true;
    erased_while_failed_.clear();
    return;
  }
  erased_while_failed_.insert(key);
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
  std::vector<std::pair<BlockKey, SpillRecord>> rewrites;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < ops.size(); ++i) {
      Op& op = ops[i];
      if (op.rewrite_record) {
        // The record as indexed now, if its value is on disk; a copy in the segment being
        // written gets its record (from the index) when that segment is on disk.
        const SpillRecord* record = index_.Find(op.key);
        if (record != nullptr && SegmentBlockLocked(op.key) == nullptr) {
          rewrites.emplace_back(op.key, *record);
        }
        continue;
      }
      if (!op.block) {
        // Put again since the Erase (Put runs under write_mu_ too, so it indexed before this
        // batch began): its record replaces the erased one when its segment is ingested,
        // and deleting now could remove that new record, leaving a held key without one.
        if (index_.Find(op.key) == nullptr) deletes.push_back(op.key);
        continue;
      }
      auto queued = queued_.find(op.key);
      if (queued == queued_.end() || queued->second.op_id != op.id) continue;
      const std::uint64_t size = op.block->value.size();
      // The queued entry's meta is the newest (SetMeta changes it, not the op's copy).
      KeyMetaRef meta = queued->second.block.meta;
      if (meta.ExpiredAt(NowMs())) {
        EraseLocked(op.key);
        continue;
      }
      if (HoldsRecentCopyLocked(op.key, checksums[i], size, meta)) {
        // Already stored (a promoted block evicted again): refresh, nothing to write.
        index_.Touch(op.key);
        UnqueueLocked(queued);
        continue;
      }
      SpillRecord record{checksums[i], size, op.block->depth, next_seq_++, 0, meta};
      op.block->meta = std::move(meta);
      planned.push_back(PlannedPut{op.key, std::move(*op.block), record, op.id});
    }
    victims = TakeVictimsLocked(planned);
  }

  // A failure is the tier's health from then on.
  (void)WriteLocked(deletes, victims, planned, rewrites);

  std::lock_guard lock(mu_);
  queue_bytes_.fetch_sub(popped_bytes, kRelaxed);
  done_op_id_ = std::max(done_op_id_, ops.back().id);
  drain_cv_.notify_all();
}

bool SpillTier::HoldsRecentCopyLocked(const BlockKey& key, std::uint64_t checksum,
                                      std::uint64_t size, const KeyMetaRef& meta) const {
  const SpillRecord* old = index_.Find(key);
  return old != nullptr && old->checksum == checksum && old->size_bytes == size &&
         old->meta == meta && index_.BytesInsertedSince(key) < options_.capacity_bytes / 2;
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
  EnforceDiskLimitLocked(planned_bytes, victims);
  return victims;
}

void SpillTier::EnforceDiskLimitLocked(std::uint64_t incoming_bytes,
                                       std::vector<BlockKey>& victims) {
  while (index_.segment_bytes() + incoming_bytes > disk_limit_bytes_) {
    const SpillIndex::Segment* oldest = index_.OldestOnDiskSegment();
    if (oldest == nullptr) return;
    for (const BlockKey& key : index_.KeysIn(oldest->first_seq, oldest->last_seq)) {
      UnindexLocked(key);
      victims.push_back(key);
      Add(evictions_);
    }
    std::vector<SpillIndex::Segment> emptied = index_.TakeEmptySegments();
    emptied_segments_.insert(emptied_segments_.end(), emptied.begin(), emptied.end());
  }
}

Status SpillTier::WriteLocked(const std::vector<BlockKey>& deletes,
                              const std::vector<BlockKey>& victims,
                              std::vector<PlannedPut>& planned,
                              const std::vector<std::pair<BlockKey, SpillRecord>>& rewrites) {
  Status status;
  std::size_t written = 0;
  try {
    std::vector<BlockKey> record_deletes = deletes;
    record_deletes.insert(record_deletes.end(), victims.begin(), victims.end());
    // In one batch, the deletes after the rewrites: a key rewritten and evicted is gone.
    status = db_->WriteRecords(rewrites, record_deletes);
    if (status.ok() && !planned.empty() && !open_segment_) {
      Result<std::unique_ptr<SpillDb::Segment>> begun =
          db_->BeginSegment(planned.front().record.seq);
      status = begun.status();
      if (status.ok()) {
        open_segment_ = std::move(begun).value();
        std::lock_guard lock(mu_);
        index_.OpenSegment(planned.front().record.seq);
      }
    }
    for (; status.ok() && written < planned.size(); ++written) {
      PlannedPut& put = planned[written];
      Result<std::uint64_t> offset =
          db_->Append(*open_segment_, put.key, put.record.seq, put.block.value.span());
      status = offset.status();
      if (!status.ok()) break;
      put.record.offset = *offset;
      std::lock_guard lock(mu_);
      index_.AppendToOpenSegment(put.record.seq, put.record.size_bytes);
      open_keys_.emplace_back(put.key, put.record.seq);
      Add(demotions_);
      auto queued = queued_.find(put.key);
      // Erased while being written: its delete op follows in the queue.
      if (put.op_id != 0 && queued == queued_.end()) continue;
      segment_blocks_.insert_or_assign(put.key, SegmentBlock{put.block, put.record.seq});
      IndexLocked(put.key, put.record);  // first: the key stays held throughout
      if (put.op_id != 0 && queued->second.op_id == put.op_id) UnqueueLocked(queued);
    }
  } catch (const std::bad_alloc&) {
    status = Status::Rejected("spill: out of memory for a write");
  }
  if (!status.ok()) {
    HandleWriteFailure(status, planned, written);
    return status;
  }
  // A seal the sealer finished meanwhile: its records now, without waiting for another.
  (void)FinishSealLocked(false);  // a failure is the tier's health from then on
  bool full = false;
  {
    std::lock_guard lock(mu_);
    const SpillIndex::Segment* open = index_.open_segment();
    full = open != nullptr && open->bytes >= segment_target_bytes_;
  }
  if (full) HandOffSegmentLocked();
  DeleteEmptySegmentsLocked();
  return Status::Ok();
}

void SpillTier::HandleWriteFailure(const Status& status, const std::vector<PlannedPut>& planned,
                                   std::size_t written) {
  std::lock_guard lock(mu_);
  for (std::size_t i = written; i < planned.size(); ++i) {
    const PlannedPut& put = planned[i];
    if (put.op_id == 0) continue;  // Put reports its own failure
    auto queued = queued_.find(put.key);
    if (queued != queued_.end() && queued->second.op_id == put.op_id) UnqueueLocked(queued);
    Add(demotion_drops_);
  }
  // Out of memory drops the write (and the segment it may have left half-written); a
  // RocksDB failure also stops the tier.
  if (status.code() == StatusCode::kIoError) {
    FailLocked(status.message());
  } else {
    AbandonSegmentLocked();
  }
}

void SpillTier::SealerLoop() {
  pthread_setname_np(pthread_self(), "spill-sealer");
  for (;;) {
    std::unique_ptr<SpillDb::Segment> segment;
    {
      std::unique_lock lock(seal_mu_);
      seal_cv_.wait(lock, [this] { return to_seal_ != nullptr || seal_stop_; });
      if (to_seal_ == nullptr) return;  // stopping, and nothing left to seal
      segment = std::move(to_seal_);
    }
    Status sealed;
    {
      std::shared_lock db_lock(db_mu_);  // db_ stays open: Close() joins this thread first
      sealed = Seal(*db_, std::move(segment));
    }
    {
      std::lock_guard lock(seal_mu_);
      sealed_ = sealed;
    }
    seal_cv_.notify_all();
  }
}

std::unique_ptr<SpillDb::Segment> SpillTier::StartSealLocked() {
  (void)FinishSealLocked(true);  // one seal at a time; a failure is the tier's health
  if (!open_segment_) return nullptr;
  {
    std::lock_guard lock(mu_);
    sealing_first_seq_ = index_.open_segment()->first_seq;
    index_.SealOpenSegment();
  }
  sealing_ = true;
  sealing_keys_ = std::move(open_keys_);
  open_keys_.clear();
  return std::move(open_segment_);
}

void SpillTier::HandOffSegmentLocked() {
  std::unique_ptr<SpillDb::Segment> segment = StartSealLocked();
  if (!segment) return;
  {
    std::lock_guard lock(seal_mu_);
    to_seal_ = std::move(segment);
  }
  seal_cv_.notify_all();
}

Status SpillTier::SealNowLocked() {
  std::unique_ptr<SpillDb::Segment> segment = StartSealLocked();
  if (!segment) return Health();
  Status sealed = Seal(*db_, std::move(segment));
  {
    std::lock_guard lock(seal_mu_);
    sealed_ = sealed;
  }
  return FinishSealLocked(true);
}

Status SpillTier::FinishSealLocked(bool wait) {
  if (!sealing_) return Status::Ok();
  Status status;
  {
    std::unique_lock lock(seal_mu_);
    if (!wait && !sealed_) return Status::Ok();
    seal_cv_.wait(lock, [this] { return sealed_.has_value(); });
    status = *sealed_;
    sealed_.reset();
  }
  sealing_ = false;
  std::vector<std::pair<BlockKey, std::uint64_t>> keys = std::move(sealing_keys_);
  sealing_keys_.clear();
  std::vector<std::pair<BlockKey, SpillRecord>> records;
  {
    std::lock_guard lock(mu_);
    if (!status.ok()) {
      UnindexWrittenLocked(keys);
      index_.DiscardSegment(sealing_first_seq_);
      if (status.code() == StatusCode::kIoError) FailLocked(status.message());
      return status;
    }
    // The records of the blocks still indexed at the seq they were written with; read
    // from disk from now on.
    records.reserve(keys.size());
    for (const auto& [key, seq] : keys) {
      const SpillRecord* record = index_.Find(key);
      if (record != nullptr && record->seq == seq) records.emplace_back(key, *record);
      auto in_ram = segment_blocks_.find(key);
      if (in_ram != segment_blocks_.end() && in_ram->second.seq == seq) {
        segment_blocks_.erase(in_ram);
      }
    }
    index_.SegmentOnDisk(sealing_first_seq_);
  }
  // Written after the values are on disk, so a record never names a missing value. A
  // failure here leaves the blocks readable until the next Open, which forgets them.
  try {
    status = db_->WriteRecords(records, {});
  } catch (const std::bad_alloc&) {
    status = Status::Rejected("spill: out of memory for a segment's records");
  }
  if (status.code() == StatusCode::kIoError) {
    std::lock_guard lock(mu_);
    FailLocked(status.message());
  }
  return status;
}

void SpillTier::DeleteEmptySegmentsLocked() {
  std::vector<SpillIndex::Segment> empty;
  {
    std::lock_guard lock(mu_);
    empty = std::move(emptied_segments_);
    emptied_segments_.clear();
    std::vector<SpillIndex::Segment> more = index_.TakeEmptySegments();
    empty.insert(empty.end(), more.begin(), more.end());
  }
  for (const SpillIndex::Segment& segment : empty) {
    if (!db_->DeleteSegment(segment.first_seq, segment.last_seq).ok()) Add(io_errors_);
  }
}

void SpillTier::FailLocked(const std::string& error) {
  Add(io_errors_);
  if (health_.ok()) health_ = Status::IoError(error);
  work_cv_.notify_all();  // the writer starts the wait before reopening (WriterLoop)
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
  AbandonSegmentLocked();
}

void SpillTier::AbandonSegmentLocked() {
  UnindexWrittenLocked(open_keys_);
  open_keys_.clear();
  if (const SpillIndex::Segment* open = index_.open_segment()) {
    index_.DiscardSegment(open->first_seq);
  }
  open_segment_.reset();  // removes its file
}

void SpillTier::UnindexWrittenLocked(
    const std::vector<std::pair<BlockKey, std::uint64_t>>& written) {
  for (const auto& [key, seq] : written) {
    const SpillRecord* record = index_.Find(key);
    if (record != nullptr && record->seq == seq) UnindexLocked(key);
    auto in_ram = segment_blocks_.find(key);
    if (in_ram != segment_blocks_.end() && in_ram->second.seq == seq) segment_blocks_.erase(in_ram);
  }
}

void SpillTier::Enqueue(const BlockKey& key, Block block) {
  const std::uint64_t size = block.value.size();
  std::lock_guard lock(mu_);
  in_memory_.erase(key);  // evicted from memory, whether or not it is queued
  if (block.meta.ExpiredAt(NowMs())) {
    EraseLocked(key);  // an older copy here has expired too (tiers hold one meta)
    return;
  }
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
  EraseLocked(key);
}

void SpillTier::EraseLocked(const BlockKey& key) {
  const bool queued = UnqueueLocked(key);
  const bool indexed = UnindexLocked(key);
  if (!health_.ok() && !closed_) {
    // Deleted from the folder when the tier reopens it (see Health). With the folder
    // closed by a failed reopen the index is empty, so any key may be on disk.
    if (indexed || reopen_failed_) RememberErasedLocked(key);
    return;
  }
  // A queued block may be in the writer's hands already, so its record is deleted too.
  // Past stopping_ the writer may be gone: the delete is then lost (see Erase in
  // spill_tier.h).
  if (!(queued || indexed) || closed_ || stopping_) return;
  queue_.push_back(Op{key, std::nullopt, ++last_op_id_});
  work_cv_.notify_one();
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
  if (!db_) return Health();  // closed, or a reopen failed
  std::vector<PlannedPut> planned;
  std::vector<BlockKey> victims;
  {
    std::lock_guard lock(mu_);
    if (!health_.ok()) return health_;
    UnqueueLocked(key);  // older queued copies are superseded
    if (HoldsRecentCopyLocked(key, checksum, size, block.meta)) {
      index_.Touch(key);
      return Status::Ok();
    }
    SpillRecord record{checksum, size, block.depth, next_seq_++, 0, block.meta};
    planned.push_back(PlannedPut{key, std::move(block), record, 0});
    victims = TakeVictimsLocked(planned);
  }
  return WriteLocked({}, victims, planned);
}

}  // namespace prefixcache::storage
