#include "storage/block_store.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "counters.h"
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
    auto spill = SpillTier::Open(options.spill);
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
  auto memory = MemoryTier::Create(options.memory, std::move(sink));
  if (!memory.ok()) return memory.status();
  store->memory_ = std::move(memory).value();
  return store;
}

BlockStore::BlockStore(const StoreOptions& options) : options_(options) {}

BlockStore::~BlockStore() {
  if (memory_) (void)Close();  // no one to report to here; callers wanting it call Close()
  memory_.reset();             // first: its sink points at spill_
  spill_.reset();
}

std::mutex& BlockStore::StripeFor(const BlockKey& key) const {
  return stripes_[BlockKeyHash()(key) % kStripes];
}

Status BlockStore::Put(const BlockKey& key, Buffer value, std::uint32_t depth) {
  if (value.size() > options_.max_value_bytes) {
    return TooLarge(value.size(), options_.max_value_bytes);
  }
  std::lock_guard stripe(StripeFor(key));
  return PutLocked(key, std::move(value), depth);
}

Status BlockStore::PutLocked(const BlockKey& key, Buffer value, std::uint32_t depth) {
  // A block that can never fit is refused (by the tier, in its words) before the older
  // copy is dropped: a refused write leaves the key as it was.
  if (value.size() + kMemoryEntryOverheadBytes > memory_->capacity_bytes()) {
    return memory_->Put(key, Block{std::move(value), depth});
  }
  // The older copy leaves both tiers before the new block enters memory: erasing the
  // spilled copy after the Put could delete the new block itself, should another thread
  // evict it into the spill queue in between (an acknowledged write lost).
  memory_->Erase(key);
  if (spill_) spill_->Erase(key);
  return memory_->Put(key, Block{std::move(value), depth});
}

Result<BlockStore::PutIfOutcome> BlockStore::PutIf(const BlockKey& key, Buffer value,
                                                   std::uint32_t depth, PutCondition condition,
                                                   bool want_previous, bool may_read_disk) {
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
    if (Status put = PutLocked(key, std::move(value), depth); !put.ok()) return put;
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
