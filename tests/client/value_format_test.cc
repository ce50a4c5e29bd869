#include "prefixcache/value_format.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

namespace prefixcache::client {
namespace {

std::vector<std::byte> Bytes(std::string_view text) {
  std::vector<std::byte> out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

std::vector<std::byte> Stored(const BlockKey& key, std::span<const std::byte> payload) {
  std::vector<std::byte> out(payload.begin(), payload.end());
  ValueTrailer trailer = MakeValueTrailer(key, payload);
  out.insert(out.end(), trailer.begin(), trailer.end());
  return out;
}

TEST_CASE("value format: the trailer layout is pinned", "[unit]") {
  const BlockKey key = BlockKey::FromHalves(0x0102030405060708ull, 0x1112131415161718ull);
  const auto payload = Bytes("hello, kv block");
  const ValueTrailer trailer = MakeValueTrailer(key, payload);
  // checksum little-endian, then "PCv1".
  std::uint64_t sum = ValueChecksum(key, payload);
  for (int i = 0; i < 8; ++i) CHECK(trailer[i] == static_cast<std::byte>(sum >> (8 * i)));
  CHECK(std::memcmp(trailer.data() + 8, "PCv1", 4) == 0);
  // Seeded by both halves of the key: another key gives another checksum.
  CHECK(ValueChecksum(BlockKey::FromHalves(0x0102030405060709ull, 0x1112131415161718ull),
                      payload) != sum);
  CHECK(ValueChecksum(BlockKey::FromHalves(0x0102030405060708ull, 0x1112131415161719ull),
                      payload) != sum);
  // Pinned: XXH3_64bits_withSeed("hello, kv block", 15, 0x0102030405060708 ^ 0x1112131415161718).
  CHECK(sum == 0xceba736684eaa1aeull);
}

TEST_CASE("value format: VerifyStoredValue accepts good values only", "[unit]") {
  const BlockKey key = BlockKey::FromHalves(42, 43);
  const auto payload = Bytes("some payload bytes");
  auto stored = Stored(key, payload);
  auto verified = VerifyStoredValue(key, stored);
  REQUIRE(verified);
  CHECK(verified->size() == payload.size());
  CHECK(std::memcmp(verified->data(), payload.data(), payload.size()) == 0);

  SECTION("a flipped payload bit") {
    stored[3] ^= std::byte{1};
    CHECK_FALSE(VerifyStoredValue(key, stored));
  }
  SECTION("a flipped checksum bit") {
    stored[payload.size()] ^= std::byte{0x80};
    CHECK_FALSE(VerifyStoredValue(key, stored));
  }
  SECTION("a wrong magic") {
    stored.back() = std::byte{'2'};
    CHECK_FALSE(VerifyStoredValue(key, stored));
    CHECK_FALSE(CheckValueTrailer(key, std::span(stored).first(payload.size()),
                                  std::span(stored).last<kValueTrailerBytes>(), false));
  }
  SECTION("another key") { CHECK_FALSE(VerifyStoredValue(BlockKey::FromHalves(42, 44), stored)); }
  SECTION("too short to hold a trailer") {
    stored.resize(kValueTrailerBytes - 1);
    CHECK_FALSE(VerifyStoredValue(key, stored));
  }
  SECTION("an empty payload is fine") {
    auto empty = Stored(key, {});
    CHECK(empty.size() == kValueTrailerBytes);
    auto v = VerifyStoredValue(key, empty);
    REQUIRE(v);
    CHECK(v->empty());
  }
}

}  // namespace
}  // namespace prefixcache::client
