// ServerStats: counters of the network layer and the request latency histogram, written
// by connections on any I/O thread (sharded relaxed atomics), read by INFO and /metrics;
// and the daemon-wide memory budget (limits.inflight_memory), which lives here so that every
// connection, every command and every view of the stats reach it through the one object
// they already share.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "daemon/sharded_counter.h"
#include "protocol/memory_budget.h"

namespace prefixcache::daemon {

// Fixed-bucket latency histogram in the Prometheus layout (cumulative on export).
class LatencyHistogram {
 public:
  // Upper bounds of the buckets in microseconds; a last implicit bucket is +Inf.
  static constexpr std::array<std::uint64_t, 18> kBoundsUs = {
      5,    10,    25,    50,    100,    250,    500,    1000,    2500,
      5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

  void Record(std::chrono::nanoseconds latency) {
    auto ns = static_cast<std::uint64_t>(latency.count() < 0 ? 0 : latency.count());
    std::uint64_t us = ns / 1000;
    std::size_t i = 0;
    while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
    counts_[i].Add(1);
    sum_ns_.Add(ns);
  }

  // Non-cumulative count of bucket i (i == kBoundsUs.size() is +Inf).
  std::uint64_t BucketCount(std::size_t i) const { return counts_[i].Load(); }
  std::uint64_t SumNs() const { return sum_ns_.Load(); }

 private:
  std::array<ShardedCounter, kBoundsUs.size() + 1> counts_{};
  ShardedCounter sum_ns_;
};

struct ServerStats {
  using Counter = ShardedCounter;

  // `inflight_memory_bytes`: the budget's limit (0: unlimited).
  explicit ServerStats(std::uint64_t inflight_memory_bytes = 0)
      : inflight_memory(inflight_memory_bytes) {}

  // Bytes of requests being received and replies not yet written, over every connection.
  protocol::MemoryBudget inflight_memory;

  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
  std::atomic<std::uint16_t> tcp_port{0};  // bound port, once listening
  std::atomic<bool> tls{false};            // the port speaks TLS, once listening

  std::atomic<std::int64_t> connected_clients{0};
  Counter total_connections_received;
  Counter rejected_connections;      // over max_connections
  Counter total_commands_processed;  // requests handled (including errors)
  Counter rejected_requests;         // over a parser limit, answered with an error
  Counter protocol_errors;           // malformed input; connection closed
  Counter idle_timeouts;             // connections closed for idleness
  Counter output_stalls;             // closed: writes made no progress
  Counter backpressure_pauses;       // reading paused over the output limit
  Counter memory_waits;              // a connection waited for the memory budget
  Counter request_timeouts;          // closed: a request still partial after request_timeout_ms
  Counter tls_handshake_failures;    // closed: the TLS handshake failed (a plaintext client, ...)
  Counter net_input_bytes;
  Counter net_output_bytes;
  LatencyHistogram latency;  // from request parsed to reply queued
};

}  // namespace prefixcache::daemon
