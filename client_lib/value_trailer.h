// Reading the trailer of a stored value (value_format.h has the layout), private to
// client_lib: shared by CheckValueTrailer and ChunkReader, which hashes the payload as it
// arrives. A pure function; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "prefixcache/value_format.h"

namespace prefixcache::client {

// The checksum `trailer` carries, or nullopt when it lacks the magic.
std::optional<std::uint64_t> TrailerChecksum(
    std::span<const std::byte, kValueTrailerBytes> trailer);

}  // namespace prefixcache::client
