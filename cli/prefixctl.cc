// The cluster-wide commands: ring, ring locate, status, stats and config-check. The
// per-key ones (get, put, del, exists, flush) are in prefixctl_keys.cc.
#include "cli/prefixctl.h"

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>

#include "cli_util.h"
#include "cluster/ring.h"
#include "config/config.h"
#include "config/size.h"
#include "prefixcache/admin.h"

namespace prefixcache::cli {
namespace {

// The client's ring rebuilt locally with `replicas` (the configured count when 0), for what
// admin.h does not tell: exact shares and the clockwise walk of every node from a key.
Result<cluster::Ring> LocalRing(const Client& client, std::uint32_t replicas) {
  const Json ring = Json::parse(admin::RingJson(client), nullptr, false);
  std::vector<cluster::NodeSpec> nodes;
  for (const NodeAddress& node : admin::Nodes(client)) {
    nodes.push_back({node.id, node.address, node.weight});
  }
  if (replicas == 0) replicas = static_cast<std::uint32_t>(U64(ring, "replicas"));
  return cluster::Ring::Build(std::move(nodes),
                              static_cast<std::uint32_t>(U64(ring, "virtual_nodes_per_weight")),
                              replicas);
}

// Two PINGs (the first connects, the second is timed): the round trip in ms, or why the
// node did not answer.
Result<double> Ping(Client& client, const std::string& id) {
  const std::string_view ping[] = {"PING"};
  auto pong = admin::Command(client, id, ping);
  if (!pong.ok()) return pong.status();
  const auto start = std::chrono::steady_clock::now();
  pong = admin::Command(client, id, ping);
  if (!pong.ok()) return pong.status();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string Percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * fraction);
  return buf;
}

std::string Fixed(double value, int decimals) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(decimals) << value;
  return text.str();
}

// "3d04h", "2h05m", "4m07s", "9s".
std::string Duration(std::uint64_t seconds) {
  char buf[32];
  if (seconds >= 86400) {
    std::snprintf(buf, sizeof buf, "%llud%02lluh", static_cast<unsigned long long>(seconds / 86400),
                  static_cast<unsigned long long>(seconds % 86400 / 3600));
  } else if (seconds >= 3600) {
    std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(seconds / 3600),
                  static_cast<unsigned long long>(seconds % 3600 / 60));
  } else if (seconds >= 60) {
    std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(seconds / 60),
                  static_cast<unsigned long long>(seconds % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(seconds));
  }
  return buf;
}

// One node's row of `status`, as JSON (the text row is printed from it).
Json NodeStatus(Client& client, const NodeAddress& node, const std::string& local_ring) {
  Json row = {{"id", node.id}, {"address", node.address}};
  auto ping = Ping(client, node.id);
  if (!ping.ok()) {
    row["up"] = false;
    row["error"] = ping.status().ToString();
    return row;
  }
  row["up"] = true;
  row["ping_ms"] = *ping;
  auto stats = JsonCommand(client, node.id, "BLOCK.STATS");
  if (stats.ok()) {
    const Json& s = *stats;
    row["version"] = s.contains("version") ? s["version"] : Json(nullptr);
    row["uptime_seconds"] = s.contains("uptime_seconds") ? s["uptime_seconds"] : Json(nullptr);
    row["blocks"] = U64(s, "blocks");
    for (const char* tier : {"memory", "spill"}) {
      row[tier] = {{"bytes", U64(s, tier, "bytes")},
                   {"capacity_bytes", U64(s, tier, "capacity_bytes")},
                   {"entries", U64(s, tier, "entries")},
                   {"hit_ratio", RatioJson(U64(s, tier, "hits"), U64(s, tier, "misses"))}};
    }
    row["spill"]["enabled"] = s.value("spill_enabled", false);
    row["spill"]["healthy"] = s.value("spill_healthy", false);
  } else {
    row["stats_error"] = stats.status().ToString();
  }
  const std::string_view ring_cmd[] = {"BLOCK.RING"};
  auto ring = admin::Command(client, node.id, ring_cmd);
  if (!ring.ok()) {
    row["ring"] = "unknown";
    row["ring_error"] = ring.status().ToString();
  } else {
    row["ring"] = *ring == local_ring ? "ok" : "differs";
  }
  return row;
}

