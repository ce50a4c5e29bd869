// How a Redis key names a block: a key of exactly 16 bytes is a raw BlockKey (what
// BLOCK.* commands and the client library send), any other key maps to the XXH3-128 of its
// bytes. So GET/SET work on arbitrary keys, and SET of a 16-byte key addresses the same
// block as BLOCK.MSET of that key. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "prefixcache/block_key.h"

namespace prefixcache::daemon {

// The block a standard command's key (GET, SET, DEL, ...) addresses.
BlockKey MapKey(std::string_view key);

// The raw block key of a BLOCK.* command; nullopt unless exactly 16 bytes.
inline std::optional<BlockKey> RawBlockKey(std::string_view key) {
  return BlockKey::FromBytes(key);
}

}  // namespace prefixcache::daemon
