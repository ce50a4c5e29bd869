// ClientImpl: the machinery behind Client -- the I/O threads, the current Topology
// (ring plus node handles, swapped atomically), the fan-out of writes to every admitted
// replica, and the counters. Reads run as ReadCalls (read_call.h). Client's methods
// (client.cc; client_read.cc for Match and the reads, client_write.cc for the puts and
// Erase) are written against it. Thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "cluster/ring.h"
#include "node.h"
#include "prefixcache/client.h"
#include "prefixcache/value_format.h"

namespace prefixcache::client {

// A ring and the node handles it routes to (nodes[i] is ring.nodes()[i]). Immutable; the
// routing questions read the nodes' health as it is when asked.
struct Topology {
  explicit Topology(cluster::Ring r) : ring(std::move(r)) {}

  bool Up(std::size_t node) const { return nodes[node]->context().health.up(); }
  // Whether no replica of `key` is up.
  bool ReplicasDown(const BlockKey& key) const;
  // Whether a copy of `key` may be on its stand-in rather than its replicas: each replica is
  // down, or returned less than `window` before `now`.
  bool MayBeHandedOff(const BlockKey& key, Clock::time_point now,
                      std::chrono::milliseconds window) const;
  // ring.StandIn(key) with the nodes that are up counted as live.
  std::optional<std::size_t> StandIn(const BlockKey& key) const;

  cluster::Ring ring;
  std::vector<std::shared_ptr<Node>> nodes;
};

// Which nodes of a Topology one call may send to. Each node's health is asked once per
// call (asking admits a probe of a node in backoff, so asking again would admit a second
// one). Used by one thread at a time; the Topology must outlive it.
class Admission {
 public:
  explicit Admission(const Topology& topology)
      : topology_(topology), state_(topology.nodes.size(), kUnasked) {}

  // Whether the call may send to `node`.
  bool Admits(std::size_t node);
  // Withdraws the admitted nodes that have gone down since (they failed during the call).
  void WithdrawFailed();

