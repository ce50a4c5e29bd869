#include "cluster/ring.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "prefixcache/check.h"

namespace prefixcache::cluster {
namespace {

constexpr std::string_view kFingerprintTag = "prefixcache/ring/v1";
constexpr std::size_t kInlineReplicas = 16;

// Appends little-endian integers and length-prefixed strings: the fingerprint's input.
class LeWriter {
 public:
  void U32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void U64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Raw(std::string_view s) { out_.append(s); }
  void String(std::string_view s) {
    U32(static_cast<std::uint32_t>(s.size()));
    Raw(s);
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// A string as a JSON literal: escaped per RFC 8259, invalid UTF-8 replaced by U+FFFD.
std::string Quoted(std::string_view s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::uint64_t Ring::PointPosition(std::string_view id, std::uint32_t index) {
  // Longest input: id + '#' + 10 decimal digits.
  std::string buf;
  buf.reserve(id.size() + 11);
  buf.append(id);
  buf.push_back('#');
  char digits[10];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, index);
  PC_CHECK(ec == std::errc());
  buf.append(digits, end);
  return XXH3_64bits(buf.data(), buf.size());
}

Result<Ring> Ring::Build(std::vector<NodeSpec> nodes, std::uint32_t virtual_nodes_per_weight,
                         std::uint32_t replicas) {
  if (nodes.empty()) return Status::InvalidArgument("nodes: the ring needs at least one node");
  if (virtual_nodes_per_weight == 0) {
    return Status::InvalidArgument("virtual_nodes_per_weight: must be >= 1, got 0");
  }
  std::uint64_t total_points = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const NodeSpec& node = nodes[i];
    const std::string where = "nodes[" + std::to_string(i) + "]";
    if (node.id.empty()) return Status::InvalidArgument(where + ": empty id");
    if (node.weight == 0) {
      return Status::InvalidArgument(where + " (id " + Quoted(node.id) +
                                     "): weight must be >= 1, got 0");
    }
    // The product of two u32 plus a sum already checked <= kMaxPoints fits in 64 bits.
    total_points += std::uint64_t{node.weight} * virtual_nodes_per_weight;
    if (total_points > kMaxPoints) {
      return Status::InvalidArgument(
          where + " (id " + Quoted(node.id) +
          "): too many ring points: sum of weights * virtual_nodes_per_weight (" +
          std::to_string(virtual_nodes_per_weight) + ") exceeds " + std::to_string(kMaxPoints));
    }
  }
  if (replicas == 0 || replicas > nodes.size()) {
    return Status::InvalidArgument("replicas: must be between 1 and the node count (" +
                                   std::to_string(nodes.size()) + "), got " +
                                   std::to_string(replicas));
  }

  // Canonical order: by id. A stable sort keeps equal ids next to each other in input
  // order, so the duplicate check below can name both positions.
  std::vector<std::size_t> order(nodes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return nodes[a].id < nodes[b].id; });
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (nodes[order[i]].id == nodes[order[i - 1]].id) {
      return Status::InvalidArgument("nodes[" + std::to_string(order[i]) + "]: duplicate id " +
                                     Quoted(nodes[order[i]].id) + " (also nodes[" +
                                     std::to_string(order[i - 1]) + "])");
    }
  }

  Ring ring;
  ring.virtual_nodes_per_weight_ = virtual_nodes_per_weight;
  ring.replicas_ = replicas;
  ring.nodes_.reserve(nodes.size());
  for (std::size_t i : order) ring.nodes_.push_back(std::move(nodes[i]));

  struct Point {
    std::uint64_t position;
    std::uint32_t node;   // index into the id-sorted nodes_, so comparing it compares ids
    std::uint32_t index;  // virtual node number within the node
  };
  std::vector<Point> points;
  points.reserve(total_points);
  for (std::size_t n = 0; n < ring.nodes_.size(); ++n) {
    const std::uint32_t count = ring.nodes_[n].weight * virtual_nodes_per_weight;
    for (std::uint32_t j = 0; j < count; ++j) {
      points.push_back({PointPosition(ring.nodes_[n].id, j), static_cast<std::uint32_t>(n), j});
    }
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    if (a.position != b.position) return a.position < b.position;
    if (a.node != b.node) return a.node < b.node;
    return a.index < b.index;
  });
  ring.positions_.reserve(points.size());
  ring.point_nodes_.reserve(points.size());
  for (const Point& p : points) {
    ring.positions_.push_back(p.position);
    ring.point_nodes_.push_back(p.node);
  }

  LeWriter w;
  w.Raw(kFingerprintTag);
  w.U32(replicas);
  w.U32(virtual_nodes_per_weight);
  w.U32(static_cast<std::uint32_t>(ring.nodes_.size()));
  for (const NodeSpec& node : ring.nodes_) {
    w.String(node.id);
    w.String(node.address);
    w.U32(node.weight);
  }
  w.U64(points.size());
  for (const Point& p : points) {
    w.U64(p.position);
    w.U32(p.node);
  }
  ring.fingerprint_ = XXH3_64bits(w.bytes().data(), w.bytes().size());
  return ring;
}

