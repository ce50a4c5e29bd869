// A small decoder-only transformer (Llama-style: token embedding, RMSNorm, rotary
// positions, multi-head attention, SwiGLU MLP, greedy decode, logits for the last position
// only), written for the prefixcache example in the manner of llama2.c's run.c: a Config,
// the weights as plain arrays, the run state with the KV cache, and one Forward() that reads
// top to bottom. fp32, weights drawn from Config::seed (no downloads), matrix products
// through OpenBLAS's cblas_sgemm. Not thread-safe: one thread drives a Transformer.
//
// KV cache memory: per layer a K array and a V array, each [position][head][dim] fp32 (K
// after the rotary embedding), for positions 0 .. capacity_tokens.
//
// A block (block_tokens consecutive positions starting at a multiple of block_tokens) is
// stored in prefixcache as the payload [layer][K|V][token][head][dim]: for layer 0 the
// block's K rows then its V rows, then layer 1, and so on -- 2 x layers parts of
// block_tokens x dim floats, each a contiguous slice of the KV cache (BlockParts). A fetched
// block is scattered from the socket straight into those slices and stored from them: no
// staging copy on either path.
//
// Row independence: Prefill and Step compute a prompt one block-aligned tile at a time
// (rows of the same block, at most block_tokens), and a tile's products depend only on its
// own tokens and on the cached K/V of the positions before it, with the same matrix shapes
// whichever earlier blocks were fetched rather than computed. So a run that starts from
// fetched blocks performs exactly the operations of a run that computes everything, for
// every block it computes: K/V, logits and generated tokens are bit-identical
// (tests/examples/transformer_test.cc checks it, in one process and across processes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace prefixcache::examples {

struct Config {
  int layers = 8;
  int dim = 512;  // model width = heads x head_dim
  int heads = 8;
  int hidden = 1408;  // SwiGLU hidden width
  int vocab = 32000;
  int block_tokens = 64;   // tokens per cached block (and per prefill tile)
  std::uint64_t seed = 1;  // all weights are drawn from it

  int head_dim() const { return dim / heads; }
  // Bytes of one block's payload: layers x 2 x block_tokens x dim floats.
  std::size_t block_bytes() const;
};

// The weights, row-major [out][in] for every matrix (so y = x W^T).
struct TransformerWeights {
  std::vector<float> token_embedding;  // [vocab][dim]
  struct Layer {
    std::vector<float> rms_att, rms_ffn;  // [dim]
    std::vector<float> wq, wk, wv, wo;    // [dim][dim]
    std::vector<float> w1, w3;            // [hidden][dim] (gate, up)
    std::vector<float> w2;                // [dim][hidden] (down)
  };
  std::vector<Layer> layers;
  std::vector<float> rms_final;  // [dim]
  std::vector<float> wcls;       // [vocab][dim]
};

class Transformer {
 public:
  // Draws the weights from config.seed, allocates and touches (zeroes) a KV cache of
  // capacity_tokens positions (rounded up to whole blocks) and the run state. REQUIRES:
  // dim divisible by heads, head_dim even, every size > 0 (aborts otherwise).
  Transformer(const Config& config, std::size_t capacity_tokens);

  const Config& config() const { return config_; }
  std::size_t capacity_tokens() const { return capacity_; }

  // The 2 x layers slices of the KV cache that make up block `block`'s payload, in payload
  // order ([layer][K|V]). The spans stay valid for the Transformer's lifetime.
  std::vector<std::span<std::byte>> BlockParts(std::size_t block);

  // Computes K/V for positions [begin, tokens.size()) and the logits of the last
  // position, reading the K/V of positions < begin from the cache (computed or fetched
  // earlier). REQUIRES: begin a multiple of block_tokens, begin < tokens.size() <=
  // capacity, every token < vocab.
  void Prefill(std::span<const std::uint32_t> tokens, std::size_t begin);

  // Processes one token at position `pos` (the K/V of positions < pos are in the cache)
  // and computes its logits. REQUIRES: pos < capacity, token < vocab.
  void Step(std::uint32_t token, std::size_t pos);

  // The logits of the last position processed by Prefill or Step.
  std::span<const float> logits() const { return logits_; }
  // The greedy choice: the index of the largest logit (the first one among equals).
  std::uint32_t Argmax() const;

  // Sets the whole KV cache to zero (for another prompt; it stays touched).
  void ClearCache();

 private:
  // One tile: `rows` tokens at positions pos0 .. pos0 + rows, all within one block; leaves
  // the final hidden state of each row in x_.
  void Forward(const std::uint32_t* tokens, std::size_t pos0, int rows);
  void Logits(int row);

  Config config_;
  std::size_t capacity_;
  TransformerWeights w_;
  // RunState: the KV cache and the buffers of one tile (block_tokens rows).
  std::vector<std::vector<float>> key_cache_, value_cache_;  // [layer][position][dim]
  std::vector<float> rope_cos_, rope_sin_;                   // [position][head_dim / 2]
  std::vector<float> x_, xb_, q_, att_;                      // [rows][dim]
  std::vector<float> hb_, hb2_;                              // [rows][hidden]
  std::vector<float> scores_;                                // [rows][capacity]
  std::vector<float> logits_;                                // [vocab]
};

}  // namespace prefixcache::examples
