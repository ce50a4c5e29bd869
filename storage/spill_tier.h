// SpillTier: the RocksDB level of a BlockStore. Blocks evicted from memory are queued
// (Enqueue, never blocks) and written in batches by one background thread; every read is
// verified against the value's XXH3-64 checksum. Thread-safe: every method may be called
// from any thread at once, Close() included; only the destructor must not race.
//
// On disk (spill_db.h, spill format 2): values are gathered into segments, table files the
// tier writes itself and ingests into RocksDB whole, in write order, synced by a sealer
// thread while the writer fills the next segment; each block's record (checksum, size,
// depth, write seq) is in a column family of its own. Nothing rewrites a value once
// written (no compaction, no blob garbage collection), and RocksDB hashes its blocks with
// XXH3, never with the CRC32C that Debian's portable build computes in software. An
// in-memory index rebuilt from the records on Open answers Contains and capacity
// questions without touching the disk. A folder of the previous format (BlobDB) is
// discarded on Open with one notice line (SpillTierOptions::notice).
//
// Space: the index evicts the least recently written or read blocks past capacity_bytes,
// one by one. A segment file is deleted once it holds no block the index still has; a
// block still in use in an old segment is written again when it is demoted again and its
// copy has more than capacity_bytes / 2 written after it, and a block read but never
// demoted again turns cold and is evicted within a capacity's worth of writes, so old
// segments empty out. Should dead values still fill the disk past capacity_bytes +
// capacity_bytes / 8 + 2 segments, the oldest segments go whole, with their live blocks
// (counted as evictions).
//
// Durability: a segment is synced and ingested before the records of its blocks are
// written (with RocksDB's write-ahead log, unsynced), so a record never names a value that
// is not on disk. What Flush() or Close() returned from survives a restart, and so does a
// completed segment whose records were logged before a crash of the process; the blocks of
// the segments not yet ingested (in RAM, up to two segments) are lost by a crash, as are
// records and deletes not yet synced when the machine loses power (the block then comes
// back, or is forgotten, at the next Open).
//
// Which thread calls what: Contains, NeedsDiskRead, GetQueued, Enqueue, Erase, ScanStep, MetaOf,
// SetMeta, SweepExpired, MarkInMemory, MarkNotInMemory, CountNotInMemory, Stats and Health never
// touch the disk (safe on a network I/O thread). Get, Put, Clear, Drain, Flush and Close may read,
// write or wait on RocksDB: call them from a worker thread.
//
// A concrete class, not one implementation of a tier interface shared with MemoryTier: some
// of its operations touch the disk and others must not, it has a health state and a
// lifecycle (Drain, Flush, Close), and BlockStore, its only user, depends on each of these
// differences (see memory_tier.h).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "block.h"
#include "prefixcache/block_key.h"
#include "prefixcache/status.h"
#include "spill_db.h"
#include "spill_index.h"
#include "storage/options.h"
#include "storage/stats.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace prefixcache::storage {

class SpillTier {
 public:
  // InvalidArgument on an empty path, zero capacity_bytes, batch_bytes or segment_bytes.
  static Status ValidateOptions(const SpillTierOptions& options);

  // Opens (creating if missing) the RocksDB folder options.path, rebuilds the index from
  // it and starts the writer thread. Ignores options.enabled. A folder of the previous
  // spill format, or one whose files RocksDB reports corrupt, is emptied and opened, with
  // one line to options.notice (records that do not decode, and records whose segment is
  // gone, are dropped quietly, the first counted in checksum_failures). InvalidArgument on
  // bad options; IoError naming the path and the reason when the folder cannot be created
  // or opened (parent is a file, no permission, locked by another process, written by a
  // newer spill format, not a spill folder), leaving it as it was.
  static Result<std::unique_ptr<SpillTier>> Open(const SpillTierOptions& options);
  // Same, with RocksDB's file access going through `env` (not owned; must outlive the
  // tier), for fault-injection tests. nullptr means the default environment.
  // `clock_ms` (empty: the system clock) tells which blocks have expired.
  static Result<std::unique_ptr<SpillTier>> Open(const SpillTierOptions& options, rocksdb::Env* env,
                                                 ClockMs clock_ms = {});

  // Calls Close().
  ~SpillTier();

  SpillTier(const SpillTier&) = delete;
  SpillTier& operator=(const SpillTier&) = delete;

