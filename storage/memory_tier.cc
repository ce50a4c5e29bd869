#include "memory_tier.h"

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
                                                       EvictionSink sink) {
  if (Status valid = ValidateOptions(options); !valid.ok()) return valid;
  return std::make_unique<MemoryTier>(options, std::move(sink));
}

MemoryTier::MemoryTier(const MemoryTierOptions& options, EvictionSink sink)
    : capacity_bytes_(options.capacity_bytes),
      policy_name_(options.eviction_policy),
      make_policy_(options.make_policy),
      sink_(std::move(sink)) {
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

Result<Block> MemoryTier::Lookup(const BlockKey& key, bool count_miss) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.blocks.find(key);
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
    if (sink_) {
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
  return shard.blocks.contains(key);
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
    for (const auto& [key, block] : shard->blocks) out.emplace_back(key, block);
  }
  return out;
}

}  // namespace prefixcache::storage
