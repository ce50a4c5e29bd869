// The client's fetch path: GetPrefix in one round trip, destinations and values in parts,
// asynchronous reads and their cancellation, per-call timeouts, the ring check, Erase, and
// the retry rules -- only unsettled keys are retried, a nil or a failure falls back to the
// next replica, a replica that lost its data does not turn hits into misses. Against real
// daemons, and against FaultServer where the fault (a node dying in the middle of a reply)
// is the point.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <string>

#include "client_test_util.h"
#include "fault_server.h"
#include "local_cluster.h"
#include "prefixcache/admin.h"
#include "prefixcache/client.h"
#include "prefixcache/value_format.h"

namespace prefixcache::testing {
namespace {

// The value the client stores for `payload` under `key`: payload || trailer.
std::string StoredValue(const BlockKey& key, const std::vector<std::byte>& payload) {
  std::string v(reinterpret_cast<const char*>(payload.data()), payload.size());
  const ValueTrailer trailer = MakeValueTrailer(key, payload);
  v.append(reinterpret_cast<const char*>(trailer.data()), trailer.size());
  return v;
}

// The wire bytes of a BLOCK.MGET(PREFIX) reply's array header and its first `whole`
// values, plus `extra` bytes into the next one.
std::size_t BytesThrough(const std::vector<std::string>& stored, std::size_t total,
                         std::size_t whole, std::size_t extra) {
  std::size_t n = ("*" + std::to_string(total) + "\r\n").size();
  for (std::size_t i = 0; i < whole; ++i) {
    n += ("$" + std::to_string(stored[i].size()) + "\r\n").size() + stored[i].size() + 2;
  }
  return n + extra;
}

// Keys whose first replica is node `owner` of `ring`.
std::vector<BlockKey> KeysOwnedBy(const cluster::Ring& ring, std::size_t owner, std::size_t n,
                                  std::uint64_t seed) {
  std::vector<BlockKey> out;
  for (const BlockKey& key : RandomKeys(n * 8, seed)) {
    if (out.size() < n && ring.Owner(key) == owner) out.push_back(key);
  }
  REQUIRE(out.size() == n);
  return out;
}

// K and V halves of each block, in two separate pools (SGLang's page_first layout).
struct HalvesPages {
  HalvesPages(std::size_t blocks, std::size_t block_bytes)
      : k(blocks * block_bytes / 2), v(blocks * block_bytes / 2) {
    const std::size_t half = block_bytes / 2;
    for (std::size_t i = 0; i < blocks; ++i) {
      parts.emplace_back(k.data() + i * half, half);
      parts.emplace_back(v.data() + i * half, half);
    }
    for (std::size_t i = 0; i < blocks; ++i) {
      destinations.push_back({std::span(parts).subspan(2 * i, 2)});
    }
  }
  bool Holds(std::size_t i, const std::vector<std::byte>& value) const {
    const std::size_t half = value.size() / 2;
    return std::memcmp(parts[2 * i].data(), value.data(), half) == 0 &&
           std::memcmp(parts[2 * i + 1].data(), value.data() + half, half) == 0;
  }
  std::vector<std::byte> k, v;
  std::vector<std::span<std::byte>> parts;
  std::vector<Destination> destinations;
};

// Commands a daemon processed, not counting the INFO that asks.
std::uint64_t CommandsProcessed(Client& client, const std::string& node) {
  const std::string_view info[] = {"INFO", "stats"};
  const Result<std::string> text = admin::Command(client, node, info);
  REQUIRE(text.ok());
  const std::string field = "total_commands_processed:";
  const std::size_t at = text->find(field);
  REQUIRE(at != std::string::npos);
  return std::stoull(text->substr(at + field.size()));
}

TEST_CASE("GetPrefix: the leading run in one round trip, into exact and two-part destinations",
          "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto options = Patient(cluster.ClientOptions());
  options.connections_per_node = 1;  // a node's share is one command
  auto client = OpenClient(options);
  constexpr std::size_t kBlocks = 64;
  constexpr std::size_t kSize = 96 * 1024;
  const auto keys = RandomKeys(kBlocks, 40);
  const auto values = ValuesFor(keys, kSize);
  REQUIRE(client->Put(keys, ConstSpans(values), Depths(kBlocks))->stored == kBlocks);
  const BlockKey gap[] = {keys[40]};
  const EraseResult erased = client->Erase(gap);
  CHECK(erased.removed == 1);
  CHECK(erased.unreachable == 0);

  SECTION("exact-size destinations") {
    std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(kSize));
    std::vector<BlockRead> reads(kBlocks);
    // Every node answers exactly one command for the call: its BLOCK.MGETPREFIX.
    std::vector<std::uint64_t> before;
    for (int n = 0; n < cluster.size(); ++n) {
      before.push_back(CommandsProcessed(*client, cluster.id(n)));
    }
    const std::uint64_t self = CommandsProcessed(*client, cluster.id(0)) - before[0];
    before[0] += self;
    auto run = client->GetPrefix(keys, MutableSpans(out), reads);
    REQUIRE(run.ok());
    CHECK(*run == 40);
    for (int n = 0; n < cluster.size(); ++n) {
      CHECK(CommandsProcessed(*client, cluster.id(n)) - before[static_cast<std::size_t>(n)] ==
            1 + self);
    }
    for (std::size_t i = 0; i < 40; ++i) {
      CHECK(reads[i].status == BlockStatus::kHit);
      CHECK(reads[i].size == kSize);
      CHECK(std::memcmp(out[i].data(), values[i].data(), kSize) == 0);
    }
    CHECK(reads[40].status == BlockStatus::kMiss);
    const ClientStats stats = client->Stats();
    CHECK(stats.get_prefix.calls == 1);
    CHECK(stats.hits == 40);
    CHECK(stats.misses == kBlocks - 40);
    CHECK(stats.checksum_failures == 0);
    CHECK(stats.ring_mismatches == 0);
  }

