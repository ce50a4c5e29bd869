// ShardedCounter: a statistics counter split into cache-line cells, one per thread slot,
// so that I/O threads counting every request do not bounce one cache line between cores.
// Add() is thread-safe and wait-free; Load() sums the cells (a relaxed snapshot).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace prefixcache::daemon {

class ShardedCounter {
 public:
  static constexpr std::size_t kCells = 8;

  void Add(std::uint64_t n = 1) {
    cells_[ThreadCell()].value.fetch_add(n, std::memory_order_relaxed);
  }

  std::uint64_t Load() const {
    std::uint64_t sum = 0;
    for (const Cell& cell : cells_) sum += cell.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) Cell {
    std::atomic<std::uint64_t> value{0};
  };

  // Threads take cells round-robin in the order they first count.
  static std::size_t ThreadCell() {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t cell = next.fetch_add(1, std::memory_order_relaxed) % kCells;
    return cell;
  }

  std::array<Cell, kCells> cells_{};
};

}  // namespace prefixcache::daemon
