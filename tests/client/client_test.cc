// Client against real prefixcached daemons: put/match/get across shards, caller buffers,
// erased blocks, corrupted values, async puts, ring swaps and ring agreement.
#include "prefixcache/client.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "client_test_util.h"
#include "local_cluster.h"
#include "prefixcache/admin.h"
#include "prefixcache/value_format.h"

namespace prefixcache::testing {
namespace {

TEST_CASE("client: put, match and get across three shards", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));

  constexpr std::size_t kBlocks = 48;
  constexpr std::size_t kSize = 64 * 1024;
  const auto keys = RandomKeys(kBlocks, 1);
  const auto values = ValuesFor(keys, kSize);

  // The keys really spread over all three nodes.
  const cluster::Ring ring = RingOf(cluster.ClientOptions());
  std::vector<int> per_node(3, 0);
  for (const auto& key : keys) ++per_node[ring.Owner(key)];
  for (int n : per_node) CHECK(n > 5);

  REQUIRE(client->Match(keys) == 0);
  auto put = client->Put(keys, ConstSpans(values), Depths(kBlocks));
  REQUIRE(put.ok());
  CHECK(put->stored == kBlocks);
  CHECK(put->not_stored == 0);

  CHECK(client->Match(keys) == kBlocks);
  CHECK(client->Match(std::span(keys).first(10)) == 10);
  auto longer = keys;
  const auto extra = RandomKeys(3, 2);
  longer.insert(longer.end(), extra.begin(), extra.end());
  CHECK(client->Match(longer) == kBlocks);
  auto missing_first = longer;
  std::swap(missing_first[0], missing_first[kBlocks]);
  CHECK(client->Match(missing_first) == 0);
  CHECK(client->Match({}) == 0);

  SECTION("Get returns owned buffers") {
    auto got = client->Get(keys);
    for (std::size_t i = 0; i < kBlocks; ++i) {
      REQUIRE(got[i].has_value());
      REQUIRE(got[i]->size() == kSize);
      CHECK(std::memcmp(got[i]->data(), values[i].data(), kSize) == 0);
    }
    auto none = client->Get(extra);
    for (const auto& v : none) CHECK_FALSE(v.has_value());
  }

  SECTION("GetInto fills caller buffers of exact size, with slack, and too small") {
    std::vector<std::vector<std::byte>> exact(kBlocks, std::vector<std::byte>(kSize));
    std::vector<std::vector<std::byte>> slack(
        kBlocks, std::vector<std::byte>(kSize + kValueTrailerBytes + 100));
    std::vector<std::vector<std::byte>> small(kBlocks, std::vector<std::byte>(kSize - 1));
    for (auto* buffers : {&exact, &slack}) {
      std::vector<BlockRead> reads(kBlocks);
      auto hits = client->GetInto(keys, MutableSpans(*buffers), reads);
      REQUIRE(hits.ok());
      CHECK(*hits == kBlocks);
      for (std::size_t i = 0; i < kBlocks; ++i) {
        CHECK(reads[i].status == BlockStatus::kHit);
        CHECK(reads[i].size == kSize);
        CHECK(std::memcmp((*buffers)[i].data(), values[i].data(), kSize) == 0);
      }
    }
    std::vector<BlockRead> reads(kBlocks);
    auto hits = client->GetInto(keys, MutableSpans(small), reads);
    REQUIRE(hits.ok());
    CHECK(*hits == 0);
    for (const auto& r : reads) {
      CHECK(r.status == BlockStatus::kTooSmall);
      CHECK(r.size == kSize);
    }
    CHECK(client->Stats().too_small_misses == kBlocks);

    // Mixed: hits and misses in one call, in request order.
    std::vector<std::vector<std::byte>> two(2, std::vector<std::byte>(kSize));
    std::vector<BlockKey> mixed = {extra[0], keys[5]};
    std::vector<BlockRead> mixed_reads(2);
    REQUIRE(client->GetInto(mixed, MutableSpans(two), mixed_reads).value() == 1);
    CHECK(mixed_reads[0].status == BlockStatus::kMiss);
    CHECK(mixed_reads[1].status == BlockStatus::kHit);
    CHECK(std::memcmp(two[1].data(), values[5].data(), kSize) == 0);
  }

  SECTION("mismatched spans are the only errors") {
    std::vector<BlockRead> reads(1);
    std::vector<std::vector<std::byte>> one(1, std::vector<std::byte>(kSize));
    auto r = client->GetInto(keys, MutableSpans(one), reads);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    auto p = client->Put(keys, ConstSpans(values), Depths(1));
    CHECK(p.status().code() == StatusCode::kInvalidArgument);
  }