  SECTION("K and V halves as the two parts of each destination") {
    HalvesPages pages(kBlocks, kSize);
    std::vector<BlockRead> reads(kBlocks);
    REQUIRE(client->GetPrefix(keys, pages.destinations, reads).value() == 40);
    for (std::size_t i = 0; i < 40; ++i) CHECK(pages.Holds(i, values[i]));
    // A run that is cached whole, and an empty one.
    REQUIRE(client
                ->GetPrefix(std::span(keys).first(40), std::span(pages.destinations).first(40),
                            std::span(reads).first(40))
                .value() == 40);
    CHECK(client->GetPrefix({}, std::span<const Destination>(), {}).value() == 0);
  }

  SECTION("a destination too small ends the run there") {
    std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(kSize));
    out[7].resize(kSize - 1);
    std::vector<BlockRead> reads(kBlocks);
    CHECK(client->GetPrefix(keys, MutableSpans(out), reads).value() == 7);
    CHECK(reads[7].status == BlockStatus::kTooSmall);
    CHECK(reads[7].size == kSize);
  }

  SECTION("mismatched spans are an error") {
    std::vector<std::vector<std::byte>> out(2, std::vector<std::byte>(kSize));
    std::vector<BlockRead> reads(2);
    CHECK(client->GetPrefix(keys, MutableSpans(out), reads).status().code() ==
          StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Put gathers a value from parts; GetInto scatters it into other parts", "[integration]") {
  LocalClusterOptions cluster_options;
  cluster_options.nodes = 1;
  LocalCluster cluster(cluster_options);
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  constexpr std::size_t kBlocks = 6;
  constexpr std::size_t kSize = 3 * 40000;
  const auto keys = RandomKeys(kBlocks, 41);
  const auto values = ValuesFor(keys, kSize);
  // Each value written from three uneven parts and an empty one.
  std::vector<std::span<const std::byte>> parts;
  for (const auto& v : values) {
    const std::span<const std::byte> all(v);
    parts.push_back(all.first(1000));
    parts.push_back(all.subspan(1000, 0));
    parts.push_back(all.subspan(1000, 70000));
    parts.push_back(all.subspan(71000));
  }
  std::vector<Source> sources;
  for (std::size_t i = 0; i < kBlocks; ++i) sources.push_back({std::span(parts).subspan(4 * i, 4)});
  REQUIRE(client->Put(keys, sources, Depths(kBlocks))->stored == kBlocks);
  // Read back whole (the checksum covers the parts' concatenation) and in halves.
  auto got = client->Get(keys);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    REQUIRE(got[i].has_value());
    CHECK(std::memcmp(got[i]->data(), values[i].data(), kSize) == 0);
  }
  HalvesPages pages(kBlocks, kSize);
  std::vector<BlockRead> reads(kBlocks);
  CHECK(client->GetInto(keys, pages.destinations, reads).value() == kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) CHECK(pages.Holds(i, values[i]));

  // PutAsync copies the parts.
  const auto more = RandomKeys(kBlocks, 42);
  REQUIRE(client->PutAsync(more, sources, Depths(kBlocks)));
  REQUIRE(client->FlushAsync(static_cast<std::uint32_t>(kGenerousBound.count())));
  got = client->Get(more);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    REQUIRE(got[i].has_value());
    CHECK(std::memcmp(got[i]->data(), values[i].data(), kSize) == 0);
  }
}

