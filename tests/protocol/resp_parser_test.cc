// RequestParser: framing, pipelining, splits at every byte, zero-copy, inline commands,
// protocol errors and limits.
#include "protocol/resp_parser.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "protocol_test_util.h"

namespace prefixcache::protocol {
namespace {

using testing::Bulk;
using testing::Describe;
using testing::Drain;
using testing::FeedPieces;

std::vector<std::string> ParseAll(std::string_view input, ParserLimits limits = {}) {
  RequestParser parser(limits);
  Status status = parser.Feed(input);
  return Drain(parser, status);
}

std::string Command(const std::vector<std::string>& args) {
  std::string out = "*";
  out += std::to_string(args.size());
  out += "\r\n";
  for (const auto& arg : args) out += Bulk(arg);
  return out;
}

// A payload whose bytes depend on its position, so a misplaced byte shows.
std::string Pattern(std::size_t size, char salt) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + salt) % 26);
  return out;
}

using Strings = std::vector<std::string>;

TEST_CASE("RequestParser parses pipelined multibulk requests", "[unit]") {
  const std::string input = Command({"PING"}) + Command({"SET", "key", "hello"}) +
                            Command({"GET", "key"}) +
                            Command({"SET", "", std::string("a\r\n\0b", 5)});
  const Strings got = ParseAll(input);
  REQUIRE(got.size() == 4);
  CHECK(got[0] == "PING");
  CHECK(got[1] == "SET|key|hello");
  CHECK(got[2] == "GET|key");
  CHECK(got[3] == std::string("SET||a\r\n\0b", 10));
}

TEST_CASE("RequestParser ignores *0, negative counts and empty inline lines", "[unit]") {
  CHECK(ParseAll("*0\r\n\r\n\n   \r\n*1\r\n$4\r\nPING\r\n") == Strings{"PING"});
  // Redis skips a multibulk count <= 0 (a client's null array) without an error.
  CHECK(ParseAll("*-1\r\n*-42\r\n*1\r\n$4\r\nPING\r\n*-1\r\n") == Strings{"PING"});
}

TEST_CASE("RequestParser guarded: Redis's caps for unauthenticated clients", "[unit]") {
  auto guarded = [](std::string_view input) {
    RequestParser parser;
    parser.SetGuarded(true);
    Status status = parser.Feed(input);
    Strings out;
    // One request at a time: each Resume() releases the next.
    while (status.ok() && parser.HasRequest()) {
      out.push_back(Describe(parser.PopRequest()));
      status = parser.Resume();
    }
    if (!status.ok()) out.push_back("error: " + status.message());
    return out;
  };
  const Strings ten_args(10, "x");
  CHECK(guarded(Command(Strings{"AUTH", "pw"}) + Command(ten_args)) ==
        Strings{"AUTH|pw", "x|x|x|x|x|x|x|x|x|x"});
  CHECK(guarded(Command(Strings(11, "x"))) ==
        Strings{"error: Protocol error: unauthenticated multibulk length"});
  const std::string at_cap(RequestParser::kGuardedMaxBulkBytes, 'v');
  CHECK(guarded(Command({"AUTH", at_cap})).size() == 1);
  CHECK(guarded(Command({"PING"}) + Command({"AUTH", at_cap + "v"})) ==
        Strings{"PING", "error: Protocol error: unauthenticated bulk length"});
  // The error comes from the header alone: nothing of the payload is needed or stored.
  CHECK(guarded("*2\r\n$3\r\nSET\r\n$1000000000\r\n") ==
        Strings{"error: Protocol error: unauthenticated bulk length"});
  CHECK(guarded("AUTH pw\r\nPING\r\n") == Strings{"AUTH|pw", "PING"});
}

