// ReplyBuilder: builds RESP2 or RESP3 replies as segments for one scatter/gather write (a
// SegmentList): framing and small values in the arena, large bulk payloads referenced from
// their reference-counted Buffer (no copy), which the builder keeps alive until Clear() or
// destruction. The types RESP3 adds (null, map, set, verbatim string) are written as Redis
// writes them to a RESP2 client when the builder is in RESP2 mode (the default). Not
// thread-safe: one builder per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "prefixcache/buffer.h"
#include "protocol/resp_segments.h"

namespace prefixcache::protocol {

class ReplyBuilder : public SegmentList {
 public:
  // Selects the protocol of the replies appended from now on (RESP3 when true).
  void SetResp3(bool resp3) { resp3_ = resp3; }
  bool resp3() const { return resp3_; }

  void SimpleString(std::string_view text);  // "+text\r\n"
  void Error(std::string_view message);      // "-message\r\n"; message like "ERR unknown ..."
  void Integer(std::int64_t value);          // ":value\r\n"
  void Bulk(std::string_view bytes);         // copied
  void Bulk(const Buffer& bytes);            // referenced when large
  void Nil();                                // "$-1\r\n"; RESP3 "_\r\n"
  void NilArray();                           // "*-1\r\n"; RESP3 "_\r\n"
  void ArrayHeader(std::size_t count);       // "*count\r\n"
  // A map of `pairs` key/value pairs follows: "%pairs\r\n"; RESP2 "*<2*pairs>\r\n".
  void MapHeader(std::size_t pairs);
  // A set of `count` elements follows: "~count\r\n"; RESP2 "*count\r\n".
  void SetHeader(std::size_t count);
  // Text as Redis sends INFO and CLIENT INFO: RESP3 "=<len+4>\r\ntxt:text\r\n"; RESP2 a bulk.
  void Verbatim(std::string_view text);

 private:
  // "<prefix>text\r\n" with every CR and LF of `text` written as a space.
  void Line(char prefix, std::string_view text);

  bool resp3_ = false;
};

}  // namespace prefixcache::protocol
