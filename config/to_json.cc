#include <nlohmann/json.hpp>

#include "config/config.h"

namespace prefixcache::config {

std::string ToJson(const Config& config) {
  using Json = nlohmann::ordered_json;  // keeps the sections in the order of config.h
  Json out;

  out["node"] = {{"id", config.node.id},
                 {"listen", config.node.listen},
                 {"io_threads", config.node.io_threads},
                 {"send_lowat", FormatSize(config.node.send_lowat_bytes)}};

  out["memory"] = {{"capacity", FormatSize(config.memory.capacity_bytes)},
                   {"eviction_policy", config.memory.eviction_policy},
                   {"shards", config.memory.shards}};

  const SpillConfig& spill = config.spill;
  // The template only while it still gives spill.path, i.e. nobody changed the path since.
  const bool use_template = !spill.path_template.empty() &&
                            ExpandNodeId(spill.path_template, config.node.id) == spill.path;
  out["spill"] = {{"enabled", spill.enabled},
                  {"path", use_template ? spill.path_template : spill.path},
                  {"capacity", FormatSize(spill.capacity_bytes)},
                  {"queue", FormatSize(spill.queue_bytes)},
                  {"flush_on_shutdown", spill.flush_on_shutdown},
                  {"retry_min_ms", spill.retry_min_ms},
                  {"retry_max_ms", spill.retry_max_ms}};

  const LimitsConfig& limits = config.limits;
  out["limits"] = {{"max_value", FormatSize(limits.max_value_bytes)},
                   {"max_request_elements", limits.max_request_elements},
                   {"max_request", FormatSize(limits.max_request_bytes)},
                   {"max_connections", limits.max_connections},
                   {"idle_timeout_ms", limits.idle_timeout_ms},
                   {"client_output_buffer", FormatSize(limits.client_output_buffer_bytes)},
                   {"inflight_memory", FormatSize(limits.inflight_memory_bytes)},
                   {"request_timeout_ms", limits.request_timeout_ms}};

  out["security"] = {
      {"password", config.security.password},
      {"allow_remote_without_password", config.security.allow_remote_without_password}};

  const TlsConfig& tls = config.tls;
  out["tls"] = {
      {"cert", tls.cert}, {"key", tls.key}, {"ca", tls.ca}, {"verify_clients", tls.verify_clients}};

  Json nodes = Json::array();
  for (const ClusterNode& node : config.cluster.nodes) {
    Json entry = {{"id", node.id}, {"address", node.address}, {"weight", node.weight}};
    if (!node.metrics_address.empty()) entry["metrics_address"] = node.metrics_address;
    nodes.push_back(std::move(entry));
  }
  out["cluster"] = {{"nodes", std::move(nodes)},
                    {"virtual_nodes", config.cluster.virtual_nodes},
                    {"replicas", config.cluster.replicas}};

  out["metrics"] = {{"enabled", config.metrics.enabled},
                    {"listen", config.metrics.listen},
                    {"bearer_token", config.metrics.bearer_token}};

  const ClientConfig& client = config.client;
  out["client"] = {{"timeout_ms", client.timeout_ms},
                   {"connect_timeout_ms", client.connect_timeout_ms},
                   {"connections_per_node", client.connections_per_node},
                   {"backoff_initial_ms", client.backoff_initial_ms},
                   {"backoff_max_ms", client.backoff_max_ms},
                   {"handoff_window_ms", client.handoff_window_ms},
                   {"tls", client.tls},
                   {"tls_ca", client.tls_ca},
                   {"tls_cert", client.tls_cert},
                   {"tls_key", client.tls_key},
                   {"tls_server_name", client.tls_server_name}};

  // Strings set in code may hold invalid UTF-8; replace it rather than throw.
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace prefixcache::config
