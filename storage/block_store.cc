#include "storage/block_store.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <string>
#include <system_error>
#include <utility>

#include "bucket_walk.h"
#include "counters.h"
#include "key_meta.h"
#include "memory_tier.h"
#include "prefixcache/check.h"
#include "spill_tier.h"

namespace prefixcache::storage {
namespace {

Status TooLarge(std::uint64_t size, std::uint64_t max_value_bytes) {
  return Status::Rejected("value of " + std::to_string(size) + " bytes exceeds max_value_bytes (" +
                          std::to_string(max_value_bytes) + ")");
}

}  // namespace

Result<std::unique_ptr<BlockStore>> BlockStore::Open(const StoreOptions& options) {
  // Every option is checked before the spill folder is touched.
  if (options.max_value_bytes == 0) {
    return Status::InvalidArgument("max_value_bytes: must be > 0");
  }
  if (Status valid = MemoryTier::ValidateOptions(options.memory); !valid.ok()) return valid;
  if (options.spill.enabled) {
    if (Status valid = SpillTier::ValidateOptions(options.spill); !valid.ok()) return valid;
  }

  std::unique_ptr<BlockStore> store(new BlockStore(options));
  if (options.spill.enabled) {
    auto spill = SpillTier::Open(options.spill, nullptr, options.clock_ms);
    if (spill.ok()) {
      store->spill_ = std::move(spill).value();
    } else {
      store->spill_open_status_ = spill.status();
    }
  }
  // Without a spill tier evicted blocks are simply dropped (and not counted as demoted).
  MemoryTier::EvictionSink sink;
  if (store->spill_) {
    SpillTier* spill = store->spill_.get();
    sink = [spill](const BlockKey& key, Block block) { spill->Enqueue(key, std::move(block)); };
  }
  auto memory = MemoryTier::Create(options.memory, std::move(sink), options.clock_ms);
  if (!memory.ok()) return memory.status();
  store->memory_ = std::move(memory).value();
  if (store->spill_ && store->spill_->LoadedExpiring()) store->has_expiring_ = true;
  if (options.expiry_sweep_interval_ms > 0) {
    try {
      store->sweeper_ = std::thread(&BlockStore::SweepLoop, store.get());
    } catch (const std::system_error& e) {
      return Status::IoError(std::string("cannot start the expiry sweep: ") + e.what());
    }
  }
  return store;
}

BlockStore::BlockStore(const StoreOptions& options) : options_(options) {}

BlockStore::~BlockStore() {
  {
    std::lock_guard lock(sweep_mu_);
    sweep_stop_ = true;
  }
  sweep_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  if (memory_) (void)Close();  // no one to report to here; callers wanting it call Close()
  memory_.reset();             // first: its sink points at spill_
  spill_.reset();
}

std::mutex& BlockStore::StripeFor(const BlockKey& key) const {
  return stripes_[BlockKeyHash()(key) % kStripes];
}

Status BlockStore::Put(const BlockKey& key, Buffer value, std::uint32_t depth) {
  return Put(key, std::move(value), depth, KeyOptions());
}

Status BlockStore::Put(const BlockKey& key, Buffer value, std::uint32_t depth,
                       const KeyOptions& key_options) {
  if (value.size() > options_.max_value_bytes) {
    return TooLarge(value.size(), options_.max_value_bytes);
  }
  std::lock_guard stripe(StripeFor(key));
  return PutLocked(key, std::move(value), depth, key_options);
}

Status BlockStore::PutLocked(const BlockKey& key, Buffer value, std::uint32_t depth,
                             const KeyOptions& key_options) {
  KeyMetaRef meta;
  if (key_options.keep_ttl || key_options.expire_at_ms != 0 || key_options.name) {
    std::int64_t expire_at_ms = key_options.expire_at_ms;
    if (key_options.keep_ttl) {
      Result<KeyMetaRef> old = MetaOfLocked(key);
      expire_at_ms = old.ok() ? old->expire_at_ms() : 0;
    }
    try {
      meta = KeyMetaRef::Make(expire_at_ms, key_options.name);
    } catch (const std::bad_alloc&) {
      return Status::Rejected("no memory for the key's name");
    }
    if (expire_at_ms != 0) has_expiring_.store(true, kRelaxed);
  }
  // A block that can never fit is refused (by the tier, in its words) before the older
  // copy is dropped: a refused write leaves the key as it was.
  if (value.size() + kMemoryEntryOverheadBytes > memory_->capacity_bytes()) {
    return memory_->Put(key, Block{std::move(value), depth, std::move(meta)});
  }
  // The older copy leaves both tiers before the new block enters memory: erasing the
  // spilled copy after the Put could delete the new block itself, should another thread
  // evict it into the spill queue in between (an acknowledged write lost).
  memory_->Erase(key);
  if (spill_) spill_->Erase(key);
  return memory_->Put(key, Block{std::move(value), depth, std::move(meta)});
}

Result<KeyMetaRef> BlockStore::MetaOfLocked(const BlockKey& key) const {
  // Memory first: an eviction hands the block to the spill tier before it leaves memory,
  // so a key moving down is found in one or the other.
  Result<KeyMetaRef> meta = memory_->MetaOf(key);
  if (meta.ok() || !spill_) return meta;
  return spill_->MetaOf(key);
}

void BlockStore::SetMetaLocked(const BlockKey& key, const KeyMetaRef& meta) {
  // Memory first, then spill: an eviction in between hands the new meta down already.
  memory_->SetMeta(key, meta);
  if (spill_) spill_->SetMeta(key, meta);
}

Result<bool> BlockStore::SetExpiry(const BlockKey& key, std::int64_t expire_at_ms,
                                   ExpireCondition condition) {
  std::lock_guard stripe(StripeFor(key));
  Result<KeyMetaRef> meta = MetaOfLocked(key);
  if (!meta.ok()) return meta.status();
  const std::int64_t current = meta->expire_at_ms();
  bool apply = true;
  switch (condition) {
    case ExpireCondition::kAlways:
      break;
    case ExpireCondition::kIfNone:
      apply = current == 0;
      break;
    case ExpireCondition::kIfSome:
      apply = current != 0;
      break;
    case ExpireCondition::kIfLater:
      apply = current != 0 && expire_at_ms > current;
      break;
    case ExpireCondition::kIfSooner:
      apply = current == 0 || expire_at_ms < current;
      break;
    case ExpireCondition::kIfSomeSooner:
      apply = current != 0 && expire_at_ms < current;
      break;
  }
  if (!apply) return false;
  if (expire_at_ms <= NowMs()) {
    memory_->Erase(key);
    if (spill_) spill_->Erase(key);
    return true;
  }
  try {
    SetMetaLocked(key, meta->WithExpiry(expire_at_ms));
  } catch (const std::bad_alloc&) {
    return Status::Rejected("no memory for the key's expiry");
  }
  has_expiring_.store(true, kRelaxed);
  return true;
}

Result<bool> BlockStore::Persist(const BlockKey& key) {
  std::lock_guard stripe(StripeFor(key));
  Result<KeyMetaRef> meta = MetaOfLocked(key);
  if (!meta.ok()) return meta.status();
  if (meta->expire_at_ms() == 0) return false;
  try {
    SetMetaLocked(key, meta->WithExpiry(0));
  } catch (const std::bad_alloc&) {
    return Status::Rejected("no memory for the key's name");
  }
  return true;
}

Result<std::int64_t> BlockStore::ExpiryOf(const BlockKey& key) const {
  std::lock_guard stripe(StripeFor(key));
  Result<KeyMetaRef> meta = MetaOfLocked(key);
  if (!meta.ok()) return meta.status();
  return meta->expire_at_ms();
}

std::int64_t BlockStore::NowMs() const {
  return options_.clock_ms ? options_.clock_ms() : SystemNowMs();
}

std::size_t BlockStore::SweepExpired(std::size_t max_entries) {
  std::size_t dropped = memory_->SweepExpired(max_entries);
  if (!spill_) return dropped;
  // In steps, so the spill tier's lock is never held for long.
  constexpr std::size_t kStep = 1000;
  for (std::size_t looked = 0; looked < max_entries; looked += kStep) {
    dropped += spill_->SweepExpired(std::min(kStep, max_entries - looked));
  }
  return dropped;
}

void BlockStore::SweepLoop() {
  const std::chrono::milliseconds interval(options_.expiry_sweep_interval_ms);
  std::unique_lock lock(sweep_mu_);
  while (!sweep_cv_.wait_for(lock, interval, [this] { return sweep_stop_; })) {
    if (!has_expiring_.load(kRelaxed)) continue;
    lock.unlock();
    (void)SweepExpired(options_.expiry_sweep_entries);
    lock.lock();
  }
}

namespace {

// A scan cursor: the table (memory shards 0..n-1, then the spill queue, then the spill
// index), that table's rehash generation and the next bucket.
constexpr int kBucketBits = 32;
constexpr int kGenerationShift = 32;
constexpr int kTableShift = 40;

std::uint64_t EncodeCursor(std::size_t table, const TableScan& step) {
  return static_cast<std::uint64_t>(table) << kTableShift |
         static_cast<std::uint64_t>(step.generation) << kGenerationShift |
         static_cast<std::uint64_t>(step.bucket);
}

}  // namespace

BlockStore::ScanPage BlockStore::Scan(std::uint64_t cursor, std::size_t count) const {
  count = std::max<std::size_t>(count, 1);
  const std::size_t shards = memory_->shard_count();
  const std::size_t tables = shards + (spill_ ? 2 : 0);
  std::size_t table = static_cast<std::size_t>(cursor >> kTableShift);
  TableScan step;
  step.generation =
      static_cast<std::uint32_t>(cursor >> kGenerationShift) & TableScan::kGenerationMask;
  step.bucket = static_cast<std::size_t>(cursor & ((std::uint64_t{1} << kBucketBits) - 1));
  ScanPage page;
  if (table >= tables) return page;  // not a cursor of this store: the scan is over
  std::vector<std::pair<BlockKey, KeyMetaRef>> found;
  // A bounded number of table steps per call, each of bounded work.
  constexpr int kMostSteps = 32;
  for (int steps = 0; steps < kMostSteps && found.size() < count && table < tables; ++steps) {
    const std::size_t want = count - found.size();
    if (table < shards) {
      memory_->ScanShard(table, step, want, found);
    } else {
      spill_->ScanStep(table == shards ? 1 : 0, step, want, found);
    }
    if (step.bucket == TableScan::kDone) {
      ++table;
      step = TableScan();
    }
  }
  page.entries.reserve(found.size());
  for (auto& [key, meta] : found) {
    std::optional<std::string_view> name = meta.name();
    page.entries.push_back(ScanEntry{key, name ? std::optional<std::string>(*name) : std::nullopt});
  }
  // Buckets past 2^32 do not fit the cursor: such a table is walked as far as that.
  if (table < tables && step.bucket >> kBucketBits != 0) {
    ++table;
    step = TableScan();
  }
  page.next_cursor = table >= tables ? 0 : EncodeCursor(table, step);
  return page;
}

Result<BlockStore::PutIfOutcome> BlockStore::PutIf(const BlockKey& key, Buffer value,
                                                   std::uint32_t depth, PutCondition condition,
                                                   bool want_previous, bool may_read_disk,
                                                   const KeyOptions& key_options) {
  if (value.size() > options_.max_value_bytes) {
    return TooLarge(value.size(), options_.max_value_bytes);
  }
  // A previous block on disk is read and promoted outside the stripe (a disk read must not
  // hold up the Puts of the stripe's other keys), then looked up again in memory under it.
  // Should it keep leaving memory at once (a tier full of hotter blocks), the last attempt
  // reads it with the stripe held.
  constexpr int kPromoteAttempts = 3;
  auto disk_needed = [] {
    PutIfOutcome out;
    out.needs_disk = true;
    return out;
  };
  for (int attempt = 0;; ++attempt) {
    const bool last = attempt == kPromoteAttempts;
    if (want_previous && !last && NeedsDiskRead(key)) {
      if (!may_read_disk) return disk_needed();
      Result<Buffer> read = Get(key);
      if (!read.ok() && read.status().code() == StatusCode::kIoError) return read.status();
    }
    std::lock_guard stripe(StripeFor(key));
    PutIfOutcome out;
    if (!want_previous) {
      out.had = Contains(key);
    } else if (Result<Block> held = memory_->GetIfPresent(key); held.ok()) {
      out.had = true;
      out.previous = std::move(held).value().value;
    } else if (spill_) {
      // Evicted from memory since: waiting in the spill queue, or already on disk.
      bool on_disk = false;
      Result<Block> queued = spill_->GetQueued(key, &on_disk);
      if (queued.ok()) {
        out.had = true;
        out.previous = std::move(queued).value().value;
      } else if (on_disk) {
        if (!last) continue;
        if (!may_read_disk) return disk_needed();
        Result<Block> spilled = spill_->Get(key);
        if (spilled.ok()) {
          out.had = true;
          out.previous = std::move(spilled).value().value;
        } else if (spilled.status().code() == StatusCode::kIoError) {
          return spilled.status();
        }  // else a miss, a corrupt block (now deleted) or no memory for the copy: absent
      }
    }
    if ((condition == PutCondition::kIfAbsent && out.had) ||
        (condition == PutCondition::kIfPresent && !out.had)) {
      return out;
    }
    if (Status put = PutLocked(key, std::move(value), depth, key_options); !put.ok()) return put;
    out.stored = true;
    return out;
  }
}

Status BlockStore::Put(const BlockKey& key, std::span<const std::byte> bytes, std::uint32_t depth) {
  if (bytes.size() > options_.max_value_bytes) {
    return TooLarge(bytes.size(), options_.max_value_bytes);
  }
  MutableBuffer copy;
  try {
    copy = MutableBuffer(bytes.size());
  } catch (const std::bad_alloc&) {
    return Status::Rejected("no memory for a value of " + std::to_string(bytes.size()) + " bytes");
  }
  if (!bytes.empty()) std::memcpy(copy.data(), bytes.data(), bytes.size());
  return Put(key, std::move(copy).Freeze(), depth);
}

Result<Buffer> BlockStore::Get(const BlockKey& key) {
  Result<Block> held = memory_->Get(key);
  if (held.ok()) return std::move(held).value().value;
  if (!spill_) return Status::NotFound();
  Result<Block> spilled = spill_->Get(key);
  if (!spilled.ok()) {
    // A corrupt block is already deleted and counted as a miss.
    if (spilled.status().code() == StatusCode::kCorruption) return Status::NotFound();
    return spilled.status();
  }
  Promote(key, *spilled);
  return std::move(spilled).value().value;
}

Result<Buffer> BlockStore::GetFromMemory(const BlockKey& key) {
  Result<Block> held = memory_->GetIfPresent(key);
  if (held.ok()) return std::move(held).value().value;
  // A block on disk only is left to the caller's Get, which counts the lookup in both
  // tiers; any other lookup ends here and is counted here, as Get would count it.
  bool on_disk = false;
  Result<Block> queued = spill_ ? spill_->GetQueued(key, &on_disk) : Status::NotFound();
  if (!on_disk) memory_->CountMiss(key);
  if (!queued.ok()) return Status::NotFound();
  Promote(key, *queued);
  return std::move(queued).value().value;
}

void BlockStore::Promote(const BlockKey& key, const Block& block) {
  std::lock_guard stripe(StripeFor(key));
  // A Put since the spill read is in memory, or has dropped the spilled copy; an Erase or
  // a spill eviction has dropped it too. Either way the bytes read are not the latest.
  if (memory_->Contains(key) || !spill_->Contains(key)) return;
  // Marked before the Put: if the block is evicted again at once, the eviction's Enqueue
  // clears the mark.
  spill_->MarkInMemory(key);
  if (memory_->Put(key, block).ok()) {
    Add(promotions_);
  } else {
    spill_->MarkNotInMemory(key);
  }
}

void BlockStore::Contains(std::span<const BlockKey> keys, std::span<std::uint8_t> out) const {
  PC_CHECK(keys.size() == out.size());
  for (std::size_t i = 0; i < keys.size(); ++i) out[i] = Contains(keys[i]) ? 1 : 0;
}

bool BlockStore::Contains(const BlockKey& key) const {
  return memory_->Contains(key) || (spill_ && spill_->Contains(key));
}

bool BlockStore::NeedsDiskRead(const BlockKey& key) const {
  return spill_ && !memory_->Contains(key) && spill_->NeedsDiskRead(key);
}

Status BlockStore::Erase(const BlockKey& key) {
  std::lock_guard stripe(StripeFor(key));
  memory_->Erase(key);
  if (spill_) spill_->Erase(key);
  return Status::Ok();
}

Status BlockStore::Clear() {
  memory_->Clear();
  return spill_ ? spill_->Clear() : Status::Ok();
}

std::uint64_t BlockStore::LargestStorableValue() const {
  const std::uint64_t capacity = options_.memory.capacity_bytes;
  return std::min<std::uint64_t>(
      options_.max_value_bytes,
      capacity > kMemoryEntryOverheadBytes ? capacity - kMemoryEntryOverheadBytes : 0);
}

Status BlockStore::Drain() { return spill_ ? spill_->Drain() : Status::Ok(); }

Status BlockStore::Flush() { return spill_ ? spill_->Flush() : Status::Ok(); }

std::uint64_t BlockStore::Size() const {
  std::uint64_t size = memory_->Stats().entries;
  if (spill_) size += spill_->CountNotInMemory();
  return size;
}

StoreStats BlockStore::Stats() const {
  StoreStats stats;
  stats.memory = memory_->Stats();
  stats.memory.promotions = promotions_.load(kRelaxed);
  stats.spill_enabled = options_.spill.enabled;
  if (spill_) {
    stats.spill = spill_->Stats();
  } else if (stats.spill_enabled) {
    stats.spill.capacity_bytes = options_.spill.capacity_bytes;
  }
  const Status spill = SpillStatus();
  stats.spill_healthy = stats.spill_enabled && spill.ok();
  if (stats.spill_enabled && !spill.ok()) stats.spill_error = spill.ToString();
  return stats;
}

Status BlockStore::SpillStatus() const {
  if (!options_.spill.enabled) return Status::Ok();
  if (!spill_) return spill_open_status_;
  return spill_->Health();
}

Status BlockStore::Close() {
  std::lock_guard lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  if (!spill_) return Status::Ok();
  Status status;
  if (options_.spill.flush_on_close) {
    // Queued blocks first: they are colder than memory's, so they get the older seqs and
    // go first if the spill capacity runs short.
    status = spill_->Drain();
    if (status.ok()) {
      for (auto& [key, block] : memory_->Snapshot()) {
        // Tiers are inclusive and a Put drops the spilled copy, so a spilled key holds
        // the same bytes as memory.
        if (spill_->Contains(key)) continue;
        Status put = spill_->Put(key, std::move(block));
        if (put.code() == StatusCode::kRejected) continue;  // larger than the spill tier
        if (!put.ok()) {
          status = put;
          break;
        }
      }
    }
  }
  Status closed = spill_->Close();
  return status.ok() ? closed : status;
}

}  // namespace prefixcache::storage
