// ReplyBuilder: exact bytes, arena merging, large payloads referenced rather than copied.
#include "protocol/resp_writer.h"

#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

#include "protocol_test_util.h"

namespace prefixcache::protocol {
namespace {

using testing::Joined;

TEST_CASE("ReplyBuilder writes each reply type exactly", "[unit]") {
  ReplyBuilder builder;
  builder.SimpleString("OK");
  builder.Error("ERR unknown command 'FOO'");
  builder.Integer(0);
  builder.Integer(-42);
  builder.Integer(std::numeric_limits<std::int64_t>::min());
  builder.Bulk(std::string_view("hello"));
  builder.Bulk(std::string_view(""));
  builder.Bulk(Buffer::Copy(std::string_view("small buffer")));
  builder.Nil();
  builder.NilArray();
  builder.ArrayHeader(0);
  builder.ArrayHeader(2);
  const std::string expected =
      "+OK\r\n-ERR unknown command 'FOO'\r\n:0\r\n:-42\r\n:-9223372036854775808\r\n"
      "$5\r\nhello\r\n$0\r\n\r\n$12\r\nsmall buffer\r\n$-1\r\n*-1\r\n*0\r\n*2\r\n";
  CHECK(Joined(builder) == expected);
  CHECK(builder.TotalBytes() == expected.size());
  CHECK(builder.Segments().size() == 1);  // all in the arena: one segment
}

TEST_CASE("ReplyBuilder writes RESP3's types, and Redis's RESP2 forms of them", "[unit]") {
  for (const bool resp3 : {false, true}) {
    ReplyBuilder builder;
    builder.SetResp3(resp3);
    builder.Nil();
    builder.NilArray();
    builder.MapHeader(2);
    builder.SetHeader(3);
    builder.Verbatim("# Server\r\n");
    const std::string expected = resp3 ? "_\r\n_\r\n%2\r\n~3\r\n=14\r\ntxt:# Server\r\n\r\n"
                                       : "$-1\r\n*-1\r\n*4\r\n*3\r\n$10\r\n# Server\r\n\r\n";
    CHECK(Joined(builder) == expected);
  }
}

TEST_CASE("SegmentList::Append moves the bytes, large pieces still referenced", "[unit]") {
  const std::string large(SegmentList::kReferenceBytes, 'v');
  const Buffer value = Buffer::Copy(std::string_view(large));
  ReplyBuilder from;
  from.ArrayHeader(2);
  from.Bulk(value);
  from.Integer(7);
  ReplyBuilder to;
  to.SimpleString("QUEUED");
  to.Append(std::move(from));
  CHECK(from.empty());
  CHECK(Joined(to) == "+QUEUED\r\n*2\r\n$4096\r\n" + large + "\r\n:7\r\n");
  bool referenced = false;
  for (const auto& segment : to.Segments()) {
    referenced = referenced || segment.data == value.span().data();
  }
  CHECK(referenced);
}

TEST_CASE("ReplyBuilder keeps status and error replies on one line", "[unit]") {
  ReplyBuilder builder;
  builder.Error("ERR bad\r\n+OK");
  builder.SimpleString("a\nb");
  CHECK(Joined(builder) == "-ERR bad  +OK\r\n+a b\r\n");
}

TEST_CASE("ReplyBuilder references large payloads without copying them", "[unit]") {
  const Buffer block = Buffer::Copy(std::string(ReplyBuilder::kReferenceBytes, 'k'));
  const Buffer block2 = Buffer::Copy(std::string(100000, 'v'));
  ReplyBuilder builder;
  builder.ArrayHeader(3);
  builder.Bulk(block);
  builder.Bulk(block2);
  builder.Nil();
  CHECK(block.use_count() == 2);
  const auto segments = builder.Segments();
  REQUIRE(segments.size() == 5);
  CHECK(std::string_view(reinterpret_cast<const char*>(segments[0].data), segments[0].size) ==
        "*3\r\n$4096\r\n");
  CHECK(segments[1].data == block.data());
  CHECK(segments[1].size == block.size());
  CHECK(std::string_view(reinterpret_cast<const char*>(segments[2].data), segments[2].size) ==
        "\r\n$100000\r\n");
  CHECK(segments[3].data == block2.data());
  CHECK(std::string_view(reinterpret_cast<const char*>(segments[4].data), segments[4].size) ==
        "\r\n$-1\r\n");
  const std::string expected = "*3\r\n$4096\r\n" + std::string(4096, 'k') + "\r\n$100000\r\n" +
                               std::string(100000, 'v') + "\r\n$-1\r\n";
  CHECK(Joined(builder) == expected);
  CHECK(builder.TotalBytes() == expected.size());
  builder.Clear();
  CHECK(builder.empty());
  CHECK(builder.Segments().empty());
  CHECK(block.use_count() == 1);
  builder.Integer(1);
  CHECK(Joined(builder) == ":1\r\n");
}

TEST_CASE("ReplyBuilder copies a payload just under the reference size", "[unit]") {
  const Buffer value = Buffer::Copy(std::string(ReplyBuilder::kReferenceBytes - 1, 'x'));
  ReplyBuilder builder;
  builder.Bulk(value);
  CHECK(builder.Segments().size() == 1);
  CHECK(value.use_count() == 1);
}

}  // namespace
}  // namespace prefixcache::protocol
