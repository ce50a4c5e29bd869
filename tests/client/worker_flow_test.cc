// examples/worker_flow against a real three-daemon cluster: the second prompt must reuse
// the shared system prompt's blocks, bit-identical, also after a node was killed.
#include <catch2/catch.hpp>

#include "local_cluster.h"
#include "run_program.h"

namespace prefixcache::testing {
namespace {

TEST_CASE("examples/worker_flow reuses a shared prefix from a real cluster", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  const std::string program = std::string(PREFIXCACHE_BIN_DIR) + "/worker_flow";
  ProgramResult run = RunProgram({program, cluster.config_path()});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("prompt 1: 407 tokens, 25 blocks: 0 cached and fetched into KV pages "
                        "(0 not bit-identical), 25 computed, 25 stored") != std::string::npos);
  CHECK(run.output.find("prompt 2: 407 tokens, 25 blocks: 20 cached and fetched into KV "
                        "pages (0 not bit-identical), 5 computed, 5 stored") != std::string::npos);

  // A second worker process finds both prompts cached.
  run = RunProgram({program, cluster.config_path()});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("prompt 1: 407 tokens, 25 blocks: 25 cached and fetched") !=
        std::string::npos);

  // A bad config file is reported, not crashed on.
  run = RunProgram({program, cluster.config_path() + ".missing"});
  CHECK(run.exit_code == 2);
  CHECK(run.output.find("cannot read") != std::string::npos);
}

TEST_CASE("examples/worker_flow refills through the stand-in after kill -9 of a node",
          "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  const std::string program = std::string(PREFIXCACHE_BIN_DIR) + "/worker_flow";
  ProgramResult run = RunProgram({program, cluster.config_path()});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);

  // A third of every prompt's blocks die with n2. The next worker finds the prefix cut at
  // its first block there and stores what it computes, n2's blocks on their stand-ins.
  cluster.KillNode(1);
  run = RunProgram({program, cluster.config_path()});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  // The one after it reuses every block of both prompts, though n2 is still down.
  run = RunProgram({program, cluster.config_path()});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("prompt 1: 407 tokens, 25 blocks: 25 cached and fetched") !=
        std::string::npos);
  CHECK(run.output.find("prompt 2: 407 tokens, 25 blocks: 25 cached and fetched") !=
        std::string::npos);
}

}  // namespace
}  // namespace prefixcache::testing
