// StagingBuffer (internal to protocol/): the input staging area of one parser. The socket
// reads into a reference-counted chunk and parsed values are zero-copy slices of it. A
// chunk is only ever written past the bytes handed out, and reused from its start only once
// no slice refers to it any more (otherwise a fresh chunk takes the unparsed tail).
// Not thread-safe: owned by one parser. Handed-out slices may be read on any thread.
#pragma once

#include <cstddef>
#include <span>

#include "prefixcache/buffer.h"
#include "prefixcache/check.h"

namespace prefixcache::protocol::internal {

class StagingBuffer {
 public:
  // Size of a fresh chunk; each socket read fills at most the free tail of one chunk.
  static constexpr std::size_t kChunkBytes = 64 * 1024;
  // A free tail smaller than this is worth compacting (or replacing) before a read.
  static constexpr std::size_t kMinReadBytes = 4 * 1024;

  // The unparsed bytes, [data(), data() + size()).
  const char* data() const { return reinterpret_cast<const char*>(data_ + begin_); }
  std::size_t size() const { return end_ - begin_; }
  // Writable view of the unparsed bytes, which are never handed out before they are
  // consumed, so a parser may rewrite them in place (inline unquoting).
  char* mutable_data() { return reinterpret_cast<char*>(data_ + begin_); }

  void Consume(std::size_t n) {
    PC_CHECK(n <= size());
    begin_ += n;
  }

  // Unparsed bytes [offset, offset + length) as a Buffer sharing the chunk (no copy).
  Buffer Slice(std::size_t offset, std::size_t length) const {
    return chunk_.Slice(begin_ + offset, length);
  }

  // Free space after the unparsed bytes for the next read, never empty. Makes sure the
  // chunk can hold `contiguous` unparsed bytes in one piece (a small bulk payload and its
  // CRLF), compacting or moving the unparsed bytes to a fresh chunk when needed.
  std::span<std::byte> Tail(std::size_t contiguous);

  // `n` bytes were written at the start of the span Tail() returned.
  void Commit(std::size_t n) {
    PC_CHECK(n <= capacity_ - end_);
    end_ += n;
  }

 private:
  bool Unreferenced() const;
  void Relocate(std::size_t want);

  Buffer chunk_;               // the chunk; slices handed out share it
  std::byte* data_ = nullptr;  // writable alias of chunk_ (only bytes never handed out)
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;  // first unparsed byte
  std::size_t end_ = 0;    // one past the last byte read
};

}  // namespace prefixcache::protocol::internal