TEST_CASE("RequestParser guarded: what follows AUTH is parsed under the caps AUTH leaves",
          "[unit]") {
  const std::string value = Pattern(100000, 'g');
  const std::string input = Command({"AUTH", "pw"}) + Command({"SET", "k", value}) + "PING\r\n";
  for (bool authenticated : {true, false}) {
    INFO("authenticated " << authenticated);
    RequestParser parser;
    parser.SetGuarded(true);
    REQUIRE(parser.Feed(input).ok());
    REQUIRE(parser.HasRequest());
    CHECK(Describe(parser.PopRequest()) == "AUTH|pw");
    // Held back until the caller has handled AUTH.
    CHECK_FALSE(parser.HasRequest());
    parser.SetGuarded(!authenticated);
    Status status = parser.Resume();
    if (authenticated) {
      REQUIRE(status.ok());
      REQUIRE(parser.HasRequest());
      Request set = parser.PopRequest();
      REQUIRE(set.args.size() == 3);
      CHECK(set.args[2].size() == value.size());
      CHECK(std::memcmp(set.args[2].data(), value.data(), value.size()) == 0);
      // Unguarded again: everything left comes out without Resume().
      CHECK(parser.HasRequest());
      CHECK(Describe(parser.PopRequest()) == "PING");
    } else {
      CHECK(status.message() == "Protocol error: unauthenticated bulk length");
      CHECK_FALSE(parser.HasRequest());
    }
  }
}

TEST_CASE("RequestParser waits for a complete request", "[unit]") {
  RequestParser parser;
  const std::string input = Command({"SET", "k", "value"});
  REQUIRE(parser.Feed(std::string_view(input).substr(0, input.size() - 1)).ok());
  CHECK_FALSE(parser.HasRequest());
  CHECK(parser.PendingBytes() == input.size() - 1 - std::strlen("*3\r\n$3\r\n$1\r\n$5\r\n") -
                                     2 * 2);  // "SET","k" held; their CRLFs consumed
  REQUIRE(parser.Feed("\n").ok());
  REQUIRE(parser.HasRequest());
  CHECK(Describe(parser.PopRequest()) == "SET|k|value");
  CHECK(parser.PendingBytes() == 0);
}

// A mix of everything the parser handles, with payloads on both sides of kDirectBulkBytes.
std::string MixedInput() {
  constexpr std::size_t kDirect = RequestParser::kDirectBulkBytes;
  std::string input;
  input += Command({"PING"});
  input += "set k \"quoted \\x41\\n\" 'it\\'s'\r\n";
  input += Command({"SET", "big", Pattern(kDirect, 1)});
  input += "\r\n";
  input += Command({"SET", "small", Pattern(3000, 2), Pattern(kDirect + 10, 3)});
  input += "get big\n";
  input += Command({"MGET", "a", "", "b"});
  return input;
}

Strings MixedExpected() {
  constexpr std::size_t kDirect = RequestParser::kDirectBulkBytes;
  return {"PING",
          "set|k|quoted A\n|it's",
          "SET|big|" + Pattern(kDirect, 1),
          "SET|small|" + Pattern(3000, 2) + "|" + Pattern(kDirect + 10, 3),
          "get|big",
          "MGET|a||b"};
}

TEST_CASE("RequestParser gives the same requests for input split at every byte", "[unit]") {
  const std::string input = MixedInput();
  const Strings expected = MixedExpected();
  REQUIRE(ParseAll(input) == expected);
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    RequestParser parser;
    const Strings got = FeedPieces(parser, input, {cut});
    if (got != expected) FAIL("split at byte " << cut);
  }
}

TEST_CASE("RequestParser parses input fed one byte at a time", "[unit]") {
  const std::string input = MixedInput();
  RequestParser parser;
  Strings got;
  for (char c : input) {
    REQUIRE(parser.Feed(std::string_view(&c, 1)).ok());
    for (auto& s : Drain(parser, Status::Ok())) got.push_back(std::move(s));
  }
  CHECK(got == MixedExpected());
  CHECK(parser.PendingBytes() == 0);
}

TEST_CASE("RequestParser parses input in random pieces, reading where it says", "[unit]") {
  const std::string input = MixedInput() + MixedInput();
  Strings expected = MixedExpected();
  const Strings once = expected;
  expected.insert(expected.end(), once.begin(), once.end());
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    RequestParser parser;
    Strings got;
    std::size_t at = 0;
    while (at < input.size()) {
      // Like a socket: never more than ReadBuffer() offers.
      std::span<std::byte> into = parser.ReadBuffer();
      REQUIRE(!into.empty());
      std::size_t n = std::uniform_int_distribution<std::size_t>(1, 5000)(rng);
      n = std::min({n, into.size(), input.size() - at});
      std::memcpy(into.data(), input.data() + at, n);
      at += n;
      REQUIRE(parser.Commit(n).ok());
      for (auto& s : Drain(parser, Status::Ok())) got.push_back(std::move(s));
    }
    REQUIRE(got == expected);
  }
}

