#include "config/size.h"

#include <array>
#include <cstddef>
#include <limits>

namespace prefixcache::config {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t bytes;
};

// Binary units first: FormatSize prefers them when two forms are equally short.
constexpr std::array<Unit, 8> kUnits = {{
    {"TiB", kTiB},
    {"GiB", kGiB},
    {"MiB", kMiB},
    {"KiB", kKiB},
    {"TB", 1000ull * 1000 * 1000 * 1000},
    {"GB", 1000ull * 1000 * 1000},
    {"MB", 1000ull * 1000},
    {"KB", 1000ull},
}};

constexpr std::string_view kUnitList = "B, KiB, MiB, GiB, TiB, KB, MB, GB or TB";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Exact arithmetic: 20 integer digits times a unit of at most 2^40 and 19 fraction digits
// all fit in 128 bits.
__extension__ using Uint128 = unsigned __int128;

}  // namespace

Result<std::uint64_t> ParseSize(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty");
  if (text.front() == '-') return Status::InvalidArgument("negative");

  std::size_t i = 0;
  while (i < text.size() && IsDigit(text[i])) ++i;
  std::string_view integer = text.substr(0, i);
  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    std::size_t start = ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    fraction = text.substr(start, i - start);
    if (fraction.empty()) integer = {};  // "4." is not a number
  }
  if (integer.empty()) {
    return Status::InvalidArgument("not a number followed by an optional unit");
  }
  while (i < text.size() && text[i] == ' ') ++i;
  std::string_view unit_name = text.substr(i);

  std::uint64_t multiplier = 0;
  if (unit_name.empty() || unit_name == "B") {
    multiplier = 1;
  } else {
    for (const Unit& unit : kUnits) {
      if (unit.name == unit_name) multiplier = unit.bytes;
    }
  }
  if (multiplier == 0) {
    // Anything after the number that is not a unit, "4x" or "1.2.3" alike.
    return Status::InvalidArgument("unknown unit \"" + std::string(unit_name) + "\"; use " +
                                   std::string(kUnitList));
  }

  const std::string too_large =
      "larger than " + std::to_string(std::numeric_limits<std::uint64_t>::max()) + " bytes";
  while (integer.size() > 1 && integer.front() == '0') integer.remove_prefix(1);
  if (integer.size() > 20) return Status::InvalidArgument(too_large);
  Uint128 total = 0;
  for (char c : integer) total = total * 10 + static_cast<unsigned>(c - '0');
  total *= multiplier;

  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (fraction.size() > 19) return Status::InvalidArgument("not a whole number of bytes");
  if (!fraction.empty()) {
    Uint128 numerator = 0;
    Uint128 denominator = 1;
    for (char c : fraction) {
      numerator = numerator * 10 + static_cast<unsigned>(c - '0');
      denominator *= 10;
    }
    numerator *= multiplier;
    if (numerator % denominator != 0) {
      return Status::InvalidArgument("not a whole number of bytes");
    }
    total += numerator / denominator;
  }
  if (total > std::numeric_limits<std::uint64_t>::max()) {
    return Status::InvalidArgument(too_large);
  }
  return static_cast<std::uint64_t>(total);
}

std::string FormatSize(std::uint64_t bytes) {
  std::string best = std::to_string(bytes) + "B";
  for (const Unit& unit : kUnits) {
    if (bytes < unit.bytes) continue;
    const std::uint64_t whole = bytes / unit.bytes;
    const std::uint64_t rest = bytes % unit.bytes;
    // rest * 1000 cannot overflow: rest < 2^40.
    if (rest * 1000 % unit.bytes != 0) continue;
    std::string text = std::to_string(whole);
    if (rest != 0) {
      std::string decimals = std::to_string(rest * 1000 / unit.bytes);
      decimals.insert(0, 3 - decimals.size(), '0');
      while (decimals.back() == '0') decimals.pop_back();
      text += "." + decimals;
    }
    text += unit.name;
    if (text.size() < best.size()) best = std::move(text);
  }
  return best;
}

}  // namespace prefixcache::config
