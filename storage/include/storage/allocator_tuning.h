// TuneAllocatorForBlocks: process-wide glibc malloc settings for a process that holds many
// multi-megabyte blocks. Call once from main(), before threads start; not thread-safe.
#pragma once

#include "prefixcache/status.h"

namespace prefixcache::storage {

// Keeps freed block buffers in the heap for reuse instead of returning them to the kernel:
// M_MMAP_THRESHOLD = 32 MiB (blocks below it come from the heap, not a fresh mmap) and
// M_TRIM_THRESHOLD = 1 GiB. Without it every new block of a few MiB is fresh mmap memory
// and pays a page fault per 4 KiB on first touch, which makes a one-copy Put cost about
// 4x a memcpy into warm memory (bench/RESULTS.md). Blocks of 32 MiB and more are still
// mmapped. IoError if glibc refuses a setting.
Status TuneAllocatorForBlocks();

}  // namespace prefixcache::storage
