// Inline XXH3 for AVX2 (this file is compiled with -mavx2; see xxh3_inline.h).
#include "xxh3_inline_impl.h"

#ifndef __AVX2__
#error "xxh3_avx2.cc must be compiled with -mavx2"
#endif

namespace prefixcache::bench::detail {

uint64_t OneShotAvx2(const void* data, size_t size, uint64_t seed) {
  return OneShotImpl(data, size, seed);
}

uint64_t StreamedAvx2(const void* data, size_t size, size_t slice, uint64_t seed) {
  return StreamedImpl(data, size, slice, seed);
}

}  // namespace prefixcache::bench::detail
