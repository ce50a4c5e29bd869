// Hasher: turns a prompt's tokens into the chained block keys of DESIGN.md, for one
// namespace (model, revision, dtype, layout, block size, LoRA adapter, tenant salt).
// Immutable after Create: thread-safe to share and to call from any thread.
//
// The keys are specified byte for byte here so that any implementation (C++, Python, Rust)
// computes the same keys; tests/client/hasher_test.cc pins a test vector. All integers are
// little-endian; XXH3_128 is XXH3_128bits with seed 0 (xxHash >= 0.8.0).
//
//   namespace bytes = "prefixcache/ns/v1"            (17 ASCII bytes, no terminator)
//                     || str(model_id) || str(model_revision) || str(dtype)
//                     || str(kv_layout) || u32(block_size_tokens)
//                     || str(lora_adapter) || str(tenant_salt)
//       where str(s) = u32(byte length of s) || the bytes of s (UTF-8 as given, no
//       normalisation, no terminator) and u32(x) = x as 4 bytes little-endian.
//   seed  = canonical(XXH3_128(namespace bytes))
//   key_0 = canonical(XXH3_128(seed || u32(t_0) || ... || u32(t_{B-1})))
//   key_i = canonical(XXH3_128(key_{i-1} || u32(t_{iB}) || ... || u32(t_{iB+B-1})))
//       where B = block_size_tokens and canonical(h) is the 16 bytes of
//       XXH128_canonicalFromHash: h.high64 big-endian, then h.low64 big-endian -- the byte
//       order of BlockKey::FromHalves(h.high64, h.low64).
//   name key = canonical(XXH3_128(seed || the name's bytes))
//       for a block the engine names itself (KeyOf: SGLang's page-hash strings, say).
//
// Every field is hashed, empty or not, so ("ab", "") and ("a", "b") differ. No randomness
// enters: the same namespace and tokens give the same keys in every process, on every
// host and in every version using "prefixcache/ns/v1".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/status.h"

namespace prefixcache {

// Everything that makes KV bytes incompatible: blocks are shared only between workers whose
// Namespace is equal field by field.
struct Namespace {
  std::string model_id;                 // e.g. "meta-llama/Llama-3.1-8B-Instruct"
  std::string model_revision;           // e.g. a commit hash of the weights
  std::string dtype;                    // KV dtype, e.g. "bfloat16", "fp8_e4m3"
  std::string kv_layout;                // the worker's tensor layout of a block's K and V
  std::uint32_t block_size_tokens = 0;  // tokens per block (B); must be > 0
  std::string lora_adapter;             // empty for the base model
  std::string tenant_salt;              // empty unless tenants must not share blocks
};

class Hasher {
 public:
  // A hasher for `ns`. InvalidArgument when ns.block_size_tokens is 0 (or a string field is
  // 4 GiB or longer, which its u32 length cannot encode).
  static Result<Hasher> Create(const Namespace& ns);

  // The namespace seed (the chain's key_{-1}).
  BlockKey seed() const { return seed_; }

  // Tokens per block.
  std::uint32_t block_size() const { return block_size_; }

  // One key per full block of `tokens`: tokens.size() / block_size() keys, key i covering
  // tokens [0, (i + 1) * block_size()). A trailing partial block is not hashed.
  std::vector<BlockKey> Keys(std::span<const std::uint32_t> tokens) const;

  // The key of the block `block_tokens` following the block whose key is `prev` (pass
  // seed() for the first block). REQUIRES: block_tokens.size() == block_size() (CHECKed:
  // aborts otherwise).
  BlockKey Next(const BlockKey& prev, std::span<const std::uint32_t> block_tokens) const;

  // The key of a block the engine names itself instead of by its tokens (e.g. SGLang's
  // page-hash strings): canonical(XXH3_128(seed() || name)). Any bytes, empty too; the
  // namespace keeps equal names of different namespaces apart.
  BlockKey KeyOf(std::span<const std::byte> name) const;

 private:
  Hasher(BlockKey seed, std::uint32_t block_size) : seed_(seed), block_size_(block_size) {}

  BlockKey seed_;
  std::uint32_t block_size_;
};

}  // namespace prefixcache
