#include "prefixcache/value_format.h"

#define XXH_STATIC_LINKING_ONLY       // XXH3_state_t on the stack
#define XXH_DISPATCH_DISABLE_REPLACE  // call the *_dispatch entry points by name
#include <xxh_x86dispatch.h>

#include <cstring>
#include <optional>

#include "value_trailer.h"

namespace prefixcache {
namespace {

ValueTrailer TrailerOf(std::uint64_t sum) {
  ValueTrailer trailer;
  for (int i = 0; i < 8; ++i) trailer[i] = static_cast<std::byte>(sum >> (8 * i));
  std::memcpy(trailer.data() + 8, kValueMagic.data(), kValueMagic.size());
  return trailer;
}

}  // namespace

std::uint64_t ValueChecksum(const BlockKey& key, std::span<const std::byte> payload) {
  return XXH3_64bits_withSeed_dispatch(payload.data(), payload.size(), ValueChecksumSeed(key));
}

std::uint64_t ValueChecksum(const BlockKey& key, const Source& payload) {
  if (payload.parts.size() == 1) return ValueChecksum(key, payload.parts[0]);
  XXH3_state_t state{};  // reset_withSeed reads the old seed before it sets one
  XXH3_64bits_reset_withSeed(&state, ValueChecksumSeed(key));
  for (const auto& part : payload.parts) {
    XXH3_64bits_update_dispatch(&state, part.data(), part.size());
  }
  return XXH3_64bits_digest(&state);
}

ValueTrailer MakeValueTrailer(const BlockKey& key, std::span<const std::byte> payload) {
  return TrailerOf(ValueChecksum(key, payload));
}

ValueTrailer MakeValueTrailer(const BlockKey& key, const Source& payload) {
  return TrailerOf(ValueChecksum(key, payload));
}

std::optional<std::uint64_t> client::TrailerChecksum(
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
  const std::optional<std::uint64_t> stored = client::TrailerChecksum(trailer);
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

}  // namespace prefixcache
