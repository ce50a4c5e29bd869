#include "key_mapping.h"

#define XXH_DISPATCH_DISABLE_REPLACE  // call the *_dispatch entry point by name
#include <xxh_x86dispatch.h>

namespace prefixcache::daemon {

BlockKey MapKey(std::string_view key) {
  if (key.size() == BlockKey::kSize) return *BlockKey::FromBytes(key);
  // The dispatching entry point runs on the widest vector unit the CPU has (chosen once at
  // run time); the hash is the same on every CPU.
  XXH128_hash_t hash = XXH3_128bits_dispatch(key.data(), key.size());
  return BlockKey::FromHalves(hash.high64, hash.low64);
}

}  // namespace prefixcache::daemon
