// examples/transformer: prefill that starts from fetched blocks is bit-identical to prefill
// of everything (in one process, from the model alone), and the worker process against real
// daemons: cached and uncached outputs identical, a prompt whose middle block is gone
// reuses only the blocks before it, a corrupted block is recomputed, never used, and
// ttft_demo runs end to end (also with a node killed). Small model sizes; nothing timed.
#include "transformer.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kv_worker.h"
#include "local_cluster.h"
#include "prefixcache/admin.h"
#include "prefixcache/client.h"
#include "prefixcache/value_format.h"
#include "run_program.h"
#include "temp_dir.h"

namespace prefixcache::testing {
namespace {

using examples::Config;
using examples::Transformer;

Config SmallConfig() {
  Config c;
  c.layers = 2;
  c.dim = 64;
  c.heads = 4;
  c.hidden = 96;
  c.vocab = 300;
  c.block_tokens = 8;
  c.seed = 7;
  return c;
}

std::vector<std::string> SmallFlags() {
  return {"--layers", "2",   "--dim",          "64", "--heads", "4", "--hidden", "96",
          "--vocab",  "300", "--block-tokens", "8",  "--seed",  "7"};
}

bool SameBytes(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST_CASE("transformer: prefill from fetched blocks is bit-identical to prefill of everything",
          "[unit]") {
  const Config c = SmallConfig();
  const auto tokens = examples::RandomTokens(3, 45, c.vocab);  // 5 blocks and 5 tokens
  Transformer full(c, 64), resumed(c, 64);
  full.Prefill(tokens, 0);
  // The first three blocks arrive as bytes (as GetPrefix writes them), the rest is computed.
  for (std::size_t b = 0; b < 3; ++b) {
    auto from = full.BlockParts(b);
    auto to = resumed.BlockParts(b);
    REQUIRE(from.size() == to.size());
    for (std::size_t p = 0; p < from.size(); ++p) {
      std::memcpy(to[p].data(), from[p].data(), from[p].size());
    }
  }
  resumed.Prefill(tokens, 24);
  CHECK(SameBytes(full.logits(), resumed.logits()));
  for (std::size_t b = 3; b < 5; ++b) {
    auto x = full.BlockParts(b);
    auto y = resumed.BlockParts(b);
    for (std::size_t p = 0; p < x.size(); ++p) {
      CHECK(std::memcmp(x[p].data(), y[p].data(), x[p].size()) == 0);
    }
  }
  std::uint32_t a = full.Argmax(), b = resumed.Argmax();
  for (std::size_t pos = tokens.size(); pos < tokens.size() + 10; ++pos) {
    REQUIRE(a == b);
    full.Step(a, pos);
    resumed.Step(b, pos);
    CHECK(SameBytes(full.logits(), resumed.logits()));
    a = full.Argmax();
    b = resumed.Argmax();
  }
  // A different seed is a different model.
  Config other = c;
  other.seed = 8;
  Transformer changed(other, 64);
  changed.Prefill(tokens, 0);
  CHECK_FALSE(SameBytes(full.logits(), changed.logits()));
}

// The worker process: --mode store or compare on `tokens`; its JSON line (null when it
// printed none) and its exit code.
struct WorkerRun {
  int exit_code = -1;
  nlohmann::json json;
  std::string output;
};

WorkerRun RunWorker(const LocalCluster& cluster, const TempDir& dir, const std::string& mode,
                    const std::vector<std::uint32_t>& tokens, const std::string& name) {
  const std::string prompt = dir.str() + "/" + name + ".tokens";
  REQUIRE(examples::WriteTokens(prompt, tokens).ok());
  std::vector<std::string> argv = {std::string(PREFIXCACHE_BIN_DIR) + "/transformer_worker",
                                   "--config",
                                   cluster.config_path(),
                                   "--prompt",
                                   prompt,
                                   "--mode",
                                   mode,
                                   "--decode",
                                   "6"};
  for (const auto& f : SmallFlags()) argv.push_back(f);
  ProgramResult r = RunProgram(argv, std::chrono::seconds(120));
  WorkerRun run{r.exit_code, nullptr, r.output};
  const auto brace = r.output.find('{');
  if (brace != std::string::npos) {
    run.json = nlohmann::json::parse(r.output.substr(brace, r.output.find('\n', brace) - brace),
                                     nullptr, false);
  }
  return run;
}

std::vector<BlockKey> KeysOf(const std::vector<std::uint32_t>& tokens) {
  auto hasher = Hasher::Create(examples::DemoNamespace(SmallConfig()));
  REQUIRE(hasher.ok());
  return hasher->Keys(tokens);
}

TEST_CASE("transformer_worker: cached and uncached runs are identical, from another process",
          "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  TempDir dir;
  const auto shared = examples::RandomTokens(11, 40, 300);  // 5 blocks
  auto writer = shared, reader = shared;
  for (auto t : examples::RandomTokens(12, 21, 300)) writer.push_back(t);
  for (auto t : examples::RandomTokens(13, 21, 300)) reader.push_back(t);

  WorkerRun store = RunWorker(cluster, dir, "store", writer, "writer");
  INFO(store.output);
  REQUIRE(store.exit_code == 0);
  CHECK(store.json["blocks"] == 7);
  CHECK(store.json["stored"] == 7);

  WorkerRun run = RunWorker(cluster, dir, "compare", reader, "reader");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.json["cached_tokens"] == 40);
  CHECK(run.json["fetched_bytes"] == 5 * SmallConfig().block_bytes());
  CHECK(run.json["computed_blocks"] == 2);
  CHECK(run.json["stored_blocks"] == 2);
  CHECK(run.json["tokens_identical"] == true);
  CHECK(run.json["logits_identical"] == true);

  // The same prompt again: every block but the last one's (its logits are the output).
  run = RunWorker(cluster, dir, "compare", reader, "reader");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.json["cached_tokens"] == 56);
  CHECK(run.json["logits_identical"] == true);
}

TEST_CASE(
    "transformer_worker: a prompt whose middle block is gone reuses only the blocks before it",
    "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  TempDir dir;
  const auto prompt = examples::RandomTokens(21, 51, 300);  // 6 blocks and 3 tokens
  REQUIRE(RunWorker(cluster, dir, "store", prompt, "p").exit_code == 0);

  auto client = Client::Open(cluster.ClientOptions());
  REQUIRE(client.ok());
  const auto keys = KeysOf(prompt);
  REQUIRE(keys.size() == 6);
  CHECK((*client)->Erase(std::span(keys).subspan(2, 1)).removed == 1);

  WorkerRun run = RunWorker(cluster, dir, "compare", prompt, "p");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.json["cached_tokens"] == 16);
  CHECK(run.json["computed_blocks"] == 4);
  CHECK(run.json["tokens_identical"] == true);
  CHECK(run.json["logits_identical"] == true);
  CHECK((*client)->Match(keys) == 6);  // the worker stored what it computed
}

