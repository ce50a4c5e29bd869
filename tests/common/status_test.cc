#include "prefixcache/status.h"

#include <catch2/catch.hpp>
#include <string>

using prefixcache::Result;
using prefixcache::Status;

TEST_CASE("Status carries a code and a message", "[unit]") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.ToString() == "OK");
  Status bad = Status::InvalidArgument("memory.capacity: expected a size");
  CHECK_FALSE(bad.ok());
  CHECK(bad.code() == prefixcache::StatusCode::kInvalidArgument);
  CHECK(bad.ToString() == "InvalidArgument: memory.capacity: expected a size");
  CHECK(Status::NotFound().IsNotFound());
}

TEST_CASE("Result holds a value or an error", "[unit]") {
  Result<std::string> value = std::string("block");
  REQUIRE(value.ok());
  CHECK(*value == "block");
  CHECK(value->size() == 5);
  CHECK(value.status().ok());

  Result<std::string> error = Status::Corruption("checksum mismatch");
  CHECK_FALSE(error.ok());
  CHECK(error.status().code() == prefixcache::StatusCode::kCorruption);
  CHECK(error.status().message() == "checksum mismatch");
}