void PrintStatusRow(std::ostream& out, const Json& row) {
  out << std::left << std::setw(12) << row["id"].get<std::string>() << std::setw(22)
      << row["address"].get<std::string>();
  if (!row["up"].get<bool>()) {
    out << "down (" << row["error"].get<std::string>() << ")\n";
    return;
  }
  out << std::setw(12) << ("up " + Fixed(row["ping_ms"].get<double>(), 2) + "ms");
  if (row.contains("stats_error")) {
    out << "stats unavailable (" << row["stats_error"].get<std::string>() << ") ";
  } else {
    const Json& memory = row["memory"];
    const Json& spill = row["spill"];
    const Json& uptime = row["uptime_seconds"];
    const Json& version = row["version"];
    auto ratio = [](const Json& r) {
      return r.is_number() ? Fixed(100.0 * r.get<double>(), 1) + "%" : std::string("-");
    };
    out << std::setw(8)
        << (uptime.is_number_unsigned() ? Duration(uptime.get<std::uint64_t>()) : "?")
        << std::setw(9) << (version.is_string() ? version.get<std::string>() : "?") << std::setw(20)
        << (Size(memory["bytes"].get<std::uint64_t>()) + "/" +
            Size(memory["capacity_bytes"].get<std::uint64_t>()))
        << std::setw(20)
        << (spill["enabled"].get<bool>() ? Size(spill["bytes"].get<std::uint64_t>()) + "/" +
                                               Size(spill["capacity_bytes"].get<std::uint64_t>()) +
                                               (spill["healthy"].get<bool>() ? "" : " FAILED")
                                         : std::string("off"))
        << std::setw(10) << row["blocks"].get<std::uint64_t>() << std::setw(14)
        << (ratio(memory["hit_ratio"]) + "/" + ratio(spill["hit_ratio"]));
  }
  const std::string ring = row["ring"];
  if (ring == "ok") {
    out << "ok\n";
  } else if (ring == "differs") {
    out << "DIFFERS from the config's ring\n";
  } else {
    out << "unknown (" << row["ring_error"].get<std::string>() << ")\n";
  }
}

// The counters `stats --watch` turns into rates: (object or "", field).
constexpr std::pair<std::string_view, std::string_view> kRateFields[] = {
    {"", "keyspace_hits"},   {"", "keyspace_misses"},  {"memory", "hits"},
    {"spill", "hits"},       {"memory", "evictions"},  {"spill", "evictions"},
    {"memory", "demotions"}, {"memory", "promotions"}, {"", "misrouted_keys"},
};

std::string RateName(std::pair<std::string_view, std::string_view> field) {
  return field.first.empty() ? std::string(field.second)
                             : std::string(field.first) + "_" + std::string(field.second);
}

// Adds every unsigned number of `from` (top level, and one level into objects) to `into`,
// but the uptime, which does not add up.
void AddNumbers(Json& into, const Json& from) {
  for (auto it = from.begin(); it != from.end(); ++it) {
    if (it.key() == "uptime_seconds") continue;
    if (it->is_number_unsigned()) {
      into[it.key()] = U64(into, it.key()) + it->get<std::uint64_t>();
    } else if (it->is_object()) {
      Json& inner = into[it.key()];
      if (!inner.is_object()) inner = Json::object();
      for (auto f = it->begin(); f != it->end(); ++f) {
        if (f->is_number_unsigned()) inner[f.key()] = U64(inner, f.key()) + f->get<std::uint64_t>();
      }
    }
  }
}

