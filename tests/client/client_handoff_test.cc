// Dead-node routing against real daemons: while a key's owner is down its reads and writes
// go to its stand-in (cluster::Ring::StandIn), they go back when it returns (a miss there
// is read from the stand-in and copied back), and an erase during an outage leaves no copy.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "client_test_util.h"
#include "local_cluster.h"
#include "prefixcache/admin.h"

namespace prefixcache::testing {
namespace {

constexpr int kVictim = 1;
constexpr std::size_t kSize = 8192;

// Whether node `id` holds `key` (EXISTS straight to the node, bypassing the routing).
bool Holds(Client& client, const std::string& id, const BlockKey& key) {
  const std::string_view exists[] = {"EXISTS", key.View()};
  auto reply = admin::Command(client, id, exists);
  return reply.ok() && *reply == "1";
}

// The victim's keys among `keys` and, for each, the node standing in while it is down.
struct VictimKeys {
  std::vector<std::size_t> index;
  std::vector<std::size_t> stand_in;
};

VictimKeys KeysOn(const cluster::Ring& ring, std::span<const BlockKey> keys) {
  VictimKeys out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (ring.Owner(keys[i]) != kVictim) continue;
    out.index.push_back(i);
    out.stand_in.push_back(
        *ring.StandIn(keys[i], [](std::size_t n) { return n != std::size_t{kVictim}; }));
  }
  return out;
}

// Kills the victim and makes `client` notice: a call to it fails and marks it down.
void KillAndNotice(LocalCluster& cluster, Client& client, std::span<const BlockKey> keys) {
  cluster.KillNode(kVictim);
  client.Match(keys);
  REQUIRE_FALSE(client.Stats().nodes[kVictim].up);
}

// Restarts the victim and waits until `client` has found it up again (a probe answered).
void RestartAndNotice(LocalCluster& cluster, Client& client, std::span<const BlockKey> keys) {
  REQUIRE(cluster.StartNode(kVictim));
  REQUIRE(WaitUntil([&] {
    client.Match(keys);
    return client.Stats().nodes[kVictim].up;
  }));
}

// A started three-node cluster, a client, and `count` keys with values of kSize bytes.
struct HandoffSetup {
  HandoffSetup(std::size_t count, std::uint64_t seed)
      : options(Start(cluster)),
        client(OpenClient(options)),
        ring(RingOf(options)),
        keys(RandomKeys(count, seed)),
        values(ValuesFor(keys, kSize)),
        victim(KeysOn(ring, keys)) {}

  static ClientOptions Start(LocalCluster& cluster) {
    REQUIRE(cluster.Start());
    return Patient(cluster.ClientOptions());
  }

