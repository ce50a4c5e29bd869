#include "key_mapping.h"

#include <xxhash.h>

namespace prefixcache::daemon {

BlockKey MapKey(std::string_view key) {
  if (key.size() == BlockKey::kSize) return *BlockKey::FromBytes(key);
  XXH128_hash_t hash = XXH3_128bits(key.data(), key.size());
  return BlockKey::FromHalves(hash.high64, hash.low64);
}

}  // namespace prefixcache::daemon
