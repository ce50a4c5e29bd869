// Buffer: reference-counted immutable bytes. A stored block, a parsed bulk string and a
// reply being written all share one allocation: copying a Buffer copies a pointer, and the
// bytes live until the last copy is gone (so a socket send outlives an eviction).
// MutableBuffer is the one-owner stage before: allocate, fill (recv straight into it),
// then Freeze() into a Buffer without a copy. Buffer is thread-safe to share (the bytes are
// never written after Freeze); MutableBuffer is owned by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>
#include <utility>

#include "prefixcache/check.h"

namespace prefixcache {

class Buffer;

class MutableBuffer {
 public:
  MutableBuffer() = default;
  // Uninitialised storage for `size` bytes. Throws std::bad_alloc only when the system is
  // out of memory; callers bound `size` by their limits first.
  explicit MutableBuffer(std::size_t size)
      : data_(static_cast<std::byte*>(size ? std::malloc(size) : nullptr), &std::free),
        size_(size) {
    if (size && !data_) throw std::bad_alloc();
  }

  std::byte* data() { return data_.get(); }
  std::size_t size() const { return size_; }
  std::span<std::byte> span() { return {data_.get(), size_}; }

  // Gives the bytes to an immutable Buffer; this MutableBuffer is empty afterwards.
  Buffer Freeze() &&;

 private:
  std::unique_ptr<std::byte, decltype(&std::free)> data_{nullptr, &std::free};
  std::size_t size_ = 0;
};

class Buffer {
 public:
  Buffer() = default;

  // A Buffer holding a copy of `bytes`.
  static Buffer Copy(std::span<const std::byte> bytes) {
    MutableBuffer m(bytes.size());
    if (!bytes.empty()) std::memcpy(m.data(), bytes.data(), bytes.size());
    return std::move(m).Freeze();
  }
  static Buffer Copy(std::string_view text) {
    return Copy(std::as_bytes(std::span(text.data(), text.size())));
  }

  const std::byte* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const std::byte> span() const { return {data_.get(), size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_.get()), size_}; }

  // A Buffer viewing bytes [offset, offset + length) of this one, sharing its allocation
  // (no copy; the whole allocation lives while any slice does). CHECKs the range.
  Buffer Slice(std::size_t offset, std::size_t length) const {
    PC_CHECK(offset <= size_ && length <= size_ - offset);
    return Buffer(std::shared_ptr<const std::byte>(data_, data_.get() + offset), length);
  }

  // Number of Buffers sharing these bytes (for tests and stats).
  long use_count() const { return data_.use_count(); }

 private:
  friend class MutableBuffer;
  Buffer(std::shared_ptr<const std::byte> data, std::size_t size)
      : data_(std::move(data)), size_(size) {}

  std::shared_ptr<const std::byte> data_;
  std::size_t size_ = 0;
};

inline Buffer MutableBuffer::Freeze() && {
  std::size_t size = std::exchange(size_, 0);
  std::byte* raw = data_.release();
  if (raw == nullptr) return Buffer(std::shared_ptr<const std::byte>(), 0);
  return Buffer(std::shared_ptr<const std::byte>(raw, &std::free), size);
}

}  // namespace prefixcache