std::size_t Ring::PointOf(const BlockKey& key) const {
  auto it = std::lower_bound(positions_.begin(), positions_.end(), key.High());
  return it == positions_.end() ? 0 : static_cast<std::size_t>(it - positions_.begin());
}

std::vector<double> Ring::OwnerShares() const {
  std::vector<double> shares(nodes_.size(), 0.0);
  if (positions_.size() == 1) {
    shares[point_nodes_[0]] = 1.0;
    return shares;
  }
  // Point i owns the positions in (positions_[i-1], positions_[i]]; point 0 also the wrap
  // past the last point. Unsigned subtraction is that count modulo 2^64 in both cases.
  constexpr double kPositions = 18446744073709551616.0;  // 2^64
  for (std::size_t i = 0; i < positions_.size(); ++i) {
    const std::uint64_t previous = positions_[i == 0 ? positions_.size() - 1 : i - 1];
    shares[point_nodes_[i]] += static_cast<double>(positions_[i] - previous) / kPositions;
  }
  return shares;
}

std::size_t Ring::Owner(const BlockKey& key) const { return point_nodes_[PointOf(key)]; }

template <typename Visit>
void Ring::ForEachNode(std::size_t first, std::size_t limit, Visit&& visit) const {
  // Build guarantees replicas_ <= nodes_.size() and every node has a point, so the walk
  // finds `limit` distinct nodes within one turn of the ring.
  std::array<std::uint32_t, kInlineReplicas> inline_seen;
  std::vector<std::uint32_t> heap_seen;
  std::uint32_t* seen = inline_seen.data();
  if (limit > kInlineReplicas) {
    heap_seen.resize(limit);
    seen = heap_seen.data();
  }
  std::size_t found = 0;
  std::size_t p = first;
  for (std::size_t steps = 0; steps < positions_.size(); ++steps) {
    const std::uint32_t node = point_nodes_[p];
    if (std::find(seen, seen + found, node) == seen + found) {
      seen[found++] = node;
      if (!visit(static_cast<std::size_t>(node)) || found == limit) return;
    }
    if (++p == positions_.size()) p = 0;
  }
  PC_CHECK(false && "ring walk found fewer distinct nodes than asked for");
}

std::vector<std::size_t> Ring::Replicas(const BlockKey& key) const {
  std::vector<std::size_t> out;
  out.reserve(replicas_);
  ForEachNode(PointOf(key), replicas_, [&](std::size_t node) {
    out.push_back(node);
    return true;
  });
  return out;
}

std::vector<std::size_t> Ring::Walk(const BlockKey& key) const {
  std::vector<std::size_t> out;
  out.reserve(nodes_.size());
  ForEachNode(PointOf(key), nodes_.size(), [&](std::size_t node) {
    out.push_back(node);
    return true;
  });
  return out;
}

std::optional<std::size_t> Ring::StandIn(const BlockKey& key,
                                         const std::function<bool(std::size_t)>& is_live) const {
  std::optional<std::size_t> stand_in;
  std::size_t met = 0;
  ForEachNode(PointOf(key), nodes_.size(), [&](std::size_t node) {
    if (met++ < replicas_) return true;  // the replica set comes first in the walk
    if (is_live(node)) stand_in = node;
    return !stand_in;
  });
  return stand_in;
}

bool Ring::OwnsKey(std::size_t node, const BlockKey& key) const {
  if (node >= nodes_.size()) return false;
  const std::size_t first = PointOf(key);
  if (replicas_ == 1) return point_nodes_[first] == node;
  bool owns = false;
  ForEachNode(first, replicas_, [&](std::size_t n) {
    owns = n == node;
    return !owns;
  });
  return owns;
}

std::optional<std::size_t> Ring::IndexOf(std::string_view id) const {
  auto it = std::lower_bound(nodes_.begin(), nodes_.end(), id,
                             [](const NodeSpec& node, std::string_view v) { return node.id < v; });
  if (it == nodes_.end() || it->id != id) return std::nullopt;
  return static_cast<std::size_t>(it - nodes_.begin());
}

std::string Ring::ToJson() const {
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const NodeSpec& node : nodes_) {
    nodes.push_back({{"id", node.id}, {"address", node.address}, {"weight", node.weight}});
  }
  char fingerprint[17];
  std::snprintf(fingerprint, sizeof fingerprint, "%016llx",
                static_cast<unsigned long long>(fingerprint_));
  const nlohmann::ordered_json json = {{"nodes", std::move(nodes)},
                                       {"virtual_nodes_per_weight", virtual_nodes_per_weight_},
                                       {"replicas", replicas_},
                                       {"points", positions_.size()},
                                       {"fingerprint", fingerprint}};
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace prefixcache::cluster