// One `stats` sample: {"nodes": {id: BLOCK.STATS}, "down": {id: error}, "total": sums}.
Json StatsSample(Client& client) {
  Json sample = {{"nodes", Json::object()}, {"down", Json::object()}, {"total", Json::object()}};
  for (const NodeAddress& node : admin::Nodes(client)) {
    auto stats = JsonCommand(client, node.id, "BLOCK.STATS");
    if (stats.ok()) {
      AddNumbers(sample["total"], *stats);
      sample["nodes"][node.id] = std::move(stats).value();
    } else {
      sample["down"][node.id] = stats.status().ToString();
    }
  }
  return sample;
}

Json Rates(const Json& now, const Json& before, double seconds) {
  Json rates = Json::object();
  for (auto field : kRateFields) {
    const std::string_view a = field.first.empty() ? field.second : field.first;
    const std::string_view b = field.first.empty() ? std::string_view() : field.second;
    const std::uint64_t x = U64(now, a, b), y = U64(before, a, b);
    rates[RateName(field)] = x >= y ? static_cast<double>(x - y) / seconds : 0.0;
  }
  return rates;
}

void PrintStatsTable(std::ostream& out, const Json& sample) {
  out << std::left << std::setw(12) << "NODE" << std::setw(10) << "BLOCKS" << std::setw(12)
      << "MEMORY" << std::setw(12) << "SPILL" << std::setw(12) << "HITS" << std::setw(12)
      << "MISSES" << std::setw(9) << "HIT%" << std::setw(12) << "EVICTIONS"
      << "DEMOTIONS\n";
  auto row = [&out](const std::string& name, const Json& s) {
    const std::uint64_t hits = U64(s, "keyspace_hits"), misses = U64(s, "keyspace_misses");
    out << std::left << std::setw(12) << name << std::setw(10) << U64(s, "blocks") << std::setw(12)
        << Size(U64(s, "memory", "bytes")) << std::setw(12) << Size(U64(s, "spill", "bytes"))
        << std::setw(12) << hits << std::setw(12) << misses << std::setw(9) << Ratio(hits, misses)
        << std::setw(12) << (U64(s, "memory", "evictions") + U64(s, "spill", "evictions"))
        << U64(s, "memory", "demotions") << "\n";
  };
  for (auto it = sample["nodes"].begin(); it != sample["nodes"].end(); ++it) row(it.key(), *it);
  for (auto it = sample["down"].begin(); it != sample["down"].end(); ++it) {
    out << std::left << std::setw(12) << it.key() << "down (" << it->get<std::string>() << ")\n";
  }
  row("total", sample["total"]);
}

void PrintRates(std::ostream& out, const Json& sample) {
  out << "per second over the last " << Fixed(sample["interval_seconds"].get<double>(), 1)
      << "s:\n";
  for (auto it = sample["rates"].begin(); it != sample["rates"].end(); ++it) {
    out << "  " << std::left << std::setw(12) << it.key();
    for (auto f = it->begin(); f != it->end(); ++f) {
      out << " " << f.key() << "=" << Fixed(f->get<double>(), 1);
    }
    out << "\n";
  }
}

}  // namespace

int Ring(const GlobalOptions& options, std::ostream& out, std::ostream& err) {
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  auto ring = LocalRing(*client, 0);
  if (!ring.ok()) return Fail(err, kExitUsage, ring.status().ToString());
  const std::vector<double> shares = ring->OwnerShares();
  const auto& nodes = ring->nodes();
  if (options.json) {
    Json doc = {{"ring", Json::parse(admin::RingJson(*client), nullptr, false)},
                {"fingerprint", Hex64(admin::RingFingerprint(*client))},
                {"shares", Json::object()}};
    for (std::size_t i = 0; i < nodes.size(); ++i) doc["shares"][nodes[i].id] = shares[i];
    PrintJson(out, doc);
    return kExitOk;
  }
  out << admin::RingJson(*client) << "\n";
  out << "fingerprint " << Hex64(admin::RingFingerprint(*client)) << "\n";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    out << "share " << nodes[i].id << " " << nodes[i].address << " weight " << nodes[i].weight
        << " " << Percent(shares[i]) << "\n";
  }
  return kExitOk;
}

