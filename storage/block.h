// Block: one stored block as both tiers hold it -- its bytes (a reference-counted Buffer,
// shared, never copied, between the tiers and the readers), its depth in the prefix
// chain and its KeyMeta (expiry and name; null for most blocks). A plain value; private to
// storage/.
#pragma once

#include <cstdint>
#include <utility>

#include "key_meta.h"
#include "prefixcache/buffer.h"

namespace prefixcache::storage {

struct Block {
  Block() = default;
  Block(Buffer value_in, std::uint32_t depth_in, KeyMetaRef meta_in = {})
      : value(std::move(value_in)), depth(depth_in), meta(std::move(meta_in)) {}

  Buffer value;
  std::uint32_t depth = 0;  // the block's index in its chain (0 = first block)
  KeyMetaRef meta;          // null: no expiry, no name
};

}  // namespace prefixcache::storage
