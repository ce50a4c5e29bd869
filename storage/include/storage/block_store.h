// BlockStore: the storage engine of one prefixcached node -- a memory tier over a RocksDB
// spill tier. Blocks evicted from memory are demoted to the spill tier by a background
// thread; a spill hit is promoted back to memory. The tiers are inclusive: a promoted block
// stays spilled, so evicting it again costs no write.
//
// Thread-safe: every method may be called from any thread at once, Close() included (after
// Close the store keeps serving from memory only); only the destructor must not race with
// other calls. Methods marked "no disk I/O" are safe on a network I/O thread; the others
// may read or write RocksDB and belong on a worker thread. Calls racing on one key (a Put
// with an Erase, Clear or promotion of it) take effect in some order, never mixing bytes;
// a Clear racing with other calls may leave the blocks those calls touch.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "prefixcache/status.h"
#include "storage/options.h"
#include "storage/stats.h"

namespace prefixcache::storage {

class KeyMetaRef;
class MemoryTier;
class SpillTier;
struct Block;

// What a Put may give a key beside its bytes. An expired block is never returned by
// any read (Get, GetFromMemory, Contains, NeedsDiskRead, Scan, PutIf's "had"); its space
// is reclaimed when a read meets it and by the background sweep (StoreOptions). The
// expiry and the name survive demotion and a restart on the spill folder.
struct KeyOptions {
  std::int64_t expire_at_ms = 0;         // Unix time in ms at which the block expires; 0: never
  bool keep_ttl = false;                 // keep the key's current expiry instead (Redis KEEPTTL)
  std::optional<std::string_view> name;  // the key's Redis name, returned by Scan
};

class BlockStore {
 public:
  // Opens the store. Fails (InvalidArgument) only on bad options: a zero max_value_bytes,
  // capacity, shard count or spill batch size, an unknown eviction policy, an empty spill
  // path. A spill folder that cannot be opened is not a failure: the store runs
  // memory-only and reports why in Stats().spill_error / SpillStatus().
  static Result<std::unique_ptr<BlockStore>> Open(const StoreOptions& options);

  // Close(): stops the background writer after draining it; with
  // spill.flush_on_close also writes the memory tier's blocks to the spill tier.
  ~BlockStore();
  Status Close();

  BlockStore(const BlockStore&) = delete;
  BlockStore& operator=(const BlockStore&) = delete;

  // Stores a block under `key` without copying `value`. Rejected when value.size() exceeds
  // max_value_bytes, or when value.size() + kMemoryEntryOverheadBytes exceeds the
  // memory capacity. Replaces an older block, dropping its spilled copy as Erase does. No
  // disk I/O.
  Status Put(const BlockKey& key, Buffer value, std::uint32_t depth);
  // Same, with an expiry and a name; Rejected also when no memory is left for them.
  Status Put(const BlockKey& key, Buffer value, std::uint32_t depth, const KeyOptions& key_options);
  // Same, copying `bytes` once into a new buffer; Rejected also when that buffer cannot be
  // allocated.
  Status Put(const BlockKey& key, std::span<const std::byte> bytes, std::uint32_t depth);

  // A Put under a condition on the key's presence (in either tier), optionally returning
  // the block it replaces: one atomic step against every other Put, PutIf, Erase and
  // promotion of the key, as Redis's SET NX / XX / GET are.
  enum class PutCondition : std::uint8_t { kAlways, kIfAbsent, kIfPresent };
  struct PutIfOutcome {
    bool stored = false;      // the condition held and the block was stored
    bool had = false;         // the key held a block just before
    Buffer previous;          // that block, when asked for and `had`
    bool needs_disk = false;  // nothing done: the previous block is on disk, see below
  };
  // Without want_previous: no disk I/O. With it, a previous block held on disk only is read
  // (outside the key's lock, then promoted, then the step is retried); when may_read_disk
  // is false that case returns needs_disk instead, for the caller to retry on a worker.
  // Rejected as Put is; IoError when the disk read of the previous block failed.
  Result<PutIfOutcome> PutIf(const BlockKey& key, Buffer value, std::uint32_t depth,
                             PutCondition condition, bool want_previous, bool may_read_disk,
                             const KeyOptions& key_options = {});

  // Expiry of a held key, as Redis's EXPIRE family sets it. The condition is checked
  // against the key's current expiry (none counting as infinitely far for kIfLater and
  // kIfSooner, as in Redis 7). Returns true when set, false when the condition did not
  // hold, NotFound when the key is not held (or has expired). An expiry at or before now
  // erases the key (true). One step against Puts and promotions of the key; no disk I/O
  // (the record on disk is rewritten by the spill writer).
  // kIfNone: NX; kIfSome: XX; kIfLater: GT (and XX GT); kIfSooner: LT; kIfSomeSooner: XX LT.
  enum class ExpireCondition : std::uint8_t {
    kAlways,
    kIfNone,
    kIfSome,
    kIfLater,
    kIfSooner,
    kIfSomeSooner
  };
  Result<bool> SetExpiry(const BlockKey& key, std::int64_t expire_at_ms, ExpireCondition condition);
  // Removes the key's expiry: true when it had one, false when not, NotFound when the key
  // is not held. No disk I/O.
  Result<bool> Persist(const BlockKey& key);
  // The key's expiry (Unix ms), 0 when it has none; NotFound when not held. No disk I/O.
  Result<std::int64_t> ExpiryOf(const BlockKey& key) const;
  // The store's clock (Unix ms): options.clock_ms, or the system clock.
  std::int64_t NowMs() const;
  // Drops expired blocks among about max_entries of each tier (what the background sweep
  // does each interval); returns how many. No disk I/O.
  std::size_t SweepExpired(std::size_t max_entries);

