// ReplyParser: every reply type, nesting, splits at every byte, large payloads read in
// place, the bulk sink writing into caller memory, malformed replies and limits.
#include "protocol/resp_reply.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/resp_writer.h"
#include "protocol_test_util.h"

namespace prefixcache::protocol {
namespace {

using testing::Describe;
using testing::Drain;
using testing::FeedPieces;
using testing::Joined;
using Strings = std::vector<std::string>;

Strings ParseAll(std::string_view input, ReplyLimits limits = {}) {
  ReplyParser parser(limits);
  Status status = parser.Feed(input);
  return Drain(parser, status);
}

std::string Pattern(std::size_t size, char salt) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 11 + salt) % 26);
  return out;
}

TEST_CASE("ReplyParser parses every reply type", "[unit]") {
  CHECK(ParseAll("+OK\r\n") == Strings{"+OK"});
  CHECK(ParseAll("+\r\n") == Strings{"+"});
  CHECK(ParseAll("-ERR unknown command\r\n") == Strings{"-ERR unknown command"});
  CHECK(ParseAll(":42\r\n:-7\r\n:0\r\n") == Strings{":42", ":-7", ":0"});
  CHECK(ParseAll(":-9223372036854775808\r\n") == Strings{":-9223372036854775808"});
  CHECK(ParseAll("$5\r\nhello\r\n$0\r\n\r\n") == Strings{"\"hello\"", "\"\""});
  CHECK(ParseAll("$4\r\na\r\nb\r\n") == Strings{"\"a\r\nb\""});
  CHECK(ParseAll("$-1\r\n*-1\r\n*0\r\n") == Strings{"nil", "nil*", "[]"});
  CHECK(ParseAll("*3\r\n:1\r\n$-1\r\n$3\r\nabc\r\n") == Strings{"[:1, nil, \"abc\"]"});
  CHECK(ParseAll("*2\r\n*2\r\n:1\r\n*0\r\n*3\r\n*-1\r\n+x\r\n*1\r\n-e\r\n") ==
        Strings{"[[:1, []], [nil*, +x, [-e]]]"});
}

TEST_CASE("Reply equality compares contents", "[unit]") {
  ReplyParser a;
  ReplyParser b;
  REQUIRE(a.Feed("*2\r\n$3\r\nabc\r\n:1\r\n").ok());
  REQUIRE(b.Feed("*2\r\n$3\r\nabc\r\n:1\r\n*2\r\n$3\r\nabd\r\n:1\r\n").ok());
  Reply first = a.PopReply();
  CHECK(first == b.PopReply());
  CHECK_FALSE(first == b.PopReply());
}

// Pipelined replies including nested arrays and payloads around kDirectBulkBytes.
std::string MixedReplies() {
  constexpr std::size_t kDirect = ReplyParser::kDirectBulkBytes;
  ReplyBuilder builder;
  builder.SimpleString("OK");
  builder.ArrayHeader(4);
  builder.Bulk(std::string_view(Pattern(kDirect, 1)));
  builder.Nil();
  builder.Bulk(Buffer::Copy(Pattern(kDirect + 10, 2)));
  builder.ArrayHeader(2);
  builder.Integer(-3);
  builder.Bulk(std::string_view(Pattern(3000, 3)));
  builder.Error("ERR nope");
  builder.Bulk(std::string_view(Pattern(20, 4)));
  builder.NilArray();
  return Joined(builder);
}

Strings MixedExpected() {
  constexpr std::size_t kDirect = ReplyParser::kDirectBulkBytes;
  return {"+OK",
          "[\"" + Pattern(kDirect, 1) + "\", nil, \"" + Pattern(kDirect + 10, 2) + "\", [:-3, \"" +
              Pattern(3000, 3) + "\"]]",
          "-ERR nope", "\"" + Pattern(20, 4) + "\"", "nil*"};
}

TEST_CASE("ReplyParser gives the same replies for input split at every byte", "[unit][slow]") {
  const std::string input = MixedReplies();
  const Strings expected = MixedExpected();
  REQUIRE(ParseAll(input) == expected);
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    ReplyParser parser;
    if (FeedPieces(parser, input, {cut}) != expected) FAIL("split at byte " << cut);
  }
  ReplyParser bytewise;
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  CHECK(FeedPieces(bytewise, input, every) == expected);
  CHECK(bytewise.CompletedReplies() == expected.size());
}

