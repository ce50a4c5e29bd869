#include "info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>

#include "daemon/commands.h"
#include "stats_fields.h"

namespace prefixcache::daemon {
namespace {

// A 40-hex-digit id for this process, as Redis's run_id.
const std::string& RunId() {
  static const std::string id = [] {
    std::random_device device;
    std::mt19937_64 rng((static_cast<std::uint64_t>(device()) << 32) ^ device() ^
                        static_cast<std::uint64_t>(::getpid()));
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(40, '0');
    for (char& c : out) c = kHex[rng() & 0xf];
    return out;
  }();
  return id;
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void Section(std::string_view title) {
    if (!out_.empty()) out_ += "\r\n";
    out_ += "# ";
    out_ += title;
    out_ += "\r\n";
  }
  void Field(std::string_view key, std::string_view value) {
    out_ += key;
    out_ += ':';
    out_ += value;
    out_ += "\r\n";
  }
  void Field(std::string_view key, std::uint64_t value) { Field(key, std::to_string(value)); }
  void Field(std::string_view key, std::int64_t value) { Field(key, std::to_string(value)); }
  void Field(std::string_view key, int value) { Field(key, std::to_string(value)); }
  void Field(std::string_view key, bool value) { Field(key, std::string_view(value ? "1" : "0")); }
  void Field(std::string_view key, const char* value) { Field(key, std::string_view(value)); }

 private:
  std::string& out_;
};

void ServerSection(const InfoSources& s, Writer& w) {
  w.Section("Server");
  w.Field("redis_version", kRedisVersion);
  w.Field("prefixcache_version", PREFIXCACHE_VERSION);
  w.Field("redis_mode", "standalone");
  struct utsname name {};
  if (::uname(&name) == 0) {
    w.Field("os", std::string(name.sysname) + " " + name.release + " " + name.machine);
  }
  w.Field("arch_bits", static_cast<int>(sizeof(void*) * 8));
  w.Field("multiplexing_api", "epoll");
  w.Field("process_id", static_cast<std::int64_t>(::getpid()));
  w.Field("run_id", RunId());
  w.Field("tcp_port", static_cast<std::uint64_t>(s.server.tcp_port.load()));
  w.Field("tls", s.server.tls.load() ? 1 : 0);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  w.Field("server_time_usec",
          static_cast<std::int64_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(now).count()));
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - s.server.started_at)
                          .count();
  w.Field("uptime_in_seconds", static_cast<std::int64_t>(uptime));
  w.Field("uptime_in_days", static_cast<std::int64_t>(uptime / 86400));
  w.Field("config_file", s.config_file);
  w.Field("node_id", s.node_id);
}

void ClientsSection(const InfoSources& s, Writer& w) {
  w.Section("Clients");
  w.Field("connected_clients", std::max<std::int64_t>(0, s.server.connected_clients.load()));
  w.Field("maxclients", s.max_clients);
  w.Field("blocked_clients", 0);
}

void MemorySection(const InfoSources& s, const storage::StoreStats& st, Writer& w) {
  w.Section("Memory");
  w.Field("used_memory", st.memory.bytes);
  w.Field("used_memory_human", HumanBytes(st.memory.bytes));
  const std::uint64_t rss = ResidentBytes();
  w.Field("used_memory_rss", rss);
  w.Field("used_memory_rss_human", HumanBytes(rss));
  w.Field("maxmemory", st.memory.capacity_bytes);
  w.Field("maxmemory_human", HumanBytes(st.memory.capacity_bytes));
  w.Field("maxmemory_policy", s.store.options().memory.eviction_policy);
  w.Field("mem_allocator", "libc");
  const CounterSources sources{s.server, s.commands, st};
  for (const CounterField& field : CounterFields()) {
    if (!field.info.empty() && field.section == InfoSection::kMemory) {
      w.Field(field.info, field.read(sources));
    }
  }
}

void StatsSection(const InfoSources& s, const storage::StoreStats& st, Writer& w) {
  w.Section("Stats");
  const CounterSources sources{s.server, s.commands, st};
  for (const CounterField& field : CounterFields()) {
    if (!field.info.empty() && field.section == InfoSection::kStats) {
      w.Field(field.info, field.read(sources));
    }
  }
}

