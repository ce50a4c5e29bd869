// Block: one stored block as both tiers hold it -- its bytes (a reference-counted Buffer,
// shared, never copied, between the tiers and the readers) and its depth in the prefix
// chain. A plain value; private to storage/.
#pragma once

#include <cstdint>

#include "prefixcache/buffer.h"

namespace prefixcache::storage {

struct Block {
  Buffer value;
  std::uint32_t depth = 0;  // the block's index in its chain (0 = first block)
};

}  // namespace prefixcache::storage
