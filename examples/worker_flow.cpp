// worker_flow: the flow of an inference worker using the prefix cache, end to end.
// For each prompt: tokens -> block keys (Hasher) -> GetPrefix (the longest cached prefix,
// fetched in one round trip straight into the worker's own KV pages: each block's K half
// and V half live in separate pools, as in SGLang's page_first layout, and are filled as
// the two parts of one destination) -> "compute" the remaining blocks (here: deterministic
// bytes standing in for prefill) -> Put them from the same two parts for the next worker.
// Two prompts share a long system prompt, so the second one reuses its blocks. Every
// fetched block is compared with what prefill would have produced (bit-identical).
//
//   worker_flow CONFIG.json     (the cluster's config file, as the daemons read it)
//
// Exit status 0 when the second prompt reused the shared prefix and every fetched block
// was bit-identical; 1 otherwise; 2 for a bad command line or config.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "prefixcache/client.h"
#include "prefixcache/client_config.h"
#include "prefixcache/hasher.h"

namespace {

using prefixcache::BlockKey;
using prefixcache::BlockRead;
using prefixcache::Client;
using prefixcache::Destination;
using prefixcache::Source;

constexpr std::uint32_t kBlockTokens = 16;
// KV bytes of one block: 16 tokens x 2 (K, V) x 4 layers x 8 heads x 64 dims x 2 bytes;
// its K half, then its V half.
constexpr std::size_t kBlockBytes = 16 * 2 * 4 * 8 * 64 * 2;
constexpr std::size_t kHalfBytes = kBlockBytes / 2;

// Stands in for prefill: the KV bytes of a block are a function of its key (which commits
// to the whole prefix), as real KV is a function of the prefix's tokens.
void ComputeBlock(const BlockKey& key, std::span<std::byte> out) {
  std::uint64_t x = (key.High() ^ (key.Low() * 0x9E3779B97F4A7C15ull)) | 1;
  for (std::size_t i = 0; i < out.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, std::min<std::size_t>(8, out.size() - i));
  }
}

std::vector<std::uint32_t> Tokens(std::uint32_t seed, std::size_t n) {
  std::vector<std::uint32_t> t(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& v : t) {
    x = x * 1664525u + 1013904223u;
    v = x % 128000;  // a vocabulary of 128k tokens
  }
  return t;
}

struct Outcome {
  std::size_t blocks = 0, fetched = 0, computed = 0, stored = 0, mismatched = 0;
};

