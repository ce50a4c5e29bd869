// ReplyBuilder: builds RESP2 replies as a list of segments for one scatter/gather write.
// Protocol framing and small values go into an internal arena; large bulk payloads are
// referenced from their reference-counted Buffer (no copy), which the builder keeps alive
// until Clear() or destruction. Not thread-safe: one builder per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/buffer.h"

namespace prefixcache::protocol {

class ReplyBuilder {
 public:
  // Bulk payloads at least this large are referenced, smaller ones copied into the arena.
  static constexpr std::size_t kReferenceBulkBytes = 4096;

  struct Segment {
    const std::byte* data;
    std::size_t size;
  };

  void SimpleString(std::string_view text);  // "+text\r\n"
  void Error(std::string_view message);      // "-message\r\n"; message like "ERR unknown ..."
  void Integer(std::int64_t value);          // ":value\r\n"
  void Bulk(std::string_view bytes);         // copied
  void Bulk(const Buffer& bytes);            // referenced when large
  void Nil();                                // "$-1\r\n"
  void NilArray();                           // "*-1\r\n"
  void ArrayHeader(std::size_t count);       // "*count\r\n"

  // The reply bytes so far as segments in order. Pointers stay valid until the next call
  // of a writing method, Clear() or destruction.
  std::vector<Segment> Segments() const;
  std::size_t TotalBytes() const { return total_bytes_; }
  bool empty() const { return total_bytes_ == 0; }
  void Clear();

 private:
  struct Piece {
    Buffer buffer;             // set for a referenced payload
    std::size_t arena_offset;  // otherwise a range of arena_
    std::size_t size;
  };
  void AppendArena(std::string_view bytes);

  std::string arena_;
  std::vector<Piece> pieces_;
  std::size_t total_bytes_ = 0;
};

}  // namespace prefixcache::protocol
