// Inline XXH3 for AVX-512 (this file is compiled with -mavx512f; see xxh3_inline.h).
#include "xxh3_inline_impl.h"

#ifndef __AVX512F__
#error "xxh3_avx512.cc must be compiled with -mavx512f"
#endif

namespace prefixcache::bench::detail {

uint64_t OneShotAvx512(const void* data, size_t size, uint64_t seed) {
  return OneShotImpl(data, size, seed);
}

uint64_t StreamedAvx512(const void* data, size_t size, size_t slice, uint64_t seed) {
  return StreamedImpl(data, size, slice, seed);
}

}  // namespace prefixcache::bench::detail
