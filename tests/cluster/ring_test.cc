#include "cluster/ring.h"

#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using prefixcache::BlockKey;
using prefixcache::StatusCode;
using prefixcache::cluster::NodeSpec;
using prefixcache::cluster::Ring;

namespace {

constexpr std::size_t kKeyCount = 200'000;

std::vector<BlockKey> RandomKeys(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<BlockKey> keys;
  keys.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t high = rng();
    keys.push_back(BlockKey::FromHalves(high, rng()));
  }
  return keys;
}

std::vector<NodeSpec> Nodes(std::size_t count) {
  std::vector<NodeSpec> nodes;
  for (std::size_t i = 0; i < count; ++i) {
    nodes.push_back({"node-" + std::to_string(i), "10.0.0." + std::to_string(i + 1) + ":7379", 1});
  }
  return nodes;
}

Ring MustBuild(std::vector<NodeSpec> nodes,
               std::uint32_t vnodes = Ring::kDefaultVirtualNodesPerWeight,
               std::uint32_t replicas = 1) {
  auto ring = Ring::Build(std::move(nodes), vnodes, replicas);
  INFO(ring.status().ToString());
  REQUIRE(ring.ok());
  return std::move(ring).value();
}

const std::string& OwnerId(const Ring& ring, const BlockKey& key) {
  return ring.nodes()[ring.Owner(key)].id;
}

std::vector<std::size_t> Loads(const Ring& ring, const std::vector<BlockKey>& keys) {
  std::vector<std::size_t> loads(ring.nodes().size());
  for (const BlockKey& key : keys) ++loads[ring.Owner(key)];
  return loads;
}

}  // namespace

