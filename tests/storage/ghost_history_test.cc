#include "ghost_history.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <random>

namespace prefixcache::storage {

TEST_CASE("GhostHistory remembers nothing until it has a capacity", "[unit]") {
  GhostHistory ghost;
  ghost.Remember(0x1234, 2);
  CHECK(ghost.size() == 0);
  CHECK(ghost.Take(0x1234) == 0);
}

TEST_CASE("GhostHistory gives back a block's uses once, clamped to kMaxUses", "[unit]") {
  GhostHistory ghost;
  ghost.Grow(10);
  CHECK(ghost.capacity() >= 10);
  ghost.Remember(0xA000, 1);
  ghost.Remember(0xB000, 2);
  ghost.Remember(0xC000, 9);
  CHECK(ghost.size() == 3);
  CHECK(ghost.Take(0xB000) == 2);
  CHECK(ghost.Take(0xB000) == 0);  // taken
  CHECK(ghost.Take(0xC000) == GhostHistory::kMaxUses);
  CHECK(ghost.Take(0xD000) == 0);  // never remembered
  CHECK(ghost.size() == 1);
  // The low two bits are not part of the fingerprint.
  CHECK(ghost.Take(0xA003) == 1);
}

TEST_CASE("GhostHistory forgets the oldest departures first and keeps them across Grow", "[unit]") {
  GhostHistory ghost;
  ghost.Grow(1);
  const std::size_t capacity = ghost.capacity();
  for (std::uint64_t i = 1; i <= capacity + 3; ++i) ghost.Remember(i << 8, 1);
  CHECK(ghost.size() == capacity);
  for (std::uint64_t i = 1; i <= 3; ++i) CHECK(ghost.Take(i << 8) == 0);
  CHECK(ghost.Take(4 << 8) == 1);
  ghost.Grow(4 * capacity);
  CHECK(ghost.size() == capacity - 1);
  for (std::uint64_t i = 5; i <= capacity + 3; ++i) CHECK(ghost.Take(i << 8) == 1);
  CHECK(ghost.size() == 0);
}

TEST_CASE("GhostHistory agrees with a plain FIFO under random use", "[unit]") {
  GhostHistory ghost;
  ghost.Grow(100);
  std::size_t capacity = ghost.capacity();
  // The model: departures in order; a taken one leaves a hole that still ages out, until
  // Grow packs the survivors.
  std::deque<std::pair<std::uint64_t, std::uint8_t>> fifo;
  std::map<std::uint64_t, std::uint8_t> held;
  std::mt19937_64 rng(42);
  for (int op = 0; op < 200000; ++op) {
    // Few distinct fingerprints, so probes collide and Take hits often; the multiplier
    // spreads them over the index like real key hashes.
    const std::uint64_t fingerprint = (rng() % 300 + 1) * 0x9E3779B97F4A7C15ull & ~3ull;
    if (rng() % 2 == 0) {
      if (held.contains(fingerprint)) continue;  // the policy never remembers a held key twice
      const auto uses = static_cast<std::uint8_t>(rng() % 3 + 1);
      if (fifo.size() == capacity) {
        if (fifo.front().first != 0) held.erase(fifo.front().first);
        fifo.pop_front();
      }
      fifo.emplace_back(fingerprint, uses);
      held[fingerprint] = uses;
      ghost.Remember(fingerprint, uses);
    } else {
      auto it = held.find(fingerprint);
      const std::uint8_t expected = it == held.end() ? 0 : it->second;
      REQUIRE(ghost.Take(fingerprint) == expected);
      if (it != held.end()) {
        for (auto& entry : fifo) {
          if (entry.first == fingerprint) entry.first = 0;
        }
        held.erase(it);
      }
    }
    REQUIRE(ghost.size() == held.size());
    if (op == 100000) {
      ghost.Grow(3 * capacity);
      capacity = ghost.capacity();
      std::erase_if(fifo, [](const auto& entry) { return entry.first == 0; });
    }
  }
}

}  // namespace prefixcache::storage
