// BlockKey: the 16-byte key of one KV block (a chained XXH3-128 of its token prefix, see
// DESIGN.md). A plain value type; BlockKeyHash hashes it for unordered containers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "prefixcache/hex.h"

namespace prefixcache {

struct BlockKey {
  static constexpr std::size_t kSize = 16;
  std::array<std::uint8_t, kSize> bytes{};

  // The key whose raw bytes are `raw`; nullopt unless raw is exactly 16 bytes.
  static std::optional<BlockKey> FromBytes(std::string_view raw) {
    if (raw.size() != kSize) return std::nullopt;
    BlockKey key;
    std::memcpy(key.bytes.data(), raw.data(), kSize);
    return key;
  }

  // A key built from two 64-bit halves, high half first in the byte order (big-endian),
  // as XXH3-128 canonical form lays them out.
  static BlockKey FromHalves(std::uint64_t high, std::uint64_t low) {
    BlockKey key;
    for (int i = 0; i < 8; ++i) {
      key.bytes[i] = static_cast<std::uint8_t>(high >> (56 - 8 * i));
      key.bytes[8 + i] = static_cast<std::uint8_t>(low >> (56 - 8 * i));
    }
    return key;
  }

  std::uint64_t High() const { return Load(0); }
  std::uint64_t Low() const { return Load(8); }

  std::string_view View() const { return {reinterpret_cast<const char*>(bytes.data()), kSize}; }

  std::string ToHex() const {
    std::string out(2 * kSize, '0');
    for (std::size_t i = 0; i < kSize; ++i) {
      out[2 * i] = kHexDigits[bytes[i] >> 4];
      out[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
    }
    return out;
  }

  // Parses 32 hex digits; nullopt on any other input.
  static std::optional<BlockKey> FromHex(std::string_view hex) {
    if (hex.size() != 2 * kSize) return std::nullopt;
    BlockKey key;
    for (std::size_t i = 0; i < kSize; ++i) {
      const int hi = HexDigitValue(hex[2 * i]);
      const int lo = HexDigitValue(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      key.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return key;
  }

  friend bool operator==(const BlockKey&, const BlockKey&) = default;
  friend auto operator<=>(const BlockKey&, const BlockKey&) = default;

 private:
  std::uint64_t Load(std::size_t at) const {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = v << 8 | bytes[at + i];
    return v;
  }
};

// Keys are already uniform hashes: fold the two halves.
struct BlockKeyHash {
  std::size_t operator()(const BlockKey& key) const {
    return static_cast<std::size_t>(key.High() ^ (key.Low() * 0x9E3779B97F4A7C15ull));
  }
};

}  // namespace prefixcache
