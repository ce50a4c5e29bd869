// The client's failure policy against real failures: nodes that never answer, refuse
// connections, or are killed with SIGKILL in the middle of a run and restarted on their
// spill folder; replicas taking over reads. No failure may reach the caller as an error.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>

#include "client_test_util.h"
#include "local_cluster.h"
#include "prefixcache/client.h"

namespace prefixcache::testing {
namespace {

TEST_CASE("client: a node that accepts but never answers times out into misses", "[integration]") {
  SilentServer silent;
  ClientOptions options;
  options.nodes = {{"hung", silent.address(), 1}};
  options.timeout_ms = 300;
  // Longer than the test: once down, the node stays down.
  options.backoff_initial_ms = 600000;
  options.backoff_max_ms = 600000;
  auto client = OpenClient(options);
  const auto keys = RandomKeys(8, 10);

  CHECK(client->Match(keys) == 0);
  CHECK(WaitUntil([&] { return silent.accepted() >= 1; }));
  auto stats = client->Stats();
  REQUIRE(stats.nodes.size() == 1);
  CHECK(stats.nodes[0].timeouts >= 1);  // the call ended by its timeout, not by an error
  CHECK_FALSE(stats.nodes[0].up);
  CHECK(stats.nodes[0].current_backoff_ms == 600000);
  const std::uint64_t requests = stats.nodes[0].requests;

  // While in backoff the node is skipped: no request reaches it, and its keys are misses.
  std::vector<std::vector<std::byte>> out(8, std::vector<std::byte>(64));
  std::vector<BlockRead> reads(8);
  auto hits = client->GetInto(keys, MutableSpans(out), reads);
  REQUIRE(hits.ok());
  CHECK(*hits == 0);
  for (const auto& r : reads) CHECK(r.status == BlockStatus::kUnavailable);
  const auto values = ValuesFor(keys, 64);
  auto put = client->Put(keys, ConstSpans(values), Depths(8));
  REQUIRE(put.ok());
  CHECK(put->not_stored == 8);
  CHECK(client->Match(keys) == 0);
  stats = client->Stats();
  CHECK(stats.nodes[0].requests == requests);
  CHECK(stats.unavailable_misses == 8);
  CHECK(stats.blocks_not_stored == 8);
}

TEST_CASE("client: a refused node is skipped, the others keep serving", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto options = Patient(cluster.ClientOptions());
  cluster.StopNode(2);  // n3's port now refuses connections
  auto client = OpenClient(options);
  const cluster::Ring ring = RingOf(options);
  const auto keys = RandomKeys(40, 11);
  const auto values = ValuesFor(keys, 8192);
  auto put = client->Put(keys, ConstSpans(values), Depths(40));
  REQUIRE(put.ok());
  std::size_t on_dead = 0;
  for (const auto& k : keys) on_dead += ring.Owner(k) == 2;
  REQUIRE(on_dead > 0);
  CHECK(put->not_stored == on_dead);
  CHECK(put->stored == keys.size() - on_dead);
  auto got = client->Get(keys);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(got[i].has_value() == (ring.Owner(keys[i]) != 2));
  }
  const auto stats = client->Stats();
  CHECK_FALSE(stats.nodes[2].up);
  CHECK(stats.nodes[2].errors >= 1);
  CHECK(stats.nodes[0].up);
  CHECK(stats.nodes[1].up);
}

TEST_CASE("client: a silent node in the cluster costs its keys, not the call", "[integration]") {
  LocalClusterOptions cluster_options;
  cluster_options.nodes = 2;
  LocalCluster cluster(cluster_options);
  REQUIRE(cluster.Start());
  SilentServer silent;
  auto options = cluster.ClientOptions();
  options.nodes.push_back({"n3", silent.address(), 1});
  // The call waits this long for the silent node: long enough that the live nodes always
  // answer within it. Once down, n3 stays down for the rest of the test.
  options.timeout_ms = 5000;
  options.backoff_initial_ms = 600000;
  options.backoff_max_ms = 600000;
  auto client = OpenClient(options);
  const cluster::Ring ring = RingOf(options);
  const auto keys = RandomKeys(30, 12);
  const auto values = ValuesFor(keys, 4096);
  std::size_t on_silent = 0;
  for (const auto& k : keys) on_silent += ring.Owner(k) == 2;
  REQUIRE(on_silent > 0);
  auto put = client->Put(keys, ConstSpans(values), Depths(30));
  REQUIRE(put.ok());
  CHECK(put->not_stored == on_silent);
  auto got = client->Get(keys);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(got[i].has_value() == (ring.Owner(keys[i]) != 2));
  }
  const auto stats = client->Stats();
  CHECK(stats.nodes[2].timeouts >= 1);
  CHECK_FALSE(stats.nodes[2].up);
  for (int live : {0, 1}) {
    CHECK(stats.nodes[live].up);
    CHECK(stats.nodes[live].errors == 0);
  }
  // The put found n3 silent and marked it down: the get asked its keys of their stand-ins,
  // which answered (misses: they never held them).
  CHECK(stats.unavailable_misses == 0);
  CHECK(stats.misses == on_silent);
}