TEST_CASE("RequestParser reads a large payload straight into the argument", "[unit]") {
  RequestParser parser;
  const std::string payload = Pattern(100000, 5);
  SECTION("header alone") {
    REQUIRE(parser.Feed("*2\r\n$3\r\nSET\r\n$100000\r\n").ok());
    std::span<std::byte> into = parser.ReadBuffer();
    REQUIRE(into.size() == payload.size());
    std::memcpy(into.data(), payload.data(), payload.size());
    REQUIRE(parser.Commit(payload.size()).ok());
    CHECK_FALSE(parser.HasRequest());
    REQUIRE(parser.Feed("\r\n").ok());
    REQUIRE(parser.HasRequest());
    Request request = parser.PopRequest();
    REQUIRE(request.args.size() == 2);
    CHECK(request.args[1].data() == into.data());
    CHECK(request.args[1].size() == payload.size());
    CHECK(request.args[1].view() == payload);
    CHECK(request.args[1].use_count() == 1);  // its own buffer, not the staging chunk
  }
  SECTION("header with the first payload bytes") {
    REQUIRE(parser.Feed("*2\r\n$3\r\nSET\r\n$100000\r\n" + payload.substr(0, 100)).ok());
    std::span<std::byte> into = parser.ReadBuffer();
    REQUIRE(into.size() == payload.size() - 100);
    CHECK(parser.PendingBytes() == 3 + 100);
    // Partial reads: each ReadBuffer() continues where the last one stopped.
    std::memcpy(into.data(), payload.data() + 100, 1000);
    REQUIRE(parser.Commit(1000).ok());
    std::span<std::byte> rest = parser.ReadBuffer();
    CHECK(rest.data() == into.data() + 1000);
    CHECK(rest.size() == into.size() - 1000);
    std::memcpy(rest.data(), payload.data() + 1100, rest.size());
    REQUIRE(parser.Commit(rest.size()).ok());
    REQUIRE(parser.Feed("\r\n").ok());
    Request request = parser.PopRequest();
    CHECK(request.args[1].data() + 100 == into.data());
    CHECK(request.args[1].view() == payload);
  }
}

TEST_CASE("RequestParser slices small arguments from one staging chunk", "[unit]") {
  RequestParser parser;
  const std::string input = Command({"SET", "k1", "v1"}) + Command({"SET", "k2", "v2"});
  REQUIRE(parser.Feed(input).ok());
  Request first = parser.PopRequest();
  Request second = parser.PopRequest();
  // Each argument points at its bytes in the input as it lay in the chunk.
  const std::byte* base = first.args[0].data() - input.find("SET");
  CHECK(first.args[1].data() == base + input.find("k1"));
  CHECK(first.args[2].data() == base + input.find("v1"));
  CHECK(second.args[2].data() == base + input.find("v2"));
  CHECK(first.args[0].use_count() == 7);  // six args plus the parser's own reference

  SECTION("the chunk is not reused while arguments refer to it") {
    std::span<std::byte> next = parser.ReadBuffer();
    CHECK(next.data() == base + input.size());
  }
  SECTION("the chunk is reused from its start once they are gone") {
    first = Request{};
    second = Request{};
    CHECK(parser.ReadBuffer().data() == base);
  }
}

TEST_CASE("RequestParser never overwrites bytes of arguments still held", "[unit]") {
  RequestParser parser;
  std::vector<Request> held;
  std::vector<std::string> expected;
  std::mt19937 rng(7);
  // Far more than one chunk of small requests, read in pieces, every request kept.
  std::string input;
  for (int i = 0; i < 3000; ++i) {
    std::string value =
        Pattern(std::uniform_int_distribution<std::size_t>(0, 300)(rng), static_cast<char>(i));
    expected.push_back("SET|key" + std::to_string(i) + "|" + value);
    input += Command({"SET", "key" + std::to_string(i), value});
  }
  for (std::size_t at = 0; at < input.size();) {
    std::span<std::byte> into = parser.ReadBuffer();
    std::size_t n = std::min<std::size_t>({into.size(), input.size() - at, 3000});
    std::memcpy(into.data(), input.data() + at, n);
    at += n;
    REQUIRE(parser.Commit(n).ok());
    while (parser.HasRequest()) held.push_back(parser.PopRequest());
  }
  REQUIRE(held.size() == expected.size());
  for (std::size_t i = 0; i < held.size(); ++i) REQUIRE(Describe(held[i]) == expected[i]);
}