TEST_CASE("ReplyParser reads a large bulk straight into its buffer", "[unit]") {
  ReplyParser parser;
  const std::string payload = Pattern(70000, 9);
  REQUIRE(parser.Feed("$70000\r\n" + payload.substr(0, 10)).ok());
  std::span<std::byte> into = parser.ReadBuffer();
  REQUIRE(into.size() == payload.size() - 10);
  std::memcpy(into.data(), payload.data() + 10, into.size());
  REQUIRE(parser.Commit(into.size()).ok());
  REQUIRE(parser.Feed("\r\n").ok());
  Reply reply = parser.PopReply();
  CHECK(reply.bulk.data() + 10 == into.data());
  CHECK(reply.bulk.view() == payload);
  CHECK(reply.bulk.use_count() == 1);
}

TEST_CASE("ReplyParser writes sunk bulks into caller memory", "[unit]") {
  const std::string big = Pattern(50000, 1);
  const std::string small = Pattern(100, 2);
  ReplyBuilder builder;
  builder.ArrayHeader(5);
  builder.Bulk(std::string_view(big));
  builder.Bulk(std::string_view(small));
  builder.Nil();
  builder.ArrayHeader(1);
  builder.Bulk(std::string_view("nested"));
  builder.Bulk(std::string_view(small));
  builder.Bulk(std::string_view("top"));  // a second reply: a top-level bulk
  const std::string input = Joined(builder);

  struct Call {
    std::uint64_t reply;
    std::size_t index;
    std::size_t size;
  };
  auto run = [&](const std::vector<std::size_t>& cuts, std::vector<Call>* calls,
                 std::vector<std::byte>* memory) {
    ReplyParser parser;
    parser.SetBulkSink([&parser, &big, calls, memory](std::size_t index, std::size_t size) {
      calls->push_back({parser.CompletedReplies(), index, size});
      // Element 0 and 4 of the array go to caller memory; the rest as usual.
      if (parser.CompletedReplies() != 0 || (index != 0 && index != 4)) {
        return std::span<std::byte>();
      }
      const std::size_t offset = index == 0 ? 0 : big.size();
      return std::span<std::byte>(memory->data() + offset, size);
    });
    return FeedPieces(parser, input, cuts);
  };

  const Strings expected{"[sink, \"" + small + "\", nil, [\"nested\"], sink]", "\"top\""};
  const std::vector<Call> expected_calls{
      {0, 0, big.size()}, {0, 1, small.size()}, {0, 4, small.size()}, {1, 0, 3}};
  auto check_memory = [&](const std::vector<std::byte>& memory) {
    const auto* bytes = reinterpret_cast<const char*>(memory.data());
    return std::string_view(bytes, big.size()) == big &&
           std::string_view(bytes + big.size(), small.size()) == small;
  };
  {
    std::vector<Call> calls;
    std::vector<std::byte> memory(big.size() + small.size());
    CHECK(run({}, &calls, &memory) == expected);
    CHECK(check_memory(memory));
    REQUIRE(calls.size() == expected_calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) {
      CHECK(calls[i].reply == expected_calls[i].reply);
      CHECK(calls[i].index == expected_calls[i].index);
      CHECK(calls[i].size == expected_calls[i].size);
    }
  }
  for (std::size_t cut = 1; cut < input.size();
       cut += (cut < 200 || cut > input.size() - 400) ? 1 : 97) {
    std::vector<Call> calls;
    std::vector<std::byte> memory(big.size() + small.size());
    if (run({cut}, &calls, &memory) != expected || !check_memory(memory) ||
        calls.size() != expected_calls.size()) {
      FAIL("split at byte " << cut);
    }
  }
}

