#include "memory_tier.h"

#include <algorithm>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "counters.h"
#include "prefixcache/check.h"

namespace prefixcache::storage {

// Counters are written under `mu` (but for the misses CountMiss adds) and read without it
// by Stats(); the tier-wide entry count is MemoryTier::entries_.
struct alignas(64) MemoryTier::Shard {
  mutable std::mutex mu;
  std::unordered_map<BlockKey, Block, BlockKeyHash> blocks;
  std::unique_ptr<EvictionPolicy> policy;
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> evictions{0};
  std::atomic<std::uint64_t> demotions{0};
  std::size_t sweep_bucket = 0;  // where SweepExpired goes on in `blocks`' bucket array
  RehashWatch rehashes;          // of `blocks`, for scans
};

Status MemoryTier::ValidateOptions(const MemoryTierOptions& options) {
  if (options.capacity_bytes == 0) {
    return Status::InvalidArgument("memory.capacity_bytes: must be > 0");
  }
  if (options.shards == 0) return Status::InvalidArgument("memory.shards: must be >= 1");
  if (options.make_policy) return Status::Ok();
  if (auto policy = MakeEvictionPolicy(options.eviction_policy); !policy.ok()) {
    return policy.status();
  }
  return Status::Ok();
}

Result<std::unique_ptr<MemoryTier>> MemoryTier::Create(const MemoryTierOptions& options,
                                                       EvictionSink sink, ClockMs clock_ms) {
  if (Status valid = ValidateOptions(options); !valid.ok()) return valid;
  return std::make_unique<MemoryTier>(options, std::move(sink), std::move(clock_ms));
}

MemoryTier::MemoryTier(const MemoryTierOptions& options, EvictionSink sink, ClockMs clock_ms)
    : capacity_bytes_(options.capacity_bytes),
      policy_name_(options.eviction_policy),
      make_policy_(options.make_policy),
      sink_(std::move(sink)),
      clock_ms_(std::move(clock_ms)) {
  PC_CHECK(options.capacity_bytes > 0 && options.shards > 0);
  shards_.reserve(options.shards);
  for (std::size_t i = 0; i < options.shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->policy = NewPolicy();
    shards_.push_back(std::move(shard));
  }
}

MemoryTier::~MemoryTier() = default;

std::unique_ptr<EvictionPolicy> MemoryTier::NewPolicy() const {
  if (make_policy_) {
    auto policy = make_policy_();
    PC_CHECK(policy != nullptr);
    return policy;
  }
  auto policy = MakeEvictionPolicy(policy_name_, TierView{&entries_});
  PC_CHECK(policy.ok());
  return std::move(policy).value();
}

MemoryTier::Shard& MemoryTier::ShardFor(const BlockKey& key) const {
  // The high bits of the hash pick the shard (multiply-shift range reduction); the
  // shard's map buckets by the hash modulo a prime, so the two stay independent.
  const auto hash = static_cast<unsigned __int128>(BlockKeyHash()(key));
  return *shards_[static_cast<std::size_t>(hash * shards_.size() >> 64)];
}

Result<Block> MemoryTier::Get(const BlockKey& key) { return Lookup(key, true); }

Result<Block> MemoryTier::GetIfPresent(const BlockKey& key) { return Lookup(key, false); }

void MemoryTier::CountMiss(const BlockKey& key) { Add(ShardFor(key).misses); }

template <typename It>
Block MemoryTier::EraseLocked(Shard& shard, It it) {
  const BlockKey key = it->first;
  Block erased = std::move(it->second);
  shard.blocks.erase(it);
  shard.policy->OnErase(key);
  entries_.fetch_sub(1, kRelaxed);
  used_bytes_.fetch_sub(Charge(erased), kRelaxed);
  return erased;
}

Result<Block> MemoryTier::Lookup(const BlockKey& key, bool count_miss) {
  Shard& shard = ShardFor(key);
  Block expired;  // freed after the lock is dropped
  std::lock_guard lock(shard.mu);
  auto it = shard.blocks.find(key);
  if (it != shard.blocks.end() && it->second.meta && it->second.meta.ExpiredAt(NowMs())) {
    expired = EraseLocked(shard, it);
    it = shard.blocks.end();
  }
  if (it == shard.blocks.end()) {
    if (count_miss) Add(shard.misses);
    return Status::NotFound();
  }
  // Ticks are taken under the shard lock so each policy sees them in increasing order.
  shard.policy->OnAccess(key, tick_.fetch_add(1, kRelaxed) + 1);
  Add(shard.hits);
  return it->second;
}

Status MemoryTier::Put(const BlockKey& key, Block block) {
  const std::uint64_t charge = Charge(block);
  if (charge > capacity_bytes_) {
    return Status::Rejected("block of " + std::to_string(block.value.size()) + " bytes (+" +
                            std::to_string(kMemoryEntryOverheadBytes) +
                            " overhead) exceeds the memory tier capacity of " +
                            std::to_string(capacity_bytes_) + " bytes");
  }
  Shard& shard = ShardFor(key);
  std::optional<Block> replaced;  // freed after the lock is dropped
  {
    // Replacing with a block no larger needs no new space: swap in place, so re-putting a
    // held block into a full tier evicts nothing.
    std::lock_guard lock(shard.mu);
    auto it = shard.blocks.find(key);
    if (it != shard.blocks.end() && Charge(it->second) >= charge) {
      replaced = std::exchange(it->second, std::move(block));
      shard.policy->OnErase(key);
      shard.policy->OnInsert(key, it->second.depth, tick_.fetch_add(1, kRelaxed) + 1);
    }
  }
  if (replaced) {
    used_bytes_.fetch_sub(Charge(*replaced) - charge, kRelaxed);
    return Status::Ok();
  }

  Reserve(charge);
  {
    std::lock_guard lock(shard.mu);
    auto [it, inserted] = shard.blocks.try_emplace(key);
    shard.rehashes.Note(shard.blocks.bucket_count());
    if (inserted) {
      Add(entries_);
      it->second = std::move(block);
    } else {
      replaced = std::exchange(it->second, std::move(block));
      shard.policy->OnErase(key);
    }
    shard.policy->OnInsert(key, it->second.depth, tick_.fetch_add(1, kRelaxed) + 1);
  }
  if (replaced) used_bytes_.fetch_sub(Charge(*replaced), kRelaxed);
  return Status::Ok();
}

// Hard capacity: space is taken from used_bytes_ only while it fits, so the charge never
// passes the capacity, even transiently. When it does not fit, evict and retry; when
// nothing is left to evict, the space is held by other Puts between Reserve() and
// insertion, which finish without waiting for anything, so yielding makes progress.
void MemoryTier::Reserve(std::uint64_t charge) {
  std::uint64_t used = used_bytes_.load(kRelaxed);
  for (;;) {
    if (used <= capacity_bytes_ - charge) {
      if (used_bytes_.compare_exchange_weak(used, used + charge, kRelaxed)) return;
      continue;
    }
    if (!EvictOne()) std::this_thread::yield();
    used = used_bytes_.load(kRelaxed);
  }
}

// Returns false only when there was nothing to evict; true when it evicted or when the
// chosen shard changed under it (the caller simply retries).
bool MemoryTier::EvictOne() {
  Shard* coldest = shards_.front().get();
  if (shards_.size() > 1) {
    coldest = nullptr;
    std::uint64_t coldest_tick = std::numeric_limits<std::uint64_t>::max();
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mu);
      if (shard->blocks.empty()) continue;
      const std::uint64_t tick = shard->policy->VictimTick();
      if (coldest == nullptr || tick < coldest_tick) {
        coldest = shard.get();
        coldest_tick = tick;
      }
    }
    if (coldest == nullptr) return false;
  }

  BlockKey key;
  Block block;
  {
    std::lock_guard lock(coldest->mu);
    std::optional<BlockKey> victim = coldest->policy->Victim();
    if (!victim) return shards_.size() > 1;
    auto it = coldest->blocks.find(*victim);
    PC_CHECK(it != coldest->blocks.end());
    key = *victim;
    // The sink takes the block before it leaves the map, so a concurrent reader finds it
    // in one tier or the other, never in neither (see EvictionSink for what that asks of
    // the sink).
    if (sink_ && !(it->second.meta && it->second.meta.ExpiredAt(NowMs()))) {
      Add(coldest->demotions);
      sink_(key, it->second);
    }
    block = std::move(it->second);
    coldest->blocks.erase(it);
    coldest->policy->OnErase(key);
    entries_.fetch_sub(1, kRelaxed);
    Add(coldest->evictions);
  }
  used_bytes_.fetch_sub(Charge(block), kRelaxed);
  return true;
}

