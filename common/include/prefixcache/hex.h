// Hexadecimal digits: the one table and the one parser of them (BlockKey's hex form,
// inline commands' "\xHH" escapes). Pure functions, thread-safe.
#pragma once

namespace prefixcache {

// Lowercase digits by value.
inline constexpr char kHexDigits[] = "0123456789abcdef";

// The value of hex digit `c` (either case), or -1 when `c` is not one.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace prefixcache
