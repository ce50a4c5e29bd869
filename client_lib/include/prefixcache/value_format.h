// The layout in which the client stores a block's value, so that a worker never receives
// bytes that were corrupted anywhere between its put and its get. Free functions on plain
// bytes; thread-safe.
//
// Stored value = payload || checksum || magic, 12 bytes after the payload:
//   payload   the caller's bytes, unchanged (any length, including 0)
//   checksum  8 bytes, little-endian: XXH3_64bits_withSeed(payload, seed) with
//             seed = key.High() ^ key.Low() (the key's two 8-byte halves, each read
//             big-endian), so that a value stored under another key fails too
//   magic     4 bytes, ASCII "PCv1"
// A trailer (not a header) lets a get read the payload straight into the caller's buffer
// and only the last 12 bytes elsewhere.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "prefixcache/block_key.h"
#include "prefixcache/destination.h"

namespace prefixcache {

inline constexpr std::size_t kValueTrailerBytes = 12;
inline constexpr std::array<std::byte, 4> kValueMagic = {std::byte{'P'}, std::byte{'C'},
                                                         std::byte{'v'}, std::byte{'1'}};

using ValueTrailer = std::array<std::byte, kValueTrailerBytes>;

// The XXH3-64 seed of values stored under `key`: key.High() ^ key.Low().
inline std::uint64_t ValueChecksumSeed(const BlockKey& key) { return key.High() ^ key.Low(); }

// The checksum of `payload` stored under `key` (XXH3 on the widest vector unit the CPU
// has, chosen at run time).
std::uint64_t ValueChecksum(const BlockKey& key, std::span<const std::byte> payload);
// The same for a payload given in parts (their concatenation).
std::uint64_t ValueChecksum(const BlockKey& key, const Source& payload);

// The 12 bytes to store after `payload` under `key`.
ValueTrailer MakeValueTrailer(const BlockKey& key, std::span<const std::byte> payload);
ValueTrailer MakeValueTrailer(const BlockKey& key, const Source& payload);

// True when `trailer` carries the magic and the checksum of `payload` under `key`. With
// verify_checksum false only the magic is checked.
bool CheckValueTrailer(const BlockKey& key, std::span<const std::byte> payload,
                       std::span<const std::byte, kValueTrailerBytes> trailer,
                       bool verify_checksum = true);

// The payload of a whole stored value, or nullopt when it is shorter than the trailer,
// lacks the magic or fails the checksum. The span points into `stored`.
std::optional<std::span<const std::byte>> VerifyStoredValue(const BlockKey& key,
                                                            std::span<const std::byte> stored);

}  // namespace prefixcache