TEST_CASE("RequestParser parses inline commands like Redis", "[unit]") {
  CHECK(ParseAll("PING\r\n") == Strings{"PING"});
  CHECK(ParseAll("set k v\n") == Strings{"set|k|v"});
  CHECK(ParseAll("  set \t k   v  \r\n") == Strings{"set|k|v"});
  CHECK(ParseAll("set \"a b\" 'c d'\r\n") == Strings{"set|a b|c d"});
  CHECK(ParseAll("echo \"\\x41\\x7a\\n\\r\\t\\\"\\\\\\q\"\n") == Strings{"echo|Az\n\r\t\"\\q"});
  CHECK(ParseAll("echo 'it\\'s' 'a\\nb'\n") == Strings{"echo|it's|a\\nb"});
  CHECK(ParseAll("echo foo\"bar\" \"\" ''\n") == Strings{"echo|foobar||"});
  CHECK(ParseAll("echo \"\\x4\"\n") == Strings{"echo|x4"});
  CHECK(ParseAll(std::string("echo a\0b c\n", 11)) == Strings{"echo|a"});  // NUL ends the line
  CHECK(ParseAll("GET a\r\n*1\r\n$4\r\nPING\r\nGET b\n") == Strings{"GET|a", "PING", "GET|b"});
}

TEST_CASE("RequestParser slices inline arguments from the staging chunk", "[unit]") {
  RequestParser parser;
  REQUIRE(parser.Feed("set \"a\\x41\" bc\r\n").ok());
  Request request = parser.PopRequest();
  CHECK(Describe(request) == "set|aA|bc");
  CHECK(request.args[2].data() == request.args[0].data() + std::strlen("set \"a\\x41\" "));
  CHECK(request.args[0].use_count() == 4);
}

TEST_CASE("RequestParser reports protocol errors in Redis's words", "[unit]") {
  using E = Strings;
  CHECK(ParseAll("*abc\r\n") == E{"error: Protocol error: invalid multibulk length"});
  CHECK(ParseAll("*-\r\n") == E{"error: Protocol error: invalid multibulk length"});
  CHECK(ParseAll("*01\r\n") == E{"error: Protocol error: invalid multibulk length"});
  CHECK(ParseAll("*3000000000\r\n") == E{"error: Protocol error: invalid multibulk length"});
  CHECK(ParseAll("*1\rX") == E{"error: Protocol error: invalid multibulk length"});
  CHECK(ParseAll("*1\r\n$x\r\n") == E{"error: Protocol error: invalid bulk length"});
  CHECK(ParseAll("*1\r\n$-1\r\n") == E{"error: Protocol error: invalid bulk length"});
  CHECK(ParseAll("*1\r\n$ 1\r\n") == E{"error: Protocol error: invalid bulk length"});
  CHECK(ParseAll("*1\r\nfoo\r\n") == E{"error: Protocol error: expected '$', got 'f'"});
  CHECK(ParseAll("*1\r\n\r\n") == E{"error: Protocol error: expected '$', got ' '"});
  CHECK(ParseAll("*1\r\n$3\r\nfooXY") ==
        E{"error: Protocol error: bulk payload not followed by CRLF"});
  CHECK(ParseAll(std::string("*").append(100, '1')) ==
        E{"error: Protocol error: too big mbulk count string"});
  CHECK(ParseAll(std::string("*1\r\n$").append(100, '1')) ==
        E{"error: Protocol error: too big bulk count string"});
  CHECK(ParseAll("set \"abc\n") == E{"error: Protocol error: unbalanced quotes in request"});
  CHECK(ParseAll("set \"abc\"d\n") == E{"error: Protocol error: unbalanced quotes in request"});
  CHECK(ParseAll("set 'abc\n") == E{"error: Protocol error: unbalanced quotes in request"});
  CHECK(ParseAll("set 'a'b\n") == E{"error: Protocol error: unbalanced quotes in request"});
  // Requests before the error are still delivered.
  CHECK(ParseAll("PING\r\n*x\r\n") == E{"PING", "error: Protocol error: invalid multibulk length"});
}