  const ClientStats stats = client->Stats();
  CHECK(stats.blocks_stored == kBlocks);
  CHECK(stats.bytes_written == kBlocks * kSize);
  CHECK(stats.checksum_failures == 0);
  REQUIRE(stats.nodes.size() == 3);
  for (const auto& node : stats.nodes) {
    CHECK(node.up);
    CHECK(node.errors == 0);
    CHECK(node.requests > 0);
  }
  CHECK(stats.match.calls >= 5);
  CHECK(stats.put.calls == 1);
}

TEST_CASE("client: a large prefix on one node is split over its connections", "[integration]") {
  LocalClusterOptions options;
  options.nodes = 1;
  LocalCluster cluster(options);
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  constexpr std::size_t kBlocks = 16;
  constexpr std::size_t kSize = 2 << 20;
  const auto keys = RandomKeys(kBlocks, 3);
  const auto values = ValuesFor(keys, kSize);
  REQUIRE(client->Put(keys, ConstSpans(values), Depths(kBlocks))->stored == kBlocks);
  const auto before = client->Stats().nodes[0].requests;
  std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(kSize));
  std::vector<BlockRead> reads(kBlocks);
  REQUIRE(client->GetInto(keys, MutableSpans(out), reads).value() == kBlocks);
  // connections_per_node (4) sub-requests for one call.
  CHECK(client->Stats().nodes[0].requests - before == 4);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    CHECK(std::memcmp(out[i].data(), values[i].data(), kSize) == 0);
  }
}

TEST_CASE("client: a prefix whose middle block was erased matches up to it", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  constexpr std::size_t kBlocks = 20;
  const auto keys = RandomKeys(kBlocks, 4);
  const auto values = ValuesFor(keys, 4096);
  REQUIRE(client->Put(keys, ConstSpans(values), Depths(kBlocks))->stored == kBlocks);
  REQUIRE(client->Match(keys) == kBlocks);

  // DEL of a 16-byte key addresses the raw block; only its owner has it.
  const std::string_view del[] = {"DEL", keys[11].View()};
  int deleted = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    auto reply = admin::Command(*client, cluster.id(i), del);
    REQUIRE(reply.ok());
    deleted += std::stoi(*reply);
  }
  REQUIRE(deleted == 1);
  CHECK(client->Match(keys) == 11);
  auto got = client->Get(keys);
  for (std::size_t i = 0; i < kBlocks; ++i) CHECK(got[i].has_value() == (i != 11));
}

TEST_CASE("client: corrupted values are never handed over and are counted", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  const auto keys = RandomKeys(4, 5);
  const auto payload = ValueFor(keys[0], 100000);

  auto stored_for = [&](const BlockKey& key) {
    std::string v(reinterpret_cast<const char*>(payload.data()), payload.size());
    const auto trailer = MakeValueTrailer(key, payload);
    v.append(reinterpret_cast<const char*>(trailer.data()), trailer.size());
    return v;
  };
  std::string flipped = stored_for(keys[0]);
  flipped[500] ^= 0x01;                         // payload corrupted after the checksum
  std::string no_trailer = "short";             // written by something else
  std::string other_key = stored_for(keys[3]);  // a valid value of another key
  std::string good = stored_for(keys[3]);
  // Written straight over RESP to every node (only the owner will be asked).
  const std::string_view mset[] = {
      "BLOCK.MSET", "0", keys[0].View(), flipped,   "1", keys[1].View(),
      no_trailer,   "2", keys[2].View(), other_key, "3", keys[3].View(),
      good};
  for (int i = 0; i < cluster.size(); ++i) {
    auto reply = admin::Command(*client, cluster.id(i), mset);
    REQUIRE(reply.ok());
    CHECK(*reply == "OK");
  }
  auto got = client->Get(keys);
  CHECK_FALSE(got[0].has_value());
  CHECK_FALSE(got[1].has_value());
  CHECK_FALSE(got[2].has_value());
  REQUIRE(got[3].has_value());
  CHECK(got[3]->size() == payload.size());
  CHECK(client->Stats().checksum_failures == 3);

  std::vector<std::vector<std::byte>> out(4, std::vector<std::byte>(payload.size() + 64));
  std::vector<BlockRead> reads(4);
  CHECK(client->GetInto(keys, MutableSpans(out), reads).value() == 1);
  CHECK(reads[0].status == BlockStatus::kCorrupt);
  CHECK(reads[1].status == BlockStatus::kCorrupt);
  CHECK(reads[2].status == BlockStatus::kCorrupt);
  CHECK(reads[3].status == BlockStatus::kHit);
  CHECK(client->Stats().checksum_failures == 6);
}

