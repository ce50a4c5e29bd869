// The slow and hostile clients of the fault suite, and what watches the daemon meanwhile: a
// bystander (a normal client checking every block it reads back), an RSS sampler, and the
// faults themselves (silent connections, a byte-at-a-time sender, a client that never reads,
// a storm of connections over max_connections, a flood of large SETs). Used by
// tests/faults/ and bench/flood_bench. Every loop is bounded in count and time and talks to
// 127.0.0.1 only. Each object is driven by one thread; the counters are atomics.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "resp_client.h"

namespace prefixcache::testing {

// What a normal client saw.
struct BystanderCounts {
  std::uint64_t requests = 0;      // replies received
  std::uint64_t errors = 0;        // error replies, failed reads or writes
  std::uint64_t wrong_blocks = 0;  // a GET returned bytes other than the last SET's
  std::uint64_t misses = 0;        // a GET found nothing (evicted): allowed
};

// A normal client on its own connection: SET a block, GET it back, over 64 keys of its own,
// until stopped. Every value depends on its key and version, so any wrong byte shows.
class Bystander {
 public:
  Bystander(std::uint16_t port, std::size_t value_bytes, std::uint64_t seed);
  ~Bystander();
  Bystander(const Bystander&) = delete;
  Bystander& operator=(const Bystander&) = delete;

  void Start();
  void Stop();
  BystanderCounts counts() const;
  // Waits until `more` further replies arrived; false when `bound` passed first.
  bool WaitForRequests(std::uint64_t more,
                       std::chrono::milliseconds bound = std::chrono::seconds(60)) const;

 private:
  void Run();

  const std::uint16_t port_;
  const std::size_t value_bytes_;
  const std::uint64_t seed_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> requests_{0}, errors_{0}, wrong_{0}, misses_{0};
  std::thread thread_;
};

// Samples a process's VmRSS every few milliseconds and keeps the largest.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid);
  ~RssSampler();
  std::uint64_t max_bytes() const { return max_.load(); }
  std::uint64_t samples() const { return samples_.load(); }

 private:
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> max_{0}, samples_{0};
  std::thread thread_;
};

// `count` connections that send nothing.
std::vector<std::unique_ptr<RespClient>> SilentClients(std::uint16_t port, int count);

// Sends a request one byte at a time, `interval` apart, until the daemon closes the
// connection or the request is complete. Returns the bytes sent before the close (the
// whole request when it was never closed).
std::size_t SendByteAtATime(std::uint16_t port, std::chrono::milliseconds interval,
                            std::size_t value_bytes);

// A client that pipelines `count` GETs of `key` and never reads (a small receive buffer).
std::unique_ptr<RespClient> NonReader(std::uint16_t port, const std::string& key, int count);

// Opens `count` connections at once; returns how many were answered "-ERR max number of
// clients reached" and closed.
int ConnectionStorm(std::uint16_t port, int count);

struct FloodResult {
  std::uint64_t stored = 0;   // +OK
  std::uint64_t refused = 0;  // error replies (OOM ...)
  std::uint64_t failed = 0;   // no reply
};
// `connections` clients each send `sets` SETs of `value_bytes` (one shared payload) and read
// each reply. Blocks until all are done.
FloodResult Flood(std::uint16_t port, int connections, int sets, std::size_t value_bytes);

// The documented memory bound of a node (docs/security.md): memory.capacity + spill.queue +
// RocksDB's write buffers + limits.inflight_memory + the fixed overhead.
struct MemoryBound {
  std::uint64_t memory_capacity = 0;
  bool spill = false;
  std::uint64_t spill_queue = 0;
  std::uint64_t max_value = 0;
  std::uint64_t inflight_memory = 0;
  std::uint64_t idle_rss = 0;  // the node's RSS right after it started

  // RocksDB's memtables and write batch when spill is on: 4 memtables of 32 MiB, each of
  // which a value larger than that fills by itself, and one batch of the largest value.
  std::uint64_t rocksdb() const;
  // The fixed overhead: the idle node's RSS plus kAllocatorSlack.
  std::uint64_t overhead() const;
  std::uint64_t total() const;
  std::string Describe() const;

  // What the allocator may hold beyond the live bytes (free lists of its arenas, partly
  // used pages), measured: see docs/security.md. Sanitizer builds keep freed memory in a
  // quarantine, so they get more.
#if defined(__SANITIZE_ADDRESS__)
  static constexpr std::uint64_t kAllocatorSlack = 512ull << 20;
#else
  static constexpr std::uint64_t kAllocatorSlack = 64ull << 20;
#endif
};

}  // namespace prefixcache::testing
