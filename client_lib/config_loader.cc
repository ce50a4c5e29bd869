#include "config/config.h"
#include "prefixcache/client_config.h"

namespace prefixcache {
namespace {

Result<ClientOptions> FromConfig(const config::Config& c) {
  ClientOptions o;
  if (c.cluster.nodes.empty()) {
    if (c.node.listen.ends_with(":0")) {
      return Status::InvalidArgument(
          "cluster.nodes: empty, and node.listen has port 0 (no address to connect to)");
    }
    // As the daemon does for a config without a cluster: one node, one copy.
    o.nodes.push_back({c.node.id, c.node.listen, 1});
    o.replicas = 1;
  } else {
    for (const config::ClusterNode& n : c.cluster.nodes) {
      o.nodes.push_back({n.id, n.address, n.weight});
    }
    o.replicas = c.cluster.replicas;
  }
  o.virtual_nodes = c.cluster.virtual_nodes;
  o.password = c.security.password;
  o.timeout_ms = c.client.timeout_ms;
  o.connect_timeout_ms = c.client.connect_timeout_ms;
  o.connections_per_node = c.client.connections_per_node;
  o.backoff_initial_ms = c.client.backoff_initial_ms;
  o.backoff_max_ms = c.client.backoff_max_ms;
  o.handoff_window_ms = c.client.handoff_window_ms;
  o.tls = c.client.tls;
  o.tls_ca = c.client.tls_ca;
  o.tls_cert = c.client.tls_cert;
  o.tls_key = c.client.tls_key;
  o.tls_server_name = c.client.tls_server_name;
  return o;
}

}  // namespace

Result<ClientOptions> ClientOptionsFromConfigText(std::string_view json_text) {
  Result<config::Config> parsed = config::ParseConfig(json_text);
  if (!parsed.ok()) return parsed.status();
  return FromConfig(*parsed);
}

Result<ClientOptions> ClientOptionsFromConfigFile(const std::string& path) {
  Result<config::Config> loaded = config::LoadConfig(path);
  if (!loaded.ok()) {
    const Status& s = loaded.status();
    if (s.code() == StatusCode::kIoError) return s;
    return Status::InvalidArgument(path + ": " + s.message());
  }
  Result<ClientOptions> options = FromConfig(*loaded);
  if (!options.ok()) return Status::InvalidArgument(path + ": " + options.status().message());
  return options;
}

}  // namespace prefixcache