void KeyspaceSection(const InfoSources& s, Writer& w) {
  w.Section("Keyspace");
  // As Redis, a database without keys is left out.
  if (const std::uint64_t keys = s.store.Size(); keys != 0) {
    w.Field("db0", "keys=" + std::to_string(keys) + ",expires=0,avg_ttl=0");
  }
}

// Redis's layout and meanings (CommandStats); a command never called is left out.
void CommandstatsSection(const InfoSources& s, Writer& w) {
  w.Section("Commandstats");
  for (const CommandSpec& spec : AllCommands()) {
    const auto i = static_cast<std::size_t>(spec.id);
    const std::uint64_t calls = s.commands.calls[i].Load();
    const std::uint64_t rejected = s.commands.rejected_calls[i].Load();
    if (calls == 0 && rejected == 0) continue;
    const std::uint64_t usec = s.commands.nanoseconds[i].Load() / 1000;
    char per_call[32];
    std::snprintf(per_call, sizeof per_call, "%.2f",
                  calls == 0 ? 0.0 : static_cast<double>(usec) / static_cast<double>(calls));
    w.Field("cmdstat_" + std::string(spec.name),
            "calls=" + std::to_string(calls) + ",usec=" + std::to_string(usec) +
                ",usec_per_call=" + per_call + ",rejected_calls=" + std::to_string(rejected) +
                ",failed_calls=" + std::to_string(s.commands.failed_calls[i].Load()));
  }
}

// The tier fields that `tiers` selects, as <prefix><name>.
void TierSection(std::string_view prefix, InfoTiers tiers, const storage::TierStats& t, Writer& w) {
  for (const TierField& field : TierFields()) {
    if (field.info == tiers)
      w.Field(std::string(prefix) + std::string(field.name), t.*field.member);
  }
}

void MemoryTierSection(const InfoSources& s, const storage::StoreStats& st, Writer& w) {
  w.Section("Memory_tier");
  TierSection("memory_tier_", InfoTiers::kBoth, st.memory, w);
  w.Field("memory_tier_eviction_policy", s.store.options().memory.eviction_policy);
  w.Field("memory_tier_shards", static_cast<std::uint64_t>(s.store.options().memory.shards));
}

void SpillTierSection(const InfoSources& s, const storage::StoreStats& st, Writer& w) {
  w.Section("Spill_tier");
  w.Field("spill_tier_enabled", st.spill_enabled);
  w.Field("spill_tier_healthy", st.spill_healthy);
  w.Field("spill_tier_error", st.spill_error);
  w.Field("spill_tier_path", s.store.options().spill.path);
  TierSection("spill_tier_", InfoTiers::kBoth, st.spill, w);
  TierSection("spill_tier_", InfoTiers::kSpillOnly, st.spill, w);
}

}  // namespace

std::string HumanBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"K", "M", "G", "T", "P"};
  if (bytes < 1024) return std::to_string(bytes) + "B";
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%s", value, kUnits[unit]);
  return text;
}

std::uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::string RenderInfo(const InfoSources& sources, std::span<const std::string> sections) {
  bool all = sections.empty();
  // commandstats is left out of the default report, as in Redis.
  bool commandstats = false;
  auto wants = [&](std::string_view name) {
    if (all) return true;
    return std::find(sections.begin(), sections.end(), name) != sections.end();
  };
  for (const std::string& section : sections) {
    if (section == "all" || section == "everything" || section == "default") all = true;
    if (section == "all" || section == "everything" || section == "commandstats") {
      commandstats = true;
    }
  }
  const storage::StoreStats stats = sources.store.Stats();
  std::string out;
  Writer w(out);
  if (wants("server")) ServerSection(sources, w);
  if (wants("clients")) ClientsSection(sources, w);
  if (wants("memory")) MemorySection(sources, stats, w);
  if (wants("stats")) StatsSection(sources, stats, w);
  if (commandstats) CommandstatsSection(sources, w);
  if (wants("keyspace")) KeyspaceSection(sources, w);
  if (wants("memory_tier")) MemoryTierSection(sources, stats, w);
  if (wants("spill_tier")) SpillTierSection(sources, stats, w);
  return out;
}

}  // namespace prefixcache::daemon