int RingLocate(const GlobalOptions& options, const std::string& key_hex, std::ostream& out,
               std::ostream& err) {
  auto key = ParseKey(key_hex, err);
  if (!key) return kExitUsage;
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  auto ring = LocalRing(*client, 0);
  if (!ring.ok()) return Fail(err, kExitUsage, ring.status().ToString());
  const std::vector<std::size_t> replicas = ring->Replicas(*key);
  const auto& nodes = ring->nodes();

  std::map<std::size_t, bool> up;
  auto is_up = [&](std::size_t i) {
    auto it = up.find(i);
    if (it == up.end()) it = up.emplace(i, Ping(*client, nodes[i].id).ok()).first;
    return it->second;
  };
  Json doc = {{"key", key->ToHex()}, {"position", Hex64(key->High())}, {"replicas", Json::array()}};
  bool any_down = false;
  for (std::size_t r : replicas) {
    const bool node_up = is_up(r);
    any_down |= !node_up;
    doc["replicas"].push_back(
        {{"id", nodes[r].id}, {"address", nodes[r].address}, {"up", node_up}});
  }
  // The clients' rule (Ring::StandIn): a stand-in serves the key while no replica is up.
  const bool all_down = std::none_of(replicas.begin(), replicas.end(), is_up);
  doc["stand_in"] = nullptr;
  if (all_down) {
    if (auto stand_in = ring->StandIn(*key, is_up)) doc["stand_in"] = nodes[*stand_in].id;
  }
  if (options.json) {
    PrintJson(out, doc);
  } else {
    out << "key " << key->ToHex() << " at ring position " << Hex64(key->High()) << "\n";
    for (std::size_t r = 0; r < doc["replicas"].size(); ++r) {
      const Json& replica = doc["replicas"][r];
      out << (r == 0 ? "owner   " : "replica ") << replica["id"].get<std::string>() << " "
          << replica["address"].get<std::string>() << " "
          << (replica["up"].get<bool>() ? "up" : "DOWN") << "\n";
    }
    if (!doc["stand_in"].is_null()) {
      out << "stand-in " << doc["stand_in"].get<std::string>()
          << " (the first live node after the replicas: clients send the key there while "
             "they are down)\n";
    } else if (all_down) {
      out << "stand-in none: no node answers\n";
    }
  }
  return any_down ? kExitProblem : kExitOk;
}

int Status(const GlobalOptions& options, std::ostream& out, std::ostream& err) {
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  const std::string local_ring = admin::RingJson(*client);
  int rc = kExitOk;
  Json doc = {{"nodes", Json::array()}};
  for (const NodeAddress& node : admin::Nodes(*client)) {
    Json row = NodeStatus(*client, node, local_ring);
    if (!row["up"].get<bool>() || row["ring"] != "ok") rc = kExitProblem;
    doc["nodes"].push_back(std::move(row));
  }
  doc["ring_fingerprint"] = Hex64(admin::RingFingerprint(*client));
  doc["ok"] = rc == kExitOk;
  if (options.json) {
    PrintJson(out, doc);
    return rc;
  }
  out << std::left << std::setw(12) << "NODE" << std::setw(22) << "ADDRESS" << std::setw(12)
      << "STATE" << std::setw(8) << "UPTIME" << std::setw(9) << "VERSION" << std::setw(20)
      << "MEMORY" << std::setw(20) << "SPILL" << std::setw(10) << "BLOCKS" << std::setw(14)
      << "HIT mem/spill"
      << "RING\n";
  for (const Json& row : doc["nodes"]) PrintStatusRow(out, row);
  out << "local ring fingerprint " << doc["ring_fingerprint"].get<std::string>() << "\n";
  return rc;
}