TEST_CASE("two replicas where one restarted empty: reads and Match fall back", "[integration]") {
  LocalClusterOptions cluster_options;
  cluster_options.nodes = 2;
  cluster_options.replicas = 2;
  LocalCluster cluster(cluster_options);
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  constexpr std::size_t kBlocks = 30;
  constexpr std::size_t kSize = 32 * 1024;
  const auto keys = RandomKeys(kBlocks, 43);
  const auto values = ValuesFor(keys, kSize);
  REQUIRE(client->Put(keys, ConstSpans(values), Depths(kBlocks))->stored == kBlocks);

  // n1 loses everything: killed, its spill folder removed, restarted empty.
  cluster.KillNode(0);
  std::filesystem::remove_all(cluster.spill_path(0));
  REQUIRE(cluster.StartNode(0));
  const std::string_view dbsize[] = {"DBSIZE"};
  REQUIRE(WaitUntil([&] { return admin::Command(*client, "n1", dbsize).ok(); }));
  REQUIRE(*admin::Command(*client, "n1", dbsize) == "0");

  CHECK(client->Match(keys) == kBlocks);
  std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(kSize));
  std::vector<BlockRead> reads(kBlocks);
  CHECK(client->GetPrefix(keys, MutableSpans(out), reads).value() == kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    CHECK(std::memcmp(out[i].data(), values[i].data(), kSize) == 0);
  }
  std::vector<std::vector<std::byte>> again(kBlocks, std::vector<std::byte>(kSize));
  CHECK(client->GetInto(keys, MutableSpans(again), reads).value() == kBlocks);
  for (const auto& r : reads) CHECK(r.status == BlockStatus::kHit);
  auto got = client->Get(keys);
  for (const auto& v : got) CHECK(v.has_value());
  const ClientStats stats = client->Stats();
  CHECK(stats.unavailable_misses == 0);
  CHECK(stats.checksum_failures == 0);
}

// One or two FaultServers ("a", "b"): with two, they are the two replicas of every key, and
// every key is first on a. One connection per node, so a node's share is one request.
struct FaultNodes {
  FaultNodes(int nodes, std::size_t blocks, std::size_t size, std::uint64_t seed) {
    for (int n = 0; n < nodes; ++n) {
      servers.push_back(std::make_unique<FaultServer>());
      options.nodes.push_back({n == 0 ? "a" : "b", servers.back()->address(), 1});
    }
    options.replicas = static_cast<std::uint32_t>(nodes);
    options.connections_per_node = 1;
    options = Patient(options);
    keys = KeysOwnedBy(RingOf(options), 0, blocks, seed);
    values = ValuesFor(keys, size);
    for (std::size_t i = 0; i < blocks; ++i) stored.push_back(StoredValue(keys[i], values[i]));
  }
  FaultServer& a() { return *servers[0]; }
  FaultServer& b() { return *servers[1]; }
  // Stores every block on `server` but block `skip`.
  void StoreOn(FaultServer& server, std::size_t skip = SIZE_MAX) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i != skip) server.Store(keys[i], stored[i]);
    }
  }
  // The raw keys from `from` on, as FaultServer records them.
  std::vector<std::string> Raw(std::size_t from) const {
    std::vector<std::string> raw;
    for (std::size_t i = from; i < keys.size(); ++i) raw.emplace_back(keys[i].View());
    return raw;
  }

  std::vector<std::unique_ptr<FaultServer>> servers;
  ClientOptions options;
  std::vector<BlockKey> keys;
  std::vector<std::vector<std::byte>> values;
  std::vector<std::string> stored;
};