bool MemoryTier::Contains(const BlockKey& key) const {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.blocks.find(key);
  return it != shard.blocks.end() && !(it->second.meta && it->second.meta.ExpiredAt(NowMs()));
}

Result<KeyMetaRef> MemoryTier::MetaOf(const BlockKey& key) const {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.blocks.find(key);
  if (it == shard.blocks.end() || (it->second.meta && it->second.meta.ExpiredAt(NowMs()))) {
    return Status::NotFound();
  }
  return it->second.meta;
}

bool MemoryTier::SetMeta(const BlockKey& key, KeyMetaRef meta) {
  Shard& shard = ShardFor(key);
  const std::uint64_t new_charge = meta.ChargeBytes();
  std::uint64_t old_charge = 0;
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.blocks.find(key);
    if (it == shard.blocks.end()) return false;
    old_charge = it->second.meta.ChargeBytes();
    if (new_charge <= old_charge) {
      std::swap(it->second.meta, meta);  // the old meta is freed after the lock is dropped
      used_bytes_.fetch_sub(old_charge - new_charge, kRelaxed);
      return true;
    }
  }
  // More space: reserved first (which may evict this very key), then swapped in.
  const std::uint64_t grow = new_charge - old_charge;
  Reserve(grow);
  std::lock_guard lock(shard.mu);
  auto it = shard.blocks.find(key);
  if (it == shard.blocks.end() || it->second.meta.ChargeBytes() != old_charge) {
    used_bytes_.fetch_sub(grow, kRelaxed);
    if (it == shard.blocks.end()) return false;
    // Changed meanwhile: the charge is recomputed from what is there.
    const std::uint64_t current = it->second.meta.ChargeBytes();
    std::swap(it->second.meta, meta);
    used_bytes_.fetch_add(new_charge, kRelaxed);
    used_bytes_.fetch_sub(current, kRelaxed);
    return true;
  }
  std::swap(it->second.meta, meta);
  return true;
}