  // A queued block or one of the segment being written (a hit), else the block read from
  // disk and verified (a hit); looking a key up refreshes its recency, whatever the read
  // then finds. May read the disk.
  // Failures:
  // - NotFound on a miss, also once closed; counted as a miss.
  // - Corruption when the block fails verification (its value's size or XXH3-64 checksum
  //   differs from its record, its value is missing, or RocksDB reports either one
  //   corrupt): the block is gone from the tier on return (its disk copy is deleted too;
  //   a failed delete counts in io_errors) and counted in checksum_failures and as a miss.
  // - IoError when RocksDB fails the read: the block stays; counted in io_errors only.
  // - Rejected when no buffer can be allocated for the copy: the block stays; not counted.
  Result<Block> Get(const BlockKey& key);

  // A block held in RAM (waiting in the queue, or in the segment being written), counting
  // a hit. Otherwise NotFound,
  // counting a miss when the key is not on disk either (as Get would) and nothing when it
  // is (the caller's Get counts it then). `on_disk`, if not null, is set to whether the
  // key is held on disk only (as NeedsDiskRead). No disk I/O.
  Result<Block> GetQueued(const BlockKey& key, bool* on_disk = nullptr);

  // Writes the block now into the segment being written, on the calling thread, evicting
  // the coldest blocks if needed; supersedes any queued block under the key (durable once
  // the segment is complete: Flush). Skips the write when the same bytes are already
  // stored, unless that copy is old (see "Space"). Rejected when the value
  // exceeds capacity_bytes; Unavailable once closed; the health error once a write has
  // failed; IoError if this write fails (which makes the tier unhealthy, see Health).
  Status Put(const BlockKey& key, Block block);

  // Queues the block for the writer thread and returns at once; the block stays readable
  // meanwhile. Dropped (and counted in demotion_drops) when the queue would pass
  // queue_bytes, when the block is larger than the capacity, when the tier is unhealthy,
  // closing or closed. Shares `block`'s bytes, no copy.
  void Enqueue(const BlockKey& key, Block block);

  // Removes the key from the index and the queue now (Contains turns false, Get misses)
  // and queues the deletion of its record for the writer. The disk copy stays, and a later
  // Open brings it back, when the tier is closing or unhealthy, or when the delete is lost
  // (see Durability). No disk I/O on the calling thread.
  void Erase(const BlockKey& key);

  // Whether the key is held (queued or on disk). Counts nothing; no disk I/O.
  bool Contains(const BlockKey& key) const;

  // Whether the key is held on disk only, not in RAM (a Get would read the disk). No disk
  // I/O.
  bool NeedsDiskRead(const BlockKey& key) const;

  // Expiry: a block whose KeyMeta's expiry has passed is never returned (Get and GetQueued
  // miss it, Contains and NeedsDiskRead say no, scans leave it out); Get, GetQueued and
  // SweepExpired drop it as Erase does, Enqueue drops it at once, and Open drops the
  // expired records it finds.

  // The KeyMeta of the held key (null when it has none), or NotFound. No disk I/O.
  Result<KeyMetaRef> MetaOf(const BlockKey& key) const;
  // Replaces the held key's KeyMeta (queued or on disk); false when not held. The
  // record on disk is rewritten by the writer (lost, the old one kept, when the tier is
  // failing: see Health). No disk I/O on the calling thread.
  bool SetMeta(const BlockKey& key, KeyMetaRef meta);
  // Drops the expired blocks among about `max_entries` keys of the index, from where the
  // last call stopped (queued blocks are left to the writer, which drops expired ones).
  // Returns how many. No disk I/O on the calling thread.
  std::size_t SweepExpired(std::size_t max_entries);
  // Whether a record with an expiry was found when the folder was opened (or reopened).
  bool LoadedExpiring() const { return loaded_expiring_.load(std::memory_order_relaxed); }

  // One step of a scan over the keys held: `table` 0 is the index (what is on disk or
  // being written), 1 the queue (blocks not yet written). Appends the key and KeyMeta of
  // about `want` unexpired keys to `out`, going on from `step` (see ScanTableStep). A key
  // held in that table from the step that starts its scan to the one that ends it is
  // appended at least once; a queued key that is written meanwhile moves from table 1 to
  // table 0, so a scan should walk table 1 first. No disk I/O.
  void ScanStep(int table, TableScan& step, std::size_t want,
                std::vector<std::pair<BlockKey, KeyMetaRef>>& out) const;