TEST_CASE("a node dying in the middle of a reply: only the keys after the cut are retried",
          "[integration]") {
  constexpr std::size_t kBlocks = 8;
  constexpr std::size_t kSize = 50000;
  FaultNodes pair(2, kBlocks, kSize, 44);
  pair.StoreOn(pair.a());
  pair.StoreOn(pair.b());
  auto client = OpenClient(pair.options);
  const bool prefix = GENERATE(false, true);
  // a sends values 0..2 whole and half of value 3, then closes the connection.
  pair.a().CutNextValueReply(BytesThrough(pair.stored, kBlocks, 3, 25000));
  std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(kSize));
  std::vector<BlockRead> reads(kBlocks);
  auto got = prefix ? client->GetPrefix(pair.keys, MutableSpans(out), reads)
                    : client->GetInto(pair.keys, MutableSpans(out), reads);
  REQUIRE(got.ok());
  CHECK(*got == kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    CHECK(reads[i].status == BlockStatus::kHit);
    CHECK(std::memcmp(out[i].data(), pair.values[i].data(), kSize) == 0);
  }
  // The three values that arrived whole were settled as hits: b was asked only for the rest
  // (so nothing wrote into their destinations again).
  CHECK(pair.b().KeysAskedFor() == pair.Raw(3));
  CHECK(pair.a().KeysAskedFor() == pair.Raw(0));
  CHECK(client->Stats().checksum_failures == 0);
}

TEST_CASE("a reply cut short with one replica: the values before the cut stay hits",
          "[integration]") {
  constexpr std::size_t kBlocks = 6;
  FaultNodes one(1, kBlocks, 40000, 45);
  one.StoreOn(one.a());
  auto client = OpenClient(one.options);
  const auto& keys = one.keys;
  const auto& values = one.values;
  one.a().CutNextValueReply(BytesThrough(one.stored, kBlocks, 2, 100));
  std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(40000));
  std::vector<BlockRead> reads(kBlocks);
  CHECK(client->GetInto(keys, MutableSpans(out), reads).value() == 2);
  CHECK(reads[0].status == BlockStatus::kHit);
  CHECK(reads[1].status == BlockStatus::kHit);
  for (std::size_t i = 2; i < kBlocks; ++i) CHECK(reads[i].status == BlockStatus::kUnavailable);
  CHECK(std::memcmp(out[1].data(), values[1].data(), 40000) == 0);
}

TEST_CASE("a nil from one replica falls back to the next; Match falls back on a 0",
          "[integration]") {
  constexpr std::size_t kBlocks = 10;
  constexpr std::size_t kSize = 20000;
  FaultNodes pair(2, kBlocks, kSize, 46);
  pair.StoreOn(pair.a(), 5);  // a lost block 5
  pair.StoreOn(pair.b());
  auto client = OpenClient(pair.options);

  CHECK(client->Match(pair.keys) == kBlocks);
  std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(kSize));
  std::vector<BlockRead> reads(kBlocks);
  pair.b().ClearCommands();
  CHECK(client->GetPrefix(pair.keys, MutableSpans(out), reads).value() == kBlocks);
  // a stopped at its first miss; b got the keys from there on, in one more round.
  CHECK(pair.b().KeysAskedFor() == pair.Raw(5));
  for (std::size_t i = 0; i < kBlocks; ++i) {
    CHECK(std::memcmp(out[i].data(), pair.values[i].data(), kSize) == 0);
  }
  pair.b().ClearCommands();
  CHECK(client->GetInto(pair.keys, MutableSpans(out), reads).value() == kBlocks);
  CHECK(pair.b().KeysAskedFor() == std::vector<std::string>{std::string(pair.keys[5].View())});
}

