// How a Redis key names a block: a 16-byte key is the raw BlockKey, any other key maps to
// XXH3-128 of its bytes (so SET of a 16-byte key and BLOCK.MSET of it address the same
// block) and is stored with its name, which SCAN and KEYS return. Redis's glob patterns
// for SCAN MATCH and KEYS. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "prefixcache/block_key.h"

namespace prefixcache::daemon {

// The block a standard command's key (GET, SET, DEL, ...) addresses.
BlockKey MapKey(std::string_view key);

// The name a standard command's key is stored with: the key itself (the empty key too)
// unless it is 16 bytes (the raw block key is its own name); nullopt then.
inline std::optional<std::string_view> KeyName(std::string_view key) {
  if (key.size() == BlockKey::kSize) return std::nullopt;
  return key;
}

// The key SCAN and KEYS return for a block: its stored name, else its raw 16 bytes.
inline std::string_view ScanName(const BlockKey& key, const std::optional<std::string>& name) {
  return name ? std::string_view(*name) : key.View();
}

// Whether `text` matches the glob `pattern` as Redis's stringmatchlen matches it
// (case-sensitive): `*` any run, `?` any byte, `[abc]` `[^abc]` `[a-z]` a set, `\x` the
// byte x. Patterns nest `*` at most a few thousand deep before giving up (no match).
bool GlobMatch(std::string_view pattern, std::string_view text);

// The raw block key of a BLOCK.* command; nullopt unless exactly 16 bytes.
inline std::optional<BlockKey> RawBlockKey(std::string_view key) {
  return BlockKey::FromBytes(key);
}

}  // namespace prefixcache::daemon