TEST_CASE("client: PutAsync stores in the background and drops when full", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto options = Patient(cluster.ClientOptions());
  options.async_put_max_calls = 4;
  auto client = OpenClient(options);
  std::vector<std::vector<BlockKey>> batches;
  std::size_t accepted = 0, dropped = 0;
  for (int b = 0; b < 32; ++b) {
    batches.push_back(RandomKeys(8, 100 + b));
    const auto values = ValuesFor(batches.back(), 256 * 1024);
    if (client->PutAsync(batches.back(), ConstSpans(values), Depths(8))) {
      ++accepted;
    } else {
      ++dropped;
    }
  }
  CHECK(accepted >= 4);
  REQUIRE(client->FlushAsync(static_cast<std::uint32_t>(kGenerousBound.count())));
  const auto stats = client->Stats();
  CHECK(stats.async_puts_dropped == dropped);
  CHECK(stats.async_puts_pending == 0);
  CHECK(stats.blocks_stored == accepted * 8);
  std::size_t matched_batches = 0;
  for (const auto& keys : batches) matched_batches += client->Match(keys) == 8;
  CHECK(matched_batches == accepted);

  // The Buffer overload takes ownership without a copy.
  const auto keys = RandomKeys(2, 999);
  std::vector<Buffer> owned;
  for (const auto& k : keys) {
    const auto value = ValueFor(k, 1000);
    owned.push_back(Buffer::Copy(std::span<const std::byte>(value)));
  }
  REQUIRE(client->PutAsync(keys, std::move(owned), Depths(2)));
  REQUIRE(client->FlushAsync(static_cast<std::uint32_t>(kGenerousBound.count())));
  CHECK(client->Match(keys) == 2);
}

TEST_CASE("client: UpdateNodes swaps the ring while the client runs", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto all = Patient(cluster.ClientOptions());
  auto two = all;
  two.nodes.pop_back();
  auto client = OpenClient(two);
  const std::uint64_t fingerprint_two = admin::RingFingerprint(*client);
  const auto keys = RandomKeys(60, 6);
  const auto values = ValuesFor(keys, 1024);
  REQUIRE(client->Put(keys, ConstSpans(values), Depths(60))->stored == 60);

  REQUIRE(client->UpdateNodes(all.nodes).ok());
  CHECK(admin::RingFingerprint(*client) != fingerprint_two);
  CHECK(admin::RingFingerprint(*client) == RingOf(all).Fingerprint());
  CHECK(admin::Nodes(*client).size() == 3);
  // Keys that moved to n3 are misses now; the others still hit.
  const cluster::Ring ring = RingOf(all);
  auto got = client->Get(keys);
  std::size_t moved = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const bool on_new = ring.nodes()[ring.Owner(keys[i])].id == "n3";
    moved += on_new;
    CHECK(got[i].has_value() == !on_new);
  }
  CHECK(moved > 0);
  CHECK(moved < keys.size());

  CHECK(client->UpdateNodes({}).code() == StatusCode::kInvalidArgument);
  CHECK(admin::RingFingerprint(*client) == ring.Fingerprint());
}

TEST_CASE("client: the daemons' ring and the client's ring agree", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  const std::string_view ring_cmd[] = {"BLOCK.RING"};
  for (int i = 0; i < cluster.size(); ++i) {
    auto json = admin::Command(*client, cluster.id(i), ring_cmd);
    REQUIRE(json.ok());
    CHECK(*json == admin::RingJson(*client));
  }
  CHECK(admin::Command(*client, "nope", ring_cmd).status().code() == StatusCode::kNotFound);
}

TEST_CASE("client: AUTH with the cluster password", "[integration]") {
  LocalClusterOptions options;
  options.password = "s3cret";
  LocalCluster cluster(options);
  REQUIRE(cluster.Start());
  const auto keys = RandomKeys(12, 7);
  const auto values = ValuesFor(keys, 2048);
  {
    auto client = OpenClient(Patient(cluster.ClientOptions()));
    REQUIRE(client->Put(keys, ConstSpans(values), Depths(12))->stored == 12);
    CHECK(client->Match(keys) == 12);
  }
  auto wrong = Patient(cluster.ClientOptions());
  wrong.password = "guess";
  auto client = OpenClient(wrong);
  CHECK(client->Match(keys) == 0);
  auto put = client->Put(keys, ConstSpans(values), Depths(12));
  REQUIRE(put.ok());
  CHECK(put->stored == 0);
}

}  // namespace
}  // namespace prefixcache::testing
