#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "prefixcache/defaults.h"
#include "report.h"
#include "simulator.h"
#include "trace.h"

namespace prefixcache::bench {
namespace {

// Four distinct blocks; positions of the block accesses in brackets.
//   r0: 1[0] 2[1]   r1: 1[2] 3[3] (700 tokens)   r2: 4[4]   r3: 1[5] 2[6] (1000 tokens)
// With room for 3 blocks (0.75 x 4):
//   LRU:    r0 stores 1, 2. r1 hits 1, stores 3. r2 evicts 2 (least recent), stores 4. r3 hits
//           1, misses 2 (evicting 3), stores it: 2 hit blocks, 512 + 512 tokens.
//   Belady: r0 stores 1 (next use 2), 2 (next 6). r1 hits 1 (next 5), stores 3 (never used
//           again). r2 evicts 3 (the farthest), stores 4. r3 hits 1 and 2: 3 hit blocks,
//           512 + 512 + 488 tokens.
//   Unlimited (any policy with a spill tier that holds everything): 3 hit blocks.
const char* kTrace =
    "{\"timestamp\": 0, \"input_length\": 1024, \"hash_ids\": [1, 2]}\n"
    "{\"timestamp\": 5, \"input_length\": 700, \"hash_ids\": [1, 3]}\n"
    "\n"
    "{\"timestamp\": 9, \"input_length\": 512, \"hash_ids\": [4]}\n"
    "{\"timestamp\": 12, \"input_length\": 1000, \"hash_ids\": [1, 2]}\n";

Trace HandMade() {
  auto trace = ParseTrace("dir/hand.jsonl", kTrace);
  REQUIRE(trace.ok());
  return std::move(trace).value();
}

RunResult Run(const SimulateOptions& options) {
  auto run = Simulate(HandMade(), options);
  REQUIRE(run.ok());
  CHECK(run.value().errors == 0);
  return run.value();
}

SimulateOptions Options(const std::string& policy) {
  SimulateOptions options;
  options.policy = policy;
  options.capacity_fraction = 0.75;
  return options;
}

}  // namespace

TEST_CASE("ParseTrace reads Mooncake lines and counts blocks", "[unit]") {
  const Trace trace = HandMade();
  CHECK(trace.name == "hand.jsonl");
  REQUIRE(trace.requests.size() == 4);
  CHECK(trace.blocks == 7);
  CHECK(trace.distinct_blocks == 4);
  CHECK(trace.requests[1].timestamp_ms == 5);
  CHECK(trace.requests[3].hash_ids == std::vector<std::uint64_t>{1, 2});
  // The last block is partial when input_length says so.
  CHECK(Trace::BlockTokens(trace.requests[1], 0) == 512);
  CHECK(Trace::BlockTokens(trace.requests[1], 1) == 188);
  CHECK(Trace::BlockTokens(trace.requests[2], 0) == 512);
}

TEST_CASE("ParseTrace names the line it cannot read", "[unit]") {
  auto bad = ParseTrace("t.jsonl", "{\"hash_ids\": [1]}\n{\"hash_ids\": [1, -2]}\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() == "t.jsonl:2: hash_ids: expected non-negative integers");
  CHECK(ParseTrace("t.jsonl", "[1, 2]\n").status().message() ==
        "t.jsonl:1: expected a JSON object");
  CHECK(ParseTrace("t.jsonl", "{\"input_length\": 3}\n").status().message() ==
        "t.jsonl:1: hash_ids: expected an array of block ids");
  CHECK(ReadTrace("/nonexistent/trace.jsonl").status().code() == StatusCode::kIoError);
}

TEST_CASE("Simulated LRU matches the hand-computed hits", "[unit]") {
  const RunResult run = Run(Options("lru"));
  CHECK(run.trace == "hand.jsonl");
  CHECK(run.policy == "lru");
  CHECK(run.resolved_policy == "lru");
  CHECK(run.capacity_blocks == 3);
  CHECK(run.requests == 4);
  CHECK(run.blocks == 7);
  CHECK(run.hit_blocks == 2);
  CHECK(run.prefill_tokens_saved == 1024);
  CHECK(run.hit_ratio() == Approx(2.0 / 7.0));
}

TEST_CASE("Simulated Belady matches the hand-computed hits", "[unit]") {
  const RunResult run = Run(Options("belady"));
  CHECK(run.resolved_policy == "belady");
  CHECK(run.hit_blocks == 3);
  CHECK(run.prefill_tokens_saved == 512 + 512 + 488);
}

TEST_CASE("Simulated LRU is the same over 16 shards", "[unit]") {
  SimulateOptions options = Options("lru");
  options.shards = 16;
  CHECK(Run(options).hit_blocks == 2);
}

TEST_CASE("A spill tier large enough for every block turns misses into hits", "[integration]") {
  SimulateOptions options = Options("lru");
  options.spill_fraction = 1.0;
  CHECK(Run(options).hit_blocks == 3);
}

TEST_CASE("The dead-block oracle evicts the block never used again", "[unit]") {
  // As Belady here: at r2 block 3 is dead, block 2 is not.
  CHECK(Run(Options("lru-dead-oracle")).hit_blocks == 3);
}

TEST_CASE("Policy default runs the daemon's default and says so", "[unit]") {
  const RunResult run = Run(Options("default"));
  CHECK(run.policy == "default");
  CHECK(run.resolved_policy == defaults::kEvictionPolicy);
  CHECK(ResolvePolicy("lru") == "lru");
}

TEST_CASE("Simulate refuses an unknown policy and bad fractions", "[unit]") {
  auto unknown = Simulate(HandMade(), Options("mru"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == StatusCode::kInvalidArgument);
  SimulateOptions zero = Options("lru");
  zero.capacity_fraction = 0;
  CHECK(Simulate(HandMade(), zero).status().code() == StatusCode::kInvalidArgument);
  SimulateOptions spill = Options("lru");
  spill.spill_fraction = -1;
  CHECK(Simulate(HandMade(), spill).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Windows report each stretch of requests on its own", "[unit]") {
  SimulateOptions options = Options("lru");
  options.report_every = 3;
  std::vector<WindowResult> windows;
  auto run = Simulate(HandMade(), options, [&](const WindowResult& w) { windows.push_back(w); });
  REQUIRE(run.ok());
  REQUIRE(windows.size() == 2);
  CHECK(windows[0].window == 0);
  CHECK(windows[0].requests == 3);
  CHECK(windows[0].blocks == 5);
  CHECK(windows[0].hit_blocks == 1);
  CHECK(windows[1].window == 1);
  CHECK(windows[1].requests == 1);
  CHECK(windows[1].hit_ratio() == Approx(0.5));
  CHECK(windows[1].errors == 0);
}

TEST_CASE("The JSON lines carry the issue's fields in order", "[unit]") {
  const RunResult run = Run(Options("lru"));
  CHECK(RunJson(run).dump() ==
        "{\"trace\":\"hand.jsonl\",\"policy\":\"lru\",\"resolved_policy\":\"lru\","
        "\"capacity_fraction\":0.75,\"capacity_blocks\":3,\"requests\":4,\"blocks\":7,"
        "\"hit_blocks\":2,\"hit_ratio\":0.2857142857142857,\"prefill_tokens_saved\":1024}");
  WindowResult window{2, 10, 8, 2, 1};
  CHECK(WindowJson(window).dump() ==
        "{\"window\":2,\"requests\":10,\"hit_ratio\":0.25,\"errors\":1}");
}

}  // namespace prefixcache::bench
