// StagingBuffer (internal to protocol/): the input staging area of one parser. The socket
// reads into a reference-counted chunk and parsed values are zero-copy slices of it. A
// chunk is only ever written past the bytes handed out, and reused from its start only once
// no slice refers to it any more (otherwise a fresh chunk takes the unparsed tail).
// With a MemoryBudget (SetBudget), every chunk is charged to it from its allocation until no
// slice refers to it any more (Trim), and a chunk the budget refuses is not allocated.
// Not thread-safe: owned by one parser. Handed-out slices may be read on any thread.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "prefixcache/buffer.h"
#include "prefixcache/check.h"
#include "protocol/memory_budget.h"

namespace prefixcache::protocol::internal {

class StagingBuffer {
 public:
  // Size of a fresh chunk; each socket read fills at most the free tail of one chunk.
  static constexpr std::size_t kChunkBytes = 64 * 1024;
  // With a budget, the first chunk after Trim() left none: what an idle connection holds
  // for its next read. A read that fills it moves on to a kChunkBytes chunk.
  static constexpr std::size_t kIdleChunkBytes = 4 * 1024;
  // A free tail smaller than this is worth compacting (or replacing) before a read.
  static constexpr std::size_t kMinReadBytes = 4 * 1024;

  // Charges chunks allocated from now on to `budget` (which must outlive this buffer).
  void SetBudget(MemoryBudget* budget) { budget_ = budget; }

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

  // Free space after the unparsed bytes for the next read. Makes sure the chunk can hold
  // `contiguous` unparsed bytes in one piece (a small bulk payload and its CRLF), compacting
  // or moving the unparsed bytes to a fresh chunk when needed. Empty only when the budget
  // refused the fresh chunk (nothing changed then; call again once memory was released).
  std::span<std::byte> Tail(std::size_t contiguous);

  // `n` bytes were written at the start of the span Tail() returned.
  void Commit(std::size_t n) {
    PC_CHECK(n <= capacity_ - end_);
    end_ += n;
  }

  // Gives back to the budget the chunks no slice refers to any more: earlier chunks, and
  // the current one when it holds no unparsed byte (an idle connection then holds at most a
  // kIdleChunkBytes chunk). Without a budget a no-op.
  void Trim();

  // Bytes of chunks charged to the budget now.
  std::uint64_t charged_bytes() const;

 private:
  // A chunk replaced while slices still referred to it: kept (and charged) until they are
  // gone.
  struct Retired {
    Buffer chunk;
    MemoryCharge charge;
  };

  bool Unreferenced() const;
  // False when the budget refused the chunk.
  bool Relocate(std::size_t want);
  void DropUnreferencedRetired();

  MemoryBudget* budget_ = nullptr;
  Buffer chunk_;               // the chunk; slices handed out share it
  std::byte* data_ = nullptr;  // writable alias of chunk_ (only bytes never handed out)
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;  // first unparsed byte
  std::size_t end_ = 0;    // one past the last byte read
  MemoryCharge charge_;    // of chunk_
  std::vector<Retired> retired_;
};

}  // namespace prefixcache::protocol::internal
