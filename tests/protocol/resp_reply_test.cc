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
  // Element 0 and 4 of the first reply go to caller memory; the rest as usual.
  class Sink final : public BulkSink {
   public:
    Sink(const ReplyParser& parser, std::size_t big_size, std::vector<Call>* calls,
         std::vector<std::byte>* memory)
        : parser_(parser), big_size_(big_size), calls_(calls), memory_(memory) {}
    std::span<const std::span<std::byte>> Parts(std::size_t index, std::size_t size) override {
      calls_->push_back({parser_.CompletedReplies(), index, size});
      if (parser_.CompletedReplies() != 0 || (index != 0 && index != 4)) return {};
      part_ = std::span<std::byte>(memory_->data() + (index == 0 ? 0 : big_size_), size);
      return std::span(&part_, 1);
    }
    void Arrived(std::size_t) override {}

   private:
    const ReplyParser& parser_;
    std::size_t big_size_;
    std::vector<Call>* calls_;
    std::vector<std::byte>* memory_;
    std::span<std::byte> part_;
  };
  auto run = [&](const std::vector<std::size_t>& cuts, std::vector<Call>* calls,
                 std::vector<std::byte>* memory) {
    ReplyParser parser;
    Sink sink(parser, big.size(), calls, memory);
    parser.SetBulkSink(&sink);
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

// A sink placing every payload into the parts it was given, recording what Arrived() said.
class PartsSink final : public BulkSink {
 public:
  explicit PartsSink(std::vector<std::span<std::byte>> parts) : parts_(std::move(parts)) {}
  std::span<const std::span<std::byte>> Parts(std::size_t, std::size_t size) override {
    ++calls;
    std::size_t total = 0;
    for (const auto& p : parts_) total += p.size();
    if (total != size) return {};
    arrived.clear();
    return parts_;
  }
  void Arrived(std::size_t filled) override { arrived.push_back(filled); }

  int calls = 0;
  std::vector<std::size_t> arrived;

 private:
  std::vector<std::span<std::byte>> parts_;
};

TEST_CASE("ReplyParser reads a sunk payload straight into the sink's span", "[unit]") {
  std::vector<std::byte> memory(30000);
  ReplyParser parser;
  PartsSink sink({std::span(memory)});
  parser.SetBulkSink(&sink);
  REQUIRE(parser.Feed("*1\r\n$30000\r\nab").ok());
  CHECK(sink.arrived == std::vector<std::size_t>{2});
  std::span<std::byte> into = parser.ReadBuffer();
  CHECK(into.data() == memory.data() + 2);
  CHECK(into.size() == memory.size() - 2);
  std::memset(into.data(), 'z', into.size());
  REQUIRE(parser.Commit(into.size()).ok());
  CHECK(sink.arrived == std::vector<std::size_t>{2, 30000});
  REQUIRE(parser.Feed("\r\n").ok());
  CHECK(Describe(parser.PopReply()) == "[sink]");
  CHECK(static_cast<char>(memory[0]) == 'a');
  CHECK(static_cast<char>(memory[29999]) == 'z');
  // Without a sink the next bulk is a Buffer again.
  parser.SetBulkSink(nullptr);
  REQUIRE(parser.Feed("$2\r\nhi\r\n").ok());
  CHECK(Describe(parser.PopReply()) == "\"hi\"");
}

TEST_CASE("ReplyParser scatters a payload over parts and reads past its end in one go", "[unit]") {
  // Two values of 40000 bytes, each landing in three parts: 25000 + 0 + 15000 bytes.
  const std::string first = Pattern(40000, 3);
  const std::string second = Pattern(40000, 4);
  std::vector<std::byte> k(25000), v(15000);
  PartsSink sink({std::span(k), std::span<std::byte>(), std::span(v)});
  ReplyParser parser;
  parser.SetBulkSink(&sink);
  REQUIRE(parser.Feed("*2\r\n$40000\r\n").ok());
  CHECK(sink.arrived.empty());

  // Everything but the last 10 bytes of the first value, scattered as a readv would.
  const std::string wire = first + "\r\n$40000\r\n" + second.substr(0, 100);
  std::size_t at = 0;
  auto read = [&](std::size_t n) {
    const auto spans = parser.ReadBuffers();
    std::size_t done = 0;
    for (const auto& span : spans) {
      const std::size_t step = std::min(span.size(), n - done);
      std::memcpy(span.data(), wire.data() + at + done, step);
      done += step;
      if (done == n) break;
    }
    REQUIRE(done == n);
    at += n;
    return parser.Commit(n);
  };
  {
    const auto spans = parser.ReadBuffers();
    REQUIRE(spans.size() == 3);  // k, v, then staging for what follows
    CHECK(spans[0].data() == k.data());
    CHECK(spans[1].data() == v.data());
    CHECK(spans[2].size() <= ReplyParser::kScatterStagingBytes);
  }
  REQUIRE(read(first.size() - 10).ok());
  CHECK(sink.arrived == std::vector<std::size_t>{first.size() - 10});
  {
    const auto spans = parser.ReadBuffers();
    REQUIRE(spans.size() == 2);
    CHECK(spans[0].data() == v.data() + v.size() - 10);
  }
  // The first value's end, its CRLF, the next header and 100 bytes of the next value.
  REQUIRE(read(wire.size() - at).ok());
  CHECK(sink.calls == 2);
  CHECK(sink.arrived == std::vector<std::size_t>{100});  // the second value has begun
  // The first value is whole in its parts (the second one overwrites them only from here).
  // Checked before the second value's bytes arrive: they went to the start of k.
  CHECK(std::memcmp(v.data(), first.data() + 25000, 15000) == 0);
  CHECK(std::memcmp(k.data() + 100, first.data() + 100, 24900) == 0);
  CHECK(std::memcmp(k.data(), second.data(), 100) == 0);

  REQUIRE(parser.Feed(second.substr(100) + "\r\n").ok());
  REQUIRE(parser.HasReply());
  CHECK(Describe(parser.PopReply()) == "[sink, sink]");
  CHECK(sink.arrived.back() == 40000);
  CHECK(std::memcmp(k.data(), second.data(), 25000) == 0);
  CHECK(std::memcmp(v.data(), second.data() + 25000, 15000) == 0);
}

TEST_CASE("ReplyParser's scatter list is bounded and ends in staging only at a payload's end",
          "[unit]") {
  std::vector<std::byte> memory(ReplyParser::kMaxReadBuffers * 2 * 1024);
  std::vector<std::span<std::byte>> parts;
  for (std::size_t i = 0; i < ReplyParser::kMaxReadBuffers * 2; ++i) {
    parts.push_back(std::span(memory).subspan(i * 1024, 1024));
  }
  PartsSink sink(parts);
  ReplyParser parser;
  parser.SetBulkSink(&sink);
  REQUIRE(parser.Feed("$" + std::to_string(memory.size()) + "\r\n").ok());
  auto spans = parser.ReadBuffers();
  CHECK(spans.size() == ReplyParser::kMaxReadBuffers - 1);  // all parts, no staging yet
  for (const auto& span : spans) CHECK(span.size() == 1024);
  const std::string payload = Pattern(memory.size(), 5);
  REQUIRE(parser.Feed(payload.substr(0, memory.size() - 3 * 1024)).ok());
  spans = parser.ReadBuffers();
  REQUIRE(spans.size() == 4);  // the last three parts, then staging
  CHECK(spans[0].data() == memory.data() + memory.size() - 3 * 1024);
  REQUIRE(parser.Feed(payload.substr(memory.size() - 3 * 1024) + "\r\n").ok());
  CHECK(Describe(parser.PopReply()) == "sink");
  CHECK(std::memcmp(memory.data(), payload.data(), memory.size()) == 0);
  // Outside a payload the list is one span of staging.
  CHECK(parser.ReadBuffers().size() == 1);
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
