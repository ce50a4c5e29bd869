#include "key_mapping.h"

#define XXH_DISPATCH_DISABLE_REPLACE  // call the *_dispatch entry point by name
#include <xxh_x86dispatch.h>

#include <utility>

namespace prefixcache::daemon {

BlockKey MapKey(std::string_view key) {
  if (key.size() == BlockKey::kSize) return *BlockKey::FromBytes(key);
  // The dispatching entry point runs on the widest vector unit the CPU has (chosen once at
  // run time); the hash is the same on every CPU.
  XXH128_hash_t hash = XXH3_128bits_dispatch(key.data(), key.size());
  return BlockKey::FromHalves(hash.high64, hash.low64);
}

namespace {

// The same as GlobMatch, `depth` counting the stars being tried (a bound on the recursion
// a pattern of many stars would take).
bool Match(std::string_view pattern, std::string_view text, int depth) {
  constexpr int kMostNesting = 1000;
  if (depth > kMostNesting) return false;
  std::size_t p = 0;
  std::size_t t = 0;
  while (p < pattern.size()) {
    const char c = pattern[p];
    if (c == '*') {
      while (p + 1 < pattern.size() && pattern[p + 1] == '*') ++p;
      if (p + 1 == pattern.size()) return true;
      for (std::size_t from = t; from <= text.size(); ++from) {
        if (Match(pattern.substr(p + 1), text.substr(from), depth + 1)) return true;
      }
      return false;
    }
    if (t == text.size()) return false;
    if (c == '?') {
      ++p;
      ++t;
      continue;
    }
    if (c == '[') {
      ++p;
      const bool negate = p < pattern.size() && pattern[p] == '^';
      if (negate) ++p;
      bool matched = false;
      const auto byte = static_cast<unsigned char>(text[t]);
      // To the closing ']', or to the end of the pattern (which then ends the set).
      while (p < pattern.size() && pattern[p] != ']') {
        if (pattern[p] == '\\' && p + 1 < pattern.size()) {
          ++p;
          if (static_cast<unsigned char>(pattern[p]) == byte) matched = true;
          ++p;
        } else if (p + 2 < pattern.size() && pattern[p + 1] == '-') {
          auto low = static_cast<unsigned char>(pattern[p]);
          auto high = static_cast<unsigned char>(pattern[p + 2]);
          if (low > high) std::swap(low, high);
          if (byte >= low && byte <= high) matched = true;
          p += 3;
        } else {
          if (static_cast<unsigned char>(pattern[p]) == byte) matched = true;
          ++p;
        }
      }
      if (p < pattern.size()) ++p;  // the ']'
      if (matched == negate) return false;
      ++t;
      continue;
    }
    if (c == '\\' && p + 1 < pattern.size()) ++p;
    if (pattern[p] != text[t]) return false;
    ++p;
    ++t;
  }
  return t == text.size();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) { return Match(pattern, text, 0); }

}  // namespace prefixcache::daemon
