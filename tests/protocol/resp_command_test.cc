// EncodeCommand and CommandBuilder: exact bytes, large values referenced from caller memory,
// arguments made of several pieces, and a round trip through RequestParser.
#include "protocol/resp_command.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "protocol/resp_parser.h"
#include "protocol_test_util.h"

namespace prefixcache::protocol {
namespace {

using testing::Describe;
using testing::Joined;

TEST_CASE("EncodeCommand writes a multibulk request", "[unit]") {
  const std::vector<std::string_view> args{"SET", "key", "", "v\r\n"};
  CHECK(EncodeCommand(args) == "*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n$3\r\nv\r\n\r\n");
  CHECK(EncodeCommand({}) == "*0\r\n");
}

TEST_CASE("CommandBuilder references large values and round-trips through the parser", "[unit]") {
  const std::string value(50000, 'q');
  const std::string small(10, 's');
  const Buffer buffer = Buffer::Copy(std::string(8192, 'b'));
  CommandBuilder builder;
  builder.Begin(7);
  builder.Arg(std::string_view("BLOCK.MSET"));
  builder.Arg(std::int64_t{3});
  builder.Arg(std::string_view("0123456789abcdef"));
  builder.ArgRef(std::as_bytes(std::span(value.data(), value.size())));
  builder.Arg(std::int64_t{-4});
  builder.ArgRef(std::as_bytes(std::span(small.data(), small.size())));
  builder.Arg(buffer);
  const std::vector<std::string_view> ping{"PING"};
  builder.Command(ping);
  CHECK(buffer.use_count() == 2);

  const auto segments = builder.Segments();
  REQUIRE(segments.size() == 5);
  CHECK(segments[1].data == reinterpret_cast<const std::byte*>(value.data()));
  CHECK(segments[3].data == buffer.data());
  const std::vector<std::string_view> args{"BLOCK.MSET", "3",   "0123456789abcdef", value,
                                           "-4",         small, buffer.view()};
  CHECK(Joined(builder) == EncodeCommand(args) + EncodeCommand(ping));
  CHECK(builder.TotalBytes() == Joined(builder).size());

  RequestParser parser;
  REQUIRE(parser.Feed(Joined(builder)).ok());
  CHECK(Describe(parser.PopRequest()) == "BLOCK.MSET|3|0123456789abcdef|" + value + "|-4|" + small +
                                             "|" + std::string(buffer.view()));
  CHECK(Describe(parser.PopRequest()) == "PING");

  builder.Clear();
  CHECK(builder.empty());
  CHECK(buffer.use_count() == 1);
}

TEST_CASE("CommandBuilder frames an argument made of several pieces", "[unit]") {
  const std::vector<std::byte> large(5000, std::byte{'x'});
  CommandBuilder builder;
  builder.Begin(3);
  builder.Arg(std::string_view("BLOCK.MSET"));
  builder.Arg(std::int64_t{7});
  builder.ArgPieces({std::span<const std::byte>(large), std::as_bytes(std::span("ab", 2)),
                     std::span<const std::byte>()});
  const std::string expected =
      "*3\r\n$10\r\nBLOCK.MSET\r\n$1\r\n7\r\n$5002\r\n" + std::string(5000, 'x') + "ab\r\n";
  CHECK(Joined(builder) == expected);
  CHECK(builder.TotalBytes() == expected.size());
  // The large piece is referenced, not copied; the small one joins the framing after it.
  const auto segments = builder.Segments();
  REQUIRE(segments.size() == 3);
  CHECK(segments[1].data == large.data());
  CHECK(std::string_view(reinterpret_cast<const char*>(segments[2].data), segments[2].size) ==
        "ab\r\n");
}

}  // namespace
}  // namespace prefixcache::protocol
