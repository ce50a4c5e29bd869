#include "storage/allocator_tuning.h"

#include <malloc.h>

namespace prefixcache::storage {

Status TuneAllocatorForBlocks() {
  constexpr int kMmapThreshold = 32 * 1024 * 1024;
  constexpr int kTrimThreshold = 1024 * 1024 * 1024;
  if (::mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1) {
    return Status::IoError("mallopt(M_MMAP_THRESHOLD) refused");
  }
  if (::mallopt(M_TRIM_THRESHOLD, kTrimThreshold) != 1) {
    return Status::IoError("mallopt(M_TRIM_THRESHOLD) refused");
  }
  return Status::Ok();
}

}  // namespace prefixcache::storage
