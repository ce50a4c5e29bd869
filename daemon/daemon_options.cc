#include "daemon/daemon_options.h"

#include <memory>
#include <string_view>
#include <utility>

namespace prefixcache::daemon {
namespace {

constexpr OverrideFlag kOverrideFlags[] = {
    {"--node-id",
     "Which entry of cluster.nodes this daemon is (takes its address, metrics address and "
     "spill path from it)",
     &ConfigOverrides::node_id},
    {"--listen", "host:port to serve RESP on, overriding the config; port 0 picks a free port",
     &ConfigOverrides::listen},
    {"--metrics-listen",
     "host:port of the Prometheus endpoint (GET /metrics), overriding the config; port 0 "
     "picks a free port",
     &ConfigOverrides::metrics_listen},
    {"--spill-path",
     "Folder of the RocksDB spill tier, overriding the config ({node_id} is replaced)",
     &ConfigOverrides::spill_path},
    {"--memory-capacity", "Bytes of block data held in memory, e.g. 512MiB or 4GiB",
     &ConfigOverrides::memory_capacity},
};

// `status`, when an error, as InvalidArgument "<flag>: <message>".
Status ForFlag(std::string_view flag, const Status& status) {
  if (status.ok()) return status;
  return Status::InvalidArgument(std::string(flag) + ": " + status.message());
}

}  // namespace

std::span<const OverrideFlag> OverrideFlags() { return kOverrideFlags; }

Status ApplyOverrides(const ConfigOverrides& overrides, config::Config& config) {
  if (!overrides.node_id.empty()) {
    if (Status s = config::SelectNode(config, overrides.node_id); !s.ok()) {
      return ForFlag("--node-id", s);
    }
  }
  if (!overrides.listen.empty()) {
    if (auto hp = config::ParseHostPort(overrides.listen); !hp.ok()) {
      return ForFlag("--listen", hp.status());
    }
    config.node.listen = overrides.listen;
  }
  if (!overrides.metrics_listen.empty()) {
    if (auto hp = config::ParseHostPort(overrides.metrics_listen); !hp.ok()) {
      return ForFlag("--metrics-listen", hp.status());
    }
    config.metrics.listen = overrides.metrics_listen;
    config.metrics.enabled = true;
  }
  if (!overrides.spill_path.empty()) {
    config.spill.path = config::ExpandNodeId(overrides.spill_path, config.node.id);
    config.spill.path_template.clear();
  }
  if (!overrides.memory_capacity.empty()) {
    auto size = config::ParseSize(overrides.memory_capacity);
    if (!size.ok()) return ForFlag("--memory-capacity", size.status());
    if (*size == 0) return Status::InvalidArgument("--memory-capacity: must be more than 0");
    config.memory.capacity_bytes = *size;
  }
  return Status::Ok();
}

Result<config::Config> BuildConfig(const std::string& config_file,
                                   const ConfigOverrides& overrides) {
  config::Config config = config::DefaultConfig();
  if (!config_file.empty()) {
    auto loaded = config::LoadConfig(config_file);
    if (!loaded.ok()) {
      // A read error names the file already; a parse error names only the JSON path.
      if (loaded.status().code() == StatusCode::kIoError) return loaded.status();
      return Status::InvalidArgument(config_file + ": " + loaded.status().message());
    }
    config = std::move(loaded).value();
  }
  if (Status s = ApplyOverrides(overrides, config); !s.ok()) return s;
  return config;
}

Result<DaemonOptions> MakeDaemonOptions(const config::Config& config,
                                        const std::string& config_file) {
  DaemonOptions out;
  auto listen = config::ParseHostPort(config.node.listen);
  if (!listen.ok()) {
    return Status::InvalidArgument("node.listen: " + listen.status().message());
  }
  out.server.host = listen->first;
  out.server.port = listen->second;
  out.server.io_threads = config.node.io_threads;
  out.server.connection.send_lowat_bytes = config.node.send_lowat_bytes;
  out.server.max_connections = config.limits.max_connections;
  out.server.connection.idle_timeout_ms = config.limits.idle_timeout_ms;
  out.server.connection.request_timeout_ms = config.limits.request_timeout_ms;
  out.inflight_memory_bytes = config.limits.inflight_memory_bytes;
  out.server.connection.output_buffer_bytes = config.limits.client_output_buffer_bytes;
  out.server.connection.parser.max_bulk_bytes = config.limits.max_value_bytes;
  out.server.connection.parser.max_elements = config.limits.max_request_elements;
  out.server.connection.parser.max_request_bytes = config.limits.max_request_bytes;

  out.tls = TlsFiles{config.tls.cert, config.tls.key, config.tls.ca, config.tls.verify_clients};

  out.store.memory.capacity_bytes = config.memory.capacity_bytes;
  out.store.memory.eviction_policy = config.memory.eviction_policy;
  out.store.memory.shards = config.memory.shards;
  out.store.spill.enabled = config.spill.enabled;
  out.store.spill.path = config.spill.path;
  out.store.spill.capacity_bytes = config.spill.capacity_bytes;
  out.store.spill.queue_bytes = config.spill.queue_bytes;
  out.store.spill.flush_on_close = config.spill.flush_on_shutdown;
  out.store.spill.retry_min_ms = config.spill.retry_min_ms;
  out.store.spill.retry_max_ms = config.spill.retry_max_ms;
  out.store.max_value_bytes = config.limits.max_value_bytes;

  out.handler.password = config.security.password;
  out.handler.node_id = config.node.id;
  out.handler.worker_threads = 2;
  out.handler.config_file = config_file;
  out.handler.max_clients = config.limits.max_connections;
  auto& values = out.handler.config_values;
  auto add = [&values](std::string name, std::string value) {
    values.emplace_back(std::move(name), std::move(value));
  };
  // Redis names first, with Redis's units (timeout in seconds), then prefixcache's own.
  add("maxmemory", std::to_string(config.memory.capacity_bytes));
  add("maxmemory-policy", config.memory.eviction_policy);
  add("maxclients", std::to_string(config.limits.max_connections));
  add("timeout", std::to_string(config.limits.idle_timeout_ms / 1000));
  add("proto-max-bulk-len", std::to_string(config.limits.max_value_bytes));
  add("client-query-buffer-limit", std::to_string(config.limits.max_request_bytes));
  add("bind", out.server.host);
  add("io-threads", std::to_string(config.node.io_threads));
  add("databases", "1");
  add("save", "");
  add("appendonly", "no");
  add("prefixcache-node-id", config.node.id);
  add("prefixcache-listen", config.node.listen);
  add("prefixcache-send-lowat", std::to_string(config.node.send_lowat_bytes));
  add("prefixcache-memory-shards", std::to_string(config.memory.shards));
  add("prefixcache-spill-enabled", config.spill.enabled ? "yes" : "no");
  add("prefixcache-spill-path", config.spill.path);
  add("prefixcache-spill-capacity", std::to_string(config.spill.capacity_bytes));
  add("prefixcache-spill-queue", std::to_string(config.spill.queue_bytes));
  add("prefixcache-spill-flush-on-shutdown", config.spill.flush_on_shutdown ? "yes" : "no");
  add("prefixcache-spill-retry-min-ms", std::to_string(config.spill.retry_min_ms));
  add("prefixcache-spill-retry-max-ms", std::to_string(config.spill.retry_max_ms));
  add("prefixcache-max-request-elements", std::to_string(config.limits.max_request_elements));
  add("prefixcache-idle-timeout-ms", std::to_string(config.limits.idle_timeout_ms));
  add("prefixcache-client-output-buffer", std::to_string(config.limits.client_output_buffer_bytes));
  add("prefixcache-inflight-memory", std::to_string(config.limits.inflight_memory_bytes));
  add("prefixcache-request-timeout-ms", std::to_string(config.limits.request_timeout_ms));
  // Redis's names for TLS; the paths are not secrets (the files' contents are).
  add("prefixcache-tls", config.tls.cert.empty() ? "no" : "yes");
  add("tls-cert-file", config.tls.cert);
  add("tls-key-file", config.tls.key);
  add("tls-ca-cert-file", config.tls.ca);
  add("tls-auth-clients", config.tls.verify_clients ? "yes" : "no");
  add("prefixcache-cluster-nodes", std::to_string(config.cluster.nodes.size()));
  add("prefixcache-virtual-nodes", std::to_string(config.cluster.virtual_nodes));
  add("prefixcache-replicas", std::to_string(config.cluster.replicas));
  add("prefixcache-metrics-listen", config.metrics.enabled ? config.metrics.listen : "");
  // Secrets (security.password, metrics.bearer_token) are never reported; Redis shows
  // requirepass, prefixcached only whether one is set.
  add("prefixcache-password-set", config.security.password.empty() ? "no" : "yes");
  add("prefixcache-metrics-token-set", config.metrics.bearer_token.empty() ? "no" : "yes");

  out.metrics_enabled = config.metrics.enabled;
  if (config.metrics.enabled) {
    auto metrics = config::ParseHostPort(config.metrics.listen);
    if (!metrics.ok()) {
      return Status::InvalidArgument("metrics.listen: " + metrics.status().message());
    }
    out.metrics_host = metrics->first;
    out.metrics_port = metrics->second;
    out.metrics_bearer_token = config.metrics.bearer_token;
  }

  for (const config::ClusterNode& node : config.cluster.nodes) {
    out.cluster_nodes.push_back(cluster::NodeSpec{node.id, node.address, node.weight});
  }
  out.virtual_nodes = config.cluster.virtual_nodes;
  out.replicas = config.cluster.replicas;
  return out;
}

Status CheckListenSecurity(const config::Config& config) {
  auto listen = config::ParseHostPort(config.node.listen);
  if (!listen.ok()) return Status::InvalidArgument("node.listen: " + listen.status().message());
  if (!config::IsLoopbackHost(listen->first) && config.security.password.empty() &&
      !config.security.allow_remote_without_password) {
    return Status::InvalidArgument(
        "refusing to listen on " + config.node.listen +
        " without a password: that address is reachable from other machines. Set "
        "security.password, listen on a loopback address, or set "
        "security.allow_remote_without_password to true");
  }
  if (config.metrics.enabled && config.metrics.bearer_token.empty()) {
    auto metrics = config::ParseHostPort(config.metrics.listen);
    if (!metrics.ok()) {
      return Status::InvalidArgument("metrics.listen: " + metrics.status().message());
    }
    if (!config::IsLoopbackHost(metrics->first)) {
      return Status::InvalidArgument(
          "refusing to serve metrics on " + config.metrics.listen +
          " without metrics.bearer_token: that address is reachable from other machines. Set "
          "metrics.bearer_token, serve metrics on a loopback address, or set "
          "metrics.enabled to false");
    }
  }
  return Status::Ok();
}

Result<RingView> BuildRingView(const DaemonOptions& options, const std::string& self_address) {
  RingView view;
  if (options.cluster_nodes.empty()) {
    auto ring = cluster::Ring::Build({cluster::NodeSpec{options.handler.node_id, self_address, 1}},
                                     options.virtual_nodes, 1);
    if (!ring.ok()) return ring.status();
    view.ring = std::make_shared<const cluster::Ring>(std::move(ring).value());
    view.self = 0;
    view.clustered = false;
    return view;
  }
  auto ring = cluster::Ring::Build(options.cluster_nodes, options.virtual_nodes, options.replicas);
  if (!ring.ok()) return Status::InvalidArgument("cluster: " + ring.status().message());
  view.ring = std::make_shared<const cluster::Ring>(std::move(ring).value());
  view.self = view.ring->IndexOf(options.handler.node_id);
  view.clustered = true;
  return view;
}

}  // namespace prefixcache::daemon
