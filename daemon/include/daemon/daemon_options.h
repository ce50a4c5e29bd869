// DaemonOptions: everything prefixcached's components need, derived from the one
// config::Config (network limits, storage options, command settings, metrics, ring). Pure
// functions on plain values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/node.h"
#include "config/config.h"
#include "daemon/commands.h"
#include "daemon/server.h"
#include "prefixcache/defaults.h"
#include "prefixcache/status.h"
#include "storage/options.h"

namespace prefixcache::daemon {

struct DaemonOptions {
  ServerOptions server;
  storage::StoreOptions store;
  HandlerOptions handler;
  bool metrics_enabled = true;
  std::string metrics_host = "127.0.0.1";
  std::uint16_t metrics_port = 9379;
  // cluster.nodes as the ring sees them (empty: a single node on its own).
  std::vector<cluster::NodeSpec> cluster_nodes;
  std::uint32_t virtual_nodes = defaults::kVirtualNodesPerWeight;
  std::uint32_t replicas = defaults::kReplicas;
};

// Maps a validated config into component options. InvalidArgument naming the field when
// an address does not parse. `config_file` is only reported (INFO); empty = defaults.
Result<DaemonOptions> MakeDaemonOptions(const config::Config& config,
                                        const std::string& config_file);

// InvalidArgument with an explanation when node.listen is not a loopback address, no
// security.password is set and security.allow_remote_without_password is false.
Status CheckListenSecurity(const config::Config& config);

// The ring this node checks ownership against: the configured cluster, or a one-node ring
// of this node (at `self_address`, the bound host:port) when cluster.nodes is empty.
// InvalidArgument when the ring cannot be built.
Result<RingView> BuildRingView(const DaemonOptions& options, const std::string& self_address);

}  // namespace prefixcache::daemon
