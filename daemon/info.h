// INFO: the Redis-style "# Section\r\nkey:value\r\n" report of the daemon, built from the
// network, command and storage counters (the stats table, stats_fields.h), the clock and
// the process's resident size. Thread-safe: the counters are atomics read with relaxed
// order.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "daemon/server_stats.h"
#include "storage/block_store.h"

namespace prefixcache::daemon {

struct CommandStats;

// The Redis version prefixcached answers as (INFO redis_version, HELLO's "version").
inline constexpr std::string_view kRedisVersion = "7.0.0";

struct InfoSources {
  const ServerStats& server;
  const CommandStats& commands;
  const storage::BlockStore& store;
  std::string_view node_id;
  std::string_view config_file;
  std::uint64_t max_clients = 0;
};

// The report for `sections` (lowercase names as the client sent them; empty, "default",
// "all" or "everything" mean every section): server, clients, memory, stats, keyspace,
// memory_tier, spill_tier; and commandstats, only when named or with "all"/"everything". Unknown
// sections contribute nothing, as in Redis.
std::string RenderInfo(const InfoSources& sources, std::span<const std::string> sections);

// "1.50G", "917.23K", "100B": Redis's bytesToHuman.
std::string HumanBytes(std::uint64_t bytes);

// The process's resident set size in bytes (from /proc/self/statm); 0 if unknown.
std::uint64_t ResidentBytes();

}  // namespace prefixcache::daemon
