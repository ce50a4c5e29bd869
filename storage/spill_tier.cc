#include "spill_tier.h"

#include <xxh_x86dispatch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <system_error>
#include <utility>

#include "counters.h"
#include "prefixcache/check.h"

namespace prefixcache::storage {
namespace {

// Segments are at least this large unless segment_bytes asks for less.
constexpr std::uint64_t kMinSegmentBytes = 1 * kMiB;

std::uint64_t SegmentTargetBytes(const SpillTierOptions& options) {
  return std::min(options.segment_bytes, std::max(kMinSegmentBytes, options.capacity_bytes / 16));
}

// Checks `value`, read for `record`, against the record's XXH3-64: Corruption on a
// mismatch.
Status Verify(MutableBuffer& value, const SpillRecord& record) {
  if (XXH3_64bits_dispatch(value.data(), value.size()) != record.checksum) {
    return Status::Corruption("XXH3-64 checksum mismatch");
  }
  return Status::Ok();
}

SpillDb::Notice NoticeSink(const SpillTierOptions& options) {
  if (options.notice) return options.notice;
  return [](const std::string& line) { std::fprintf(stderr, "prefixcache: %s\n", line.c_str()); };
}

}  // namespace

Status SpillTier::ValidateOptions(const SpillTierOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("spill.path: must not be empty");
  if (options.capacity_bytes == 0) {
    return Status::InvalidArgument("spill.capacity_bytes: must be > 0");
  }
  if (options.batch_bytes == 0) return Status::InvalidArgument("spill.batch_bytes: must be > 0");
  if (options.segment_bytes == 0) {
    return Status::InvalidArgument("spill.segment_bytes: must be > 0");
  }
  if (options.retry_min_ms == 0) return Status::InvalidArgument("spill.retry_min_ms: must be > 0");
  return Status::Ok();
}

Result<std::unique_ptr<SpillTier>> SpillTier::Open(const SpillTierOptions& options) {
  return Open(options, nullptr);
}

Result<std::unique_ptr<SpillTier>> SpillTier::Open(const SpillTierOptions& options,
                                                   rocksdb::Env* env, ClockMs clock_ms) {
  if (Status valid = ValidateOptions(options); !valid.ok()) return valid;
  const SpillDb::Notice notice = NoticeSink(options);
  std::unique_ptr<SpillTier> tier;
  for (int attempt = 0;; ++attempt) {
    auto db = SpillDb::Open(options.path, env, notice);
    if (!db.ok()) return db.status();
    tier.reset(new SpillTier(options, env, notice, std::move(db).value(), clock_ms));
    Status loaded;
    {
      std::lock_guard write_lock(tier->write_mu_);
      std::shared_lock db_lock(tier->db_mu_);
      loaded = tier->LoadIndexLocked();
    }
    if (loaded.ok()) break;
    (void)tier->Close();  // the load failure is what is reported (or retried)
    if (loaded.code() != StatusCode::kCorruption || attempt > 0) return loaded;
    // A cache may forget: records RocksDB cannot read are started again, empty.
    notice(loaded.message() + "; its blocks are discarded and the tier starts empty");
    if (Status destroyed = SpillDb::Destroy(options.path, env); !destroyed.ok()) return destroyed;
  }
  try {
    tier->sealer_ = std::thread(&SpillTier::SealerLoop, tier.get());
    tier->writer_ = std::thread(&SpillTier::WriterLoop, tier.get());
  } catch (const std::system_error& e) {
    (void)tier->Close();  // the thread failure is what is reported
    return Status::IoError("spill folder " + options.path +
                           ": cannot start the writer: " + e.what());
  }
  return tier;
}

SpillTier::SpillTier(const SpillTierOptions& options, rocksdb::Env* env, SpillDb::Notice notice,
                     std::unique_ptr<SpillDb> db, ClockMs clock_ms)
    : options_(options),
      env_(env),
      notice_(std::move(notice)),
      segment_target_bytes_(SegmentTargetBytes(options)),
      disk_limit_bytes_(options.capacity_bytes + options.capacity_bytes / 8 +
                        2 * SegmentTargetBytes(options)),
      clock_ms_(std::move(clock_ms)),
      db_(std::move(db)) {}

SpillTier::~SpillTier() { (void)Close(); }  // no one to report to; Close() callers get it

Status SpillTier::LoadIndexLocked() {
  std::vector<BlockKey> broken;
  std::vector<BlockKey> deletes;
  std::vector<std::pair<BlockKey, SpillRecord>> loaded;
  const std::int64_t now = NowMs();
  {
    std::lock_guard lock(mu_);
    for (const SpillDb::SegmentFile& segment : db_->Segments()) {
      index_.AddSegment(segment.first_seq, segment.last_seq, segment.bytes);
      next_seq_ = std::max(next_seq_, segment.last_seq + 1);
    }
  }
  Status scanned =
      db_->ScanRecords([&](const BlockKey& key, const std::optional<SpillRecord>& record) {
        if (!record || record->size_bytes > kMaxValueBytes) {
          broken.push_back(key);
        } else if (!index_.Covers(record->seq) || record->meta.ExpiredAt(now)) {
          deletes.push_back(key);  // its segment is gone (a crash between the two deletes),
                                   // or it has expired
        } else {
          if (record->meta.expire_at_ms() != 0) loaded_expiring_.store(true, kRelaxed);
          loaded.emplace_back(key, *record);
          next_seq_ = std::max(next_seq_, record->seq + 1);
        }
      });
  if (!scanned.ok()) return scanned;
  // In write order: the recency order starts as the write order, and the index knows how
  // old each copy is.
  std::sort(loaded.begin(), loaded.end(),
            [](const auto& a, const auto& b) { return a.second.seq < b.second.seq; });
  std::vector<BlockKey> victims;
  {
    std::lock_guard lock(mu_);
    index_.Reserve(loaded.size());
    for (const auto& [key, record] : loaded) index_.Insert(key, record);
    // The coldest blocks past a capacity that shrank since the last run go now.
    victims = index_.PickVictims(index_.bytes(), options_.capacity_bytes, SpillIndex::KeySet());
    for (const BlockKey& key : victims) UnindexLocked(key);
    Add(evictions_, victims.size());
    EnforceDiskLimitLocked(0, victims);
  }
  deletes.insert(deletes.end(), broken.begin(), broken.end());
  deletes.insert(deletes.end(), victims.begin(), victims.end());
  if (Status written = db_->WriteRecords({}, deletes); !written.ok()) return written;
  DeleteEmptySegmentsLocked();
  Add(checksum_failures_, broken.size());
  return Status::Ok();
}

Result<Block> SpillTier::GetQueued(const BlockKey& key, bool* on_disk) {
  std::lock_guard lock(mu_);
  if (ExpiredLocked(key)) {
    EraseLocked(key);
    if (on_disk != nullptr) *on_disk = false;
    Add(misses_);
    return Status::NotFound();
  }
  auto queued = queued_.find(key);
  const bool indexed = index_.Find(key) != nullptr;
  const Block* in_segment = queued == queued_.end() ? SegmentBlockLocked(key) : nullptr;
  if (on_disk != nullptr) *on_disk = queued == queued_.end() && indexed && in_segment == nullptr;
  if (queued != queued_.end()) {
    Add(hits_);
    return queued->second.block;
  }
  if (in_segment != nullptr) {
    Add(hits_);
    return Block{in_segment->value, in_segment->depth, index_.Find(key)->meta};
  }
  if (!indexed) Add(misses_);
  return Status::NotFound();
}

Result<Block> SpillTier::Get(const BlockKey& key) {
  SpillRecord record;
  {
    std::lock_guard lock(mu_);
    if (ExpiredLocked(key)) {
      EraseLocked(key);
      Add(misses_);
      return Status::NotFound();
    }
    if (auto queued = queued_.find(key); queued != queued_.end()) {
      Add(hits_);
      return queued->second.block;
    }
    const SpillRecord* found = index_.Find(key);
    if (found == nullptr) {
      Add(misses_);
      return Status::NotFound();
    }
    record = *found;
    index_.Touch(key);
    if (const Block* in_segment = SegmentBlockLocked(key)) {
      Add(hits_);
      return Block{in_segment->value, in_segment->depth, record.meta};
    }
  }
  return ReadFromDisk(key, record);
}

Result<Block> SpillTier::ReadFromDisk(const BlockKey& key, const SpillRecord& record) {
  std::string why;
  {
    std::shared_lock db_lock(db_mu_);
    if (!db_) {
      Add(misses_);
      return Status::NotFound();
    }
    MutableBuffer copy;
    try {
      copy = MutableBuffer(record.size_bytes);
    } catch (const std::bad_alloc&) {
      return Status::Rejected("spill read: no memory for " + std::to_string(record.size_bytes) +
                              " bytes");
    }
    // The record names the value exactly (its seq is unique to the write), so no snapshot
    // is needed: a rewrite of the key stores its bytes under another seq. The checksum
    // covers the bytes handed out, after the copy.
    Status read = db_->ReadValue(key, record.seq, record.offset, copy.span());
    if (read.ok()) read = Verify(copy, record);
    if (read.ok()) {
      Add(hits_);
      return Block{std::move(copy).Freeze(), record.depth, record.meta};
    } else if (read.code() == StatusCode::kNotFound) {
      std::lock_guard lock(mu_);
      const SpillRecord* now = index_.Find(key);
      if (now == nullptr || now->seq != record.seq) {  // erased or evicted since the lookup
        Add(misses_);
        return Status::NotFound();
      }
      why = "value missing";
    } else if (read.code() == StatusCode::kCorruption) {
      why = read.message();  // ours or RocksDB's
    } else {
      Add(io_errors_);
      return read;
    }
  }
  DropCorrupt(key, record.seq);
  const std::uint64_t failures = checksum_failures_.fetch_add(1, kRelaxed) + 1;
  Add(misses_);
  if ((failures & (failures - 1)) == 0) {  // the 1st, 2nd, 4th, 8th...: a damaged disk is heard
    notice_("spill block " + key.ToHex() + ": " + why + "; deleted (" + std::to_string(failures) +
            " spilled blocks failed verification so far)");
  }
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
  if (!db_->WriteRecords({}, {key}).ok()) Add(io_errors_);
  DeleteEmptySegmentsLocked();
}

void SpillTier::QueueLocked(const BlockKey& key, Queued queued) {
  const bool added = queued_.insert_or_assign(key, std::move(queued)).second;
  queued_rehashes_.Note(queued_.bucket_count());
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
  segment_blocks_.clear();
  emptied_segments_.clear();
  in_memory_.clear();
  queued_only_ = 0;
}

const Block* SpillTier::SegmentBlockLocked(const BlockKey& key) const {
  auto it = segment_blocks_.find(key);
  if (it == segment_blocks_.end()) return nullptr;
  const SpillRecord* record = index_.Find(key);
  return record != nullptr && record->seq == it->second.seq ? &it->second.block : nullptr;
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
  return (queued_.contains(key) || index_.Find(key) != nullptr) && !ExpiredLocked(key);
}

bool SpillTier::NeedsDiskRead(const BlockKey& key) const {
  std::lock_guard lock(mu_);
  return !queued_.contains(key) && index_.Find(key) != nullptr &&
         SegmentBlockLocked(key) == nullptr && !ExpiredLocked(key);
}

bool SpillTier::ExpiredLocked(const BlockKey& key) const {
  if (auto queued = queued_.find(key); queued != queued_.end()) {
    return queued->second.block.meta && queued->second.block.meta.ExpiredAt(NowMs());
  }
  const SpillRecord* record = index_.Find(key);
  return record != nullptr && record->meta && record->meta.ExpiredAt(NowMs());
}

Result<KeyMetaRef> SpillTier::MetaOf(const BlockKey& key) const {
  std::lock_guard lock(mu_);
  if (ExpiredLocked(key)) return Status::NotFound();
  if (auto queued = queued_.find(key); queued != queued_.end()) return queued->second.block.meta;
  if (const SpillRecord* record = index_.Find(key)) return record->meta;
  return Status::NotFound();
}

bool SpillTier::SetMeta(const BlockKey& key, KeyMetaRef meta) {
  std::lock_guard lock(mu_);
  auto queued = queued_.find(key);
  const bool in_queue = queued != queued_.end();
  if (in_queue) queued->second.block.meta = meta;
  // The writer writes the record again from the index, unless the segment being written
  // holds the key's copy: its records are written from the index once it is on disk.
  const bool indexed = index_.SetMeta(key, std::move(meta));
  if (indexed && health_.ok() && !closed_ && !stopping_) {
    queue_.push_back(Op{key, std::nullopt, ++last_op_id_, /*rewrite_record=*/true});
    work_cv_.notify_one();
  }
  return in_queue || indexed;
}

std::size_t SpillTier::SweepExpired(std::size_t max_entries) {
  std::lock_guard lock(mu_);
  const std::int64_t now = NowMs();
  std::vector<BlockKey> expired;
  if (sweep_bucket_ >= index_.bucket_count()) sweep_bucket_ = 0;
  sweep_bucket_ = index_.WalkFrom(sweep_bucket_, std::max<std::size_t>(max_entries, 1),
                                  [&](const BlockKey& key, const SpillRecord& record) {
                                    if (record.meta.ExpiredAt(now)) expired.push_back(key);
                                  });
  std::size_t dropped = 0;
  for (const BlockKey& key : expired) {
    if (!ExpiredLocked(key)) continue;  // a queued copy may be newer than the indexed one
    EraseLocked(key);
    ++dropped;
  }
  return dropped;
}

void SpillTier::ScanStep(int table, TableScan& step, std::size_t want,
                         std::vector<std::pair<BlockKey, KeyMetaRef>>& out) const {
  std::lock_guard lock(mu_);
  const std::int64_t now = NowMs();
  if (table == 0) {
    index_.ScanStep(step, want, [&](const BlockKey& key, const SpillRecord& record) {
      if (!ExpiredLocked(key)) out.emplace_back(key, record.meta);
    });
  } else {
    ScanTableStep(queued_, queued_rehashes_, step, want,
                  [&](const BlockKey& key, const Queued& queued) {
                    if (!queued.block.meta.ExpiredAt(now)) out.emplace_back(key, queued.block.meta);
                  });
  }
}

Status SpillTier::Clear() {
  std::lock_guard write_lock(write_mu_);
  std::shared_lock db_lock(db_mu_);
  if (db_) (void)FinishSealLocked(true);  // its file is then deleted with the others
  {
    std::lock_guard lock(mu_);
    AbandonSegmentLocked();
    queue_.clear();
    ForgetAllLocked();
    queue_bytes_.store(0, kRelaxed);
    done_op_id_ = last_op_id_;
    drain_cv_.notify_all();
  }
  {
    std::lock_guard lock(mu_);
    if (!health_.ok()) {
      // The folder is cleared when the tier reopens it (see Health): nothing comes back.
      clear_on_reopen_ = true;
      erased_while_failed_.clear();
      return Status::Ok();
    }
  }
  if (!db_) return Status::Ok();
  Status cleared = db_->Clear();
  if (!cleared.ok()) Add(io_errors_);
  return cleared;
}

Status SpillTier::Drain() {
  {
    std::unique_lock lock(mu_);
    const std::uint64_t target = last_op_id_;
    drain_cv_.wait(lock, [&] { return done_op_id_ >= target; });
    if (closed_) return Status::Unavailable("spill tier closed");
  }
  std::lock_guard write_lock(write_mu_);
  std::shared_lock db_lock(db_mu_);
  if (db_) {
    HandOffSegmentLocked();
    (void)FinishSealLocked(true);  // a failure is the tier's health from then on
  }
  return Health();
}

Status SpillTier::Flush() {
  Status drained = Drain();
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Health();  // closed, or a reopen failed
  Status flushed = FlushLocked();
  return drained.ok() ? flushed : drained;
}

Status SpillTier::FlushLocked() {
  Status flushed = db_->FlushRecords();
  if (!flushed.ok()) Add(io_errors_);
  return flushed;
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
  {
    std::lock_guard lock(seal_mu_);
    seal_stop_ = true;
  }
  seal_cv_.notify_all();
  if (sealer_.joinable()) sealer_.join();

  std::lock_guard write_lock(write_mu_);
  std::unique_lock db_lock(db_mu_);  // waits for readers and writers in flight
  if (db_) {
    // A Put may have written since the Drain.
    if (Status sealed = SealNowLocked(); status.ok()) status = sealed;
    if (Status flushed = FlushLocked(); status.ok()) status = flushed;
    {
      std::lock_guard lock(mu_);
      AbandonSegmentLocked();  // left only by a failed seal
    }
    if (Status closed = db_->Close(); status.ok()) status = closed;
    db_.reset();
  }

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
  stats.reopens = reopens_.load(kRelaxed);
  stats.queue_bytes = queue_bytes_.load(kRelaxed);
  return stats;
}

}  // namespace prefixcache::storage