TEST_CASE("Ring is deterministic and independent of the order nodes are listed", "[unit]") {
  std::vector<NodeSpec> nodes = Nodes(6);
  nodes[2].weight = 3;
  Ring a = MustBuild(nodes);
  Ring b = MustBuild(nodes);
  std::vector<NodeSpec> shuffled = nodes;
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::reverse(shuffled.begin(), shuffled.end());
  Ring c = MustBuild(shuffled);

  CHECK(a.Fingerprint() == b.Fingerprint());
  CHECK(a.Fingerprint() == c.Fingerprint());
  CHECK(a.nodes() == c.nodes());
  CHECK(a.ToJson() == c.ToJson());
  CHECK(std::is_sorted(a.nodes().begin(), a.nodes().end(),
                       [](const NodeSpec& x, const NodeSpec& y) { return x.id < y.id; }));
  for (const BlockKey& key : RandomKeys(20'000, 1)) {
    REQUIRE(a.Owner(key) == b.Owner(key));
    REQUIRE(a.Owner(key) == c.Owner(key));
  }
  CHECK(a.point_count() == (5 + 3) * Ring::kDefaultVirtualNodesPerWeight);
}

TEST_CASE("Ring points follow the documented layout (pinned)", "[unit]") {
  // Step 2 of ring.h, recomputed with XXH3 directly.
  CHECK(Ring::PointPosition("node-a", 0) == XXH3_64bits("node-a#0", 8));
  CHECK(Ring::PointPosition("node-a", 17) == XXH3_64bits("node-a#17", 9));
  CHECK(Ring::PointPosition("x", 4294967295u) == XXH3_64bits("x#4294967295", 12));

  // A key's owner is the node of the first point at or after key.High(), wrapping.
  Ring ring = MustBuild(Nodes(3), 4);
  std::vector<std::pair<std::uint64_t, std::string>> points;
  for (const NodeSpec& node : ring.nodes()) {
    for (std::uint32_t j = 0; j < 4; ++j)
      points.emplace_back(Ring::PointPosition(node.id, j), node.id);
  }
  std::sort(points.begin(), points.end());
  for (const BlockKey& key : RandomKeys(5'000, 2)) {
    auto it =
        std::lower_bound(points.begin(), points.end(), std::make_pair(key.High(), std::string()));
    const std::string& expected = it == points.end() ? points.front().second : it->second;
    REQUIRE(OwnerId(ring, key) == expected);
  }
  // Keys exactly on a point, before the first and past the last point.
  CHECK(OwnerId(ring, BlockKey::FromHalves(points[5].first, 0)) == points[5].second);
  CHECK(OwnerId(ring, BlockKey::FromHalves(0, 0)) == points.front().second);
  CHECK(OwnerId(ring, BlockKey::FromHalves(~0ull, ~0ull)) ==
        (points.back().first == ~0ull ? points.back().second : points.front().second));

  // Pinned so that a change of the layout (which would move every key of a running
  // cluster and break other implementations) cannot go unnoticed.
  Ring pinned = MustBuild({{"a", "127.0.0.1:7001", 1}, {"b", "127.0.0.1:7002", 2}}, 16, 2);
  CHECK(pinned.Fingerprint() == 0x7f742feba006aae7ull);
}

TEST_CASE("Adding a node moves about 1/(N+1) of the keys, all to the new node", "[unit]") {
  const std::vector<BlockKey> keys = RandomKeys(kKeyCount, 42);
  for (std::size_t n = 4; n <= 8; ++n) {
    Ring before = MustBuild(Nodes(n));
    std::vector<NodeSpec> grown = Nodes(n);
    grown.push_back({"node-new", "10.0.1.1:7379", 1});
    Ring after = MustBuild(grown);

    std::size_t moved = 0;
    std::size_t moved_elsewhere = 0;
    for (const BlockKey& key : keys) {
      const std::string& old_owner = OwnerId(before, key);
      const std::string& new_owner = OwnerId(after, key);
      if (old_owner != new_owner) {
        ++moved;
        if (new_owner != "node-new") ++moved_elsewhere;
      }
    }
    const double fraction = static_cast<double>(moved) / keys.size();
    const double expected = 1.0 / (n + 1);
    INFO("N=" << n << " moved " << fraction << " expected " << expected);
    CHECK(moved_elsewhere == 0);
    CHECK(fraction == Approx(expected).epsilon(0.20));
  }
}

TEST_CASE("Removing a node moves about 1/N of the keys, only the removed node's", "[unit]") {
  const std::vector<BlockKey> keys = RandomKeys(kKeyCount, 43);
  for (std::size_t n = 4; n <= 8; ++n) {
    Ring before = MustBuild(Nodes(n));
    std::vector<NodeSpec> shrunk = Nodes(n);
    const std::string removed = shrunk[n / 2].id;
    shrunk.erase(shrunk.begin() + n / 2);
    Ring after = MustBuild(shrunk);

    std::size_t moved = 0;
    std::size_t moved_other = 0;
    for (const BlockKey& key : keys) {
      const std::string& old_owner = OwnerId(before, key);
      if (old_owner != OwnerId(after, key)) {
        ++moved;
        if (old_owner != removed) ++moved_other;
      }
    }
    const double fraction = static_cast<double>(moved) / keys.size();
    INFO("N=" << n << " moved " << fraction << " expected " << 1.0 / n);
    CHECK(moved_other == 0);
    CHECK(fraction == Approx(1.0 / n).epsilon(0.20));
  }
}

TEST_CASE("Default virtual nodes keep the most loaded of 8 equal nodes within 15% of the mean",
          "[unit]") {
  const std::vector<BlockKey> keys = RandomKeys(kKeyCount, 44);
  Ring ring = MustBuild(Nodes(8));
  std::vector<std::size_t> loads = Loads(ring, keys);
  const double mean = static_cast<double>(keys.size()) / loads.size();
  const double max_over_mean = *std::max_element(loads.begin(), loads.end()) / mean;
  const double min_over_mean = *std::min_element(loads.begin(), loads.end()) / mean;
  INFO("max/mean " << max_over_mean << " min/mean " << min_over_mean);
  CHECK(max_over_mean <= 1.15);
  CHECK(min_over_mean >= 0.85);
}

TEST_CASE("A weight-2 node gets about twice the keys of a weight-1 node", "[unit]") {
  const std::vector<BlockKey> keys = RandomKeys(kKeyCount, 45);
  std::vector<NodeSpec> nodes = Nodes(5);
  nodes[1].weight = 2;
  Ring ring = MustBuild(nodes);
  std::vector<std::size_t> loads = Loads(ring, keys);
  const std::size_t heavy = *ring.IndexOf("node-1");
  double light_sum = 0;
  for (std::size_t i = 0; i < loads.size(); ++i) {
    if (i != heavy) light_sum += loads[i];
  }
  const double ratio = loads[heavy] / (light_sum / (loads.size() - 1));
  INFO("weight-2 / mean weight-1 = " << ratio);
  CHECK(ratio == Approx(2.0).epsilon(0.15));
  CHECK(ring.point_count() == 6 * Ring::kDefaultVirtualNodesPerWeight);
}

TEST_CASE("Replicas are distinct, start with the owner, and agree with OwnsKey", "[unit]") {
  const std::vector<BlockKey> keys = RandomKeys(20'000, 46);
  for (std::uint32_t r : {1u, 2u, 3u, 5u}) {
    Ring ring = MustBuild(Nodes(5), Ring::kDefaultVirtualNodesPerWeight, r);
    CHECK(ring.replicas() == r);
    for (const BlockKey& key : keys) {
      std::vector<std::size_t> replicas = ring.Replicas(key);
      REQUIRE(replicas.size() == r);
      REQUIRE(replicas.front() == ring.Owner(key));
      REQUIRE(std::set<std::size_t>(replicas.begin(), replicas.end()).size() == r);
      for (std::size_t n = 0; n < ring.nodes().size(); ++n) {
        const bool listed = std::find(replicas.begin(), replicas.end(), n) != replicas.end();
        REQUIRE(ring.OwnsKey(n, key) == listed);
      }
      REQUIRE_FALSE(ring.OwnsKey(ring.nodes().size(), key));
    }
  }
}

TEST_CASE("Replicas beyond the inline limit are found too", "[unit]") {
  Ring ring = MustBuild(Nodes(20), 8, 20);
  for (const BlockKey& key : RandomKeys(500, 47)) {
    std::vector<std::size_t> replicas = ring.Replicas(key);
    REQUIRE(std::set<std::size_t>(replicas.begin(), replicas.end()).size() == 20);
    for (std::size_t n = 0; n < 20; ++n) REQUIRE(ring.OwnsKey(n, key));
  }
}

TEST_CASE("The second replica is the next distinct node clockwise", "[unit]") {
  Ring ring = MustBuild(Nodes(4), 3, 2);
  std::vector<std::pair<std::uint64_t, std::size_t>> points;
  for (std::size_t n = 0; n < ring.nodes().size(); ++n) {
    for (std::uint32_t j = 0; j < 3; ++j) {
      points.emplace_back(Ring::PointPosition(ring.nodes()[n].id, j), n);
    }
  }
  std::sort(points.begin(), points.end());
  for (const BlockKey& key : RandomKeys(2'000, 48)) {
    std::size_t p =
        std::lower_bound(points.begin(), points.end(), std::make_pair(key.High(), std::size_t{0})) -
        points.begin();
    p %= points.size();
    const std::size_t owner = points[p].second;
    std::size_t q = (p + 1) % points.size();
    while (points[q].second == owner) q = (q + 1) % points.size();
    REQUIRE(ring.Replicas(key) == std::vector<std::size_t>{owner, points[q].second});
  }
}

TEST_CASE("Walk lists every node clockwise; StandIn is the first live one past the replicas",
          "[unit]") {
  for (std::uint32_t r : {1u, 2u}) {
    Ring ring = MustBuild(Nodes(5), 16, r);
    // The walk agrees with the replica set of a ring that replicates on every node.
    Ring all = MustBuild(Nodes(5), 16, 5);
    for (const BlockKey& key : RandomKeys(2'000, 49)) {
      const std::vector<std::size_t> walk = ring.Walk(key);
      REQUIRE(walk == all.Replicas(key));
      const std::vector<std::size_t> replicas = ring.Replicas(key);
      REQUIRE(std::equal(replicas.begin(), replicas.end(), walk.begin()));
      // Every node live: the first node after the replica set.
      REQUIRE(ring.StandIn(key, [](std::size_t) { return true; }) == walk[r]);
      // The next one down too: the one after it; the replicas are never asked about.
      std::vector<std::size_t> asked;
      auto stand_in = ring.StandIn(key, [&](std::size_t n) {
        asked.push_back(n);
        return n != walk[r];
      });
      REQUIRE(stand_in == walk[r + 1]);
      REQUIRE(asked == std::vector<std::size_t>{walk[r], walk[r + 1]});
      REQUIRE_FALSE(ring.StandIn(key, [](std::size_t) { return false; }).has_value());
    }
  }
  // A single node, or replicas on every node: no stand-in exists.
  Ring one = MustBuild(Nodes(1), 4, 1);
  CHECK_FALSE(one.StandIn(RandomKeys(1, 50)[0], [](std::size_t) { return true; }).has_value());
}

TEST_CASE("IndexOf finds nodes by id", "[unit]") {
  Ring ring = MustBuild({{"c", "h:3", 1}, {"a", "h:1", 1}, {"b", "h:2", 1}});
  CHECK(ring.IndexOf("a") == 0u);
  CHECK(ring.IndexOf("b") == 1u);
  CHECK(ring.IndexOf("c") == 2u);
  CHECK(ring.nodes()[2].address == "h:3");
  CHECK_FALSE(ring.IndexOf("d").has_value());
  CHECK_FALSE(ring.IndexOf("").has_value());
}

TEST_CASE("Ring::Build rejects bad membership with a message naming the entry", "[unit]") {
  auto expect_error = [](std::vector<NodeSpec> nodes, std::uint32_t vnodes, std::uint32_t replicas,
                         const std::string& message) {
    auto ring = Ring::Build(std::move(nodes), vnodes, replicas);
    REQUIRE_FALSE(ring.ok());
    CHECK(ring.status().code() == StatusCode::kInvalidArgument);
    CHECK(ring.status().message() == message);
  };
  expect_error({}, 256, 1, "nodes: the ring needs at least one node");
  expect_error({{"a", "h:1", 1}, {"", "h:2", 1}}, 256, 1, "nodes[1]: empty id");
  expect_error({{"a", "h:1", 1}, {"b", "h:2", 1}, {"a", "h:3", 1}}, 256, 1,
               "nodes[2]: duplicate id \"a\" (also nodes[0])");
  expect_error({{"a", "h:1", 1}, {"b\"x", "h:2", 0}}, 256, 1,
               "nodes[1] (id \"b\\\"x\"): weight must be >= 1, got 0");
  expect_error(Nodes(3), 256, 0, "replicas: must be between 1 and the node count (3), got 0");
  expect_error(Nodes(3), 256, 4, "replicas: must be between 1 and the node count (3), got 4");
  expect_error(Nodes(3), 0, 1, "virtual_nodes_per_weight: must be >= 1, got 0");
  expect_error({{"a", "h:1", 1}, {"b", "h:2", 4'000'000'000u}}, 256, 1,
               "nodes[1] (id \"b\"): too many ring points: sum of weights * "
               "virtual_nodes_per_weight (256) exceeds 16777216");
  CHECK(Ring::Build(Nodes(3), 256, 3).ok());
  CHECK(Ring::Build({{"solo", "", 1}}).ok());
}

TEST_CASE("ToJson describes the ring, and the fingerprint follows every parameter", "[unit]") {
  std::vector<NodeSpec> nodes = {{"b", "10.0.0.2:7379", 2}, {"a\"\\\n\x01", "10.0.0.1:7379", 1}};
  Ring ring = MustBuild(nodes, 64, 2);
  const std::string json = ring.ToJson();
  char fingerprint[17];
  std::snprintf(fingerprint, sizeof fingerprint, "%016llx",
                static_cast<unsigned long long>(ring.Fingerprint()));
  CHECK(json ==
        "{\"nodes\":[{\"id\":\"a\\\"\\\\\\n\\u0001\",\"address\":\"10.0.0.1:7379\",\"weight\":1},"
        "{\"id\":\"b\",\"address\":\"10.0.0.2:7379\",\"weight\":2}],"
        "\"virtual_nodes_per_weight\":64,\"replicas\":2,\"points\":192,\"fingerprint\":\"" +
            std::string(fingerprint) + "\"}");

  auto fingerprint_with = [&](auto change, std::uint32_t vnodes = 64, std::uint32_t replicas = 2) {
    std::vector<NodeSpec> changed = nodes;
    change(changed);
    return MustBuild(changed, vnodes, replicas).Fingerprint();
  };
  auto same = [](std::vector<NodeSpec>&) {};
  CHECK(fingerprint_with(same) == ring.Fingerprint());
  CHECK(fingerprint_with([](std::vector<NodeSpec>& n) { n[0].weight = 3; }) != ring.Fingerprint());
  CHECK(fingerprint_with([](std::vector<NodeSpec>& n) { n[0].address = "10.0.0.9:7379"; }) !=
        ring.Fingerprint());
  CHECK(fingerprint_with([](std::vector<NodeSpec>& n) { n[0].id = "c"; }) != ring.Fingerprint());
  CHECK(fingerprint_with(same, 65) != ring.Fingerprint());
  CHECK(fingerprint_with(same, 64, 1) != ring.Fingerprint());
}

TEST_CASE("A shared ring can be swapped while readers route keys", "[unit]") {
  std::mutex mu;
  std::shared_ptr<const Ring> current = std::make_shared<const Ring>(MustBuild(Nodes(4)));
  auto load = [&] {
    std::lock_guard lock(mu);
    return current;
  };
  const std::vector<BlockKey> keys = RandomKeys(1'000, 50);
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> routed{0};
  std::atomic<std::size_t> misrouted{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      do {
        // A request keeps the ring it started with even if a new one is published meanwhile.
        std::shared_ptr<const Ring> ring = load();
        for (const BlockKey& key : keys) {
          if (!ring->OwnsKey(ring->Owner(key), key)) misrouted.fetch_add(1);
        }
        routed.fetch_add(keys.size());
      } while (!stop.load());
    });
  }
  for (std::size_t n = 5; n <= 12; ++n) {
    auto next = std::make_shared<const Ring>(MustBuild(Nodes(n)));
    std::lock_guard lock(mu);
    current = std::move(next);
  }
  stop.store(true);
  for (std::thread& t : readers) t.join();
  CHECK(load()->nodes().size() == 12);
  CHECK(routed.load() >= 3 * keys.size());
  CHECK(misrouted.load() == 0);
}

TEST_CASE("OwnerShares sum to 1 and match the fraction of random keys each node owns", "[unit]") {
  const std::vector<BlockKey> keys = RandomKeys(kKeyCount, 44);
  std::vector<NodeSpec> nodes = Nodes(4);
  nodes[2].weight = 3;
  const Ring ring = MustBuild(nodes, 64);
  const std::vector<double> shares = ring.OwnerShares();
  REQUIRE(shares.size() == 4);
  double sum = 0;
  for (double share : shares) sum += share;
  CHECK(sum == Approx(1.0).epsilon(1e-9));
  const std::vector<std::size_t> loads = Loads(ring, keys);
  for (std::size_t i = 0; i < shares.size(); ++i) {
    INFO("node " << i << " share " << shares[i] << " keys " << loads[i]);
    // 200k keys: the sampled fraction is within ~1% (absolute) of the exact share.
    CHECK(static_cast<double>(loads[i]) / keys.size() == Approx(shares[i]).margin(0.01));
  }
  CHECK(shares[2] > shares[0]);
  CHECK(MustBuild(Nodes(1), 1).OwnerShares() == std::vector<double>{1.0});
}
