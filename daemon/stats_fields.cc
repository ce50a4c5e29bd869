#include "stats_fields.h"

namespace prefixcache::daemon {
namespace {

using storage::TierStats;
using Sources = CounterSources;
constexpr MetricType kCounter = MetricType::kCounter;
constexpr MetricType kGauge = MetricType::kGauge;
constexpr InfoTiers kBoth = InfoTiers::kBoth;
constexpr InfoTiers kSpillOnly = InfoTiers::kSpillOnly;

constexpr TierField kTierFields[] = {
    {"hits", kCounter, kBoth, "Lookups that found the block in the tier.", &TierStats::hits},
    {"misses", kCounter, kBoth, "Lookups that did not find the block in the tier.",
     &TierStats::misses},
    {"bytes", kGauge, kBoth, "Bytes held by the tier.", &TierStats::bytes},
    {"entries", kGauge, kBoth, "Blocks held by the tier.", &TierStats::entries},
    {"capacity_bytes", kGauge, kBoth, "Configured byte capacity of the tier.",
     &TierStats::capacity_bytes},
    {"evictions", kCounter, kBoth, "Blocks pushed out of the tier by capacity.",
     &TierStats::evictions},
    {"demotions", kCounter, kBoth, "Blocks demoted (memory: handed to spill; spill: written).",
     &TierStats::demotions},
    {"promotions", kCounter, kBoth, "Spill hits copied back into memory.", &TierStats::promotions},
    {"checksum_failures", kCounter, kSpillOnly,
     "Spilled blocks that failed their checksum on read (deleted).", &TierStats::checksum_failures},
    {"demotion_drops", kCounter, kBoth,
     "Evicted blocks dropped instead of demoted (queue full or spill failing).",
     &TierStats::demotion_drops},
    {"io_errors", kCounter, kSpillOnly, "Failed disk reads and writes.", &TierStats::io_errors},
    {"reopens", kCounter, kSpillOnly,
     "Times the spill tier reopened its folder and resumed writing after a failed write.",
     &TierStats::reopens},
    {"queue_bytes", kGauge, kSpillOnly, "Evicted bytes waiting to be written to the spill tier.",
     &TierStats::queue_bytes},
};

template <ShardedCounter ServerStats::*counter>
std::uint64_t Server(const Sources& s) {
  return (s.server.*counter).Load();
}

template <ShardedCounter CommandStats::*counter>
std::uint64_t Command(const Sources& s) {
  return (s.commands.*counter).Load();
}

std::uint64_t Zero(const Sources&) { return 0; }

std::uint64_t InflightUsed(const Sources& s) { return s.server.inflight_memory.used(); }
std::uint64_t InflightLimit(const Sources& s) { return s.server.inflight_memory.limit(); }
std::uint64_t InflightPeak(const Sources& s) { return s.server.inflight_memory.peak(); }

// Error replies of every kind, as Redis counts them.
std::uint64_t TotalErrorReplies(const Sources& s) {
  return s.commands.error_replies.Load() + s.commands.unknown_commands.Load() +
         s.server.rejected_requests.Load();
}

// Blocks that left the node entirely: with a spill tier, memory evictions are demotions.
std::uint64_t EvictedKeys(const Sources& s) {
  const storage::StoreStats& st = s.store;
  return st.spill_enabled ? st.spill.evictions + st.memory.demotion_drops + st.spill.demotion_drops
                          : st.memory.evictions;
}

constexpr CounterField kCounterFields[] = {
    {"total_connections_received", "connections_received_total", false,
     "Client connections accepted.", Server<&ServerStats::total_connections_received>},
    {"total_commands_processed", "requests_total", false, "Requests processed.",
     Server<&ServerStats::total_commands_processed>},
    {"total_net_input_bytes", "net_input_bytes_total", false, "Bytes read from clients.",
     Server<&ServerStats::net_input_bytes>},
    {"total_net_output_bytes", "net_output_bytes_total", false, "Bytes written to clients.",
     Server<&ServerStats::net_output_bytes>},
    {"rejected_connections", "connections_rejected_total", false,
     "Connections refused over limits.max_connections.",
     Server<&ServerStats::rejected_connections>},
    {"expired_keys", "", false,
     "Keys expired by a TTL: not counted yet (0), though expired keys are dropped.", Zero},
    {"evicted_keys", "", false, "Blocks evicted from the node (from its last tier).", EvictedKeys},
    {"keyspace_hits", "keyspace_hits_total", true, "Keys found by GET/MGET/BLOCK.MGET.",
     Command<&CommandStats::keyspace_hits>},
    {"keyspace_misses", "keyspace_misses_total", true, "Keys not found by GET/MGET/BLOCK.MGET.",
     Command<&CommandStats::keyspace_misses>},
    {"total_error_replies", "", false,
     "Error replies of every kind: command errors, unknown commands, rejected requests.",
     TotalErrorReplies},
    {"", "error_replies_total", false,
     "Error replies to known commands (arity, syntax, auth, arguments).",
     Command<&CommandStats::error_replies>},
    {"unknown_commands", "unknown_commands_total", false, "Requests naming an unknown command.",
     Command<&CommandStats::unknown_commands>},
    {"rejected_requests", "requests_rejected_total", false,
     "Requests over a size or element limit, answered with an error.",
     Server<&ServerStats::rejected_requests>},
    {"protocol_errors", "protocol_errors_total", false, "Connections closed on malformed input.",
     Server<&ServerStats::protocol_errors>},
    {"idle_timeouts", "idle_timeouts_total", false, "Connections closed for idleness.",
     Server<&ServerStats::idle_timeouts>},
    {"output_stalls", "output_stalls_total", false,
     "Connections closed because their replies made no progress.",
     Server<&ServerStats::output_stalls>},
    {"backpressure_pauses", "backpressure_pauses_total", false,
     "Times a connection stopped reading over the output buffer limit.",
     Server<&ServerStats::backpressure_pauses>},
    {"auth_failures", "auth_failures_total", false, "Failed AUTH/HELLO authentications.",
     Command<&CommandStats::auth_failures>},
    {"disk_commands", "disk_commands_total", false,
     "Commands run on the worker pool (spill reads, SET NX/XX/GET over a spilled block, "
     "flushes).",
     Command<&CommandStats::deferred_commands>},
    {"misrouted_keys", "misrouted_keys_total", true,
     "Keys in requests that this node does not own on the configured ring.",
     Command<&CommandStats::misrouted_keys>},
    {"request_timeouts", "request_timeouts_total", false,
     "Connections closed because a request stayed incomplete for limits.request_timeout_ms.",
     Server<&ServerStats::request_timeouts>},
    {"tls_handshake_failures", "tls_handshake_failures_total", false,
     "Connections closed because their TLS handshake failed (a plaintext client on the TLS "
     "port, a certificate refused).",
     Server<&ServerStats::tls_handshake_failures>},
    {"inflight_memory_waits", "inflight_memory_waits_total", false,
     "Times a connection waited for limits.inflight_memory (reading, handling or streaming).",
     Server<&ServerStats::memory_waits>},
    {"inflight_memory", "inflight_memory_bytes", true,
     "Bytes of requests being received and replies not yet sent (limits.inflight_memory).",
     InflightUsed, kGauge, InfoSection::kMemory},
    {"inflight_memory_peak", "inflight_memory_peak_bytes", true,
     "Most bytes held under limits.inflight_memory at once since the start.", InflightPeak, kGauge,
     InfoSection::kMemory},
    {"inflight_memory_limit", "inflight_memory_limit_bytes", true,
     "The configured limits.inflight_memory (0: unlimited).", InflightLimit, kGauge,
     InfoSection::kMemory},
};

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  return type == MetricType::kCounter ? "counter" : "gauge";
}

std::span<const TierField> TierFields() { return kTierFields; }

std::span<const CounterField> CounterFields() { return kCounterFields; }

}  // namespace prefixcache::daemon