  // The memory tier now holds a copy of the key's block too (a promotion); no-op for a key
  // not held here. The mark goes when the key leaves this tier or is enqueued again (the
  // memory tier evicted it). For CountNotInMemory; no disk I/O.
  void MarkInMemory(const BlockKey& key);
  // Undoes MarkInMemory (the promotion did not happen). No disk I/O.
  void MarkNotInMemory(const BlockKey& key);
  // Keys held (queued or on disk) and not marked in memory. O(1), no disk I/O.
  std::uint64_t CountNotInMemory() const;

  // Deletes every block (queued ones and the segment being written included): every
  // segment file and every record. IoError (counted) when RocksDB fails.
  Status Clear();

  // Waits until every block enqueued before the call is written (or dropped), then
  // completes the segment being written, so every block written so far is read from disk
  // from then on. Returns Health(), or the error of completing the segment (which makes
  // the tier unhealthy).
  Status Drain();

  // Drain(), then flushes the records' memtable so the written blocks survive a restart
  // even of the machine.
  Status Flush();

  // Ok while open and writing; IoError with the failed write's text once a write has
  // failed, until the tier has recovered; Unavailable once closed. While unhealthy every
  // demotion is dropped (the queued ones at once) and Put returns that error, while reads
  // of what is on disk go on. The writer thread then retries: retry_min_ms after the
  // failure (doubling after each failed attempt, up to retry_max_ms) it closes RocksDB,
  // opens the folder again and rebuilds the index from its records, as Open does, and the
  // tier is healthy again (counted in `reopens`, one line to options.notice). Erase and
  // Clear made while unhealthy are applied to the folder at that point, so nothing erased
  // comes back (past 65,536 erased keys the folder is cleared instead: a cache may
  // forget). While a reopen fails, the tier holds nothing (reads miss).
  Status Health() const;

  // Drains the queue, completes the segment, stops the writer, flushes and closes RocksDB.
  // Afterwards the tier
  // holds nothing, Enqueue drops and Put fails with Unavailable. Idempotent; returns the
  // first error met.
  Status Close();

  // The counters of stats.h; `bytes` and `entries` count the written blocks (those of
  // the segment being written included, not the queued ones), `queue_bytes` the queued
  // ones.
  TierStats Stats() const;

 private:
  // The largest value the tier stores (a record of a larger one is damaged).
  static constexpr std::uint64_t kMaxValueBytes = std::numeric_limits<std::uint32_t>::max();

  // One queued operation: write `block` under `key`, or delete the key (no block), or
  // (rewrite_record) write the key's record again as the index holds it now.
  struct Op {
    BlockKey key;
    std::optional<Block> block;
    std::uint64_t id = 0;
    bool rewrite_record = false;
  };
  // The newest queued block of a key, readable until the writer has indexed it.
  struct Queued {
    Block block;
    std::uint64_t op_id = 0;
  };
  using QueuedMap = std::unordered_map<BlockKey, Queued, BlockKeyHash>;
  // A block the writer or Put is about to store.
  struct PlannedPut {
    BlockKey key;
    Block block;
    SpillRecord record;
    std::uint64_t op_id = 0;  // 0 for Put()
  };
  // A block written into the segment being written: readable from here, by its seq, until
  // the segment is ingested.
  struct SegmentBlock {
    Block block;
    std::uint64_t seq = 0;
  };

  SpillTier(const SpillTierOptions& options, rocksdb::Env* env, SpillDb::Notice notice,
            std::unique_ptr<SpillDb> db, ClockMs clock_ms);

  std::int64_t NowMs() const { return clock_ms_ ? clock_ms_() : SystemNowMs(); }
  // Whether the key's newest copy here (queued, else indexed) has expired. Caller holds mu_.
  bool ExpiredLocked(const BlockKey& key) const;
  // Erase's body. Caller holds mu_.
  void EraseLocked(const BlockKey& key);

