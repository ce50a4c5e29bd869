// Helpers shared by the protocol fuzz targets: a seed derived from the input, a small
// deterministic generator, and feeding a parser in pieces of varying size exactly as a
// socket would (only where ReadBuffer() or a scatter list says). Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/check.h"
#include "prefixcache/status.h"

namespace prefixcache::protocol::fuzz {

// FNV-1a over the first 64 bytes of the input: the same input always splits the same way.
inline std::uint64_t SeedOf(std::string_view input) {
  std::uint64_t seed = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < std::min<std::size_t>(input.size(), 64); ++i) {
    seed = (seed ^ static_cast<std::uint8_t>(input[i])) * 0x100000001b3ull;
  }
  return seed;
}

// What parsing one input gave: the values parsed, in order, then the error ("" if none).
template <typename Value>
struct Outcome {
  std::vector<Value> parsed;
  std::string error;
};

// A 64-bit LCG (Knuth's MMIX constants); Next() returns its upper 31 bits.
struct Rng {
  std::uint64_t state;
  std::uint64_t Next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  }
};

// Commits `n` bytes (the input is fed up to `at`) and calls drained(at); the error message
// when Commit() failed, after checking that the failed parser keeps failing the same way.
template <typename Parser, typename Drained>
std::optional<std::string> CommitChecked(Parser& parser, std::size_t n, std::size_t at,
                                         Drained& drained) {
  const Status status = parser.Commit(n);
  drained(at);
  if (status.ok()) return std::nullopt;
  PC_CHECK(parser.Commit(0).message() == status.message());
  return status.message();
}

// Feeds `input` to `parser` through ReadBuffer()/Commit() in pieces of pseudo-random size
// from `seed` (mostly small, sometimes up to 5000 bytes), or as much as each ReadBuffer()
// takes when `whole`, and calls drained(bytes fed so far) after every Commit(). Returns the
// error message of the first failed Commit() ("" when none), after checking that the
// failed parser keeps failing the same way.
template <typename Parser, typename Drained>
std::string FeedInPieces(Parser& parser, std::string_view input, std::uint64_t seed, bool whole,
                         Drained&& drained) {
  Rng rng{seed};
  std::size_t at = 0;
  while (at < input.size()) {
    const std::span<std::byte> into = parser.ReadBuffer();
    PC_CHECK(!into.empty());
    std::size_t n = whole                 ? input.size()
                    : rng.Next() % 4 == 0 ? rng.Next() % 5000 + 1
                                          : rng.Next() % 16 + 1;
    n = std::min({n, into.size(), input.size() - at});
    std::memcpy(into.data(), input.data() + at, n);
    at += n;
    if (const auto error = CommitChecked(parser, n, at, drained)) return *error;
  }
  return {};
}

// The same through a scatter list (ReplyParser::ReadBuffers(), as one readv would): each
// piece of pseudo-random size is copied across the spans in order.
template <typename Parser, typename Drained>
std::string FeedScattered(Parser& parser, std::string_view input, std::uint64_t seed,
                          Drained&& drained) {
  Rng rng{seed};
  std::size_t at = 0;
  while (at < input.size()) {
    const auto spans = parser.ReadBuffers();
    PC_CHECK(!spans.empty());
    std::size_t want = rng.Next() % 4 == 0 ? rng.Next() % 70000 + 1 : rng.Next() % 64 + 1;
    want = std::min(want, input.size() - at);
    std::size_t n = 0;
    for (const std::span<std::byte>& span : spans) {
      const std::size_t step = std::min(span.size(), want - n);
      std::memcpy(span.data(), input.data() + at + n, step);
      n += step;
      if (n == want) break;
    }
    at += n;
    if (const auto error = CommitChecked(parser, n, at, drained)) return *error;
  }
  return {};
}

}  // namespace prefixcache::protocol::fuzz