TEST_CASE("client: kill -9 of a node during gets and puts, then restart on its spill",
          "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  const auto options = Patient(cluster.ClientOptions());
  auto client = OpenClient(options);
  const cluster::Ring ring = RingOf(options);
  constexpr int kVictim = 1;
  constexpr std::size_t kSize = 32 * 1024;
  const auto prefix = RandomKeys(60, 13);
  const auto values = ValuesFor(prefix, kSize);
  REQUIRE(client->Put(prefix, ConstSpans(values), Depths(prefix.size()))->stored == prefix.size());
  std::vector<bool> on_victim;
  for (const auto& k : prefix) on_victim.push_back(ring.Owner(k) == kVictim);
  REQUIRE(std::count(on_victim.begin(), on_victim.end(), true) > 5);

  // A clean stop writes the victim's memory tier to its spill folder; it comes back with it.
  cluster.StopNode(kVictim);
  REQUIRE(cluster.StartNode(kVictim));
  auto all_hit = [&] {
    auto got = client->Get(prefix);
    for (const auto& v : got) {
      if (!v) return false;
    }
    return true;
  };
  REQUIRE(WaitUntil(all_hit));

  // A bounded run of gets and puts; the victim dies with SIGKILL a third of the way in.
  constexpr int kRounds = 90;
  std::size_t victim_misses_after_kill = 0, other_hits = 0, other_misses = 0;
  for (int round = 0; round < kRounds; ++round) {
    if (round == kRounds / 3) cluster.KillNode(kVictim);
    const bool killed = round >= kRounds / 3;
    auto got = client->Get(prefix);
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (on_victim[i]) {
        if (killed) {
          CHECK_FALSE(got[i].has_value());
          victim_misses_after_kill += !got[i];
        }
      } else if (got[i]) {
        ++other_hits;
        CHECK(std::memcmp(got[i]->data(), values[i].data(), kSize) == 0);
      } else {
        ++other_misses;
      }
    }
    const auto fresh = RandomKeys(6, 1000 + round);
    const auto fresh_values = ValuesFor(fresh, kSize);
    auto put = client->Put(fresh, ConstSpans(fresh_values), Depths(6));
    REQUIRE(put.ok());
    const std::size_t matched = client->Match(prefix);
    if (killed) {
      const auto first_victim = std::find(on_victim.begin(), on_victim.end(), true);
      CHECK(matched <= static_cast<std::size_t>(first_victim - on_victim.begin()));
    }
  }
  CHECK(other_misses == 0);
  CHECK(other_hits > 0);
  CHECK(victim_misses_after_kill > 0);
  const auto stats = client->Stats();
  CHECK(stats.nodes[kVictim].errors >= 1);
  // The victim's keys were asked of their stand-ins, which answered: misses, not unavailable.
  CHECK(stats.misses >= victim_misses_after_kill);
  CHECK(stats.stand_in_writes > 0);  // the fresh blocks of the victim went to the stand-ins
  for (int other = 0; other < cluster.size(); ++other) {
    if (other == kVictim) continue;
    CHECK(stats.nodes[other].errors == 0);
    CHECK(stats.nodes[other].up);
  }
  CHECK(stats.checksum_failures == 0);

  // Restarted on its spill folder, the victim serves the prefix blocks again (they were
  // spilled by the clean stop before the kill).
  REQUIRE(cluster.StartNode(kVictim));
  CHECK(WaitUntil(all_hit));
  CHECK(client->Stats().nodes[kVictim].up);
}

TEST_CASE("client: with two replicas reads fall back when a node dies", "[integration]") {
  LocalClusterOptions cluster_options;
  cluster_options.replicas = 2;
  LocalCluster cluster(cluster_options);
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  const auto keys = RandomKeys(40, 14);
  const auto values = ValuesFor(keys, 16384);
  auto put = client->Put(keys, ConstSpans(values), Depths(40));
  REQUIRE(put.ok());
  REQUIRE(put->stored == 40);
  CHECK(client->Stats().bytes_written == 2 * 40 * 16384);  // both copies

  cluster.KillNode(0);
  // The first call finds n1 dead mid-call and retries its keys on the next replica.
  CHECK(client->Match(keys) == 40);
  auto got = client->Get(keys);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    REQUIRE(got[i].has_value());
    CHECK(std::memcmp(got[i]->data(), values[i].data(), 16384) == 0);
  }
  std::vector<std::vector<std::byte>> out(40, std::vector<std::byte>(16384));
  std::vector<BlockRead> reads(40);
  CHECK(client->GetInto(keys, MutableSpans(out), reads).value() == 40);
}

TEST_CASE("client: Open rejects unusable options and nothing else", "[unit]") {
  ClientOptions options;
  CHECK(Client::Open(options).status().code() == StatusCode::kInvalidArgument);
  options.nodes = {{"a", "127.0.0.1:1", 1}};
  options.connections_per_node = 0;
  CHECK(Client::Open(options).status().code() == StatusCode::kInvalidArgument);
  options.connections_per_node = 2;
  options.replicas = 2;
  CHECK(Client::Open(options).status().code() == StatusCode::kInvalidArgument);
  options.replicas = 1;
  options.nodes = {{"a", "no-port", 1}};
  CHECK(Client::Open(options).status().code() == StatusCode::kInvalidArgument);
  options.nodes = {{"a", "127.0.0.1:1", 1}, {"a", "127.0.0.1:2", 1}};
  CHECK(Client::Open(options).status().code() == StatusCode::kInvalidArgument);
  options.nodes = {{"a", "127.0.0.1:1", 1}};
  options.backoff_max_ms = 1;
  CHECK(Client::Open(options).status().code() == StatusCode::kInvalidArgument);
  options.backoff_max_ms = 1000;
  // Nodes are contacted lazily: a node that is down does not fail Open.
  auto opened = Client::Open(options);
  REQUIRE(opened.ok());
  const auto keys = RandomKeys(3, 15);
  CHECK((*opened)->Match(keys) == 0);
}

}  // namespace
}  // namespace prefixcache::testing