  // One page of a scan over every key held, as Redis's SCAN pages: start with cursor 0,
  // pass each page's next_cursor to the next call, done when it is 0. A key held from the
  // first call to the last is returned at least once (a key moving between tiers, or a
  // table growing, may make it come twice); a key put or erased meanwhile may or may not
  // be. The exception: a spilled key promoted after the scan passed its memory shard and
  // then evicted from the spill tier before the scan reaches it there (the tiers are
  // walked memory, spill queue, spill index). Each call does bounded work: about `count`
  // keys (0 counts as 1) and a bounded number of hash-table buckets, so a page may hold
  // fewer keys than `count`, none at all, before the scan is done. No disk I/O.
  struct ScanEntry {
    BlockKey key;
    std::optional<std::string> name;  // the name given at Put
  };
  struct ScanPage {
    std::vector<ScanEntry> entries;
    std::uint64_t next_cursor = 0;
  };
  ScanPage Scan(std::uint64_t cursor, std::size_t count) const;

  // The block from memory, or from spill (read, checksum-verified, promoted to memory).
  // NotFound on a miss, including a spilled block that failed its checksum (it is deleted
  // and counted). IoError when the disk read failed (the block stays); Rejected when no
  // memory could be had for the block's bytes. May read the disk.
  Result<Buffer> Get(const BlockKey& key);

  // The block if it is in memory (or waiting to be demoted); NotFound otherwise. Counts
  // what Get would count, except for a block held on disk only (NeedsDiskRead): that
  // lookup counts nothing here, for the caller to go on to Get, which counts it. No disk
  // I/O.
  Result<Buffer> GetFromMemory(const BlockKey& key);

  // For each key, whether a block is held in any tier: out[i] = 1 or 0. `out` must have
  // keys.size() elements. No disk I/O (the spill tier keeps its index in memory).
  void Contains(std::span<const BlockKey> keys, std::span<std::uint8_t> out) const;
  bool Contains(const BlockKey& key) const;

  // Whether a block is held in the spill tier only (a Get would read the disk). No disk I/O.
  bool NeedsDiskRead(const BlockKey& key) const;

  // Removes the key from every tier. Ok whether or not it was held. No disk I/O: the
  // spill copy leaves the index at once and the disk with the next demotion batch (never,
  // once the spill tier is unhealthy or closed: a restart then serves that copy again).
  Status Erase(const BlockKey& key);

  // Removes every block from every tier. IoError if the spill tier's delete failed.
  Status Clear();

  // Waits until every block demoted so far is written to the spill tier (or dropped), without
  // flushing RocksDB's memtables: a replay (bench/trace_replay) keeps the tier in step with
  // its requests this way. The spill tier's health; Ok when there is no spill tier.
  Status Drain();

  // Waits until every block demoted so far is written to the spill tier and on disk
  // (SpillTier::Flush), so those blocks survive a restart. Ok when there is no spill tier.
  Status Flush();

  // Number of distinct blocks held: memory entries plus the spilled (or queued) blocks not
  // also in memory (promoted ones are in both). O(1), no disk I/O. Blocks moving between
  // tiers at that moment may be counted twice or not at all.
  std::uint64_t Size() const;

  StoreStats Stats() const;
  // Ok while the spill tier is open and writing (or disabled); the error otherwise.
  Status SpillStatus() const;

  // The largest value a Put can store: max_value_bytes, or the memory capacity less one
  // entry's overhead if that is smaller.
  std::uint64_t LargestStorableValue() const;

  const StoreOptions& options() const { return options_; }

 private:
  explicit BlockStore(const StoreOptions& options);

  // A Put and the promotion of the same key hold the key's stripe, so a promotion never
  // overwrites a newer Put with the older spilled bytes.
  static constexpr std::size_t kStripes = 64;
  std::mutex& StripeFor(const BlockKey& key) const;
  // Copies a block read from the spill tier into memory, unless the key was put, erased
  // or evicted from spill since the read.
  void Promote(const BlockKey& key, const Block& block);
  // The body of Put, with the key's stripe held.
  Status PutLocked(const BlockKey& key, Buffer value, std::uint32_t depth,
                   const KeyOptions& key_options);
  // The key's meta in either tier; NotFound when not held. Caller holds the stripe.
  Result<KeyMetaRef> MetaOfLocked(const BlockKey& key) const;
  // Sets the key's meta in both tiers. Caller holds the stripe.
  void SetMetaLocked(const BlockKey& key, const KeyMetaRef& meta);
  void SweepLoop();

  StoreOptions options_;
  std::unique_ptr<MemoryTier> memory_;
  std::unique_ptr<SpillTier> spill_;  // null when disabled or when it failed to open
  Status spill_open_status_;          // why spill_ is null although enabled
  std::atomic<std::uint64_t> promotions_{0};
  mutable std::array<std::mutex, kStripes> stripes_;
  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
  // The sweep thread: runs once any block has had an expiry (has_expiring_).
  std::atomic<bool> has_expiring_{false};
  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  bool sweep_stop_ = false;  // guarded by sweep_mu_
  std::thread sweeper_;
};

}  // namespace prefixcache::storage
