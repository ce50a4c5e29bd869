#include "cli/prefixctl.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <memory>
#include <ostream>
#include <sstream>

#include "config/config.h"
#include "prefixcache/admin.h"
#include "prefixcache/client.h"
#include "prefixcache/client_config.h"
#include "prefixcache/value_format.h"

namespace prefixcache::cli {
namespace {

constexpr int kOk = 0;
constexpr int kProblem = 1;
constexpr int kUsage = 2;

// The client for the config, or nullptr after printing why.
std::unique_ptr<Client> OpenClient(const GlobalOptions& options, std::ostream& err) {
  if (options.config_path.empty()) {
    err << "prefixctl: --config FILE is required for this command\n";
    return nullptr;
  }
  auto loaded = ClientOptionsFromConfigFile(options.config_path);
  if (!loaded.ok()) {
    err << "prefixctl: " << loaded.status().ToString() << "\n";
    return nullptr;
  }
  ClientOptions client_options = std::move(loaded).value();
  if (options.timeout_ms) client_options.timeout_ms = options.timeout_ms;
  // A tool asks each node once: no waiting out a backoff between its own calls.
  client_options.backoff_initial_ms = 1;
  client_options.backoff_max_ms = 1;
  client_options.connections_per_node = 1;
  client_options.io_threads = 1;
  auto opened = Client::Open(client_options);
  if (!opened.ok()) {
    err << "prefixctl: " << options.config_path << ": " << opened.status().ToString() << "\n";
    return nullptr;
  }
  return std::move(opened).value();
}

std::string Hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The unsigned integer after "\"<field>\":" in a flat JSON text, or -1.
long long JsonNumber(const std::string& json, const std::string& field) {
  const std::string needle = "\"" + field + "\":";
  const std::size_t at = json.find(needle);
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + needle.size(), nullptr, 10);
}

}  // namespace

int Ring(const GlobalOptions& options, std::ostream& out, std::ostream& err) {
  auto client = OpenClient(options, err);
  if (!client) return kUsage;
  out << admin::RingJson(*client) << "\n";
  out << "fingerprint " << Hex64(admin::RingFingerprint(*client)) << "\n";
  return kOk;
}

int Status(const GlobalOptions& options, std::ostream& out, std::ostream& err) {
  auto client = OpenClient(options, err);
  if (!client) return kUsage;
  const std::string local_ring = admin::RingJson(*client);
  int rc = kOk;
  out << std::left << std::setw(16) << "NODE" << std::setw(24) << "ADDRESS" << std::setw(12)
      << "PING" << std::setw(10) << "BLOCKS"
      << "RING\n";
  for (const auto& node : admin::Nodes(*client)) {
    out << std::left << std::setw(16) << node.id << std::setw(24) << node.address;
    const std::string_view ping[] = {"PING"};
    auto pong = admin::Command(*client, node.id, ping);  // connects; the second PING is timed
    const auto start = std::chrono::steady_clock::now();
    if (pong.ok()) pong = admin::Command(*client, node.id, ping);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!pong.ok()) {
      out << "down (" << pong.status().ToString() << ")\n";
      rc = kProblem;
      continue;
    }
    std::ostringstream latency;
    latency << std::fixed << std::setprecision(2) << ms << " ms";
    out << std::setw(12) << latency.str();
    const std::string_view stats_cmd[] = {"BLOCK.STATS"};
    auto stats = admin::Command(*client, node.id, stats_cmd);
    out << std::setw(10) << (stats.ok() ? std::to_string(JsonNumber(*stats, "blocks")) : "?");
    const std::string_view ring_cmd[] = {"BLOCK.RING"};
    auto ring = admin::Command(*client, node.id, ring_cmd);
    if (!ring.ok()) {
      out << "unknown (" << ring.status().ToString() << ")\n";
      rc = kProblem;
    } else if (*ring != local_ring) {
      out << "DIFFERS from the config's ring\n";
      rc = kProblem;
    } else {
      out << "ok\n";
    }
  }
  out << "local ring fingerprint " << Hex64(admin::RingFingerprint(*client)) << "\n";
  return rc;
}

int Stats(const GlobalOptions& options, std::ostream& out, std::ostream& err) {
  auto client = OpenClient(options, err);
  if (!client) return kUsage;
  int rc = kOk;
  for (const auto& node : admin::Nodes(*client)) {
    const std::string_view cmd[] = {"BLOCK.STATS"};
    auto stats = admin::Command(*client, node.id, cmd);
    if (stats.ok()) {
      out << node.id << " " << *stats << "\n";
    } else {
      out << node.id << " error: " << stats.status().ToString() << "\n";
      rc = kProblem;
    }
  }
  return rc;
}

