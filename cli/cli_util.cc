#include "cli_util.h"

#include <cstdio>
#include <iterator>
#include <utility>

#include "prefixcache/admin.h"
#include "prefixcache/client_config.h"

namespace prefixcache::cli {

int Fail(std::ostream& err, int code, const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  err << "prefixctl: " << line << "\n";
  return code;
}

std::unique_ptr<Client> OpenClient(const GlobalOptions& options, std::ostream& err) {
  if (options.config_path.empty()) {
    Fail(err, kExitUsage, "--config FILE is required for this command");
    return nullptr;
  }
  auto loaded = ClientOptionsFromConfigFile(options.config_path);
  if (!loaded.ok()) {
    Fail(err, kExitUsage, loaded.status().ToString());
    return nullptr;
  }
  ClientOptions client_options = std::move(loaded).value();
  if (options.timeout_ms) client_options.timeout_ms = options.timeout_ms;
  if (options.tls) client_options.tls = true;
  for (const auto& [flag, field] :
       {std::pair{&options.tls_ca, &ClientOptions::tls_ca},
        std::pair{&options.tls_cert, &ClientOptions::tls_cert},
        std::pair{&options.tls_key, &ClientOptions::tls_key},
        std::pair{&options.tls_server_name, &ClientOptions::tls_server_name}}) {
    if (!flag->empty()) client_options.*field = *flag;
  }
  // A tool asks each node once: no waiting out a backoff between its own calls.
  client_options.backoff_initial_ms = 1;
  client_options.backoff_max_ms = 1;
  client_options.connections_per_node = 1;
  client_options.io_threads = 1;
  auto opened = Client::Open(client_options);
  if (!opened.ok()) {
    Fail(err, kExitUsage, options.config_path + ": " + opened.status().ToString());
    return nullptr;
  }
  return std::move(opened).value();
}

std::optional<BlockKey> ParseKey(const std::string& hex, std::ostream& err) {
  auto key = BlockKey::FromHex(hex);
  if (!key) Fail(err, kExitUsage, "\"" + hex + "\" is not a block key (32 hex digits)");
  return key;
}

std::string Hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Result<Json> JsonCommand(Client& client, std::string_view node_id, std::string_view command) {
  const std::string_view args[] = {command};
  auto reply = admin::Command(client, node_id, args);
  if (!reply.ok()) return reply.status();
  Json json = Json::parse(*reply, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Status::Corruption(std::string(command) + " did not answer a JSON object");
  }
  return json;
}

std::uint64_t U64(const Json& json, std::string_view a, std::string_view b) {
  auto it = json.find(a);
  if (it == json.end()) return 0;
  if (!b.empty()) {
    if (!it->is_object()) return 0;
    auto inner = it->find(b);
    if (inner == it->end()) return 0;
    it = inner;
  }
  return it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string Size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f%s", value, kUnits[unit]);
  }
  return buf;
}

std::string Ratio(std::uint64_t hits, std::uint64_t misses) {
  if (hits + misses == 0) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%",
                100.0 * static_cast<double>(hits) / static_cast<double>(hits + misses));
  return buf;
}

Json RatioJson(std::uint64_t hits, std::uint64_t misses) {
  if (hits + misses == 0) return nullptr;
  return static_cast<double>(hits) / static_cast<double>(hits + misses);
}

void PrintJson(std::ostream& out, const Json& json) {
  out << json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace prefixcache::cli
