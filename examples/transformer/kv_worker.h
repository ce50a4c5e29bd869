// The inference worker's loop around the example transformer: tokens -> block keys
// (Hasher) -> GetPrefix straight into the KV cache -> prefill of the remaining tokens only
// -> first token (the time-to-first-token clock stops) -> PutAsync of the blocks it
// computed -> greedy decode. Also the run without the cache, for comparison, and the
// prompt files the demo hands to its worker processes. Not thread-safe: one thread drives a
// worker's Transformer and its calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "prefixcache/client.h"
#include "prefixcache/hasher.h"
#include "prefixcache/status.h"
#include "transformer.h"

namespace prefixcache::examples {

// The namespace of this implementation's KV bytes: model_id "demo-cpp-v1", the seed as the
// revision, the sizes and the block layout, so that a worker with other weights, sizes or
// layout (the torch worker) never shares keys whose bytes differ.
Namespace DemoNamespace(const Config& config);

// What one run of a prompt produced and how long it took.
struct RunOutcome {
  std::vector<std::uint32_t> generated;  // the first token, then the decoded ones
  std::vector<float> logits;             // every step's logits, concatenated
  std::size_t cached_tokens = 0;         // tokens whose K/V were fetched, not computed
  std::size_t fetched_bytes = 0;         // payload bytes fetched into the KV cache
  std::size_t computed_blocks = 0;       // full blocks computed (and handed to PutAsync)
  bool put_queued = true;                // PutAsync accepted every computed block
  double ttft_ms = 0;                    // tokens handed over -> first token chosen
  double fetch_ms = 0;                   // GetPrefix
  double suffix_compute_ms = 0;          // prefill of the rest and the first token's logits
};

// How a run uses the cache.
enum class CacheUse {
  kNone,           // computes everything, stores nothing (the run to compare with)
  kStore,          // computes everything, stores every full block (the demo's writer)
  kFetchAndStore,  // fetches the leading cached blocks, computes and stores the rest
};

// Runs `tokens` (at least one) on `model` and decodes `decode` more tokens. kFetchAndStore
// fetches the leading cached blocks (all but the block holding the last token, whose logits
// must be computed). kStore and kFetchAndStore queue the full blocks they computed with
// PutAsync after the first token was chosen (the caller flushes). The KV cache is cleared
// first. REQUIRES: tokens.size() + decode <= model.capacity_tokens(), every token < vocab.
RunOutcome RunPrompt(Transformer& model, Client& client, const Hasher& hasher,
                     std::span<const std::uint32_t> tokens, int decode, CacheUse use);

// One fetch of a few random keys that reaches every node, to open connections before any
// clock starts (as an engine does at start-up).
void WarmUp(Client& client);

// A prompt file: decimal token ids separated by white space. IoError when the file cannot
// be read or written, InvalidArgument when it holds something else.
Result<std::vector<std::uint32_t>> ReadTokens(const std::string& path);
Status WriteTokens(const std::string& path, std::span<const std::uint32_t> tokens);

// `count` tokens below `vocab` drawn from `seed` (deterministic).
std::vector<std::uint32_t> RandomTokens(std::uint64_t seed, std::size_t count, int vocab);

}  // namespace prefixcache::examples
