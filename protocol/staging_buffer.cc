#include "staging_buffer.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

namespace prefixcache::protocol::internal {

bool StagingBuffer::Unreferenced() const {
  if (chunk_.use_count() != 1) return false;
  // Slices dropped on other threads released their reference with a release decrement;
  // this fence orders their reads of the chunk before our next writes to it.
  std::atomic_thread_fence(std::memory_order_acquire);
  return true;
}

std::span<std::byte> StagingBuffer::Tail(std::size_t contiguous) {
  if (begin_ == end_ && begin_ != 0 && Unreferenced()) begin_ = end_ = 0;
  const std::size_t want = std::max(contiguous, size() + 1);
  const std::size_t free = capacity_ - end_;
  const bool fits = capacity_ - begin_ >= want;
  if (!fits || free == 0 || (free < kMinReadBytes && begin_ != 0)) Relocate(want);
  return {data_ + end_, capacity_ - end_};
}

void StagingBuffer::Relocate(std::size_t want) {
  const std::size_t unparsed = size();
  if (data_ != nullptr && capacity_ >= want && Unreferenced()) {
    std::memmove(data_, data_ + begin_, unparsed);
  } else {
    // A chunk only grows past kChunkBytes for an inline line near max_inline_bytes; double
    // then so a long line is not copied once per read.
    const std::size_t capacity = want <= kChunkBytes ? kChunkBytes : 2 * want;
    MutableBuffer fresh(capacity);
    if (unparsed != 0) std::memcpy(fresh.data(), data_ + begin_, unparsed);
    data_ = fresh.data();
    chunk_ = std::move(fresh).Freeze();
    capacity_ = capacity;
  }
  begin_ = 0;
  end_ = unparsed;
}

}  // namespace prefixcache::protocol::internal
