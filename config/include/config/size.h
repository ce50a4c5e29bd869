// Byte sizes as people write them in a config file: "512MiB", "1.5GiB", "100B", "4GB".
// Free functions on plain values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "prefixcache/defaults.h"  // kKiB .. kTiB
#include "prefixcache/status.h"

namespace prefixcache::config {

// Parses a number of bytes: digits, optionally a fraction, optionally spaces and then a
// unit, case-sensitive: B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of
// 1000). No unit means bytes. "1024", "64KiB", "1.5GiB" and "4 GB" are sizes.
// On failure returns InvalidArgument whose message says only why, without repeating the
// text, so that callers can put it after their own context: "empty", "negative", "not a
// number followed by an optional unit", "unknown unit \"XB\"; use B, KiB, ...", "larger
// than 18446744073709551615 bytes", "not a whole number of bytes" (e.g. "1.5B" or
// "0.1GiB"; fractions are never rounded).
Result<std::uint64_t> ParseSize(std::string_view text);

// Renders `bytes` in the shortest exact form ParseSize reads back to the same number, with
// at most three decimals: 4294967296 -> "4GiB", 1610612736 -> "1.5GiB", 100 -> "100B",
// 1000000000 -> "1GB", 1025 -> "1025B", 0 -> "0B".
std::string FormatSize(std::uint64_t bytes);

}  // namespace prefixcache::config
