#include "prefixcache/buffer.h"

#include <catch2/catch.hpp>
#include <cstring>

using prefixcache::Buffer;
using prefixcache::MutableBuffer;

TEST_CASE("MutableBuffer freezes into a Buffer without copying", "[unit]") {
  MutableBuffer m(64);
  std::memset(m.data(), 0xab, m.size());
  const std::byte* raw = m.data();
  Buffer b = std::move(m).Freeze();
  CHECK(b.data() == raw);
  CHECK(b.size() == 64);
  CHECK(m.size() == 0);
  CHECK(b.span()[63] == std::byte{0xab});
}

TEST_CASE("Buffer copies share one allocation and outlive each other", "[unit]") {
  Buffer a = Buffer::Copy(std::string_view("kv-bytes"));
  Buffer b = a;
  CHECK(a.use_count() == 2);
  CHECK(b.data() == a.data());
  a = Buffer();
  CHECK(b.view() == "kv-bytes");
  CHECK(b.use_count() == 1);
  CHECK(Buffer().empty());
  CHECK(Buffer::Copy(std::string_view()).size() == 0);
}

TEST_CASE("Buffer slices share the allocation and keep it alive", "[unit]") {
  Buffer whole = Buffer::Copy(std::string_view("GET key\r\n"));
  Buffer key = whole.Slice(4, 3);
  CHECK(key.view() == "key");
  CHECK(key.data() == whole.data() + 4);
  whole = Buffer();
  CHECK(key.view() == "key");
  CHECK(key.Slice(1, 2).view() == "ey");
  CHECK(key.Slice(3, 0).empty());
}
