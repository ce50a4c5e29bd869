// Scanning helpers shared by the RESP parsers (internal to protocol/): finding a CRLF line
// with a length bound, the integer of a header line, a byte quoted for an error. Stateless,
// thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/resp_integer.h"

namespace prefixcache::protocol::internal {

// A length/count line ("*3", "$5", ":-12") longer than this many bytes before its CRLF is a
// protocol error, so no input makes a parser buffer a header without bound.
inline constexpr std::size_t kMaxHeaderLineBytes = 64;

struct LineScan {
  enum class Kind { kFound, kNeedMore, kTooLong, kBadTerminator };
  Kind kind;
  std::size_t length;  // for kFound: bytes before the CRLF
};

// Looks for the CRLF ending the line at data[0]. The line may hold at most `max_length`
// bytes before its CR; the answer does not depend on how much past that has arrived, so a
// parser decides the same whatever the read boundaries. A CR not followed by LF is
// kBadTerminator.
inline LineScan ScanLine(const char* data, std::size_t size, std::size_t max_length) {
  const std::size_t scan = std::min(size, max_length + 1);
  const void* cr = scan ? std::memchr(data, '\r', scan) : nullptr;
  if (cr == nullptr) {
    return {size > max_length ? LineScan::Kind::kTooLong : LineScan::Kind::kNeedMore, 0};
  }
  const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(cr) - data);
  if (at + 1 >= size) return {LineScan::Kind::kNeedMore, 0};
  if (data[at + 1] != '\n') return {LineScan::Kind::kBadTerminator, 0};
  return {LineScan::Kind::kFound, at};
}

// ParseInteger (protocol/resp_integer.h) over the bytes of a header line.
inline std::optional<std::int64_t> ParseInteger(const char* s, std::size_t length) {
  return protocol::ParseInteger(std::string_view(s, length));
}

// A byte as Redis quotes it in "expected '$', got 'x'": CR and LF become spaces so the
// error line stays one RESP line.
inline std::string QuotedByte(char c) {
  if (c == '\r' || c == '\n') c = ' ';
  return std::string("'") + c + "'";
}

}  // namespace prefixcache::protocol::internal
