// Helpers shared by the client tests: reproducible random keys and values, views of value
// vectors as the span-of-spans the Client takes, opening a client, and waiting for an
// event with a bound that only a hang reaches. Pure functions except OpenClient/WaitUntil.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <thread>
#include <vector>

#include "cluster/ring.h"
#include "prefixcache/block_key.h"
#include "prefixcache/client.h"
#include "prefixcache/client_options.h"
#include "resp_client.h"

namespace prefixcache::testing {

inline std::vector<BlockKey> RandomKeys(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<BlockKey> keys(n);
  for (auto& key : keys) key = BlockKey::FromHalves(rng(), rng());
  return keys;
}

// `size` bytes derived from the key, so that a value read back can be checked.
inline std::vector<std::byte> ValueFor(const BlockKey& key, std::size_t size) {
  std::vector<std::byte> out(size);
  std::uint64_t x = key.High() ^ key.Low() ^ size;
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, std::min<std::size_t>(8, size - i));
  }
  return out;
}

inline std::vector<std::vector<std::byte>> ValuesFor(std::span<const BlockKey> keys,
                                                     std::size_t size) {
  std::vector<std::vector<std::byte>> out;
  for (const auto& key : keys) out.push_back(ValueFor(key, size));
  return out;
}

template <typename T>
std::vector<std::span<const std::byte>> ConstSpans(const std::vector<std::vector<T>>& values) {
  std::vector<std::span<const std::byte>> out;
  for (const auto& v : values) out.push_back(std::as_bytes(std::span(v)));
  return out;
}

template <typename T>
std::vector<std::span<std::byte>> MutableSpans(std::vector<std::vector<T>>& values) {
  std::vector<std::span<std::byte>> out;
  for (auto& v : values) out.push_back(std::as_writable_bytes(std::span(v)));
  return out;
}

inline std::vector<std::uint32_t> Depths(std::size_t n) {
  std::vector<std::uint32_t> d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint32_t>(i);
  return d;
}

// The ring the client builds from `options`, for tests that need to know owners.
inline cluster::Ring RingOf(const ClientOptions& options) {
  std::vector<cluster::NodeSpec> specs;
  for (const auto& n : options.nodes) specs.push_back({n.id, n.address, n.weight});
  return cluster::Ring::Build(specs, options.virtual_nodes, options.replicas).value();
}

// `options` with call and connect timeouts that only a hang reaches, for tests in which
// no node is slow on purpose: then a slow machine cannot turn a live node's keys into
// misses, and a node that is down shows as refused or dropped connections, not timeouts.
inline ClientOptions Patient(ClientOptions options) {
  options.timeout_ms = static_cast<std::uint32_t>(kGenerousBound.count());
  options.connect_timeout_ms = static_cast<std::uint32_t>(kGenerousBound.count());
  return options;
}

inline std::unique_ptr<Client> OpenClient(const ClientOptions& options) {
  auto opened = Client::Open(options);
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

// Polls `done` until it holds (true) or kGenerousBound passed (false).
template <typename Done>
bool WaitUntil(Done&& done) {
  const auto deadline = std::chrono::steady_clock::now() + kGenerousBound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace prefixcache::testing
