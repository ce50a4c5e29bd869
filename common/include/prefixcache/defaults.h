// The built-in defaults of prefixcache, each defined once. The JSON config (config/config.h)
// starts from these values, and so do the option structs of the components that must not
// depend on config/ (storage, protocol, cluster, the daemon's network layer, the client
// library), so that a component built on its own options behaves as a daemon or client built
// from an empty config file. Byte units are here too. Constants only; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace prefixcache {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;
inline constexpr std::uint64_t kTiB = 1024 * kGiB;

namespace defaults {

// --- the node (config "node") ---
inline constexpr const char* kNodeId = "node-1";
inline constexpr const char* kListen = "127.0.0.1:7379";
inline constexpr std::uint64_t kSendLowatBytes = 64 * kKiB;

// --- the memory tier (config "memory") ---
inline constexpr std::uint64_t kMemoryCapacityBytes = 1 * kGiB;
// "tiered": of lru, prefix and tiered, the best hit ratio on the replayed traces
// (bench/RESULTS.md, "Hit ratio against memory capacity").
inline constexpr const char* kEvictionPolicy = "tiered";
// Every eviction policy the memory tier has, by the name the config gives it.
inline constexpr std::array<std::string_view, 3> kEvictionPolicies = {"lru", "prefix", "tiered"};
// The names above as a config error says them: "lru", "prefix" or "tiered".
inline constexpr std::string_view kEvictionPoliciesText = "\"lru\", \"prefix\" or \"tiered\"";
inline constexpr std::uint32_t kMemoryShards = 16;

// --- the spill tier (config "spill") ---
inline constexpr std::uint64_t kSpillCapacityBytes = 16 * kGiB;
inline constexpr std::uint64_t kSpillQueueBytes = 256 * kMiB;

// --- limits (config "limits") ---
inline constexpr std::uint64_t kMaxValueBytes = 128 * kMiB;
inline constexpr std::uint64_t kMaxRequestElements = 1024 * 1024;
inline constexpr std::uint64_t kMaxRequestBytes = 1 * kGiB;
inline constexpr std::uint32_t kMaxConnections = 10000;
inline constexpr std::uint64_t kIdleTimeoutMs = 600000;
inline constexpr std::uint64_t kClientOutputBufferBytes = 512 * kMiB;
// The daemon-wide budget of requests being received and replies being sent.
inline constexpr std::uint64_t kInflightMemoryBytes = 1 * kGiB;
inline constexpr std::uint64_t kRequestTimeoutMs = 30000;

// --- the ring (config "cluster") ---
// Ring points per unit of weight. Measured over random 8-node name sets: with 256, 5.7% of
// sets put > 1.15x the mean load on some node; with 512, 0.25%; with 1024, median 1.04x,
// p99 1.09x, never > 1.12x. 1024 costs ~12 KiB and ~0.13 ms of Ring::Build per node and
// ~15 ns more per lookup than 256.
inline constexpr std::uint32_t kVirtualNodesPerWeight = 1024;
inline constexpr std::uint32_t kReplicas = 1;

// --- metrics (config "metrics") ---
inline constexpr const char* kMetricsListen = "127.0.0.1:9379";

// --- the client library (config "client") ---
inline constexpr std::uint32_t kClientTimeoutMs = 1000;
inline constexpr std::uint32_t kClientConnectTimeoutMs = 200;
inline constexpr std::uint32_t kClientConnectionsPerNode = 4;
inline constexpr std::uint32_t kClientBackoffInitialMs = 100;
inline constexpr std::uint32_t kClientBackoffMaxMs = 10000;
// How long after a node returns a miss on it is still asked of its stand-in (the node that
// held its keys meanwhile). Blocks found there are copied back, so the window only has to
// cover the first reuse of each block written during the outage.
inline constexpr std::uint32_t kClientHandoffWindowMs = 300000;
// The spill tier's wait before reopening its folder after a failed write, doubling up to
// the longest.
inline constexpr std::uint32_t kSpillRetryMinMs = 1000;
inline constexpr std::uint32_t kSpillRetryMaxMs = 60000;

}  // namespace defaults
}  // namespace prefixcache