TEST_CASE("transformer_worker: a corrupted block is recomputed, never used", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  TempDir dir;
  const auto prompt = examples::RandomTokens(31, 35, 300);  // 4 blocks and 3 tokens
  REQUIRE(RunWorker(cluster, dir, "store", prompt, "p").exit_code == 0);

  // Block 1's stored value with one payload byte flipped (its trailer unchanged), written
  // back over RESP to the node that holds it.
  auto client = Client::Open(cluster.ClientOptions());
  REQUIRE(client.ok());
  const auto keys = KeysOf(prompt);
  const std::string owner = admin::NodesFor(**client, keys[1]).front();
  const std::string_view get[] = {"GET", keys[1].View()};
  auto value = admin::Command(**client, owner, get);
  REQUIRE(value.ok());
  REQUIRE(value->size() == SmallConfig().block_bytes() + kValueTrailerBytes);
  std::string flipped = *value;
  flipped[100] ^= 0x04;
  const std::string_view mset[] = {"BLOCK.MSET", "1", keys[1].View(), flipped};
  auto stored = admin::Command(**client, owner, mset);
  REQUIRE(stored.ok());

  WorkerRun run = RunWorker(cluster, dir, "compare", prompt, "p");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.json["cached_tokens"] == 8);
  CHECK(run.json["checksum_failures"] >= 1);
  CHECK(run.json["computed_blocks"] == 3);
  CHECK(run.json["tokens_identical"] == true);
  CHECK(run.json["logits_identical"] == true);
}

// The demo's JSON lines (one per fraction) from its output.
std::vector<nlohmann::json> DemoLines(const std::string& output) {
  std::vector<nlohmann::json> lines;
  std::size_t pos = 0;
  while (pos < output.size()) {
    const std::size_t end = std::min(output.find('\n', pos), output.size());
    if (output.compare(pos, 10, "{\"shared\":") == 0) {
      lines.push_back(nlohmann::json::parse(output.substr(pos, end - pos), nullptr, false));
    }
    pos = end + 1;
  }
  return lines;
}

std::vector<std::string> DemoArgs(const std::string& config) {
  std::vector<std::string> argv = {std::string(PREFIXCACHE_BIN_DIR) + "/ttft_demo",
                                   "--config",
                                   config,
                                   "--prompt-tokens",
                                   "44",
                                   "--shared",
                                   "0,0.5,0.99",
                                   "--repeat",
                                   "2",
                                   "--decode",
                                   "4"};
  for (const auto& f : SmallFlags()) argv.push_back(f);
  return argv;
}

TEST_CASE("ttft_demo: one JSON line per fraction, identical outputs", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  ProgramResult r = RunProgram(DemoArgs(cluster.config_path()), std::chrono::seconds(300));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto lines = DemoLines(r.output);
  REQUIRE(lines.size() == 3);
  // 44 tokens, 8-token blocks: 0, 16 and 40 shared tokens, all fetched (the last block
  // holds the last token and is computed).
  CHECK(lines[0]["cached_tokens"] == 0);
  CHECK(lines[1]["cached_tokens"] == 16);
  CHECK(lines[2]["cached_tokens"] == 40);
  for (const auto& line : lines) {
    CHECK(line["prompt_tokens"] == 44);
    CHECK(line["tokens_identical"] == true);
    CHECK(line["logits_identical"] == true);
  }

  // A bad fraction is a usage error.
  std::vector<std::string> bad = DemoArgs(cluster.config_path());
  bad[6] = "0,1.5";
  CHECK(RunProgram(bad).exit_code == 2);
}

TEST_CASE("ttft_demo --cluster-down: starts the cluster, kills a node, outputs stay identical",
          "[integration]") {
  LocalCluster cluster;  // its config only: the demo starts the nodes with scripts/cluster.sh
  std::vector<std::string> argv = DemoArgs(cluster.config_path());
  argv.push_back("--cluster-down");
  argv.push_back("1");
  ProgramResult r = RunProgram(argv, std::chrono::seconds(300));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto lines = DemoLines(r.output);
  REQUIRE(lines.size() == 3);
  for (const auto& line : lines) {
    CHECK(line["tokens_identical"] == true);
    CHECK(line["logits_identical"] == true);
  }
}

}  // namespace
}  // namespace prefixcache::testing
