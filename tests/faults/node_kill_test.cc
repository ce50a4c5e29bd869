// A node killed with SIGKILL while 16 worker threads run mixed Put / GetPrefix / Match
// against a real 3-node cluster, then restarted on its spill folder: no call returns an
// error to a worker, no block read is wrong or corrupt, and after the restart the blocks
// the node had spilled before the kill are read back, every one verified end to end.
// Every value is a function of its key, so any wrong byte shows. Waits are for counts of
// calls made; bounds only guard against hangs.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "daemon_test_util.h"
#include "local_cluster.h"
#include "prefixcache/client.h"

namespace prefixcache::testing {
namespace {

constexpr std::size_t kBlockBytes = 16 * 1024;
constexpr std::size_t kChainBlocks = 8;
constexpr int kThreads = 16;

std::uint64_t Mix(std::uint64_t x) {  // splitmix64's finaliser
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Spread over the ring as real (hashed) keys are.
BlockKey ChainKey(int thread, std::uint64_t chain, std::size_t block) {
  const std::uint64_t id = (static_cast<std::uint64_t>(thread) << 48) | (chain << 8) | block;
  return BlockKey::FromHalves(Mix(id), Mix(id ^ 0x5bd1e995ull));
}

// The value stored under `key`: its 16 bytes, then a pattern seeded by them.
std::vector<std::byte> ValueOf(const BlockKey& key) {
  std::vector<std::byte> value(kBlockBytes);
  const std::string_view raw = key.View();
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (char c : raw) x = (x ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  for (std::size_t i = 0; i < value.size(); ++i) {
    value[i] = i < raw.size() ? static_cast<std::byte>(raw[i])
                              : static_cast<std::byte>((x >> (8 * (i % 8))) + i / 8);
  }
  return value;
}

bool Matches(const BlockKey& key, std::span<const std::byte> bytes) {
  const std::vector<std::byte> expected = ValueOf(key);
  return bytes.size() == expected.size() &&
         std::equal(bytes.begin(), bytes.end(), expected.begin());
}

struct Counts {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> errors{0};   // a call that returned an error Status
  std::atomic<std::uint64_t> corrupt{0};  // kCorrupt, or a hit whose bytes are wrong
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> not_stored{0};
};

// One worker: stores chain after chain, reading back earlier ones and matching others.
void Worker(Client& client, int thread, std::atomic<bool>& stop, Counts& counts,
            std::atomic<std::uint64_t>& chains_done) {
  std::mt19937_64 random(static_cast<std::uint64_t>(thread));
  std::vector<std::vector<std::byte>> buffers(kChainBlocks, std::vector<std::byte>(kBlockBytes));
  std::vector<std::span<std::byte>> spans(buffers.begin(), buffers.end());
  std::vector<BlockRead> reads(kChainBlocks);
  for (std::uint64_t chain = 0; !stop.load(); ++chain) {
    std::vector<BlockKey> keys;
    std::vector<std::vector<std::byte>> values;
    std::vector<std::span<const std::byte>> value_spans;
    std::vector<std::uint32_t> depths;
    for (std::size_t b = 0; b < kChainBlocks; ++b) {
      keys.push_back(ChainKey(thread, chain, b));
      values.push_back(ValueOf(keys.back()));
      depths.push_back(static_cast<std::uint32_t>(b));
    }
    for (const auto& v : values) value_spans.emplace_back(v);
    Result<PutResult> put = client.Put(keys, value_spans, depths);
    counts.calls.fetch_add(1);
    if (!put.ok()) {
      counts.errors.fetch_add(1);
    } else {
      counts.not_stored.fetch_add(put->not_stored);
    }
    chains_done.fetch_add(1);

    std::vector<BlockKey> old_keys;
    const std::uint64_t old = random() % (chain + 1);
    for (std::size_t b = 0; b < kChainBlocks; ++b) old_keys.push_back(ChainKey(thread, old, b));
    Result<std::size_t> got = client.GetPrefix(old_keys, spans, reads);
    counts.calls.fetch_add(1);
    if (!got.ok()) {
      counts.errors.fetch_add(1);
    } else {
      for (std::size_t b = 0; b < kChainBlocks; ++b) {
        if (reads[b].status == BlockStatus::kCorrupt) counts.corrupt.fetch_add(1);
      }
      for (std::size_t b = 0; b < *got; ++b) {
        counts.hits.fetch_add(1);
        if (!Matches(old_keys[b], std::span(buffers[b]).first(reads[b].size))) {
          counts.corrupt.fetch_add(1);
        }
      }
    }
    (void)client.Match(old_keys);  // returns a count; nothing to fail
    counts.calls.fetch_add(1);
  }
}

// Waits until `target` chains are done in all; false when the bound passed first.
bool AwaitChains(const std::atomic<std::uint64_t>& done, std::uint64_t target) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (done.load() < target) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST_CASE(
    "faults: kill -9 of a node under 16 worker threads, then a restart on its spill "
    "folder: no error, no corrupt block, spilled blocks read back",
    "[integration]") {
  LocalClusterOptions options;
  options.memory_capacity = "2MiB";  // most blocks are demoted to the spill tier
  options.spill_capacity = "32MiB";  // 2 MiB segments: durable soon after they are written
  LocalCluster cluster(options);
  REQUIRE(cluster.Start());
  auto opened = Client::Open(cluster.ClientOptions());
  REQUIRE(opened.ok());
  Client& client = **opened;

  Counts counts;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> chains{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] { Worker(client, t, stop, counts, chains); });
  }
  // By then node 2 has demoted several 2 MiB segments: synced, ingested, their records
  // logged (which a killed process does not lose).
  bool ran = AwaitChains(chains, 400);
  const std::uint64_t chains_before_kill = chains.load();
  std::string before_kill;
  {
    RespClient probe(cluster.daemon(1).port());
    before_kill =
        "node 2 before the kill: " + InfoField(probe, "spill_tier", "spill_tier_entries") +
        " spilled, " + InfoField(probe, "memory_tier", "memory_tier_entries") + " in memory";
  }
  cluster.KillNode(1);
  ran = ran && AwaitChains(chains, chains_before_kill + 400);
  const bool restarted = cluster.StartNode(1);
  ran = ran && AwaitChains(chains, chains.load() + 400);
  stop = true;
  for (auto& w : workers) w.join();
  REQUIRE(ran);
  REQUIRE(restarted);

  INFO(counts.calls.load() << " calls, " << counts.errors.load() << " errors, "
                           << counts.corrupt.load() << " corrupt, " << counts.hits.load()
                           << " hits, " << counts.not_stored.load() << " blocks not stored");
  CHECK(counts.errors.load() == 0);
  CHECK(counts.corrupt.load() == 0);
  CHECK(counts.hits.load() > 0);

  // What the restarted node holds, asked of it alone: every block verified and exact.
  prefixcache::ClientOptions alone = cluster.ClientOptions();
  alone.nodes = {cluster.Nodes()[1]};
  auto node = Client::Open(alone);
  REQUIRE(node.ok());
  std::uint64_t recovered = 0;
  std::uint64_t wrong = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (std::uint64_t chain = 0; chain < chains_before_kill / kThreads; ++chain) {
      std::vector<BlockKey> keys;
      for (std::size_t b = 0; b < kChainBlocks; ++b) keys.push_back(ChainKey(t, chain, b));
      std::vector<std::optional<Buffer>> got = (*node)->Get(keys);
      for (std::size_t b = 0; b < kChainBlocks; ++b) {
        if (!got[b]) continue;
        ++recovered;
        if (!Matches(keys[b], got[b]->span())) ++wrong;
      }
    }
  }
  RespClient admin(cluster.daemon(1).port());
  const std::string checksum_failures =
      InfoField(admin, "spill_tier", "spill_tier_checksum_failures");
  INFO(before_kill);
  INFO(recovered << " blocks of the first " << chains_before_kill
                 << " chains read back from the restarted node; checksum failures "
                 << checksum_failures);
  CHECK(recovered > 0);
  CHECK(wrong == 0);
  CHECK(checksum_failures == "0");
}

}  // namespace
}  // namespace prefixcache::testing
