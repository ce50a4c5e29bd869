#include "eviction_policy.h"

#include <string>

#include "lru_policy.h"
#include "prefix_policy.h"
#include "prefixcache/defaults.h"
#include "tiered_policy.h"

namespace prefixcache::storage {

Result<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name, TierView view) {
  if (name == "lru") return std::unique_ptr<EvictionPolicy>(std::make_unique<LruPolicy>());
  if (name == "prefix") {
    return std::unique_ptr<EvictionPolicy>(std::make_unique<PrefixPolicy>());
  }
  if (name == "tiered") {
    return std::unique_ptr<EvictionPolicy>(std::make_unique<TieredPolicy>(view));
  }
  return Status::InvalidArgument("unknown eviction policy \"" + std::string(name) +
                                 "\" (expected " + std::string(defaults::kEvictionPoliciesText) +
                                 ")");
}

}  // namespace prefixcache::storage
