#include "prefixcache/value_format.h"

#include <xxhash.h>

#include <cstring>
#include <optional>

#include "value_trailer.h"

namespace prefixcache::client {

std::uint64_t ValueChecksum(const BlockKey& key, std::span<const std::byte> payload) {
  return XXH3_64bits_withSeed(payload.data(), payload.size(), ValueChecksumSeed(key));
}

ValueTrailer MakeValueTrailer(const BlockKey& key, std::span<const std::byte> payload) {
  ValueTrailer trailer;
  std::uint64_t sum = ValueChecksum(key, payload);
  for (int i = 0; i < 8; ++i) trailer[i] = static_cast<std::byte>(sum >> (8 * i));
  std::memcpy(trailer.data() + 8, kValueMagic.data(), kValueMagic.size());
  return trailer;
}

std::optional<std::uint64_t> TrailerChecksum(
    std::span<const std::byte, kValueTrailerBytes> trailer) {
  if (std::memcmp(trailer.data() + 8, kValueMagic.data(), kValueMagic.size()) != 0) {
    return std::nullopt;
  }
  std::uint64_t stored = 0;
  for (int i = 7; i >= 0; --i) stored = stored << 8 | std::to_integer<std::uint64_t>(trailer[i]);
  return stored;
}

bool CheckValueTrailer(const BlockKey& key, std::span<const std::byte> payload,
                       std::span<const std::byte, kValueTrailerBytes> trailer,
                       bool verify_checksum) {
  const std::optional<std::uint64_t> stored = TrailerChecksum(trailer);
  return stored && (!verify_checksum || *stored == ValueChecksum(key, payload));
}

std::optional<std::span<const std::byte>> VerifyStoredValue(const BlockKey& key,
                                                            std::span<const std::byte> stored) {
  if (stored.size() < kValueTrailerBytes) return std::nullopt;
  auto payload = stored.first(stored.size() - kValueTrailerBytes);
  auto trailer = stored.last<kValueTrailerBytes>();
  if (!CheckValueTrailer(key, payload, trailer)) return std::nullopt;
  return payload;
}

}  // namespace prefixcache::client