TEST_CASE("RequestParser bounds inline lines whatever the read boundaries", "[unit]") {
  ParserLimits limits;
  limits.max_inline_bytes = 16;
  const Strings too_big{"error: Protocol error: too big inline request"};
  CHECK(ParseAll(std::string(16, 'a') + "\n", limits) == Strings{std::string(16, 'a')});
  CHECK(ParseAll(std::string(17, 'a'), limits) == too_big);
  CHECK(ParseAll(std::string(17, 'a') + "\n", limits) == too_big);
  // Default limit: 64 KiB before the '\n', a '\r' included.
  CHECK(ParseAll(std::string(64 * 1024 + 1, 'a')) == too_big);
  CHECK(ParseAll(std::string(64 * 1024, 'a') + "\r\n") == too_big);
  RequestParser parser;
  REQUIRE(parser.Feed(std::string(64 * 1024 - 1, 'a')).ok());
  REQUIRE(parser.Feed("\r\n").ok());
  REQUIRE(parser.Feed(std::string(64 * 1024, 'b')).ok());
  REQUIRE(parser.Feed("\n").ok());
  CHECK(Describe(parser.PopRequest()) == std::string(64 * 1024 - 1, 'a'));
  CHECK(Describe(parser.PopRequest()) == std::string(64 * 1024, 'b'));
}

TEST_CASE("RequestParser stays failed after a protocol error", "[unit]") {
  RequestParser parser;
  Status first = parser.Feed("*x\r\n");
  REQUIRE(first.code() == StatusCode::kInvalidArgument);
  CHECK(parser.Feed("*1\r\n$4\r\nPING\r\n").message() == first.message());
  CHECK_FALSE(parser.HasRequest());
  CHECK_FALSE(parser.ReadBuffer().empty());
}

// Limits: an oversized bulk, too many arguments or too many request bytes are read and
// discarded without storing the payload, the request comes out rejected, and the next
// request parses as usual.

constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";

// Commits `n` bytes of filler through ReadBuffer()/Commit() without a copy of them.
void CommitFiller(RequestParser& parser, std::uint64_t n) {
  while (n > 0) {
    std::span<std::byte> into = parser.ReadBuffer();
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), n));
    std::memset(into.data(), 'x', take);
    REQUIRE(parser.Commit(take).ok());
    n -= take;
  }
}

TEST_CASE("RequestParser rejects a value over max_bulk_bytes without storing it", "[unit]") {
  RequestParser parser;  // default limits: 128 MiB values
  REQUIRE(parser.Feed("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000000\r\n").ok());
  // The payload streams through the staging buffer: nothing of it is kept.
  std::size_t largest_read = 0;
  std::uint64_t left = 200000000;
  while (left > 0) {
    std::span<std::byte> into = parser.ReadBuffer();
    largest_read = std::max(largest_read, into.size());
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), left));
    REQUIRE(parser.Commit(take).ok());
    left -= take;
    REQUIRE(parser.PendingBytes() < 1024 * 1024);
  }
  CHECK(largest_read <= 1024 * 1024);
  CHECK_FALSE(parser.HasRequest());
  REQUIRE(parser.Feed(std::string("\r\n") + std::string(kPing)).ok());
  Request rejected = parser.PopRequest();
  CHECK(rejected.args.empty());
  CHECK(rejected.rejected == "ERR value of 200000000 bytes exceeds max_value_bytes (134217728)");
  CHECK(Describe(parser.PopRequest()) == "PING");
}

