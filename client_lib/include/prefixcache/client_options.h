// ClientOptions: everything a Client needs to reach the cluster -- the members, how keys
// are placed on them, credentials, timeouts, pool sizes and the backoff for nodes that
// fail. A plain struct with inline defaults; copy it freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "prefixcache/defaults.h"

namespace prefixcache {

// One member of the cluster.
struct NodeAddress {
  // Unique, non-empty name. It decides the node's place on the ring, so it must match the
  // id the daemons and the CLI use (from the same JSON config).
  std::string id;
  // "host:port" (IPv4, IPv6 in brackets, or a host name resolved when the node is first
  // contacted).
  std::string address;
  // Share of the keys relative to the other nodes, >= 1.
  std::uint32_t weight = 1;
};

struct ClientOptions {
  // The members; at least one. Order does not matter (the ring sorts by id).
  std::vector<NodeAddress> nodes;
  // Virtual-node points per unit of weight (cluster::Ring, the same on every component).
  std::uint32_t virtual_nodes = defaults::kVirtualNodesPerWeight;
  // Copies of each block: puts go to all of them, reads go to the first that is up and
  // fall back to the next when a node fails during the call. 1 <= replicas <= nodes.
  std::uint32_t replicas = defaults::kReplicas;
  // Sent with AUTH on every new connection when not empty.
  std::string password;

  // TLS (1.2 or later) on every connection. The node's certificate must be signed by an
  // authority of tls_ca (a PEM file; the system's trusted authorities when empty) and name
  // tls_server_name (a DNS name or an IP address; each node's host from its address when
  // empty), which is also sent as SNI when it is a name. A handshake that fails counts as
  // a failed connect (the node is marked down) with an error saying why ("TLS handshake
  // with 10.0.0.1:7379 failed: certificate verify failed (hostname mismatch)").
  bool tls = false;
  std::string tls_ca;
  // The client's certificate and private key (PEM files), for nodes that require one
  // (tls.verify_clients); both or neither.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;

  // Bound on one call, from its start to the last node's answer (reads may pass their own
  // shorter or longer bound). A node that has not answered within it yields misses for its
  // keys and is marked down.
  std::uint32_t timeout_ms = defaults::kClientTimeoutMs;
  // Bound on establishing one TCP connection (and its AUTH).
  std::uint32_t connect_timeout_ms = defaults::kClientConnectTimeoutMs;
  // Persistent connections kept to each node. A large batch for one node is split over
  // them so that its bytes move on parallel streams.
  std::uint32_t connections_per_node = defaults::kClientConnectionsPerNode;
  // After a node fails it is skipped for backoff_initial_ms, then retried by one call;
  // each further failure doubles the wait up to backoff_max_ms. A success resets it.
  std::uint32_t backoff_initial_ms = defaults::kClientBackoffInitialMs;
  std::uint32_t backoff_max_ms = defaults::kClientBackoffMaxMs;
  // Dead-node routing: while no replica of a key is up, its reads and writes go to its
  // stand-in (cluster::Ring::StandIn: the first node past the replicas that is up). For
  // handoff_window_ms after a replica returns, a miss there is still asked of the stand-in,
  // and a block found there is copied back (PutAsync) to the returned node. 0: no reads
  // from the stand-in once the replica is back (during the outage they still go there).
  std::uint32_t handoff_window_ms = defaults::kClientHandoffWindowMs;

  // Verify the end-to-end checksum of every value read (see client.h for the stored
  // layout). When false the trailer is still stripped and its magic checked, but the
  // checksum is not computed.
  bool verify_checksums = true;

  // Threads running the network I/O (and checksum verification) inside the client.
  std::uint32_t io_threads = 2;
  // PutAsync queue bounds: bytes of values and number of calls accepted but not yet
  // answered. A PutAsync that would exceed either is dropped (and counted), never waits.
  std::size_t async_put_max_bytes = std::size_t{256} << 20;
  std::size_t async_put_max_calls = 1024;
};

}  // namespace prefixcache
