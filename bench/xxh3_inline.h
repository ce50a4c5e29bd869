// XXH3-64 compiled inline for one vector unit, for client_bench's "best the CPU offers"
// figure: the same functions built once per unit (xxh3_unit.cc with -mavx2, and again
// with -mavx512f), so a binary that holds them still runs on any x86-64 as long as each is
// called only after a run-time CPU check (Xxh3InlineSupported). Thread-safe (pure).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace prefixcache::bench {

enum class Xxh3Unit { kAvx2, kAvx512 };

// Whether this CPU (and OS) runs `unit`'s code.
bool Xxh3InlineSupported(Xxh3Unit unit);

// XXH3_64bits_withSeed of `data` in one call, and the same streamed in slices of
// `slice_bytes` (reset, update per slice, digest), as a client hashing socket reads does.
// REQUIRES: Xxh3InlineSupported(unit).
std::uint64_t Xxh3InlineOneShot(Xxh3Unit unit, std::span<const std::byte> data, std::uint64_t seed);
std::uint64_t Xxh3InlineStreamed(Xxh3Unit unit, std::span<const std::byte> data,
                                 std::size_t slice_bytes, std::uint64_t seed);

namespace detail {
std::uint64_t OneShotAvx2(const void* data, std::size_t size, std::uint64_t seed);
std::uint64_t StreamedAvx2(const void* data, std::size_t size, std::size_t slice,
                           std::uint64_t seed);
std::uint64_t OneShotAvx512(const void* data, std::size_t size, std::uint64_t seed);
std::uint64_t StreamedAvx512(const void* data, std::size_t size, std::size_t slice,
                             std::uint64_t seed);
}  // namespace detail

inline bool Xxh3InlineSupported(Xxh3Unit unit) {
  __builtin_cpu_init();
  return unit == Xxh3Unit::kAvx2 ? __builtin_cpu_supports("avx2")
                                 : __builtin_cpu_supports("avx512f");
}

inline std::uint64_t Xxh3InlineOneShot(Xxh3Unit unit, std::span<const std::byte> data,
                                       std::uint64_t seed) {
  return unit == Xxh3Unit::kAvx2 ? detail::OneShotAvx2(data.data(), data.size(), seed)
                                 : detail::OneShotAvx512(data.data(), data.size(), seed);
}

inline std::uint64_t Xxh3InlineStreamed(Xxh3Unit unit, std::span<const std::byte> data,
                                        std::size_t slice_bytes, std::uint64_t seed) {
  return unit == Xxh3Unit::kAvx2
             ? detail::StreamedAvx2(data.data(), data.size(), slice_bytes, seed)
             : detail::StreamedAvx512(data.data(), data.size(), slice_bytes, seed);
}

}  // namespace prefixcache::bench