std::size_t MemoryTier::SweepExpired(std::size_t max_entries) {
  const std::size_t per_shard = std::max<std::size_t>(1, max_entries / shards_.size());
  const std::int64_t now = NowMs();
  std::size_t dropped = 0;
  for (const auto& shard : shards_) {
    std::vector<Block> expired;  // freed after the lock is dropped
    std::lock_guard lock(shard->mu);
    std::vector<BlockKey> keys;
    if (shard->sweep_bucket >= shard->blocks.bucket_count()) shard->sweep_bucket = 0;
    shard->sweep_bucket = WalkBuckets(shard->blocks, shard->sweep_bucket, per_shard, per_shard,
                                      [&](const BlockKey& key, const Block& block) {
                                        if (block.meta.ExpiredAt(now)) keys.push_back(key);
                                      });
    for (const BlockKey& key : keys) {
      expired.push_back(EraseLocked(*shard, shard->blocks.find(key)));
    }
    dropped += keys.size();
  }
  return dropped;
}

void MemoryTier::ScanShard(std::size_t shard_index, TableScan& step, std::size_t want,
                           std::vector<std::pair<BlockKey, KeyMetaRef>>& out) const {
  PC_CHECK(shard_index < shards_.size());
  const Shard& shard = *shards_[shard_index];
  std::lock_guard lock(shard.mu);
  const std::int64_t now = NowMs();
  ScanTableStep(shard.blocks, shard.rehashes, step, want,
                [&](const BlockKey& key, const Block& block) {
                  if (!(block.meta && block.meta.ExpiredAt(now))) out.emplace_back(key, block.meta);
                });
}

void MemoryTier::Erase(const BlockKey& key) {
  Shard& shard = ShardFor(key);
  Block erased;  // freed after the lock is dropped
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.blocks.find(key);
    if (it == shard.blocks.end()) return;
    erased = std::move(it->second);
    shard.blocks.erase(it);
    shard.policy->OnErase(key);
    entries_.fetch_sub(1, kRelaxed);
  }
  used_bytes_.fetch_sub(Charge(erased), kRelaxed);
}

void MemoryTier::Clear() {
  for (const auto& shard : shards_) {
    std::unique_ptr<EvictionPolicy> fresh_policy = NewPolicy();
    std::unordered_map<BlockKey, Block, BlockKeyHash> dropped;
    {
      std::lock_guard lock(shard->mu);
      dropped.swap(shard->blocks);
      shard->rehashes.Note(shard->blocks.bucket_count());
      ++shard->rehashes.generation;  // a new table, whatever its size
      shard->policy = std::move(fresh_policy);
      entries_.fetch_sub(dropped.size(), kRelaxed);
    }
    std::uint64_t released = 0;
    for (const auto& [key, block] : dropped) released += Charge(block);
    used_bytes_.fetch_sub(released, kRelaxed);
  }
}

TierStats MemoryTier::Stats() const {
  TierStats stats;
  for (const auto& shard : shards_) {
    stats.hits += shard->hits.load(kRelaxed);
    stats.misses += shard->misses.load(kRelaxed);
    stats.evictions += shard->evictions.load(kRelaxed);
    stats.demotions += shard->demotions.load(kRelaxed);
  }
  stats.entries = entries_.load(kRelaxed);
  stats.bytes = used_bytes_.load(kRelaxed);
  stats.capacity_bytes = capacity_bytes_;
  return stats;
}

std::vector<std::pair<BlockKey, Block>> MemoryTier::Snapshot() const {
  std::vector<std::pair<BlockKey, Block>> out;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    out.reserve(out.size() + shard->blocks.size());
    const std::int64_t now = NowMs();
    for (const auto& [key, block] : shard->blocks) {
      if (!(block.meta && block.meta.ExpiredAt(now))) out.emplace_back(key, block);
    }
  }
  return out;
}

}  // namespace prefixcache::storage
