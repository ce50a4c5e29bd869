// NodeSpec: one member of the cluster as the ring sees it (the daemon and the client map
// their configuration into it). A plain value type.
#pragma once

#include <cstdint>
#include <string>

namespace prefixcache::cluster {

struct NodeSpec {
  // Unique, non-empty name of the node; its virtual-node points on the ring derive from
  // it, so renaming a node moves its keys. Any bytes (expected UTF-8).
  std::string id;
  // Where clients connect ("host:port"). Not interpreted by the ring (only carried, shown
  // in ToJson() and covered by the fingerprint).
  std::string address;
  // Share of the keys relative to the other nodes: a weight-2 node gets about twice the
  // keys of a weight-1 node. Must be >= 1.
  std::uint32_t weight = 1;

  friend bool operator==(const NodeSpec&, const NodeSpec&) = default;
};

}  // namespace prefixcache::cluster