TEST_CASE("RequestParser rejects requests with too many arguments", "[unit]") {
  SECTION("default limit, exact message") {
    RequestParser parser;
    REQUIRE(parser.Feed("*2000000\r\n").ok());
    std::string args;
    for (int i = 0; i < 1000; ++i) args += "$1\r\na\r\n";
    for (int i = 0; i < 2000; ++i) REQUIRE(parser.Feed(args).ok());
    REQUIRE(parser.Feed(kPing).ok());
    Request rejected = parser.PopRequest();
    CHECK(rejected.args.empty());
    CHECK(rejected.rejected ==
          "ERR request has 2000000 arguments, more than max_request_elements (1048576)");
    CHECK(Describe(parser.PopRequest()) == "PING");
  }
  SECTION("inline") {
    ParserLimits limits;
    limits.max_elements = 2;
    RequestParser parser(limits);
    REQUIRE(parser.Feed("a b c\r\na b\r\n").ok());
    CHECK(Drain(parser, Status::Ok()) ==
          Strings{"rejected: ERR request has 3 arguments, more than max_request_elements (2)",
                  "a|b"});
  }
}

TEST_CASE("RequestParser rejects requests over max_request_bytes", "[unit]") {
  ParserLimits limits;
  limits.max_request_bytes = 100;
  RequestParser parser(limits);
  const std::string input = "*3\r\n" + Bulk("MSET") + Bulk(std::string(60, 'a')) +
                            Bulk(std::string(60, 'b')) + std::string(kPing);
  REQUIRE(parser.Feed(input).ok());
  CHECK(Drain(parser, Status::Ok()) ==
        Strings{"rejected: ERR request of at least 124 bytes exceeds max_request_bytes (100)",
                "PING"});
}

TEST_CASE("RequestParser limits are the same whatever the read boundaries", "[unit]") {
  ParserLimits limits;
  limits.max_bulk_bytes = 20000;
  limits.max_elements = 3;
  limits.max_request_bytes = 30000;
  // Rejected: a large bulk over max_bulk (never allocated), then too many args after some
  // were already collected, then the request byte limit crossed by a direct-size bulk.
  const std::string big(25000, 'z');
  const std::string mid(17000, 'm');
  const std::string input = "*3\r\n" + Bulk("SET") + Bulk("k") + Bulk(big) + std::string(kPing) +
                            "*4\r\n" + Bulk("a") + Bulk("b") + Bulk("c") + Bulk("d") + "*3\r\n" +
                            Bulk("SET") + Bulk(mid) + Bulk(mid) + "PING\r\n" + "*2\r\n" +
                            Bulk("SET") + Bulk(mid);
  const Strings expected{
      "rejected: ERR value of 25000 bytes exceeds max_value_bytes (20000)",
      "PING",
      "rejected: ERR request has 4 arguments, more than max_request_elements (3)",
      "rejected: ERR request of at least 34003 bytes exceeds max_request_bytes (30000)",
      "PING",
      "SET|" + mid,
  };
  RequestParser whole(limits);
  REQUIRE(FeedPieces(whole, input, {}) == expected);
  for (std::size_t cut = 1; cut < input.size(); cut += 7) {
    RequestParser parser(limits);
    if (FeedPieces(parser, input, {cut}) != expected) FAIL("split at byte " << cut);
  }
  RequestParser bytewise(limits);
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  CHECK(FeedPieces(bytewise, input, every) == expected);
}

TEST_CASE("RequestParser keeps nothing of a rejected request", "[unit]") {
  ParserLimits limits;
  limits.max_bulk_bytes = 1000;
  RequestParser parser(limits);
  // Two small args collected, then a value over the limit: the held args are dropped.
  REQUIRE(parser.Feed("*4\r\n" + Bulk("SET") + Bulk("key") + "$5000\r\n").ok());
  CHECK(parser.PendingBytes() == 0);
  CommitFiller(parser, 5000);
  CHECK(parser.PendingBytes() == 0);
  REQUIRE(parser.Feed("\r\n" + Bulk("tail")).ok());
  Request request = parser.PopRequest();
  CHECK(request.args.empty());
  CHECK(request.rejected == "ERR value of 5000 bytes exceeds max_value_bytes (1000)");
}

TEST_CASE("RequestParser still checks framing inside a rejected request", "[unit]") {
  ParserLimits limits;
  limits.max_elements = 1;
  RequestParser parser(limits);
  Status status = parser.Feed("*2\r\n$1\r\na\r\nxyz");
  CHECK(status.message() == "Protocol error: expected '$', got 'x'");
}

}  // namespace
}  // namespace prefixcache::protocol
