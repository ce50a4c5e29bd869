// Config: the one JSON file that describes a node and its cluster, read by the daemon, the
// client library and the CLI so that all three compute the same ring. Plain structs with
// the built-in defaults (from prefixcache/defaults.h), and free functions to parse, validate and
// render them. Values are thread-compatible; the functions are thread-safe.
//
// The file is a JSON object with the sections below, every key optional (a missing key
// keeps its default) and unknown keys rejected. Keys are the field names, except that size
// fields drop their "_bytes" suffix because their values carry a unit: node.send_lowat,
// memory.capacity,
// spill.capacity, spill.queue, limits.max_value, limits.max_request,
// limits.client_output_buffer, limits.inflight_memory. A size is a JSON number of bytes or a string
// such as "4GiB" (see size.h). // and /* */ comments are allowed. Example files are in
// config/examples/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/host_port.h"
#include "config/size.h"
#include "prefixcache/defaults.h"
#include "prefixcache/status.h"

namespace prefixcache::config {

struct NodeConfig {
  // This node's name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or
  // digit (it becomes part of spill.path). Picks this node's entry in cluster.nodes.
  std::string id = defaults::kNodeId;
  // host:port the daemon serves RESP on; port 0 picks a free port. When the file leaves it
  // out and id names an entry of cluster.nodes, that entry's address.
  std::string listen = defaults::kListen;
  // Asio I/O threads of the daemon, 0..1024; 0 = one per core.
  std::uint32_t io_threads = 0;
  // JSON "send_lowat": while the daemon writes 1 MiB or more of replies to a client, the
  // reply bytes its socket may hold unsent in the kernel (TCP_NOTSENT_LOWAT), 0..64MiB;
  // 0 = never bounded (the kernel's default). A small bound keeps multi-MiB replies
  // flowing to the client from bytes the kernel has just copied, still in cache, instead
  // of from megabytes queued long before; smaller writes are never bounded.
  std::uint64_t send_lowat_bytes = defaults::kSendLowatBytes;

  bool operator==(const NodeConfig&) const = default;
};

struct MemoryConfig {
  // JSON "capacity": bytes of block data the memory tier holds; > 0.
  std::uint64_t capacity_bytes = defaults::kMemoryCapacityBytes;
  // Which blocks go first when the memory tier is full: one of defaults::kEvictionPolicies,
  // "lru" | "prefix" (LRU that evicts deeper chain positions first among equally cold
  // blocks) | "tiered" (LRU lists by use count; see storage/tiered_policy.h).
  std::string eviction_policy = defaults::kEvictionPolicy;
  // Independently locked shards of the memory tier, 1..1024.
  std::uint32_t shards = defaults::kMemoryShards;

  bool operator==(const MemoryConfig&) const = default;
};

struct SpillConfig {
  // Demote evicted blocks to the RocksDB spill tier; false drops them.
  bool enabled = true;
  // RocksDB folder of the spill tier; non-empty when enabled. "{node_id}" is replaced by
  // node.id when the file is parsed and again by SelectNode (see path_template).
  std::string path = "./prefixcache-spill/{node_id}";
  // Not a JSON key: spill.path as written, before "{node_id}" was replaced, or empty when it
  // had no "{node_id}". SelectNode re-derives path from it; ToJson writes it back.
  std::string path_template;
  // JSON "capacity": bytes of block data the spill tier holds; > 0.
  std::uint64_t capacity_bytes = defaults::kSpillCapacityBytes;
  // JSON "queue": evicted blocks waiting for the disk may use this many bytes of RAM; > 0.
  std::uint64_t queue_bytes = defaults::kSpillQueueBytes;
  // On a clean shutdown (SIGTERM), write the memory tier's blocks to the spill tier.
  bool flush_on_shutdown = true;
  // After a failed spill write (a full or failing disk) the tier reopens its folder
  // retry_min_ms later, doubling the wait while it keeps failing up to retry_max_ms
  // (>= retry_min_ms).
  std::uint32_t retry_min_ms = defaults::kSpillRetryMinMs;
  std::uint32_t retry_max_ms = defaults::kSpillRetryMaxMs;

