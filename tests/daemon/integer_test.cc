// protocol::ParseInteger, the one strict integer parser of the RESP length lines and of the
// daemon's integer arguments (HELLO, SELECT, BLOCK.MSET depths): Redis's string2ll rules.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "protocol/resp_integer.h"

namespace prefixcache::testing {
namespace {

using protocol::ParseInteger;

TEST_CASE("ParseInteger accepts what string2ll accepts", "[unit]") {
  CHECK(ParseInteger("0") == 0);
  CHECK(ParseInteger("7") == 7);
  CHECK(ParseInteger("-7") == -7);
  CHECK(ParseInteger("4294967295") == 4294967295);
  CHECK(ParseInteger("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
  CHECK(ParseInteger("-9223372036854775808") == std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("ParseInteger refuses what string2ll refuses", "[unit]") {
  const std::vector<std::string> refused = {"",
                                            "-",
                                            "+1",
                                            "01",
                                            "00",
                                            "-0",
                                            "-01",
                                            " 1",
                                            "1 ",
                                            "1x",
                                            "x1",
                                            "1.0",
                                            "0x10",
                                            "--1",
                                            "9223372036854775808",
                                            "-9223372036854775809",
                                            "18446744073709551616",
                                            "99999999999999999999",
                                            "000000000000000000001",
                                            std::string("1\0", 2)};
  for (const std::string& text : refused) {
    INFO("'" << text << "'");
    CHECK_FALSE(ParseInteger(text).has_value());
  }
}

}  // namespace
}  // namespace prefixcache::testing