TEST_CASE("GetPrefix sends a node nothing but its BLOCK.MGETPREFIX (after the ring check)",
          "[integration]") {
  FaultNodes one(1, 4, 1000, 47);
  FaultServer& a = one.a();
  a.SetRingJson(RingOf(one.options).ToJson());
  one.StoreOn(a, 3);
  auto client = OpenClient(one.options);
  const auto& keys = one.keys;
  std::vector<std::vector<std::byte>> out(4, std::vector<std::byte>(1000));
  std::vector<BlockRead> reads(4);
  CHECK(client->GetPrefix(keys, MutableSpans(out), reads).value() == 3);
  auto commands = a.commands();
  REQUIRE(commands.size() == 2);
  CHECK(commands[0] == std::vector<std::string>{"BLOCK.RING"});  // first contact
  CHECK(commands[1][0] == "BLOCK.MGETPREFIX");
  CHECK(commands[1].size() == 5);
  a.ClearCommands();
  CHECK(client->GetPrefix(keys, MutableSpans(out), reads).value() == 3);
  commands = a.commands();
  REQUIRE(commands.size() == 1);
  CHECK(commands[0][0] == "BLOCK.MGETPREFIX");
  CHECK(client->Stats().ring_mismatches == 0);
}

TEST_CASE("a node whose ring differs is counted and logged on first contact", "[integration]") {
  FaultNodes one(1, 2, 1000, 48);
  ClientOptions other = one.options;
  other.nodes[0].id = "someone-else";
  one.a().SetRingJson(RingOf(other).ToJson());
  auto client = OpenClient(one.options);
  const auto& keys = one.keys;
  CHECK(client->Match(keys) == 0);
  CHECK(client->Match(keys) == 0);
  ClientStats stats = client->Stats();
  CHECK(stats.ring_mismatches == 1);  // once per contact, not per call
  CHECK(stats.nodes[0].ring_mismatch);

  // A node without a ring (an error reply) is not a mismatch.
  FaultNodes plain(1, 2, 1000, 48);
  auto second = OpenClient(plain.options);
  CHECK(second->Match(keys) == 0);
  stats = second->Stats();
  CHECK(stats.ring_mismatches == 0);
  CHECK_FALSE(stats.nodes[0].ring_mismatch);
}

TEST_CASE("asynchronous reads: Wait, Ready, result, and reads array filled at the end",
          "[integration]") {
  LocalClusterOptions cluster_options;
  cluster_options.nodes = 1;
  LocalCluster cluster(cluster_options);
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  constexpr std::size_t kBlocks = 16;
  constexpr std::size_t kSize = 256 * 1024;
  const auto keys = RandomKeys(kBlocks, 49);
  const auto values = ValuesFor(keys, kSize);
  const auto value_spans = ConstSpans(values);
  REQUIRE(client->Put(std::span(keys).first(12), std::span(value_spans).first(12), Depths(12))
              ->stored == 12);
  std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(kSize));
  auto spans = MutableSpans(out);
  std::vector<BlockRead> reads(kBlocks);
  std::unique_ptr<PendingRead> pending = client->GetPrefixAsync(keys, spans, reads);
  REQUIRE(pending);
  REQUIRE(pending->Wait(static_cast<std::uint32_t>(kGenerousBound.count())));
  CHECK(pending->Ready());
  REQUIRE(pending->result().ok());
  CHECK(*pending->result() == 12);
  CHECK(reads[12].status == BlockStatus::kMiss);
  for (std::size_t i = 0; i < 12; ++i) {
    CHECK(std::memcmp(out[i].data(), values[i].data(), kSize) == 0);
  }

  std::vector<std::vector<std::byte>> into(kBlocks, std::vector<std::byte>(kSize));
  auto into_spans = MutableSpans(into);
  auto get = client->GetIntoAsync(keys, into_spans, reads);
  REQUIRE(get->Wait(static_cast<std::uint32_t>(kGenerousBound.count())));
  CHECK(*get->result() == 12);
  for (std::size_t i = 12; i < kBlocks; ++i) CHECK(reads[i].status == BlockStatus::kMiss);

  // Bad arguments: a handle that is ready at once with the error.
  auto bad = client->GetIntoAsync(keys, std::span(into_spans).first(2), reads);
  CHECK(bad->Ready());
  CHECK(bad->result().status().code() == StatusCode::kInvalidArgument);
  CHECK(client->Stats().reads_cancelled == 0);
}

