#include "eviction_policy.h"

#include <string>

#include "lru_policy.h"
#include "prefix_policy.h"

namespace prefixcache::storage {

Result<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name) {
  if (name == "lru") return std::unique_ptr<EvictionPolicy>(std::make_unique<LruPolicy>());
  if (name == "prefix") {
    return std::unique_ptr<EvictionPolicy>(std::make_unique<PrefixPolicy>());
  }
  return Status::InvalidArgument("unknown eviction policy \"" + std::string(name) +
                                 "\" (expected \"lru\" or \"prefix\")");
}

}  // namespace prefixcache::storage