 private:
  static constexpr std::int8_t kUnasked = -1, kRefused = 0, kAdmitted = 1;
  const Topology& topology_;
  std::vector<std::int8_t> state_;
};

// Counts outstanding sub-requests of one call; the caller blocks in Wait until each has
// called Done. Done notifies under the lock so the waiter may be destroyed right after.
class Waiter {
 public:
  void Add(std::size_t n) {
    std::lock_guard lock(mu_);
    pending_ += n;
  }
  void Done() {
    std::lock_guard lock(mu_);
    if (--pending_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t pending_ = 0;
};

struct OperationCounters {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> total_us{0};
  std::atomic<std::uint64_t> max_us{0};

  void Record(Clock::time_point start);
  OperationStats Snapshot() const;
};

// Splits `keys` into at most `parts` contiguous chunks of about equal weight (weights[i]
// per key index, or equal counts when `weights` is empty).
std::vector<std::span<const std::size_t>> SplitKeys(std::span<const std::size_t> keys,
                                                    std::size_t parts,
                                                    std::span<const std::size_t> weights);

// One Put or PutAsync call in flight, shared by its requests: the values' pieces (each
// value's parts, then its trailer), which keys some node acknowledged, and what runs once
// the last request has finished. Thread-safe (atomics; `settled` runs once).
struct PutCall {
  // The pieces of value i are pieces[first[i] .. first[i + 1]); the last one is its
  // trailer (trailers[i]). Caller memory (Put, valid until `settled` ran) or `owned`'s.
  std::vector<std::span<const std::byte>> pieces;
  std::vector<std::size_t> first;
  std::vector<std::size_t> sizes;  // payload bytes of each value
  std::vector<Buffer> owned;       // PutAsync: the values, held until every request finished
  std::vector<ValueTrailer> trailers;
  std::unique_ptr<std::atomic<std::uint8_t>[]> acked;
  // Requests in flight, plus one for the thread that sends them.
  std::atomic<std::size_t> pending{1};
  // Runs once, on the thread that finishes last, with the call's outcome.
  std::function<void(const PutResult&)> settled;

  std::size_t count() const { return sizes.size(); }
  // Fills pieces/first/sizes from each value's parts (not yet the trailers).
  void SetValues(std::span<const Source> values);
  std::span<const std::span<const std::byte>> Pieces(std::size_t i) const {
    return std::span(pieces).subspan(first[i], first[i + 1] - first[i]);
  }
};

class ClientImpl {
 public:
  explicit ClientImpl(const ClientOptions& options);
  ~ClientImpl();

  Status Start();

  std::shared_ptr<const Topology> topology() const;

  // MGET/MSET instead of BLOCK.MGET(PREFIX)/BLOCK.MSET, and no ring check
  // (ClientInternals::UseRedisCommands).
  void set_redis_commands(bool on);

  // Counters bumped by the read and write paths.
  struct Counters {
    std::atomic<std::uint64_t> hits{0}, misses{0}, unavailable{0}, too_small{0}, corrupt{0};
    std::atomic<std::uint64_t> match_keys{0}, match_hits{0};
    std::atomic<std::uint64_t> bytes_read{0}, bytes_written{0};
    std::atomic<std::uint64_t> blocks_stored{0}, blocks_not_stored{0};
    std::atomic<std::uint64_t> async_dropped{0}, reads_cancelled{0};
    std::atomic<std::uint64_t> stand_in_hits{0}, stand_in_writes{0}, copied_back{0};
    OperationCounters match, get_prefix, get, put, put_async;
  };

  const ClientOptions& options() const { return options_; }
  Counters& counters() { return counters_; }
  bool redis_commands() const { return redis_commands_; }
  // The deadline of a call started at `start` with `timeout_ms` (0: the options').
  Clock::time_point Deadline(Clock::time_point start, std::uint32_t timeout_ms = 0) const {
    return start + std::chrono::milliseconds(timeout_ms ? timeout_ms : options_.timeout_ms);
  }
  std::chrono::milliseconds handoff_window() const {
    return std::chrono::milliseconds(options_.handoff_window_ms);
  }
  // Stores blocks a read found on a stand-in on their returned owners, in the background
  // (PutAsync's queue, so it may be dropped): keys[i] with values[i] at depths[i].
  void CopyBack(std::span<const BlockKey> keys, std::span<const Source> values,
                std::span<const std::uint32_t> depths);

 private:
  friend class prefixcache::Client;

  // Shared by Put and PutAsync: sends keys[i] with call's value i and depths[i] as
  // BLOCK.MSET (or MSET) to every admitted replica of each key, each node's share split by
  // bytes over its connections, and settles the call (counting its blocks in the stats)
  // once every request finished -- at once when there is nothing to send. `keys` and
  // `depths` are borrowed for the call only.
  void SendPut(const std::shared_ptr<PutCall>& call, const Topology& topology,
               std::span<const BlockKey> keys, std::span<const std::uint32_t> depths,
               Clock::time_point deadline);
  // One request of `call` (or the sending thread) is done; the last one settles the call.
  void ReleasePut(PutCall& call);
  // Either `borrowed` (copied once the call is accepted) or `owned` values.
  bool PutAsync(std::span<const BlockKey> keys, std::span<const Source> borrowed,
                std::vector<Buffer> owned, std::span<const std::uint32_t> depths);

  std::shared_ptr<Topology> BuildTopology(const std::vector<NodeAddress>& nodes,
                                          const Topology* reuse, Status* status);

  const ClientOptions options_;
  // The TLS context every connection shares (options_.tls), or nullptr; set by Start.
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;

  mutable std::mutex topology_mu_;
  std::shared_ptr<const Topology> topology_;

  Counters counters_;
  bool redis_commands_ = false;
  // Set by the destructor: PutAsync work not yet sent is dropped.
  std::atomic<bool> closing_{false};

  // PutAsync queue accounting, and FlushAsync's wait for it to drain.
  mutable std::mutex async_mu_;
  std::condition_variable async_cv_;
  std::size_t async_calls_ = 0;
  std::size_t async_bytes_ = 0;
};

}  // namespace prefixcache::client