  // Rebuilds the index from db_'s records. Caller holds write_mu_ and db_mu_, not mu_.
  Status LoadIndexLocked();
  // After a failed write: reopens the folder (see Health). Runs on the writer thread.
  Status Recover();
  // Reopens db_ and rebuilds the index, then applies the erases made while unhealthy.
  // Caller holds write_mu_ and db_mu_ exclusively, not mu_.
  Status ReopenLocked();
  // Notes a key erased while unhealthy (see Health). Caller holds mu_.
  void RememberErasedLocked(const BlockKey& key);
  // Every change to queued_ and index_ after LoadIndex goes through these, which keep
  // queued_only_ and in_memory_ in step. Caller holds mu_. A key moving from the queue to
  // the index is indexed first, then unqueued, so it never looks gone in between.
  void QueueLocked(const BlockKey& key, Queued queued);
  void UnqueueLocked(QueuedMap::iterator queued);
  bool UnqueueLocked(const BlockKey& key);  // false if it was not queued
  void IndexLocked(const BlockKey& key, const SpillRecord& record);
  bool UnindexLocked(const BlockKey& key);  // false if it was not indexed
  void ForgetAllLocked();
  // The key's block if the segment being written holds its indexed copy, else nullptr.
  // Caller holds mu_.
  const Block* SegmentBlockLocked(const BlockKey& key) const;
  // Whether `key` is stored with these bytes and recently enough to skip writing them
  // again: a copy with more than capacity_bytes / 2 written after it is rewritten, so that
  // a block in use does not keep an old segment alive (see "Space"). Caller holds mu_.
  bool HoldsRecentCopyLocked(const BlockKey& key, std::uint64_t checksum, std::uint64_t size,
                             const KeyMetaRef& meta) const;
  void WriterLoop();
  // Takes one batch of queued ops and writes it. Caller holds write_mu_.
  void WriteQueuedBatch();
  // The keys to delete so that `planned` fits the capacity: the coldest held ones, plus
  // older copies of planned blocks dropped from the front of a batch larger than the whole
  // capacity, plus every block of the oldest segments while the segments would take more
  // than disk_limit_bytes_. Removes them from the index and counts them as evictions.
  // Caller holds mu_.
  std::vector<BlockKey> TakeVictimsLocked(std::vector<PlannedPut>& planned);
  // Evicts the blocks of the oldest segments while the segments and `incoming_bytes` more
  // would pass disk_limit_bytes_; appends them to `victims`. Caller holds mu_.
  void EnforceDiskLimitLocked(std::uint64_t incoming_bytes, std::vector<BlockKey>& victims);
  // Writes the records' deletes (`deletes`, then `victims`) and `rewrites`, appends `planned` to
  // the segment being written (starting one if needed) and indexes them, hands the segment to the
  // sealer once it is full, and deletes the segments left empty. IoError (counted, and the tier
  // failed) when a write fails. Caller holds write_mu_ and db_mu_, not mu_.
  Status WriteLocked(const std::vector<BlockKey>& deletes, const std::vector<BlockKey>& victims,
                     std::vector<PlannedPut>& planned,
                     const std::vector<std::pair<BlockKey, SpillRecord>>& rewrites = {});
  // The sealer thread: syncs and ingests each segment handed to it, one at a time.
  void SealerLoop();
  // After the seal in flight is finished, makes the open segment (if any) the sealing one
  // and returns it. Caller holds write_mu_ and db_mu_, not mu_.
  std::unique_ptr<SpillDb::Segment> StartSealLocked();
  // Hands the open segment (if any) to the sealer, after the one before it is finished.
  // Caller holds write_mu_ and db_mu_, not mu_.
  void HandOffSegmentLocked();
  // Finishes the seal in flight, if any, once the sealer is done with it (waiting for it
  // when `wait`): on success its values are on disk and their records are written; on
  // failure its blocks leave the index and the tier fails. Returns the seal's status (Ok
  // when there is none, or it is not done and !wait). Caller holds write_mu_ and db_mu_,
  // not mu_.
  Status FinishSealLocked(bool wait);
  // Seals the open segment on the calling thread (the sealer has stopped). Caller holds
  // write_mu_ and db_mu_, not mu_.
  Status SealNowLocked();
  // Deletes the files of the segments that hold no indexed block. A failed delete is
  // counted (the file goes at the next Open). Caller holds write_mu_ and db_mu_, not mu_.
  void DeleteEmptySegmentsLocked();
  // Marks the tier unhealthy (counting the error in io_errors), drops every queued block
  // and the segment being written. Caller holds write_mu_, db_mu_ and mu_.
  void FailLocked(const std::string& error);
  // Drops the segment being written: its blocks leave the index and its file goes. Caller
  // holds write_mu_, db_mu_ and mu_.
  void AbandonSegmentLocked();
  // Removes from the index and from segment_blocks_ the keys still indexed at the seq
  // they were written with. Caller holds mu_.
  void UnindexWrittenLocked(const std::vector<std::pair<BlockKey, std::uint64_t>>& written);
  // After a failed write of `planned` of which the first `written` reached the segment:
  // drops the rest (counted in demotion_drops unless from Put), fails the tier on an
  // IoError and drops the segment on any other error. Caller holds write_mu_ and db_mu_.
  void HandleWriteFailure(const Status& status, const std::vector<PlannedPut>& planned,
                          std::size_t written);
  // Deletes a block that failed verification, unless it was rewritten meanwhile.
  void DropCorrupt(const BlockKey& key, std::uint64_t seq);
  Result<Block> ReadFromDisk(const BlockKey& key, const SpillRecord& record);
  Status FlushLocked();

