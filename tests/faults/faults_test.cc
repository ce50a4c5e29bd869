// Slow and hostile clients against a real prefixcached: each fault is bounded -- in the
// memory it may hold (asserted against the documented bound, from RSS sampled in /proc
// while it runs, and against the daemon's own inflight_memory gauge), in how long it may
// hold a connection (by the daemon's counters) -- while a normal client on another
// connection keeps being served with every block byte-exact. Nothing here asserts a wall
// clock: waits are for events and counters, bounds only guard against hangs.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "daemon_test_util.h"
#include "fault_load.h"

namespace prefixcache::testing {
namespace {

std::uint64_t Info(RespClient& client, const std::string& section, const std::string& field) {
  const std::string text = InfoField(client, section, field);
  INFO("INFO " << section << " " << field << " = '" << text << "'");
  REQUIRE(!text.empty());
  return std::stoull(text);
}

// The bystander goes on while the fault holds: `more` replies, none wrong, no error.
void CheckServed(Bystander& bystander, std::uint64_t more = 50) {
  CHECK(bystander.WaitForRequests(more));
  const BystanderCounts counts = bystander.counts();
  INFO("bystander: " << counts.requests << " requests, " << counts.errors << " errors, "
                     << counts.wrong_blocks << " wrong blocks, " << counts.misses << " misses");
  CHECK(counts.errors == 0);
  CHECK(counts.wrong_blocks == 0);
}

TEST_CASE(
    "faults: connections that send nothing hold an idle read buffer each until idle_timeout_ms",
    "[integration]") {
  TestNode node("silent");
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "limits": {"idle_timeout_ms": 3000}})")));
  RespClient observer(node.port());
  const std::uint64_t before = Info(observer, "memory", "inflight_memory");
  Bystander bystander(node.port(), 4096, 1);
  bystander.Start();
  constexpr int kSilent = 500;
  auto silent = SilentClients(node.port(), kSilent);
  REQUIRE(
      Eventually([&] { return Info(observer, "clients", "connected_clients") >= kSilent + 2; }));
  // Each holds at most the idle read buffer (4 KiB) of the budget; the slack is the
  // bystander's request in flight (a read chunk, a reply reserve and a reply).
  CHECK(Info(observer, "memory", "inflight_memory") <= before + kSilent * 4096 + (256u << 10));
  CheckServed(bystander);
  // Closed for idleness, as Redis does, without a reply (the observer too, being idle).
  for (auto& client : silent) CHECK(client->WaitForEof());
  RespClient after(node.port());
  CHECK(Info(after, "stats", "idle_timeouts") >= kSilent);
  CHECK(Info(after, "stats", "request_timeouts") == 0);
  CheckServed(bystander);
}

TEST_CASE("faults: a request sent a byte at a time is dropped after request_timeout_ms",
          "[integration]") {
  TestNode node("byte-a-time");
  // Idle connections are kept for a minute: only the request clock can close this one.
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "limits": {"idle_timeout_ms": 60000,
                                                "request_timeout_ms": 1500}})")));
  RespClient observer(node.port());
  Bystander bystander(node.port(), 4096, 2);
  bystander.Start();
  // 4 bytes a second of a 64 KiB SET: it would take hours; it is progress, so idleness never
  // closes it.
  const std::size_t request_bytes = Cmd({"SET", "slow-key", std::string(65536, 's')}).size();
  const std::size_t sent = SendByteAtATime(node.port(), std::chrono::milliseconds(250), 65536);
  INFO("bytes sent before the close: " << sent);
  CHECK(sent < request_bytes);
  CHECK(Info(observer, "stats", "request_timeouts") == 1);
  CHECK(Info(observer, "stats", "idle_timeouts") == 0);
  CheckServed(bystander);
  // Its memory went with it.
  CHECK(Eventually([&] { return Info(observer, "memory", "inflight_memory") <= 4 * 65536; }));
}

TEST_CASE("faults: a client that never reads is held at its output limit", "[integration]") {
  TestNode node("non-reader");
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "limits": {"client_output_buffer": "4MiB"}})")));
  RespClient observer(node.port());
  const std::string value(1 << 20, 'n');
  REQUIRE(Describe(observer.Call({"SET", "big", value})) == "+OK");
  Bystander bystander(node.port(), 4096, 3);
  bystander.Start();
  auto reader = NonReader(node.port(), "big", 2000);  // 2000 MiB of replies if nothing held it
  REQUIRE(Eventually([&] { return Info(observer, "stats", "backpressure_pauses") >= 1; }));
  // At any moment from here on: at most the output limit plus one reply of its replies are
  // charged, whatever the timing.
  for (int i = 0; i < 20; ++i) {
    CHECK(Info(observer, "memory", "inflight_memory") < (4u << 20) + (2u << 20) + (1u << 20));
  }
  CheckServed(bystander);
  reader.reset();
  CheckServed(bystander);
}