  bool operator==(const SpillConfig&) const = default;
};

struct LimitsConfig {
  // JSON "max_value": largest block value accepted, 1B..4GiB.
  std::uint64_t max_value_bytes = defaults::kMaxValueBytes;
  // Most arguments in one request (RESP array elements); > 0.
  std::uint64_t max_request_elements = defaults::kMaxRequestElements;
  // JSON "max_request": most bytes in one request; > 0.
  std::uint64_t max_request_bytes = defaults::kMaxRequestBytes;
  // Most client connections open at once, 1..1000000.
  std::uint32_t max_connections = defaults::kMaxConnections;
  // Close a connection idle this long; 0 = never.
  std::uint64_t idle_timeout_ms = defaults::kIdleTimeoutMs;
  // JSON "client_output_buffer": while a client has more than this many reply bytes
  // unsent, the daemon stops reading its requests (backpressure); a client whose replies
  // make no progress for idle_timeout_ms is closed. > 0.
  std::uint64_t client_output_buffer_bytes = defaults::kClientOutputBufferBytes;
  // JSON "inflight_memory": the daemon-wide budget for requests being received and replies
  // being sent (the bytes of every partial request, of every reply not yet written, and of
  // blocks read from disk for them), over all connections; >= max_request. Past it the
  // daemon stops reading from the sockets whose next request needs more memory and streams
  // large replies in parts, while other clients' small requests go on. See
  // docs/security.md for the memory bound it gives.
  std::uint64_t inflight_memory_bytes = defaults::kInflightMemoryBytes;
  // Close a connection whose request is still incomplete after this long of waiting for its
  // bytes or for the memory it needs (a client sending a byte a second, a daemon too
  // loaded to take the request), dropping what it held; 0 = never.
  std::uint64_t request_timeout_ms = defaults::kRequestTimeoutMs;

  bool operator==(const LimitsConfig&) const = default;
};

struct SecurityConfig {
  // Password clients must send with AUTH; empty = no AUTH.
  std::string password;
  // Let the daemon listen on a non-loopback address without a password (the daemon
  // refuses to otherwise; see IsLoopbackHost).
  bool allow_remote_without_password = false;

  bool operator==(const SecurityConfig&) const = default;
};

struct TlsConfig {
  // PEM file of the node's certificate (its chain may follow it in the file). When set,
  // the node's listen port speaks TLS (1.2 or later) only; empty = plaintext.
  std::string cert;
  // PEM file of the private key of `cert`; required with cert (and only with it).
  std::string key;
  // PEM file of the certificate authorities that sign client certificates; required by
  // verify_clients.
  std::string ca;
  // Require every client to present a certificate signed by `ca`.
  bool verify_clients = false;

  bool operator==(const TlsConfig&) const = default;
};

struct ClusterNode {
  // Unique name of the node, same rules as node.id; its ring points derive from it.
  std::string id;
  // host:port clients connect to; port 1..65535. Required.
  std::string address;
  // Share of the keys relative to the other nodes, 1..1000.
  std::uint32_t weight = 1;
  // Optional host:port of the node's metrics endpoint; empty = not given.
  std::string metrics_address;

  bool operator==(const ClusterNode&) const = default;
};

struct ClusterConfig {
  // The members, in any order; empty = a single node on its own. Ids and addresses unique.
  std::vector<ClusterNode> nodes;
  // Ring points per unit of weight, 1..10000.
  std::uint32_t virtual_nodes = defaults::kVirtualNodesPerWeight;
  // Copies of each block on distinct nodes, 1..nodes.size() (any >= 1 when nodes is empty).
  std::uint32_t replicas = defaults::kReplicas;

  bool operator==(const ClusterConfig&) const = default;
};

struct MetricsConfig {
  // Serve Prometheus metrics over HTTP.
  bool enabled = true;
  // host:port of the metrics endpoint; port 0 picks a free port. When the file leaves it
  // out and node.id names a cluster.nodes entry with a metrics_address, that address.
  std::string listen = defaults::kMetricsListen;
  // When set, GET /metrics requires the header "Authorization: Bearer <token>" (others get
  // 401). Required when listen is not a loopback address (the daemon refuses to start
  // otherwise). Printable ASCII without spaces; empty = none.
  std::string bearer_token;

