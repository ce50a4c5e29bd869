// The config file's keys, section by section, as the one table the parser checks a file's
// keys against (config.cc) and ConfigFields describes (fields.cc). Private to config/;
// constants only, thread-safe.
#pragma once

#include <string_view>
#include <vector>

namespace prefixcache::config {

// One key of one section. Sections are the top-level keys; the entries of cluster.nodes
// are the section "cluster.nodes[]".
struct KeySpec {
  std::string_view section;
  std::string_view key;
  // What the parser accepts: "string", "id" (a node name), "host:port", "boolean",
  // "integer", "size" (bytes, or a string with a unit), "array".
  std::string_view type;
  bool required = false;  // the parser reports it missing (only in cluster.nodes[])
};

// In the order of config.h (and of ToJson).
inline constexpr KeySpec kKeys[] = {
    {"node", "id", "id"},
    {"node", "listen", "host:port"},
    {"node", "io_threads", "integer"},
    {"node", "send_lowat", "size"},
    {"memory", "capacity", "size"},
    {"memory", "eviction_policy", "string"},
    {"memory", "shards", "integer"},
    {"spill", "enabled", "boolean"},
    {"spill", "path", "string"},
    {"spill", "capacity", "size"},
    {"spill", "queue", "size"},
    {"spill", "flush_on_shutdown", "boolean"},
    {"spill", "retry_min_ms", "integer"},
    {"spill", "retry_max_ms", "integer"},
    {"limits", "max_value", "size"},
    {"limits", "max_request_elements", "integer"},
    {"limits", "max_request", "size"},
    {"limits", "max_connections", "integer"},
    {"limits", "idle_timeout_ms", "integer"},
    {"limits", "client_output_buffer", "size"},
    {"limits", "inflight_memory", "size"},
    {"limits", "request_timeout_ms", "integer"},
    {"security", "password", "string"},
    {"security", "allow_remote_without_password", "boolean"},
    {"tls", "cert", "string"},
    {"tls", "key", "string"},
    {"tls", "ca", "string"},
    {"tls", "verify_clients", "boolean"},
    {"cluster", "nodes", "array"},
    {"cluster.nodes[]", "id", "id", true},
    {"cluster.nodes[]", "address", "host:port", true},
    {"cluster.nodes[]", "weight", "integer"},
    {"cluster.nodes[]", "metrics_address", "host:port"},
    {"cluster", "virtual_nodes", "integer"},
    {"cluster", "replicas", "integer"},
    {"metrics", "enabled", "boolean"},
    {"metrics", "listen", "host:port"},
    {"metrics", "bearer_token", "string"},
    {"client", "timeout_ms", "integer"},
    {"client", "connect_timeout_ms", "integer"},
    {"client", "connections_per_node", "integer"},
    {"client", "backoff_initial_ms", "integer"},
    {"client", "backoff_max_ms", "integer"},
    {"client", "handoff_window_ms", "integer"},
    {"client", "tls", "boolean"},
    {"client", "tls_ca", "string"},
    {"client", "tls_cert", "string"},
    {"client", "tls_key", "string"},
    {"client", "tls_server_name", "string"},
};

// The keys of `section` in table order; "" gives the top level's (the sections but
// cluster.nodes[], in order of first appearance).
inline std::vector<std::string_view> KeysOf(std::string_view section) {
  std::vector<std::string_view> keys;
  for (const KeySpec& spec : kKeys) {
    std::string_view key = section.empty() ? spec.section : spec.key;
    if (!section.empty() && spec.section != section) continue;
    if (section.empty() && key.find('.') != std::string_view::npos) continue;
    bool seen = false;
    for (std::string_view k : keys) seen = seen || k == key;
    if (!seen) keys.push_back(key);
  }
  return keys;
}

}  // namespace prefixcache::config
