// BLOCK.MGETPREFIX over a raw TCP socket: the leading run of the keys given, in order, nil
// from the first miss on; spilled blocks read on the worker pool, and nothing past the first
// miss looked up or read from disk.
// Project headers first: Catch2's CHECK must replace prefixcache/check.h's.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

using Type = Reply::Type;

// A 16-byte key and a deterministic value for block i.
std::string PrefixKey(int i) {
  std::string key = "prefix-block-" + std::to_string(i);
  key.resize(16, '#');
  return key;
}

std::string PrefixValue(int i, std::size_t size) {
  std::mt19937_64 rng(9000 + i);
  std::string value(size, '\0');
  for (char& c : value) c = static_cast<char>(rng());
  return value;
}

nlohmann::json BlockStats(RespClient& client) {
  const Reply reply = client.Call({"BLOCK.STATS"});
  REQUIRE(reply.type == Type::kBulk);
  return nlohmann::json::parse(reply.bulk.view());
}

std::uint64_t Counter(const nlohmann::json& stats, const char* tier, const char* field) {
  return tier ? stats[tier][field].get<std::uint64_t>() : stats[field].get<std::uint64_t>();
}

// "BLOCK.MGETPREFIX key(first) .. key(first + count - 1)".
std::vector<std::string> PrefixCommand(int first, int count) {
  std::vector<std::string> args = {"BLOCK.MGETPREFIX"};
  for (int i = first; i < first + count; ++i) args.push_back(PrefixKey(i));
  return args;
}

// The exact reply to PrefixCommand(0, count) when blocks [0, run) hold values of `size`.
std::string WantRun(int run, int count, std::size_t size) {
  std::string want = "*" + std::to_string(count) + "\r\n";
  for (int i = 0; i < run; ++i) {
    want += "$" + std::to_string(size) + "\r\n" + PrefixValue(i, size) + "\r\n";
  }
  for (int i = run; i < count; ++i) want += "$-1\r\n";
  return want;
}

TEST_CASE("BLOCK.MGETPREFIX returns the leading run and nil from the first miss on",
          "[integration]") {
  TestNode node("mgetprefix");
  REQUIRE(node.Start({"--memory-capacity", "64MiB"}));
  RespClient client(node.port());
  REQUIRE(client.connected());
  constexpr int kBlocks = 12;
  constexpr std::size_t kSize = 20000;  // above the parser's direct-read threshold
  for (int i = 0; i < kBlocks; ++i) {
    if (i == 5 || i == 9) continue;  // never written
    REQUIRE(Describe(client.Call(
                {"BLOCK.MSET", std::to_string(i), PrefixKey(i), PrefixValue(i, kSize)})) == "+OK");
  }

  const nlohmann::json before = BlockStats(client);
  // Blocks 6..8 and 10..11 exist, but lie past the first miss.
  CHECK(Wire(client.Call(PrefixCommand(0, kBlocks))) == WantRun(5, kBlocks, kSize));
  const nlohmann::json after = BlockStats(client);
  CHECK(Counter(after, nullptr, "keyspace_hits") - Counter(before, nullptr, "keyspace_hits") == 5);
  CHECK(Counter(after, nullptr, "keyspace_misses") - Counter(before, nullptr, "keyspace_misses") ==
        1);
  // The memory tier was asked for the run and the first miss only.
  CHECK(Counter(after, "memory", "hits") - Counter(before, "memory", "hits") == 5);

  // A run that starts with a miss, a whole run, one key, and keys repeated.
  CHECK(Wire(client.Call(PrefixCommand(5, 3))) == "*3\r\n$-1\r\n$-1\r\n$-1\r\n");
  CHECK(Wire(client.Call(PrefixCommand(0, 5))) == WantRun(5, 5, kSize));
  CHECK(Describe(client.Call({"BLOCK.MGETPREFIX", PrefixKey(5)})) == "[nil]");
  CHECK(Wire(client.Call({"BLOCK.MGETPREFIX", PrefixKey(0), PrefixKey(0)})) ==
        "*2\r\n$20000\r\n" + PrefixValue(0, kSize) + "\r\n$20000\r\n" + PrefixValue(0, kSize) +
            "\r\n");

  // Errors name the argument; the command is listed like the other BLOCK commands.
  CHECK(Describe(client.Call({"BLOCK.MGETPREFIX"})) ==
        "-ERR wrong number of arguments for 'block.mgetprefix' command");
  CHECK(Describe(client.Call({"BLOCK.MGETPREFIX", PrefixKey(0), "short"})) ==
        "-ERR BLOCK.MGETPREFIX argument 2: a block key must be exactly 16 bytes, got 5");
  const Reply info = client.Call({"COMMAND", "INFO", "block.mgetprefix"});
  REQUIRE(info.type == Type::kArray);
  REQUIRE(info.elements.size() == 1);
  REQUIRE(info.elements[0].type == Type::kArray);
  CHECK(Describe(info.elements[0].elements[0]) == "\"block.mgetprefix\"");
  CHECK(Describe(info.elements[0].elements[1]) == ":-2");
}

TEST_CASE("BLOCK.MGETPREFIX reads spilled blocks, and none past the first miss", "[integration]") {
  TestNode node("mgetprefix-spill");
  constexpr int kBlocks = 48;
  constexpr std::size_t kSize = 256 * 1024;
  const std::vector<std::string> args = {"--memory-capacity", "4MiB"};
  REQUIRE(node.Start(args));
  {
    RespClient client(node.port());
    for (int i = 0; i < kBlocks; ++i) {
      REQUIRE(Describe(client.Call({"BLOCK.MSET", std::to_string(i), PrefixKey(i),
                                    PrefixValue(i, kSize)})) == "+OK");
    }
    REQUIRE(Describe(client.Call({"DEL", PrefixKey(20)})) == ":1");
    REQUIRE(Eventually([&] {
      const nlohmann::json stats = BlockStats(client);
      return stats["memory"]["queue_bytes"] == 0 && stats["spill"]["queue_bytes"] == 0;
    }));
  }
  // A clean stop spills the memory tier; after the restart every block is on disk only.
  REQUIRE(ExitedCleanly(node.Stop()));
  REQUIRE(node.Start(args));
  RespClient client(node.port());
  REQUIRE(client.connected());
  const nlohmann::json before = BlockStats(client);
  const std::string disk_before = InfoField(client, "stats", "disk_commands");

  CHECK(Wire(client.Call(PrefixCommand(0, kBlocks))) == WantRun(20, kBlocks, kSize));

  const nlohmann::json after = BlockStats(client);
  INFO(after.dump());
  // Exactly the run came from disk: blocks 21..47 were neither looked up nor read.
  CHECK(Counter(after, "spill", "hits") - Counter(before, "spill", "hits") == 20);
  CHECK(Counter(after, nullptr, "keyspace_hits") - Counter(before, nullptr, "keyspace_hits") == 20);
  CHECK(Counter(after, "spill", "checksum_failures") == 0);
  // The disk reads ran on the worker pool (one deferred command), not on an I/O thread.
  CHECK(std::stoull(InfoField(client, "stats", "disk_commands")) - std::stoull(disk_before) == 1);
}

}  // namespace
}  // namespace prefixcache::testing