TEST_CASE("ReplyParser reads a sunk payload straight into the sink's span", "[unit]") {
  std::vector<std::byte> memory(30000);
  ReplyParser parser;
  parser.SetBulkSink([&memory](std::size_t, std::size_t size) {
    return std::span<std::byte>(memory.data(), size);
  });
  REQUIRE(parser.Feed("*1\r\n$30000\r\nab").ok());
  std::span<std::byte> into = parser.ReadBuffer();
  CHECK(into.data() == memory.data() + 2);
  CHECK(into.size() == memory.size() - 2);
  std::memset(into.data(), 'z', into.size());
  REQUIRE(parser.Commit(into.size()).ok());
  REQUIRE(parser.Feed("\r\n").ok());
  CHECK(Describe(parser.PopReply()) == "[sink]");
  CHECK(static_cast<char>(memory[0]) == 'a');
  CHECK(static_cast<char>(memory[29999]) == 'z');
  // Without a sink the next bulk is a Buffer again.
  parser.SetBulkSink(nullptr);
  REQUIRE(parser.Feed("$2\r\nhi\r\n").ok());
  CHECK(Describe(parser.PopReply()) == "\"hi\"");
}

TEST_CASE("ReplyParser rejects malformed replies", "[unit]") {
  using E = Strings;
  CHECK(ParseAll("?x\r\n") == E{"error: Protocol error: unexpected reply type '?'"});
  CHECK(ParseAll("\r\n") == E{"error: Protocol error: unexpected reply type ' '"});
  CHECK(ParseAll(":abc\r\n") == E{"error: Protocol error: invalid integer reply"});
  CHECK(ParseAll(":1\rx") == E{"error: Protocol error: invalid integer reply"});
  CHECK(ParseAll("$-2\r\n") == E{"error: Protocol error: invalid bulk length"});
  CHECK(ParseAll("$x\r\n") == E{"error: Protocol error: invalid bulk length"});
  CHECK(ParseAll("*-2\r\n") == E{"error: Protocol error: invalid multibulk length"});
  CHECK(ParseAll("$3\r\nabcXY") == E{"error: Protocol error: bulk payload not followed by CRLF"});
  CHECK(ParseAll("$20000\r\n" + std::string(20000, 'a') + "XY") ==
        E{"error: Protocol error: bulk payload not followed by CRLF"});
  CHECK(ParseAll("+OK\rX\r\n") == E{"error: Protocol error: CR without LF in a reply line"});
  CHECK(ParseAll("*" + std::string(100, '1')) ==
        E{"error: Protocol error: too big mbulk count string"});
  CHECK(ParseAll("$" + std::string(100, '1')) ==
        E{"error: Protocol error: too big bulk count string"});
  CHECK(ParseAll(":" + std::string(100, '1')) == E{"error: Protocol error: too big integer reply"});
  CHECK(ParseAll("*2\r\n:1\r\n!") == E{"error: Protocol error: unexpected reply type '!'"});

  ReplyParser parser;
  Status status = parser.Feed("+OK\r\n%\r\n");
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(parser.Feed("+OK\r\n").message() == status.message());
  CHECK(Describe(parser.PopReply()) == "+OK");
  CHECK_FALSE(parser.HasReply());
}

TEST_CASE("ReplyParser enforces its limits", "[unit]") {
  ReplyLimits limits;
  limits.max_bulk_bytes = 100;
  limits.max_elements = 3;
  limits.max_depth = 2;
  limits.max_line_bytes = 10;
  auto code = [&](std::string_view input) {
    ReplyParser parser(limits);
    return parser.Feed(input);
  };
  CHECK(code("$100\r\n").ok());
  CHECK(code("$101\r\n").code() == StatusCode::kRejected);
  CHECK(code("$101\r\n").message() == "bulk reply of 101 bytes exceeds max_bulk_bytes (100)");
  CHECK(code("*3\r\n").ok());
  CHECK(code("*4\r\n").message() == "array reply of 4 elements exceeds max_elements (3)");
  CHECK(code("*1\r\n*1\r\n:1\r\n").ok());
  CHECK(code("*1\r\n*1\r\n*1\r\n").message() == "array reply nested deeper than max_depth (2)");
  CHECK(code("*1\r\n*1\r\n*0\r\n").ok());  // an empty array adds no depth to parse
  CHECK(code("+0123456789\r\n").ok());
  CHECK(code("+0123456789A").code() == StatusCode::kRejected);
  CHECK(code("-0123456789A\r\n").code() == StatusCode::kRejected);
}

}  // namespace
}  // namespace prefixcache::protocol