  bool operator==(const MetricsConfig&) const = default;
};

struct ClientConfig {
  // Deadline of one request to a node; past it the node's blocks count as misses. >= 1.
  std::uint32_t timeout_ms = defaults::kClientTimeoutMs;
  // Deadline of one TCP connect; >= 1.
  std::uint32_t connect_timeout_ms = defaults::kClientConnectTimeoutMs;
  // Connections the client keeps to each node, 1..1024.
  std::uint32_t connections_per_node = defaults::kClientConnectionsPerNode;
  // First wait before retrying a node that failed; >= 1.
  std::uint32_t backoff_initial_ms = defaults::kClientBackoffInitialMs;
  // Longest wait between retries (the wait doubles up to it); >= backoff_initial_ms.
  std::uint32_t backoff_max_ms = defaults::kClientBackoffMaxMs;
  // How long after a node returns a miss on it is still asked of the node that stood in
  // for it (and a block found there copied back); 0: not at all.
  std::uint32_t handoff_window_ms = defaults::kClientHandoffWindowMs;
  // Connect to the nodes over TLS, verifying their certificates against tls_ca (the
  // system's trusted authorities when empty) and their names against tls_server_name.
  bool tls = false;
  // PEM file of the authorities that sign the nodes' certificates; empty = the system's.
  std::string tls_ca;
  // PEM files of the client's own certificate and key, for nodes that verify clients
  // (tls.verify_clients); both or neither.
  std::string tls_cert;
  std::string tls_key;
  // The name the nodes' certificates must carry (a DNS name or an IP address); empty =
  // each node's host as cluster.nodes gives it.
  std::string tls_server_name;

  bool operator==(const ClientConfig&) const = default;
};

struct Config {
  NodeConfig node;
  MemoryConfig memory;
  SpillConfig spill;
  LimitsConfig limits;
  SecurityConfig security;
  TlsConfig tls;
  ClusterConfig cluster;
  MetricsConfig metrics;
  ClientConfig client;

  bool operator==(const Config&) const = default;
};

// Parses and validates a config file's text. After the checks, fills node.listen and
// metrics.listen from this node's cluster.nodes entry where the file left them out, and
// replaces "{node_id}" in spill.path. Never throws. On failure returns InvalidArgument
// whose message starts with the JSON path of the first bad field, then what was expected
// and what was found:
//   memory.capacity: expected a size like "4GiB" or a number of bytes, got true
//   cluster.nodes[2].address: expected host:port, got "abc" (no ":port")
//   memory.capcity: unknown key (did you mean "capacity"?)
//   node.id: duplicate key
// or, for text that is not JSON, "invalid JSON at line 3, column 5: ...".
Result<Config> ParseConfig(std::string_view json_text);

// Reads the file at `path` and parses it with ParseConfig, whose errors it returns
// unchanged (the caller adds the file name). Returns IoError naming the path and the
// system's reason when the file cannot be read: cannot read "x.json": No such file or
// directory.
Result<Config> LoadConfig(const std::string& path);

// Every error of a config's text, each a Status as ParseConfig would return it (its
// message starting with the field's JSON path), in the order ParseConfig meets them: the
// first is ParseConfig's error. Parsing goes on past a bad field, so a file with several
// mistakes shows them all; a check across fields (replicas against the node count, ...)
// is reported only when the fields it compares are valid, and text that is not JSON gives
// the syntax error alone. Empty when the text is a valid config.
std::vector<Status> CheckConfig(std::string_view json_text);

// CheckConfig of the file at `path`, or LoadConfig's IoError alone when it cannot be read.
std::vector<Status> CheckConfigFile(const std::string& path);

// The built-in defaults as ParseConfig("{}") gives them ("{node_id}" replaced).
Config DefaultConfig();

// Makes `config` describe node `node_id` of its cluster: sets node.id, takes node.listen
// from the cluster.nodes entry with that id (and metrics.listen from its metrics_address if
// it has one), and re-derives spill.path from spill.path_template unless spill.path was
// changed since parsing. On an id not in cluster.nodes returns InvalidArgument naming it
// and leaves `config` unchanged.
Status SelectNode(Config& config, std::string_view node_id);

// The text with every "{node_id}" replaced by `node_id`.
std::string ExpandNodeId(std::string_view text, std::string_view node_id);

// Renders `config` as pretty-printed JSON (two-space indent, every key present, sizes as
// FormatSize strings, spill.path as its template). ParseConfig(ToJson(c)) == c for every
// valid config whose spill.path has no unreplaced "{node_id}", e.g. any ParseConfig result.
// The output contains security.password and metrics.bearer_token in clear text.
std::string ToJson(const Config& config);

}  // namespace prefixcache::config
