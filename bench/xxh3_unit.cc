// Inline XXH3 for one vector unit, built once per unit (bench/CMakeLists.txt): with -mavx2
// and PREFIXCACHE_XXH3_UNIT=Avx2, and with -mavx512f and PREFIXCACHE_XXH3_UNIT=Avx512. It
// defines detail::OneShot<unit> and detail::Streamed<unit> of xxh3_inline.h.
#include "xxh3_inline_impl.h"

#if !defined(PREFIXCACHE_XXH3_UNIT)
#error "xxh3_unit.cc needs PREFIXCACHE_XXH3_UNIT (Avx2 or Avx512)"
#endif

#define PREFIXCACHE_XXH3_CONCAT2(a, b) a##b
#define PREFIXCACHE_XXH3_CONCAT(a, b) PREFIXCACHE_XXH3_CONCAT2(a, b)
#define PREFIXCACHE_XXH3_NAME(name) PREFIXCACHE_XXH3_CONCAT(name, PREFIXCACHE_XXH3_UNIT)

namespace prefixcache::bench::detail {

uint64_t PREFIXCACHE_XXH3_NAME(OneShot)(const void* data, size_t size, uint64_t seed) {
  return OneShotImpl(data, size, seed);
}

uint64_t PREFIXCACHE_XXH3_NAME(Streamed)(const void* data, size_t size, size_t slice,
                                         uint64_t seed) {
  return StreamedImpl(data, size, slice, seed);
}

}  // namespace prefixcache::bench::detail
