// ParseInteger: Redis's strict integer syntax (string2ll), the one integer parser of the RESP
// length lines and of command arguments (HELLO 2, SELECT 0, BLOCK.MSET depths). A pure
// function; thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace prefixcache::protocol {

// The value of `text` when it is, in full, "0" or an optional '-' and then digits with no
// leading zero that fit in int64 (so INT64_MIN parses, "-0", "+1", "01", " 1", "1 ", "" and
// anything longer than 20 bytes do not); nullopt otherwise.
inline std::optional<std::int64_t> ParseInteger(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text == "0") return 0;
  std::size_t i = 0;
  const bool negative = text[0] == '-';
  if (negative && ++i == text.size()) return std::nullopt;
  if (text[i] < '1' || text[i] > '9') return std::nullopt;
  std::uint64_t value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (negative) {
    if (value > kMax + 1) return std::nullopt;
    return static_cast<std::int64_t>(0 - value);
  }
  if (value > kMax) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

}  // namespace prefixcache::protocol