Outcome Serve(Client& client, const prefixcache::Hasher& hasher,
              const std::vector<std::uint32_t>& tokens) {
  Outcome o;
  const std::vector<BlockKey> keys = hasher.Keys(tokens);
  o.blocks = keys.size();
  // The worker's KV memory for this prompt: a pool of K pages and a pool of V pages, one
  // page of each per block, each exactly half a block.
  std::vector<std::byte> k_pool(keys.size() * kHalfBytes), v_pool(keys.size() * kHalfBytes);
  std::vector<std::span<std::byte>> parts;  // block i: parts[2i] (K), parts[2i + 1] (V)
  for (std::size_t i = 0; i < keys.size(); ++i) {
    parts.emplace_back(k_pool.data() + i * kHalfBytes, kHalfBytes);
    parts.emplace_back(v_pool.data() + i * kHalfBytes, kHalfBytes);
  }
  std::vector<Destination> pages;
  for (std::size_t i = 0; i < keys.size(); ++i)
    pages.push_back({std::span(parts).subspan(2 * i, 2)});

  // The leading cached run, fetched in one round trip; never an error for node failures.
  std::vector<BlockRead> reads(keys.size());
  o.fetched = client.GetPrefix(keys, pages, reads).value();
  std::vector<std::byte> expected(kBlockBytes);
  for (std::size_t i = 0; i < o.fetched; ++i) {
    ComputeBlock(keys[i], expected);
    if (std::memcmp(expected.data(), parts[2 * i].data(), kHalfBytes) != 0 ||
        std::memcmp(expected.data() + kHalfBytes, parts[2 * i + 1].data(), kHalfBytes) != 0) {
      ++o.mismatched;
    }
  }

  // Prefill of the rest (into the same pages), then store it for the next worker.
  std::vector<std::byte> block(kBlockBytes);
  std::vector<std::span<const std::byte>> const_parts(parts.begin(), parts.end());
  std::vector<Source> values;
  std::vector<std::uint32_t> depths;
  for (std::size_t i = o.fetched; i < keys.size(); ++i) {
    ComputeBlock(keys[i], block);
    std::memcpy(parts[2 * i].data(), block.data(), kHalfBytes);
    std::memcpy(parts[2 * i + 1].data(), block.data() + kHalfBytes, kHalfBytes);
    values.push_back({std::span(const_parts).subspan(2 * i, 2)});
    depths.push_back(static_cast<std::uint32_t>(i));
    ++o.computed;
  }
  if (!values.empty()) {
    auto put = client.Put(std::span(keys).subspan(o.fetched), values, depths);
    if (put.ok()) o.stored = put->stored;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CONFIG.json\n", argv[0]);
    return 2;
  }
  auto options = prefixcache::ClientOptionsFromConfigFile(argv[1]);
  if (!options.ok()) {
    std::fprintf(stderr, "worker_flow: %s\n", options.status().ToString().c_str());
    return 2;
  }
  auto opened = Client::Open(*options);
  if (!opened.ok()) {
    std::fprintf(stderr, "worker_flow: %s\n", opened.status().ToString().c_str());
    return 2;
  }
  Client& client = **opened;

  prefixcache::Namespace ns;
  ns.model_id = "example/tiny-llm";
  ns.model_revision = "r1";
  ns.dtype = "float16";
  ns.kv_layout = "layers4.heads8.dim64";
  ns.block_size_tokens = kBlockTokens;
  auto hasher = prefixcache::Hasher::Create(ns);
  if (!hasher.ok()) {
    std::fprintf(stderr, "worker_flow: %s\n", hasher.status().ToString().c_str());
    return 2;
  }

  // A 20-block system prompt shared by both requests, then two different questions.
  const std::vector<std::uint32_t> system = Tokens(7, 20 * kBlockTokens);
  std::vector<std::vector<std::uint32_t>> prompts;
  for (std::uint32_t q : {1u, 2u}) {
    std::vector<std::uint32_t> p = system;
    const auto question = Tokens(100 + q, 5 * kBlockTokens + 7);  // + a partial block
    p.insert(p.end(), question.begin(), question.end());
    prompts.push_back(std::move(p));
  }

  std::vector<Outcome> outcomes;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    Outcome o = Serve(client, *hasher, prompts[i]);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "prompt %zu: %zu tokens, %zu blocks: %zu cached and fetched into KV pages "
        "(%zu not bit-identical), %zu computed, %zu stored (%.2f ms)\n",
        i + 1, prompts[i].size(), o.blocks, o.fetched, o.mismatched, o.computed, o.stored, ms);
    outcomes.push_back(o);
  }
  const auto stats = client.Stats();
  std::printf(
      "client: %llu hits, %llu misses, %llu bytes read, %llu bytes written, "
      "%llu checksum failures\n",
      static_cast<unsigned long long>(stats.hits), static_cast<unsigned long long>(stats.misses),
      static_cast<unsigned long long>(stats.bytes_read),
      static_cast<unsigned long long>(stats.bytes_written),
      static_cast<unsigned long long>(stats.checksum_failures));

  const bool reused =
      outcomes[1].fetched >= 20 && outcomes[1].mismatched == 0 && outcomes[0].mismatched == 0;
  std::printf("%s\n", reused ? "the second prompt reused the shared prefix"
                             : "the shared prefix was NOT reused");
  return reused ? 0 : 1;
}
