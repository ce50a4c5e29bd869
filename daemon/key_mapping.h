// How a Redis key names a block: a 16-byte key is the raw BlockKey, any other key maps to
// XXH3-128 of its bytes (so SET of a 16-byte key and BLOCK.MSET of it address the same
// block). Pure functions, thread-safe.
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