TEST_CASE("destroying a pending read cancels it, even with its reply half received",
          "[integration]") {
  constexpr std::size_t kBlocks = 4;
  constexpr std::size_t kSize = 200000;
  FaultNodes one(1, kBlocks, kSize, 50);
  FaultServer& a = one.a();
  one.StoreOn(a);
  auto client = OpenClient(one.options);
  const auto& keys = one.keys;
  // The reply stops in the middle of value 1's payload and the node hangs there: the
  // client is reading straight into the destination of key 1 when the handle goes.
  a.CutNextValueReply(BytesThrough(one.stored, kBlocks, 1, 100000), /*stall=*/true);
  std::vector<std::vector<std::byte>> out(kBlocks, std::vector<std::byte>(kSize));
  auto spans = MutableSpans(out);
  std::vector<BlockRead> reads(kBlocks);
  auto pending = client->GetIntoAsync(keys, spans, reads);
  REQUIRE(pending);
  REQUIRE(WaitUntil([&] { return a.KeysAskedFor().size() == kBlocks; }));
  CHECK_FALSE(pending->Wait(50));  // stalled: not done
  pending.reset();                 // cancels and waits; `out` may go now
  CHECK(client->Stats().reads_cancelled == 1);
  out.clear();

  // The connection was cut and the node is not marked down: the next read works.
  std::vector<std::vector<std::byte>> again(kBlocks, std::vector<std::byte>(kSize));
  CHECK(client->GetInto(keys, MutableSpans(again), reads).value() == kBlocks);
  CHECK(client->Stats().nodes[0].up);
}

TEST_CASE("a per-call timeout gives up on a node's answer without marking it down",
          "[integration]") {
  SilentServer silent;
  ClientOptions options;
  options.nodes = {{"hung", silent.address(), 1}};
  auto client = OpenClient(Patient(options));  // the node's own bound: only a hang reaches it
  const auto keys = RandomKeys(3, 51);
  std::vector<std::vector<std::byte>> out(3, std::vector<std::byte>(100));
  std::vector<BlockRead> reads(3);
  CHECK(client->GetInto(keys, MutableSpans(out), reads, /*timeout_ms=*/50).value() == 0);
  for (const auto& r : reads) CHECK(r.status == BlockStatus::kUnavailable);
  CHECK(client->GetPrefix(keys, MutableSpans(out), reads, 50).value() == 0);
  CHECK(client->Match(keys, 50) == 0);
  const ClientStats stats = client->Stats();
  CHECK(stats.nodes[0].up);
  CHECK(stats.nodes[0].timeouts == 0);
  CHECK(stats.nodes[0].errors == 0);
  CHECK(stats.unavailable_misses == 4);  // GetInto's 3, and the key ending GetPrefix's run
}

TEST_CASE("Erase removes every replica's copy and reports the unreachable ones", "[integration]") {
  LocalClusterOptions cluster_options;
  cluster_options.replicas = 2;
  LocalCluster cluster(cluster_options);
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  const auto keys = RandomKeys(20, 52);
  const auto values = ValuesFor(keys, 4096);
  REQUIRE(client->Put(keys, ConstSpans(values), Depths(20))->stored == 20);
  const EraseResult erased = client->Erase(std::span(keys).first(10));
  CHECK(erased.removed == 20);  // two copies each
  CHECK(erased.unreachable == 0);
  CHECK(client->Match(keys) == 0);
  CHECK(client->Match(std::span(keys).subspan(10)) == 10);
  // Erasing what is not stored is no error.
  CHECK(client->Erase(std::span(keys).first(10)).removed == 0);

  cluster.StopNode(2);
  const EraseResult partial = client->Erase(std::span(keys).subspan(10));
  CHECK(partial.unreachable > 0);
  CHECK(partial.removed + partial.unreachable >= 10);
}

}  // namespace
}  // namespace prefixcache::testing