  const SpillTierOptions options_;
  rocksdb::Env* const env_;  // not owned; nullptr: the default environment
  const SpillDb::Notice notice_;
  const std::uint64_t segment_target_bytes_;
  const std::uint64_t disk_limit_bytes_;
  const ClockMs clock_ms_;

  // Lock order: close_mu_, write_mu_, db_mu_, mu_; seal_mu_ is taken after write_mu_ and
  // db_mu_ and never with mu_. write_mu_ serialises all writes to RocksDB (and the
  // segments) so the index always matches the last write; db_mu_ (shared by every RocksDB
  // user, exclusive to Close) guards db_'s lifetime.
  std::mutex close_mu_;
  std::mutex write_mu_;
  mutable std::shared_mutex db_mu_;
  std::unique_ptr<SpillDb> db_;

  // Guarded by write_mu_: the segment being written and its blocks (key, seq) in write
  // order; the segment the sealer has (at most one), its first seq and its blocks.
  std::unique_ptr<SpillDb::Segment> open_segment_;
  std::vector<std::pair<BlockKey, std::uint64_t>> open_keys_;
  bool sealing_ = false;
  std::uint64_t sealing_first_seq_ = 0;
  std::vector<std::pair<BlockKey, std::uint64_t>> sealing_keys_;

  // The hand-off to the sealer, guarded by seal_mu_: the segment to seal, the result of
  // the last seal, and the order to stop.
  std::mutex seal_mu_;
  std::condition_variable seal_cv_;  // to_seal_, sealed_ or seal_stop_ changed
  std::unique_ptr<SpillDb::Segment> to_seal_;
  std::optional<Status> sealed_;
  bool seal_stop_ = false;
  std::thread sealer_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // queue_ gained an op, or stopping_
  std::condition_variable drain_cv_;  // done_op_id_ moved
  SpillIndex index_;
  std::deque<Op> queue_;
  QueuedMap queued_;
  RehashWatch queued_rehashes_;   // of queued_, for scans
  std::size_t sweep_bucket_ = 0;  // where SweepExpired goes on in the index
  // The blocks of the open and the sealing segment, readable from here until ingested.
  std::unordered_map<BlockKey, SegmentBlock, BlockKeyHash> segment_blocks_;
  // Segments emptied by evicting whole ones (disk limit), their files not yet deleted.
  std::vector<SpillIndex::Segment> emptied_segments_;
  std::uint64_t queued_only_ = 0;  // keys in queued_ but not in index_
  // Keys held here that the memory tier holds too (promoted); a subset of the held keys.
  std::unordered_set<BlockKey, BlockKeyHash> in_memory_;
  std::uint64_t next_seq_ = 1;    // write seqs
  std::uint64_t last_op_id_ = 0;  // the newest queued op
  std::uint64_t done_op_id_ = 0;  // every op up to this one is written or dropped
  Status health_;
  // While unhealthy: the keys erased (to delete from the folder at the next reopen), or
  // clear_on_reopen_ once Clear was called or too many keys were erased to list.
  std::unordered_set<BlockKey, BlockKeyHash> erased_while_failed_;
  bool clear_on_reopen_ = false;
  bool failure_reported_ = false;  // the notice line of the current failure is written
  bool reopen_failed_ = false;     // db_ is closed by a failed reopen; the index is empty
  bool stopping_ = false;
  bool closed_ = false;
  std::thread writer_;

  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> demotions_{0};
  std::atomic<std::uint64_t> checksum_failures_{0};
  std::atomic<std::uint64_t> demotion_drops_{0};
  std::atomic<std::uint64_t> io_errors_{0};
  std::atomic<std::uint64_t> reopens_{0};
  std::atomic<std::uint64_t> queue_bytes_{0};
  std::atomic<bool> loaded_expiring_{false};
};

}  // namespace prefixcache::storage
