// ServerStats: counters of the network layer (connections, requests, bytes, limits hit)
// and the request latency histogram. Written by connections on any I/O thread with relaxed
// atomics, read by INFO and /metrics; a snapshot may be slightly inconsistent.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

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
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }

  // Non-cumulative count of bucket i (i == kBoundsUs.size() is +Inf).
  std::uint64_t BucketCount(std::size_t i) const {
    return counts_[i].load(std::memory_order_relaxed);
  }
  std::uint64_t SumNs() const { return sum_ns_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::uint64_t>, kBoundsUs.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

struct ServerStats {
  using Counter = std::atomic<std::uint64_t>;

  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
  std::atomic<std::uint16_t> tcp_port{0};  // bound port, once listening

  std::atomic<std::int64_t> connected_clients{0};
  Counter total_connections_received{0};
  Counter rejected_connections{0};      // over max_connections
  Counter total_commands_processed{0};  // requests handled (including errors)
  Counter rejected_requests{0};         // over a parser limit, answered with an error
  Counter protocol_errors{0};           // malformed input; connection closed
  Counter idle_timeouts{0};             // connections closed for idleness
  Counter output_stalls{0};             // closed: writes made no progress
  Counter backpressure_pauses{0};       // reading paused over the output limit
  Counter net_input_bytes{0};
  Counter net_output_bytes{0};
  LatencyHistogram latency;  // from request parsed to reply queued
};

}  // namespace prefixcache::daemon
