// ReplyBuilder: builds RESP2 replies as segments for one scatter/gather write (a
// SegmentList): framing and small values in the arena, large bulk payloads referenced from
// their reference-counted Buffer (no copy), which the builder keeps alive until Clear() or
// destruction. Not thread-safe: one builder per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "prefixcache/buffer.h"
#include "protocol/resp_segments.h"

namespace prefixcache::protocol {

class ReplyBuilder : public SegmentList {
 public:
  void SimpleString(std::string_view text);  // "+text\r\n"
  void Error(std::string_view message);      // "-message\r\n"; message like "ERR unknown ..."
  void Integer(std::int64_t value);          // ":value\r\n"
  void Bulk(std::string_view bytes);         // copied
  void Bulk(const Buffer& bytes);            // referenced when large
  void Nil();                                // "$-1\r\n"
  void NilArray();                           // "*-1\r\n"
  void ArrayHeader(std::size_t count);       // "*count\r\n"

 private:
  // "<prefix>text\r\n" with every CR and LF of `text` written as a space.
  void Line(char prefix, std::string_view text);
};

}  // namespace prefixcache::protocol
