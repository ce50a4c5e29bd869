// SegmentList: the bytes of one scatter/gather write, built in order -- RESP framing and
// small pieces copied into an arena, large pieces referenced where they lie (caller memory,
// or a reference-counted Buffer the list keeps alive until Clear()). The base of
// ReplyBuilder and CommandBuilder, which add the RESP types on top.
// Not thread-safe: one list per connection (or per request).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/buffer.h"

namespace prefixcache::protocol {

class SegmentList {
 public:
  // Pieces at least this large are referenced, smaller ones copied into the arena.
  static constexpr std::size_t kReferenceBytes = 4096;

  struct Segment {
    const std::byte* data;
    std::size_t size;
  };

  // The bytes so far as segments in order (consecutive arena bytes form one segment).
  // Pointers stay valid until the next call of a writing method, Clear() or destruction.
  std::vector<Segment> Segments() const;
  std::size_t TotalBytes() const { return total_bytes_; }
  bool empty() const { return total_bytes_ == 0; }
  // Appends every byte of `other` (its referenced pieces stay referenced, its kept Buffers
  // are kept here) and clears it.
  void Append(SegmentList&& other);
  // Forgets every byte and releases the kept Buffers; the arena's memory is kept for the
  // next use unless it grew past 1 MiB.
  void Clear();

 protected:
  // Copies `bytes` into the arena.
  void Copy(std::string_view bytes);
  // "<prefix><value>\r\n" (a RESP type byte and a length, count or integer).
  void Header(char prefix, std::int64_t value);
  // `bytes`, referenced when at least kReferenceBytes (the caller keeps them alive and
  // unchanged until the segments have been written or Clear()), copied otherwise.
  void Reference(std::span<const std::byte> bytes);
  // `bytes`, referenced when large; the list keeps the Buffer alive until Clear().
  void Reference(const Buffer& bytes);

 private:
  struct Piece {
    const std::byte* external;  // set for a referenced piece
    std::size_t arena_offset;   // otherwise a range of arena_
    std::size_t size;
  };

  std::string arena_;
  std::vector<Piece> pieces_;
  std::vector<Buffer> kept_;  // Buffers whose bytes pieces_ reference
  std::size_t total_bytes_ = 0;
};

}  // namespace prefixcache::protocol
