#include "staging_buffer.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <utility>

namespace prefixcache::protocol::internal {
namespace {

// Whether only the staging buffer itself refers to `chunk`.
bool OnlyOwner(const Buffer& chunk) {
  if (chunk.use_count() != 1) return false;
  // Slices dropped on other threads released their reference with a release decrement;
  // this fence orders their reads of the chunk before our next writes to it (or its free).
  std::atomic_thread_fence(std::memory_order_acquire);
  return true;
}

}  // namespace

bool StagingBuffer::Unreferenced() const { return OnlyOwner(chunk_); }

std::span<std::byte> StagingBuffer::Tail(std::size_t contiguous) {
  if (!retired_.empty()) DropUnreferencedRetired();
  if (begin_ == end_ && begin_ != 0 && Unreferenced()) begin_ = end_ = 0;
  const std::size_t want = std::max(contiguous, size() + 1);
  const std::size_t free = capacity_ - end_;
  const bool fits = capacity_ - begin_ >= want;
  if (!fits || free == 0 || (free < kMinReadBytes && begin_ != 0)) {
    if (!Relocate(want)) return {};
  }
  return {data_ + end_, capacity_ - end_};
}

bool StagingBuffer::Relocate(std::size_t want) {
  const std::size_t unparsed = size();
  // A small (idle) chunk is never compacted into: a read that filled it means input is
  // flowing, which gets a full-size chunk.
  if (data_ != nullptr && capacity_ >= want && capacity_ >= kChunkBytes && Unreferenced()) {
    std::memmove(data_, data_ + begin_, unparsed);
    begin_ = 0;
    end_ = unparsed;
    return true;
  }
  // A chunk only grows past kChunkBytes for an inline line near max_inline_bytes; double
  // then so a long line is not copied once per read.
  std::size_t capacity = want <= kChunkBytes ? kChunkBytes : 2 * want;
  if (budget_ != nullptr && data_ == nullptr && want <= kIdleChunkBytes) {
    capacity = kIdleChunkBytes;
  }
  MemoryCharge charge;
  if (budget_ != nullptr && !charge.TryAdd(*budget_, capacity, /*large=*/false)) return false;
  MutableBuffer fresh;
  try {
    fresh = MutableBuffer(capacity);
  } catch (const std::bad_alloc&) {
    return false;  // the charge goes back; the caller waits as for a refusal
  }
  if (unparsed != 0) std::memcpy(fresh.data(), data_ + begin_, unparsed);
  if (budget_ != nullptr && data_ != nullptr && !Unreferenced()) {
    retired_.push_back(Retired{std::move(chunk_), std::move(charge_)});
  }
  data_ = fresh.data();
  chunk_ = std::move(fresh).Freeze();
  charge_ = std::move(charge);
  capacity_ = capacity;
  begin_ = 0;
  end_ = unparsed;
  return true;
}

void StagingBuffer::DropUnreferencedRetired() {
  std::erase_if(retired_, [](const Retired& r) { return OnlyOwner(r.chunk); });
}

void StagingBuffer::Trim() {
  if (budget_ == nullptr) return;
  DropUnreferencedRetired();
  if (data_ == nullptr || size() != 0 || !Unreferenced()) return;
  if (capacity_ <= kIdleChunkBytes) {
    begin_ = end_ = 0;  // small enough to keep for the next read
    return;
  }
  chunk_ = Buffer();
  data_ = nullptr;
  capacity_ = begin_ = end_ = 0;
  charge_.Reset();
}

std::uint64_t StagingBuffer::charged_bytes() const {
  std::uint64_t bytes = charge_.bytes();
  for (const Retired& r : retired_) bytes += r.charge.bytes();
  return bytes;
}

}  // namespace prefixcache::protocol::internal