  LocalCluster cluster;
  const ClientOptions options;
  std::unique_ptr<Client> client;
  const cluster::Ring ring;
  const std::vector<BlockKey> keys;
  const std::vector<std::vector<std::byte>> values;
  const VictimKeys victim;
};

TEST_CASE("client: a down owner's keys are written to and read from its stand-in, then go back",
          "[integration]") {
  HandoffSetup setup(60, 31);
  auto& [cluster, options, client, ring, keys, values, victim] = setup;
  REQUIRE(victim.index.size() > 5);

  KillAndNotice(cluster, *client, keys);
  auto put = client->Put(keys, ConstSpans(values), Depths(keys.size()));
  REQUIRE(put.ok());
  CHECK(put->stored == keys.size());
  CHECK(client->Stats().stand_in_writes == victim.index.size());
  for (std::size_t j = 0; j < victim.index.size(); ++j) {
    CHECK(Holds(*client, cluster.id(static_cast<int>(victim.stand_in[j])), keys[victim.index[j]]));
  }

  // Reads of the whole prefix find every block, the victim's on their stand-ins.
  std::vector<std::vector<std::byte>> out(keys.size(), std::vector<std::byte>(kSize));
  std::vector<BlockRead> reads(keys.size());
  CHECK(client->GetPrefix(keys, MutableSpans(out), reads).value() == keys.size());
  CHECK(out == values);
  CHECK(client->Match(keys) == keys.size());
  CHECK(client->Stats().stand_in_hits == victim.index.size());
  CHECK(client->Stats().copied_back == 0);  // the owner is still down

  // Back up (killed: its memory is gone, and these blocks never reached its spill): the
  // read misses on the owner, finds the blocks on the stand-ins and copies them back.
  RestartAndNotice(cluster, *client, keys);
  for (std::size_t j : victim.index) CHECK_FALSE(Holds(*client, cluster.id(kVictim), keys[j]));
  for (auto& o : out) std::fill(o.begin(), o.end(), std::byte{0});
  CHECK(client->GetPrefix(keys, MutableSpans(out), reads).value() == keys.size());
  CHECK(out == values);
  CHECK(client->Stats().stand_in_hits == 2 * victim.index.size());
  CHECK(client->Stats().copied_back == victim.index.size());
  REQUIRE(client->FlushAsync(static_cast<std::uint32_t>(kGenerousBound.count())));
  for (std::size_t j : victim.index) CHECK(Holds(*client, cluster.id(kVictim), keys[j]));
  // Now the owner answers for itself: no further stand-in hit.
  CHECK(client->GetInto(keys, MutableSpans(out), reads).value() == keys.size());
  CHECK(client->Stats().stand_in_hits == 2 * victim.index.size());

  // New blocks go to the owner again, not to the stand-in.
  const auto fresh = RandomKeys(60, 32);
  const VictimKeys fresh_victim = KeysOn(ring, fresh);
  const auto before = client->Stats().stand_in_writes;
  REQUIRE(client->Put(fresh, ConstSpans(ValuesFor(fresh, kSize)), Depths(fresh.size()))->stored ==
          fresh.size());
  CHECK(client->Stats().stand_in_writes == before);
  for (std::size_t j = 0; j < fresh_victim.index.size(); ++j) {
    const BlockKey& key = fresh[fresh_victim.index[j]];
    CHECK(Holds(*client, cluster.id(kVictim), key));
    CHECK_FALSE(Holds(*client, cluster.id(static_cast<int>(fresh_victim.stand_in[j])), key));
  }
  CHECK(client->Stats().checksum_failures == 0);
}

TEST_CASE("client: an erase during an outage leaves no copy behind", "[integration]") {
  HandoffSetup setup(40, 33);
  auto& [cluster, options, client, ring, keys, values, victim] = setup;
  REQUIRE(victim.index.size() > 3);

  KillAndNotice(cluster, *client, keys);
  REQUIRE(client->Put(keys, ConstSpans(values), Depths(keys.size()))->stored == keys.size());
  const EraseResult erased = client->Erase(keys);
  CHECK(erased.removed == keys.size());  // each block's one copy, the victim's on stand-ins
  CHECK(erased.unreachable == victim.index.size());  // the owner could not be asked

  RestartAndNotice(cluster, *client, keys);
  for (int n = 0; n < cluster.size(); ++n) {
    for (const BlockKey& key : keys) CHECK_FALSE(Holds(*client, cluster.id(n), key));
  }
  CHECK(client->Match(keys) == 0);
  auto got = client->Get(keys);
  for (const auto& v : got) CHECK_FALSE(v.has_value());

  SECTION("an erase after the owner returned also clears the stand-in's copy") {
    KillAndNotice(cluster, *client, keys);
    REQUIRE(client->Put(keys, ConstSpans(values), Depths(keys.size()))->stored == keys.size());
    RestartAndNotice(cluster, *client, keys);
    const EraseResult later = client->Erase(keys);
    CHECK(later.removed == keys.size());
    CHECK(later.unreachable == 0);
    for (int n = 0; n < cluster.size(); ++n) {
      for (const BlockKey& key : keys) CHECK_FALSE(Holds(*client, cluster.id(n), key));
    }
  }
}

}  // namespace
}  // namespace prefixcache::testing