int Stats(const GlobalOptions& options, const WatchOptions& watch, std::ostream& out,
          std::ostream& err) {
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  Json previous;
  auto previous_at = std::chrono::steady_clock::now();
  for (std::uint32_t n = 1;; ++n) {
    Json sample = StatsSample(*client);
    const auto now = std::chrono::steady_clock::now();
    if (!previous.is_null()) {
      const double seconds = std::chrono::duration<double>(now - previous_at).count();
      sample["interval_seconds"] = seconds;
      Json rates = Json::object();
      for (auto it = sample["nodes"].begin(); it != sample["nodes"].end(); ++it) {
        if (previous["nodes"].contains(it.key())) {
          rates[it.key()] = Rates(*it, previous["nodes"][it.key()], seconds);
        }
      }
      rates["total"] = Rates(sample["total"], previous["total"], seconds);
      sample["rates"] = std::move(rates);
    }
    if (options.json) {
      PrintJson(out, sample);
    } else {
      if (watch.interval_seconds) out << "sample " << n << "\n";
      PrintStatsTable(out, sample);
      if (sample.contains("rates")) PrintRates(out, sample);
    }
    out.flush();
    const bool last = watch.interval_seconds == 0 || (watch.samples && n >= watch.samples);
    if (last) return sample["down"].empty() ? kExitOk : kExitProblem;
    previous = std::move(sample);
    previous_at = now;
    std::this_thread::sleep_for(std::chrono::seconds(watch.interval_seconds));
  }
}

int ConfigCheck(const GlobalOptions& options, const std::string& path, std::ostream& out,
                std::ostream& err) {
  const std::vector<prefixcache::Status> errors = config::CheckConfigFile(path);
  if (!errors.empty()) {
    Json messages = Json::array();
    for (const auto& error : errors) {
      // An unreadable file names itself; a field's error gets the file in front.
      const std::string message =
          (error.code() == StatusCode::kIoError ? "" : path + ": ") + error.message();
      messages.push_back(message);
      Fail(err, kExitUsage, message);
    }
    if (options.json) PrintJson(out, {{"file", path}, {"valid", false}, {"errors", messages}});
    return kExitUsage;
  }
  auto loaded = config::LoadConfig(path);
  if (!loaded.ok()) return Fail(err, kExitUsage, path + ": " + loaded.status().message());
  const config::Config& c = *loaded;
  GlobalOptions global = options;
  global.config_path = path;
  auto client = OpenClient(global, err);
  if (!client) return kExitUsage;
  const std::string fingerprint = Hex64(admin::RingFingerprint(*client));
  const std::size_t nodes = admin::Nodes(*client).size();
  if (options.json) {
    PrintJson(out, {{"file", path},
                    {"valid", true},
                    {"node", c.node.id},
                    {"listen", c.node.listen},
                    {"memory_capacity_bytes", c.memory.capacity_bytes},
                    {"spill", c.spill.enabled ? Json(c.spill.path) : Json(nullptr)},
                    {"cluster_nodes", nodes},
                    {"virtual_nodes_per_weight", c.cluster.virtual_nodes},
                    {"replicas", c.cluster.replicas},
                    {"ring_fingerprint", fingerprint}});
    return kExitOk;
  }
  out << path << ": ok\n";
  out << "  node " << c.node.id << " listens on " << c.node.listen << ", memory "
      << config::FormatSize(c.memory.capacity_bytes) << " (" << c.memory.eviction_policy
      << "), spill " << (c.spill.enabled ? c.spill.path : std::string("disabled")) << "\n";
  out << "  cluster: " << nodes << " node(s), " << c.cluster.virtual_nodes
      << " virtual nodes per weight, " << c.cluster.replicas << " replica(s)\n";
  out << "  ring fingerprint " << fingerprint << "\n";
  return kExitOk;
}

}  // namespace prefixcache::cli
