// The tiers' statistics counters: std::atomic<std::uint64_t> updated and read with relaxed
// ordering (a Stats() snapshot may mix moments, see stats.h). Private to storage/.
#pragma once

#include <atomic>
#include <cstdint>

namespace prefixcache::storage {

inline constexpr auto kRelaxed = std::memory_order_relaxed;

inline void Add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
  counter.fetch_add(n, kRelaxed);
}

}  // namespace prefixcache::storage