int Get(const GlobalOptions& options, const std::string& key_hex, const std::string& out_file,
        std::ostream& out, std::ostream& err) {
  auto key = BlockKey::FromHex(key_hex);
  if (!key) {
    err << "prefixctl: \"" << key_hex << "\" is not a block key (32 hex digits)\n";
    return kUsage;
  }
  auto client = OpenClient(options, err);
  if (!client) return kUsage;
  const auto nodes = admin::NodesFor(*client, *key);
  out << "key " << key->ToHex() << " on";
  for (const auto& id : nodes) out << " " << id;
  out << "\n";

  const BlockKey keys[] = {*key};
  auto got = client->Get(keys);
  if (got[0]) {
    const Buffer& payload = *got[0];
    out << "hit: " << payload.size() << " bytes, checksum ok\n";
    out << "first bytes:";
    for (std::size_t i = 0; i < std::min<std::size_t>(32, payload.size()); ++i) {
      char buf[4];
      std::snprintf(buf, sizeof buf, " %02x", std::to_integer<unsigned>(payload.data()[i]));
      out << buf;
    }
    out << "\n";
    if (!out_file.empty()) {
      std::ofstream file(out_file, std::ios::binary);
      file.write(reinterpret_cast<const char*>(payload.data()),
                 static_cast<std::streamsize>(payload.size()));
      if (!file) {
        err << "prefixctl: cannot write " << out_file << "\n";
        return kProblem;
      }
      out << "payload written to " << out_file << "\n";
    }
    return kOk;
  }
  // Not a hit: ask each node directly what it holds, to tell absent from corrupt.
  for (const auto& id : nodes) {
    const std::string_view cmd[] = {"GET", key->View()};
    auto raw = admin::Command(*client, id, cmd);
    if (raw.ok()) {
      const auto bytes = std::as_bytes(std::span(raw->data(), raw->size()));
      const bool valid = VerifyStoredValue(*key, bytes).has_value();
      out << id << ": holds " << raw->size() << " bytes, "
          << (valid ? "valid now (the read raced a write?)"
                    : "CORRUPT: checksum or trailer "
                      "does not match")
          << "\n";
    } else if (raw.status().IsNotFound()) {
      out << id << ": miss (not stored)\n";
    } else {
      out << id << ": " << raw.status().ToString() << "\n";
    }
  }
  return kProblem;
}

int Exists(const GlobalOptions& options, const std::vector<std::string>& keys_hex,
           std::ostream& out, std::ostream& err) {
  std::vector<BlockKey> keys;
  for (const auto& hex : keys_hex) {
    auto key = BlockKey::FromHex(hex);
    if (!key) {
      err << "prefixctl: \"" << hex << "\" is not a block key (32 hex digits)\n";
      return kUsage;
    }
    keys.push_back(*key);
  }
  auto client = OpenClient(options, err);
  if (!client) return kUsage;
  for (const auto& key : keys) {
    const BlockKey one[] = {key};
    const std::size_t cached = client->Match(one);
    out << key.ToHex() << " " << cached << " " << admin::NodesFor(*client, key).front() << "\n";
  }
  out << "leading cached run: " << client->Match(keys) << " of " << keys.size() << "\n";
  return kOk;
}

int ConfigCheck(const std::string& path, std::ostream& out, std::ostream& err) {
  auto loaded = config::LoadConfig(path);
  if (!loaded.ok()) {
    const auto& s = loaded.status();
    err << "prefixctl: " << (s.code() == StatusCode::kIoError ? "" : path + ": ") << s.message()
        << "\n";
    return kUsage;
  }
  const config::Config& c = *loaded;
  GlobalOptions global;
  global.config_path = path;
  auto client = OpenClient(global, err);
  if (!client) return kUsage;
  out << path << ": ok\n";
  out << "  node " << c.node.id << " listens on " << c.node.listen << ", memory "
      << config::FormatSize(c.memory.capacity_bytes) << " (" << c.memory.eviction_policy
      << "), spill " << (c.spill.enabled ? c.spill.path : std::string("disabled")) << "\n";
  out << "  cluster: " << admin::Nodes(*client).size() << " node(s), " << c.cluster.virtual_nodes
      << " virtual nodes per weight, " << c.cluster.replicas << " replica(s)\n";
  out << "  ring fingerprint " << Hex64(admin::RingFingerprint(*client)) << "\n";
  return kOk;
}

}  // namespace prefixcache::cli
