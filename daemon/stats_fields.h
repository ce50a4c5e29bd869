// The tables of the daemon's statistics that INFO (info.cc), BLOCK.STATS (commands_block.cc)
// and the Prometheus page (metrics.cc) all render from: the per-tier fields of
// storage::TierStats and the counters of the network and command layers. A field is added
// here once and appears in every view it names. Immutable static data; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "daemon/commands.h"
#include "daemon/server_stats.h"
#include "storage/stats.h"

namespace prefixcache::daemon {

enum class MetricType { kCounter, kGauge };

// The Prometheus TYPE word of `type`.
std::string_view MetricTypeName(MetricType type);

// Which INFO tier sections show a tier field.
enum class InfoTiers {
  kBoth,       // Memory_tier and Spill_tier
  kSpillOnly,  // Spill_tier, after the fields shown for both
};

// One field of storage::TierStats, shown for each tier:
//   BLOCK.STATS  "memory":{"<name>":N,...}, "spill":{...}
//   INFO         memory_tier_<name>:N, spill_tier_<name>:N (as `info` says)
//   /metrics     prefixcache_tier_<name>[_total]{tier="memory"|"spill"} (_total on counters)
struct TierField {
  std::string_view name;
  MetricType type;
  InfoTiers info;
  std::string_view help;
  std::uint64_t storage::TierStats::*member;
};

// Every tier field, in the order BLOCK.STATS and /metrics list them.
std::span<const TierField> TierFields();

// What a counter is read from: taken once per report.
struct CounterSources {
  const ServerStats& server;
  const CommandStats& commands;
  const storage::StoreStats& store;
};

// The INFO section a counter is shown in.
enum class InfoSection { kStats, kMemory };

// One counter (or gauge) of the network or command layer (or one derived from them):
//   INFO         <info>:N in its `section` (when `info` is not empty)
//   /metrics     prefixcache_<metric> N, of its `type` (when `metric` is not empty)
//   BLOCK.STATS  "<info>":N (when `in_block_stats`)
// The INFO and metric names differ where Redis's INFO name and the Prometheus convention
// do; a field with only one of them is a value only that view reports.
struct CounterField {
  std::string_view info;
  std::string_view metric;
  bool in_block_stats;
  std::string_view help;
  std::uint64_t (*read)(const CounterSources& sources);
  MetricType type = MetricType::kCounter;
  InfoSection section = InfoSection::kStats;
};

// Every counter and gauge, in INFO's order.
std::span<const CounterField> CounterFields();

}  // namespace prefixcache::daemon
