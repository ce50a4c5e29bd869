// The body of one vector unit's inline XXH3 (included by xxh3_unit.cc, compiled once per
// unit): xxHash itself inlined with XXH_INLINE_ALL, so its vector
// code is chosen at compile time from the unit's compiler flag. Defines OneShotImpl and
// StreamedImpl (file-local), which xxh3_unit.cc exports under its unit's names.
//
// Nothing with external linkage but the exported functions may be compiled here: an inline
// C++ library function instantiated in this file (std::min, say) could be picked by the
// linker for the whole program and run unchecked on a CPU without the unit. So: xxHash's
// functions only (static under XXH_INLINE_ALL) and plain C types.
#define XXH_INLINE_ALL
#define XXH_STATIC_LINKING_ONLY
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

namespace {

uint64_t OneShotImpl(const void* data, size_t size, uint64_t seed) {
  return XXH3_64bits_withSeed(data, size, seed);
}

uint64_t StreamedImpl(const void* data, size_t size, size_t slice, uint64_t seed) {
  XXH3_state_t state{};  // reset_withSeed reads the old seed before it sets one
  XXH3_64bits_reset_withSeed(&state, seed);
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t at = 0; at < size; at += slice) {
    XXH3_64bits_update(&state, p + at, size - at < slice ? size - at : slice);
  }
  return XXH3_64bits_digest(&state);
}

}  // namespace
