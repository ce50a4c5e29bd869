// transformer_worker: one inference worker process of the time-to-first-token demo
// (ttft_demo starts it; tests run it directly). It links the client library, opens the
// cluster of --config, warms its connections up and builds the model and its KV cache
// before any clock starts, then reads its prompt and:
//
//   --mode store     computes the prompt (no cache read), stores every full block
//                    (PutAsync, FlushAsync) and prints {"blocks": N, "stored": S, ...};
//                    exit 1 unless every block was stored.
//   --mode compare   runs the prompt without the cache, then with it (GetPrefix into the
//                    KV cache, prefill of the rest, PutAsync of what it computed), decodes
//                    --decode tokens in both, and prints one JSON line with both
//                    times-to-first-token and whether the generated tokens and every
//                    step's logits are bit-identical; exit 1 when they are not.
//
//   transformer_worker --config FILE --prompt FILE --mode store|compare [--decode 16]
//       [--block-tokens 64] [--layers 8] [--dim 512] [--heads 8] [--hidden 1408]
//       [--vocab 32000] [--seed 1] [--threads 1]
//
// Exit 2 for a bad command line, config or prompt file.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <string>

#include "kv_worker.h"
#include "prefixcache/client.h"
#include "prefixcache/client_config.h"
#include "prefixcache/hasher.h"
#include "transformer.h"

namespace {

using prefixcache::Client;
using namespace prefixcache::examples;

int Fail(const std::string& what) {
  std::fprintf(stderr, "transformer_worker: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"One inference worker of the time-to-first-token demo"};
  std::string config_path, prompt_path, mode;
  int decode = 16, threads = 1;
  Config config;
  app.add_option("--config", config_path, "the cluster's config file")->required();
  app.add_option("--prompt", prompt_path, "the prompt: decimal token ids")->required();
  app.add_option("--mode", mode, "store or compare")
      ->required()
      ->check(CLI::IsMember({"store", "compare"}));
  app.add_option("--decode", decode, "tokens decoded after the first")->check(CLI::Range(0, 4096));
  app.add_option("--block-tokens", config.block_tokens)->check(CLI::Range(1, 4096));
  app.add_option("--layers", config.layers)->check(CLI::Range(1, 256));
  app.add_option("--dim", config.dim)->check(CLI::Range(2, 65536));
  app.add_option("--heads", config.heads)->check(CLI::Range(1, 1024));
  app.add_option("--hidden", config.hidden)->check(CLI::Range(1, 1 << 20));
  app.add_option("--vocab", config.vocab)->check(CLI::Range(1, 1 << 24));
  app.add_option("--seed", config.seed);
  app.add_option("--threads", threads, "OpenBLAS threads")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  if (config.dim % config.heads != 0 || (config.dim / config.heads) % 2 != 0) {
    return Fail("--dim must be --heads times an even head size");
  }

  auto tokens = ReadTokens(prompt_path);
  if (!tokens.ok()) return Fail(tokens.status().ToString());
  if (tokens->empty()) return Fail(prompt_path + ": no tokens");
  for (std::uint32_t t : *tokens) {
    if (t >= static_cast<std::uint32_t>(config.vocab))
      return Fail(prompt_path + ": token >= vocab");
  }
  auto options = prefixcache::ClientOptionsFromConfigFile(config_path);
  if (!options.ok()) return Fail(options.status().ToString());
  auto opened = Client::Open(*options);
  if (!opened.ok()) return Fail(opened.status().ToString());
  Client& client = **opened;
  auto hasher = prefixcache::Hasher::Create(DemoNamespace(config));
  if (!hasher.ok()) return Fail(hasher.status().ToString());

  // Start-up, before any clock: connections, weights, the KV cache, BLAS's buffers (one
  // tile computed and thrown away).
  openblas_set_num_threads(threads);
  WarmUp(client);
  Transformer model(config, tokens->size() + decode);
  model.Prefill(std::span(*tokens).first(1), 0);

  if (mode == "store") {
    RunOutcome run = RunPrompt(model, client, *hasher, *tokens, 0, CacheUse::kStore);
    const bool flushed = client.FlushAsync(120000);
    const auto stats = client.Stats();
    const bool all = run.put_queued && flushed && stats.blocks_stored == run.computed_blocks &&
                     stats.blocks_not_stored == 0;
    std::printf("{\"blocks\": %zu, \"stored\": %llu, \"ttft_ms\": %.3f}\n", run.computed_blocks,
                static_cast<unsigned long long>(stats.blocks_stored), run.ttft_ms);
    return all ? 0 : 1;
  }

  RunOutcome uncached = RunPrompt(model, client, *hasher, *tokens, decode, CacheUse::kNone);
  RunOutcome cached = RunPrompt(model, client, *hasher, *tokens, decode, CacheUse::kFetchAndStore);
  const bool flushed = client.FlushAsync(120000);
  const auto stats = client.Stats();
  const bool tokens_identical = uncached.generated == cached.generated;
  const bool logits_identical = uncached.logits.size() == cached.logits.size() &&
                                std::memcmp(uncached.logits.data(), cached.logits.data(),
                                            uncached.logits.size() * sizeof(float)) == 0;
  std::printf(
      "{\"prompt_tokens\": %zu, \"cached_tokens\": %zu, \"ttft_ms_uncached\": %.3f, "
      "\"ttft_ms_cached\": %.3f, \"fetch_ms\": %.3f, \"fetched_bytes\": %zu, "
      "\"suffix_compute_ms\": %.3f, \"computed_blocks\": %zu, \"stored_blocks\": %llu, "
      "\"checksum_failures\": %llu, \"first_token\": %u, \"tokens_identical\": %s, "
      "\"logits_identical\": %s}\n",
      tokens->size(), cached.cached_tokens, uncached.ttft_ms, cached.ttft_ms, cached.fetch_ms,
      cached.fetched_bytes, cached.suffix_compute_ms, cached.computed_blocks,
      static_cast<unsigned long long>(stats.blocks_stored),
      static_cast<unsigned long long>(stats.checksum_failures), cached.generated[0],
      tokens_identical ? "true" : "false", logits_identical ? "true" : "false");
  if (!cached.put_queued || !flushed) {
    std::fprintf(stderr, "transformer_worker: computed blocks were not all handed over\n");
  }
  return tokens_identical && logits_identical ? 0 : 1;
}
