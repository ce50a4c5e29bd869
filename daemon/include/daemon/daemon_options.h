// DaemonOptions: everything prefixcached's components need, derived from the one
// config::Config (network limits, storage options, command settings, metrics, ring), and
// the config itself as the config file and the command line's overrides make it. Pure
// functions on plain values (BuildConfig reads the file); thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cluster/node.h"
#include "config/config.h"
#include "daemon/commands.h"
#include "daemon/server.h"
#include "daemon/tls.h"
#include "prefixcache/defaults.h"
#include "prefixcache/status.h"
#include "storage/options.h"

namespace prefixcache::daemon {

struct DaemonOptions {
  // server.tls is left empty: Daemon::Open builds it from `tls`.
  ServerOptions server;
  // tls.*: the RESP port speaks TLS when tls.enabled().
  TlsFiles tls;
  // limits.inflight_memory: the limit of the budget in ServerStats that every connection
  // and command shares.
  std::uint64_t inflight_memory_bytes = defaults::kInflightMemoryBytes;
  storage::StoreOptions store;
  HandlerOptions handler;
  bool metrics_enabled = true;
  std::string metrics_host = "127.0.0.1";
  std::uint16_t metrics_port = 9379;
  // metrics.bearer_token: what GET /metrics must present ("" = no check).
  std::string metrics_bearer_token;
  // cluster.nodes as the ring sees them (empty: a single node on its own).
  std::vector<cluster::NodeSpec> cluster_nodes;
  std::uint32_t virtual_nodes = defaults::kVirtualNodesPerWeight;
  std::uint32_t replicas = defaults::kReplicas;
};

// What prefixcached's command line may change in the config; an empty field is not given.
struct ConfigOverrides {
  // --node-id: which entry of cluster.nodes this daemon is (its address, metrics address
  // and spill path come from that entry).
  std::string node_id;
  // --listen host:port of RESP (port 0: a free port).
  std::string listen;
  // --metrics-listen host:port of the metrics endpoint; also turns metrics on.
  std::string metrics_listen;
  // --spill-path: the spill tier's folder ({node_id} is replaced).
  std::string spill_path;
  // --memory-capacity: bytes of block data in memory, with units ("4GiB").
  std::string memory_capacity;
};

// A command-line flag that sets one ConfigOverrides field.
struct OverrideFlag {
  const char* name;  // "--listen"
  const char* help;
  std::string ConfigOverrides::*field;
};

// Every override flag, in --help order.
std::span<const OverrideFlag> OverrideFlags();

// Applies `overrides` to `config` in the order of the fields. InvalidArgument naming the
// flag ("--listen: expected host:port ...") for a value that does not parse or a node id
// that is not in cluster.nodes; `config` may then be partly changed.
Status ApplyOverrides(const ConfigOverrides& overrides, config::Config& config);

// The config of `config_file` (the built-in defaults when empty) with `overrides` applied.
// The file's read error (IoError, naming the file); InvalidArgument "<file>: <json path>:
// ..." for a bad file; ApplyOverrides's errors.
Result<config::Config> BuildConfig(const std::string& config_file,
                                   const ConfigOverrides& overrides);

// Maps a validated config into component options. InvalidArgument naming the field when
// an address does not parse. `config_file` is only reported (INFO); empty = defaults.
Result<DaemonOptions> MakeDaemonOptions(const config::Config& config,
                                        const std::string& config_file);

// InvalidArgument with an explanation when node.listen is not a loopback address, no
// security.password is set and security.allow_remote_without_password is false; or when
// metrics are on, metrics.listen is not a loopback address and no metrics.bearer_token is
// set. The messages name no secret.
Status CheckListenSecurity(const config::Config& config);

// The ring this node checks ownership against: the configured cluster, or a one-node ring
// of this node (at `self_address`, the bound host:port) when cluster.nodes is empty.
// InvalidArgument when the ring cannot be built.
Result<RingView> BuildRingView(const DaemonOptions& options, const std::string& self_address);

}  // namespace prefixcache::daemon
