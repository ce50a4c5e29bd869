#include "kv_worker.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>

namespace prefixcache::examples {

namespace {

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

Namespace DemoNamespace(const Config& config) {
  Namespace ns;
  ns.model_id = "demo-cpp-v1";
  ns.model_revision = "seed=" + std::to_string(config.seed);
  ns.dtype = "float32";
  ns.kv_layout = "layers=" + std::to_string(config.layers) + ",dim=" + std::to_string(config.dim) +
                 ",heads=" + std::to_string(config.heads) +
                 ",hidden=" + std::to_string(config.hidden) +
                 ",vocab=" + std::to_string(config.vocab) + ",[layer][K|V][token][head][dim]";
  ns.block_size_tokens = static_cast<std::uint32_t>(config.block_tokens);
  return ns;
}

RunOutcome RunPrompt(Transformer& model, Client& client, const Hasher& hasher,
                     std::span<const std::uint32_t> tokens, int decode, CacheUse use) {
  const std::size_t block = model.config().block_tokens;
  const std::size_t vocab = model.config().vocab;
  model.ClearCache();
  // The KV cache's pages as destinations and sources, set up before the clock as an
  // engine registers its pages once: block i is the 2 x layers parts parts[i].
  std::vector<std::vector<std::span<std::byte>>> parts;
  std::vector<std::vector<std::span<const std::byte>>> const_parts;
  std::vector<Destination> pages;
  std::vector<Source> sources;
  const std::size_t full_blocks = tokens.size() / block;
  for (std::size_t i = 0; i < full_blocks; ++i) {
    parts.push_back(model.BlockParts(i));
    const_parts.emplace_back(parts.back().begin(), parts.back().end());
  }
  for (std::size_t i = 0; i < full_blocks; ++i) {
    pages.push_back({parts[i]});
    sources.push_back({const_parts[i]});
  }
  std::vector<BlockRead> reads(full_blocks);

  RunOutcome out;
  const auto start = std::chrono::steady_clock::now();  // the tokens are handed over
  std::size_t hits = 0;
  std::vector<BlockKey> keys;
  if (use != CacheUse::kNone) keys = hasher.Keys(tokens);
  if (use == CacheUse::kFetchAndStore) {
    // The block holding the last token is always computed: its logits are the output.
    const std::size_t lookup = std::min(keys.size(), (tokens.size() - 1) / block);
    const auto fetch_start = std::chrono::steady_clock::now();
    auto got = client.GetPrefix(std::span(keys).first(lookup),
                                std::span<const Destination>(pages).first(lookup),
                                std::span(reads).first(lookup));
    hits = got.ok() ? *got : 0;
    out.fetch_ms = MsSince(fetch_start);
  }
  out.cached_tokens = hits * block;
  out.fetched_bytes = hits * model.config().block_bytes();
  const auto compute_start = std::chrono::steady_clock::now();
  model.Prefill(tokens, out.cached_tokens);
  out.generated.push_back(model.Argmax());
  out.ttft_ms = MsSince(start);
  out.suffix_compute_ms = MsSince(compute_start);
  out.logits.assign(model.logits().begin(), model.logits().end());

  out.computed_blocks = full_blocks - hits;
  if (use != CacheUse::kNone && out.computed_blocks > 0) {
    std::vector<std::uint32_t> depths(out.computed_blocks);
    for (std::size_t i = 0; i < depths.size(); ++i)
      depths[i] = static_cast<std::uint32_t>(hits + i);
    out.put_queued = client.PutAsync(std::span(keys).subspan(hits, out.computed_blocks),
                                     std::span<const Source>(sources).subspan(hits), depths);
  }

  out.logits.reserve(vocab * (decode + 1));
  for (int step = 0; step < decode; ++step) {
    model.Step(out.generated.back(), tokens.size() + step);
    out.generated.push_back(model.Argmax());
    out.logits.insert(out.logits.end(), model.logits().begin(), model.logits().end());
  }
  return out;
}

void WarmUp(Client& client) {
  std::mt19937_64 rng(0x5eed);
  std::vector<BlockKey> keys;
  for (int i = 0; i < 256; ++i) keys.push_back(BlockKey::FromHalves(rng(), rng()));
  (void)client.Get(keys);
}

Result<std::vector<std::uint32_t>> ReadTokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError(path + ": cannot read");
  std::vector<std::uint32_t> tokens;
  std::uint64_t t = 0;
  while (in >> t) {
    if (t > UINT32_MAX) return Status::InvalidArgument(path + ": token out of range");
    tokens.push_back(static_cast<std::uint32_t>(t));
  }
  if (!in.eof()) return Status::InvalidArgument(path + ": expected decimal token ids");
  return tokens;
}

Status WriteTokens(const std::string& path, std::span<const std::uint32_t> tokens) {
  std::ofstream out(path);
  for (std::uint32_t t : tokens) out << t << '\n';
  out.close();
  if (!out) return Status::IoError(path + ": cannot write");
  return Status::Ok();
}

std::vector<std::uint32_t> RandomTokens(std::uint64_t seed, std::size_t count, int vocab) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint32_t> tokens(count);
  for (auto& t : tokens) t = static_cast<std::uint32_t>(rng() % static_cast<std::uint64_t>(vocab));
  return tokens;
}

}  // namespace prefixcache::examples
