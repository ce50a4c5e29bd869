// Ring: the immutable consistent-hash ring that maps each block key to its owner node and
// replica nodes. Thread-safe to share: every method is const and nothing is mutable. A new
// membership builds a new Ring; hold it as std::shared_ptr<const Ring>, copy the pointer
// out under a mutex at the start of a request and replace it under that mutex, so that
// requests already routed on the old ring finish while new ones use the new ring.
// (std::atomic<std::shared_ptr> works too, but TSan reports libstdc++ 12's as a race.)
//
// The ring is specified exactly, so that any implementation (client library, daemon, CLI,
// a Python or Rust client) computes the same placement from the same membership:
//
//  1. Nodes are sorted by id (bytewise). Node indices everywhere in this API are positions
//     in that sorted list, so the order in which members are listed does not matter.
//  2. Node n has weight(n) * virtual_nodes_per_weight points. Point j (j = 0, 1, ...) of
//     node n sits at
//         XXH3_64bits(id + "#" + decimal(j))      (XXH3-64, seed 0)
//     where decimal(j) is j in ASCII decimal without leading zeros, e.g. "node-a#17".
//  3. Points are sorted by (position, node id, j), ascending.
//  4. A key's position is key.High(): its first 8 bytes read big-endian (keys are already
//     uniform hashes). The key's owner is the node of the first point whose position is
//     >= the key's position; past the last point it wraps to the first point.
//  5. The key's replica set is the owner followed by the next replicas-1 distinct nodes
//     met walking the points clockwise (ascending, wrapping) from the owner's point.
//
// Fingerprint() is XXH3-64 (seed 0) over these bytes, integers little-endian:
//     "prefixcache/ring/v1" (19 ASCII bytes), u32 replicas, u32 virtual_nodes_per_weight,
//     u32 node count, then per node in index order: u32 id length, id bytes,
//     u32 address length, address bytes, u32 weight; then u64 point count, then per point
//     in ring order: u64 position, u32 node index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/node.h"
#include "prefixcache/block_key.h"
#include "prefixcache/defaults.h"
#include "prefixcache/status.h"

namespace prefixcache::cluster {

class Ring {
 public:
  // Points per unit of weight by default (why 1024: prefixcache/defaults.h). A node's share
  // of the keys deviates from its fair share by about 1/sqrt(points) (relative).
  static constexpr std::uint32_t kDefaultVirtualNodesPerWeight = defaults::kVirtualNodesPerWeight;
  // Upper bound on the total number of points (sum of weights * virtual_nodes_per_weight),
  // so that a bad configuration cannot make Build allocate without bound (~12 bytes each).
  static constexpr std::uint64_t kMaxPoints = 1ull << 24;

  // Builds the ring for `nodes` (any order; see 1. above). Returns InvalidArgument, with a
  // message naming the offending entry by its position in `nodes` (e.g. "nodes[2]: empty
  // id"), when `nodes` is empty, an id is empty or repeated, a weight is 0,
  // virtual_nodes_per_weight is 0, replicas is 0 or larger than the node count, or the ring
  // would have more than kMaxPoints points.
  static Result<Ring> Build(std::vector<NodeSpec> nodes,
                            std::uint32_t virtual_nodes_per_weight = kDefaultVirtualNodesPerWeight,
                            std::uint32_t replicas = 1);

  // The position of virtual node `index` of node `id` (step 2 above).
  static std::uint64_t PointPosition(std::string_view id, std::uint32_t index);

  // Each node's share of the key space (indexed like nodes(), summing to 1): the fraction of
  // the 2^64 key positions (step 4 above) whose owner it is. Computed exactly from the points.
  std::vector<double> OwnerShares() const;

  // Index (into nodes()) of the node owning `key`.
  std::size_t Owner(const BlockKey& key) const;

  // The replicas() distinct node indices holding `key`: the owner first, then the next
  // distinct nodes clockwise.
  std::vector<std::size_t> Replicas(const BlockKey& key) const;

  // Every node once, in the order met walking the points clockwise from `key`'s point: the
  // replica set first (as Replicas() returns it), then the other nodes.
  std::vector<std::size_t> Walk(const BlockKey& key) const;

  // The stand-in for `key` while its whole replica set is down: the first node after the
  // replica set in Walk(key) for which is_live(node) returns true, or nullopt when there is
  // none. The one rule for every component: clients send the key's reads and writes there
  // while no replica is up (and read from it after a replica returns); prefixctl ring locate
  // reports it. is_live is asked about nodes outside the replica set only, in walk order,
  // until it returns true; it must not call back into the ring.
  std::optional<std::size_t> StandIn(const BlockKey& key,
                                     const std::function<bool(std::size_t)>& is_live) const;

  // True when node `node` is in the replica set of `key` (what a daemon checks before
  // accepting a write). False for an index >= nodes().size(). Does not allocate for
  // replicas() <= 16.
  bool OwnsKey(std::size_t node, const BlockKey& key) const;

  // The members, sorted by id; a node's index is its position here.
  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  // The index of the node named `id`, or nullopt if there is none.
  std::optional<std::size_t> IndexOf(std::string_view id) const;

  std::uint32_t replicas() const { return replicas_; }
  std::uint32_t virtual_nodes_per_weight() const { return virtual_nodes_per_weight_; }
  // Total number of virtual-node points.
  std::size_t point_count() const { return positions_.size(); }

  // Identifies the ring (layout above): two rings built from the same members (in any
  // order) and parameters have equal fingerprints; any change of an id, address, weight,
  // virtual_nodes_per_weight or replicas changes it (up to 64-bit hash collisions).
  std::uint64_t Fingerprint() const { return fingerprint_; }

  // A JSON object describing the ring, on one line:
  //   {"nodes":[{"id":"a","address":"10.0.0.1:7379","weight":1},...],
  //    "virtual_nodes_per_weight":256,"replicas":1,"points":512,
  //    "fingerprint":"0123456789abcdef"}
  // Nodes appear in index order; the fingerprint is 16 lowercase hex digits. Strings are
  // escaped per RFC 8259; valid UTF-8 passes through unchanged, an invalid byte sequence
  // becomes U+FFFD.
  std::string ToJson() const;

 private:
  Ring() = default;

  // Index of the first point at or after `key`'s position, wrapping.
  std::size_t PointOf(const BlockKey& key) const;
  // Calls visit(node) for each distinct node met walking from point `first`, owner first,
  // until visit returns false or `limit` (<= nodes().size()) nodes were visited.
  template <typename Visit>
  void ForEachNode(std::size_t first, std::size_t limit, Visit&& visit) const;

  std::vector<NodeSpec> nodes_;
  std::uint32_t virtual_nodes_per_weight_ = 0;
  std::uint32_t replicas_ = 0;
  // The points in ring order, as two parallel arrays (positions alone for the search).
  std::vector<std::uint64_t> positions_;
  std::vector<std::uint32_t> point_nodes_;
  std::uint64_t fingerprint_ = 0;
};

}  // namespace prefixcache::cluster
