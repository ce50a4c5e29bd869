#include "prefixcache/block_key.h"

#include <catch2/catch.hpp>
#include <string>
#include <unordered_set>

using prefixcache::BlockKey;

TEST_CASE("BlockKey round-trips through bytes, halves and hex", "[unit]") {
  BlockKey key = BlockKey::FromHalves(0x0102030405060708ull, 0x090a0b0c0d0e0f10ull);
  CHECK(key.bytes[0] == 0x01);
  CHECK(key.bytes[15] == 0x10);
  CHECK(key.High() == 0x0102030405060708ull);
  CHECK(key.Low() == 0x090a0b0c0d0e0f10ull);
  CHECK(key.ToHex() == "0102030405060708090a0b0c0d0e0f10");
  CHECK(BlockKey::FromHex(key.ToHex()) == key);
  CHECK(BlockKey::FromBytes(key.View()) == key);
  CHECK_FALSE(BlockKey::FromBytes("short").has_value());
  CHECK_FALSE(BlockKey::FromHex("zz02030405060708090a0b0c0d0e0f10").has_value());
  CHECK_FALSE(BlockKey::FromHex("0102").has_value());
}

TEST_CASE("BlockKeyHash separates distinct keys", "[unit]") {
  std::unordered_set<BlockKey, prefixcache::BlockKeyHash> keys;
  for (std::uint64_t i = 0; i < 1000; ++i) keys.insert(BlockKey::FromHalves(i, ~i));
  CHECK(keys.size() == 1000);
}