TEST_CASE("faults: 2,000 connections over max_connections are refused while clients are served",
          "[integration]") {
  TestNode node("storm");
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "limits": {"max_connections": 50}})")));
  RespClient observer(node.port());
  Bystander bystander(node.port(), 4096, 4);
  bystander.Start();
  REQUIRE(bystander.WaitForRequests(10));
  // The limit is reached first (the observer, the bystander and 48 more), so that every
  // connection of the storm is one beyond it.
  auto fill = SilentClients(node.port(), 48);
  REQUIRE(Eventually([&] { return Info(observer, "clients", "connected_clients") == 50; }));
  const std::uint64_t idle_rss = VmRssBytes(node.pid());
  RssSampler rss(node.pid());
  const int refused = ConnectionStorm(node.port(), 2000);
  CHECK(refused == 2000);
  CHECK(Info(observer, "stats", "rejected_connections") == 2000);
  CHECK(Info(observer, "clients", "connected_clients") <= 50);
  CheckServed(bystander);
  INFO("RSS idle " << (idle_rss >> 20) << " MiB, peak during the storm " << (rss.max_bytes() >> 20)
                   << " MiB");
  CHECK(rss.max_bytes() < idle_rss + MemoryBound::kAllocatorSlack);
}

// The memory flood: `connections` clients each SET `sets` values of `value` bytes at once
// against a small memory tier; RSS sampled all along must stay under the documented bound.
void FloodCase(const std::string& tag, const std::string& config_json, const MemoryBound& shape,
               int connections, int sets) {
  TestNode node(tag);
  REQUIRE(node.Start(node.Config(config_json)));
  RespClient observer(node.port());
  Bystander bystander(node.port(), 4096, 5);
  bystander.Start();
  REQUIRE(bystander.WaitForRequests(20));
  MemoryBound bound = shape;
  bound.idle_rss = VmRssBytes(node.pid());
  const std::uint64_t waits_before = Info(observer, "stats", "inflight_memory_waits");
  const std::uint64_t served_before = bystander.counts().requests;
  FloodResult flood;
  std::uint64_t peak = 0;
  {
    RssSampler rss(node.pid());
    flood = Flood(node.port(), connections, sets, shape.max_value);
    peak = rss.max_bytes();
    INFO("RSS samples: " << rss.samples());
  }
  const BystanderCounts counts = bystander.counts();
  INFO("bound: " << bound.Describe());
  INFO("peak RSS " << (peak >> 20) << " MiB; flood stored " << flood.stored << ", refused "
                   << flood.refused << ", failed " << flood.failed << "; bystander served "
                   << counts.requests - served_before << " during it");
  CHECK(peak <= bound.total());
  // The budget held the flood back (its clients waited), and never passed its limit.
  CHECK(Info(observer, "stats", "inflight_memory_waits") > waits_before);
  CHECK(Info(observer, "memory", "inflight_memory_peak") <= shape.inflight_memory);
  // Every SET is a single large payload: it waits for memory, it is never refused (and the
  // configs give it time to wait: a request waits at most request_timeout_ms for memory).
  CHECK(flood.stored == static_cast<std::uint64_t>(connections * sets));
  CHECK(flood.failed == 0);
  CHECK(counts.requests > served_before);
  CheckServed(bystander);
}

TEST_CASE("faults: a flood of 16 x 32 MiB SETs stays under the memory bound", "[integration]") {
  MemoryBound shape;
  shape.memory_capacity = 64ull << 20;
  shape.max_value = 32ull << 20;
  shape.inflight_memory = 128ull << 20;
  FloodCase("flood-small", R"({"memory": {"capacity": "64MiB"}, "spill": {"enabled": false},
                              "limits": {"max_value": "32MiB", "max_request": "64MiB",
                                         "inflight_memory": "128MiB",
                                         "request_timeout_ms": 600000}})",
            shape, 16, 2);
}

TEST_CASE("faults: a flood of 64 x 128 MiB SETs stays under the memory bound",
          "[integration][slow]") {
  MemoryBound shape;
  shape.memory_capacity = 256ull << 20;
  shape.spill = true;
  shape.spill_queue = 256ull << 20;
  shape.max_value = 128ull << 20;
  shape.inflight_memory = 512ull << 20;
  FloodCase("flood", R"({"memory": {"capacity": "256MiB"},
                        "spill": {"capacity": "1GiB", "queue": "256MiB"},
                        "limits": {"max_value": "128MiB", "max_request": "256MiB",
                                   "inflight_memory": "512MiB",
                                   "request_timeout_ms": 600000}})",
            shape, 64, 1);
}

}  // namespace
}  // namespace prefixcache::testing
