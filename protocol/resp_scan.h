// Scanning helpers shared by the RESP parsers (internal to protocol/): finding a CRLF line
// with a length bound, and Redis's strict integer syntax. Stateless, thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

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

// Redis's string2ll: an optional '-', then "0" or digits without a leading zero, no sign
// on zero, no spaces, no overflow. nullopt otherwise.
inline std::optional<std::int64_t> ParseInteger(const char* s, std::size_t length) {
  if (length == 0 || length > 20) return std::nullopt;
  if (length == 1 && s[0] == '0') return 0;
  std::size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative && ++i == length) return std::nullopt;
  if (s[i] < '1' || s[i] > '9') return std::nullopt;
  std::uint64_t value = 0;
  for (; i < length; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const std::uint64_t digit = static_cast<std::uint64_t>(s[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();
  if (negative) {
    if (value > kMax + 1) return std::nullopt;
    return static_cast<std::int64_t>(0 - value);
  }
  if (value > kMax) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

// A byte as Redis quotes it in "expected '$', got 'x'": CR and LF become spaces so the
// error line stays one RESP line.
inline std::string QuotedByte(char c) {
  if (c == '\r' || c == '\n') c = ' ';
  return std::string("'") + c + "'";
}

}  // namespace prefixcache::protocol::internal
