// Malformed and oversized input, and the configured limits: protocol errors close only the
// offending connection; values, element counts and request sizes over the limits get an
// error and the connection keeps serving; max_connections, idle_timeout_ms and the
// client output buffer limit.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

std::uint64_t InfoNumber(RespClient& client, const std::string& section, const std::string& field) {
  const std::string text = InfoField(client, section, field);
  INFO("INFO " << section << " " << field << " = '" << text << "'");
  REQUIRE(!text.empty());
  return std::stoull(text);
}

TEST_CASE("malformed RESP gets -ERR Protocol error and a close while other clients go on",
          "[integration]") {
  TestNode node("malformed");
  REQUIRE(node.Start());
  RespClient bystander(node.port());
  REQUIRE(Describe(bystander.Call({"SET", "kept", "value"})) == "+OK");

  struct Case {
    const char* name;
    std::string input;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"bad multibulk length", "*x\r\n", "Protocol error: invalid multibulk length"},
      {"bad bulk length", "*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
      {"negative bulk length", "*2\r\n$3\r\nGET\r\n$-3\r\n", "Protocol error: invalid bulk length"},
      {"'$' expected", "*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'"},
      {"'$' expected, got ':'", "*2\r\n$3\r\nGET\r\n:1\r\n",
       "Protocol error: expected '$', got ':'"},
      {"payload without CRLF", "*1\r\n$4\r\nPINGxx\r\n",
       "Protocol error: bulk payload not followed by CRLF"},
      {"unbalanced quotes", "SET \"k v\r\n", "Protocol error: unbalanced quotes in request"},
  };
  std::uint64_t errors = 0;
  for (const Case& c : cases) {
    INFO(c.name);
    RespClient client(node.port());
    REQUIRE(client.connected());
    // The replies to the requests before the bad input come first; then the error and EOF.
    // Junk after the bad input is never interpreted.
    REQUIRE(client.Send(Cmd({"PING"}) + Cmd({"GET", "kept"}) + c.input + "*1\r\n$4\r\nPING\r\n" +
                        std::string(10000, 'j')));
    std::string raw;
    CHECK(client.ReadRawUntilEof(raw));
    CHECK(raw == "+PONG\r\n$5\r\nvalue\r\n-ERR " + c.error + "\r\n");
    ++errors;
    // The client that was connected all along still works, and so does a new one.
    CHECK(Describe(bystander.Call({"GET", "kept"})) == "\"value\"");
    RespClient fresh(node.port());
    CHECK(Describe(fresh.Call({"PING"})) == "+PONG");
  }
  CHECK(InfoNumber(bystander, "stats", "protocol_errors") == errors);
}

TEST_CASE("limits: an oversized value or request and too many elements keep the connection",
          "[integration]") {
  TestNode node("oversized");
  const auto config = node.Config(R"({
    "spill": {"enabled": false},
    "limits": {"max_value": "1MiB", "max_request_elements": 10, "max_request": "3MiB"}
  })");
  REQUIRE(node.Start(config));
  RespClient client(node.port());
  REQUIRE(client.connected());

  SECTION("a value over max_value") {
    const std::string too_big(2000000, 'x');
    CHECK(Describe(client.Call({"SET", "k", too_big})) ==
          "-ERR value of 2000000 bytes exceeds max_value_bytes (1048576)");
    // The payload was discarded, not taken for commands; the connection keeps serving.
    CHECK(Describe(client.Call({"PING"})) == "+PONG");
    CHECK(Describe(client.Call({"GET", "k"})) == "nil");
    const std::string limit(1048576, 'y');
    CHECK(Describe(client.Call({"SET", "k", limit})) == "+OK");
    CHECK(Wire(client.Call({"GET", "k"})) == "$1048576\r\n" + limit + "\r\n");
    // Over the limit one byte, in a BLOCK.MSET, pipelined between good requests.
    REQUIRE(client.Send(Cmd({"PING"}) +
                        Cmd({"BLOCK.MSET", "0", "0123456789abcdef", "small", "1",
                             "fedcba9876543210", std::string(1048577, 'z')}) +
                        Cmd({"BLOCK.EXISTS", "0123456789abcdef", "fedcba9876543210"})));
    std::vector<std::string> replies;
    for (int i = 0; i < 3; ++i) {
      auto reply = client.Read();
      REQUIRE(reply);
      replies.push_back(Describe(*reply));
    }
    CHECK(replies == std::vector<std::string>{
                         "+PONG", "-ERR value of 1048577 bytes exceeds max_value_bytes (1048576)",
                         "[:0, :0]"});
    CHECK(InfoNumber(client, "stats", "rejected_requests") == 2);
  }

  SECTION("too many elements") {
    std::vector<std::string> mget = {"MGET"};
    for (int i = 0; i < 9; ++i) mget.push_back("k" + std::to_string(i));
    CHECK(client.Call(mget).elements.size() == 9);  // 10 elements: at the limit
    mget.push_back("k9");
    CHECK(Describe(client.Call(mget)) ==
          "-ERR request has 11 arguments, more than max_request_elements (10)");
    CHECK(Describe(client.Call({"PING"})) == "+PONG");
    std::vector<std::string> many = {"MSET"};
    for (int i = 0; i < 1000; ++i) many.push_back("v" + std::to_string(i));
    CHECK(Describe(client.Call(many)) ==
          "-ERR request has 1001 arguments, more than max_request_elements (10)");
    CHECK(Describe(client.Call({"EXISTS", "v0", "v2"})) == ":0");
    CHECK(Describe(client.Call({"ECHO", "still here"})) == "\"still here\"");
  }

  SECTION("a request over max_request") {
    const std::string mib(1048576, 'm');
    const Reply reply = client.Call({"MSET", "a", mib, "b", mib, "c", mib, "d", mib});
    REQUIRE(reply.type == Reply::Type::kError);
    INFO(reply.text);
    CHECK(reply.text.rfind("ERR request of at least ", 0) == 0);
    const std::string tail = " bytes exceeds max_request_bytes (3145728)";
    CHECK(reply.text.size() > tail.size());
    CHECK(reply.text.substr(reply.text.size() - tail.size()) == tail);
    CHECK(Describe(client.Call({"EXISTS", "a", "b", "c", "d"})) == ":0");
    CHECK(Describe(client.Call({"MSET", "a", mib, "b", mib})) == "+OK");
    CHECK(Describe(client.Call({"EXISTS", "a", "b"})) == ":2");
  }
}

TEST_CASE("limits: the fifth client over max_connections 4 is refused", "[integration]") {
  TestNode node("maxconn");
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "limits": {"max_connections": 4}})")));
  std::vector<std::unique_ptr<RespClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RespClient>(node.port()));
    REQUIRE(Describe(clients.back()->Call({"PING"})) == "+PONG");
  }

  // Without sending anything, the fifth gets the error and is closed.
  RespClient fifth(node.port());
  REQUIRE(fifth.connected());
  std::string raw;
  CHECK(fifth.ReadRawUntilEof(raw));
  CHECK(raw == "-ERR max number of clients reached\r\n");
  // One that sends a request first gets the same.
  RespClient sixth(node.port());
  REQUIRE(sixth.Send(Cmd({"PING"})));
  raw.clear();
  CHECK(sixth.ReadRawUntilEof(raw));
  CHECK(raw == "-ERR max number of clients reached\r\n");

  // The four are unaffected.
  for (auto& c : clients) CHECK(Describe(c->Call({"PING"})) == "+PONG");
  CHECK(InfoField(*clients[0], "clients", "connected_clients") == "4");
  CHECK(InfoField(*clients[0], "clients", "maxclients") == "4");
  CHECK(InfoField(*clients[0], "stats", "rejected_connections") == "2");

  // Once one leaves, a new client gets in (the slot frees when the daemon sees the close).
  clients.back()->Close();
  clients.pop_back();
  CHECK(Eventually([&] {
    RespClient next(node.port());
    return Describe(next.Call({"PING"})) == "+PONG";
  }));
}

TEST_CASE("limits: idle_timeout_ms closes an idle connection", "[integration]") {
  TestNode node("idle");
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "limits": {"idle_timeout_ms": 300}})")));
  RespClient idle(node.port());
  REQUIRE(Describe(idle.Call({"PING"})) == "+PONG");
  RespClient silent(node.port());  // never sends a byte
  REQUIRE(silent.connected());
  // Closed without a reply, as Redis does.
  std::string raw;
  CHECK(idle.ReadRawUntilEof(raw, std::chrono::seconds(10)));
  CHECK(raw.empty());
  CHECK(silent.ReadRawUntilEof(raw, std::chrono::seconds(10)));
  CHECK(raw.empty());

  RespClient observer(node.port());
  CHECK(Describe(observer.Call({"CONFIG", "GET", "prefixcache-idle-timeout-ms"})) ==
        "[\"prefixcache-idle-timeout-ms\", \"300\"]");
  CHECK(InfoNumber(observer, "stats", "idle_timeouts") >= 2);
}

TEST_CASE("limits: a client whose replies make no progress for idle_timeout_ms is closed",
          "[integration]") {
  TestNode node("stall");
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "limits": {"idle_timeout_ms": 300}})")));
  RespClient observer(node.port());
  const std::string value(4u << 20, 'v');
  REQUIRE(Describe(observer.Call({"SET", "big", value})) == "+OK");

  RespClient stalled(node.port(), true, /*receive_buffer_bytes=*/64 * 1024);
  std::string requests;
  for (int i = 0; i < 50; ++i) requests += Cmd({"GET", "big"});
  REQUIRE(stalled.Send(requests));
  // The client reads nothing; the daemon's writes stall and it gives up on the client.
  CHECK(Eventually([&] { return InfoNumber(observer, "stats", "output_stalls") >= 1; }));
  std::string raw;
  CHECK(stalled.ReadRawUntilEof(raw, std::chrono::seconds(10)));  // what was in flight, then EOF
  CHECK(raw.size() < 50 * value.size());
  CHECK(Describe(observer.Call({"PING"})) == "+PONG");
}

TEST_CASE("limits: a client that does not read its replies does not grow the daemon",
          "[integration]") {
  TestNode node("outbuf");
  // Small memory tier: most blocks live in the spill tier, so every reply is a buffer of
  // its own read from disk (memory hits would share the stored buffer and cost nothing).
  REQUIRE(node.Start(node.Config(R"({"memory": {"capacity": "4MiB"},
                                     "spill": {"queue": "8MiB"},
                                     "limits": {"client_output_buffer": "4MiB"}})")));
  constexpr std::size_t kValue = 1 << 20;
  constexpr int kBlocks = 48;
  constexpr int kFlood = 1000;  // 1000 MiB of replies if nothing held the client back
  std::mt19937_64 rng(77);
  std::vector<std::string> keys, values;
  RespClient observer(node.port());
  for (int i = 0; i < kBlocks; ++i) {
    std::string key(16, '\0'), value(kValue, '\0');
    for (char& c : key) c = static_cast<char>(rng());
    for (char& c : value) c = static_cast<char>(rng());
    REQUIRE(Describe(observer.Call({"BLOCK.MSET", std::to_string(i), key, value})) == "+OK");
    keys.push_back(std::move(key));
    values.push_back(std::move(value));
  }
  // Wait until the evicted blocks are on disk.
  REQUIRE(Eventually([&] {
    Reply reply = observer.Call({"BLOCK.STATS"});
    auto stats = nlohmann::json::parse(reply.bulk.view());
    return stats["memory"]["queue_bytes"] == 0 && stats["spill"]["queue_bytes"] == 0 &&
           stats["spill"]["entries"].get<int>() >= kBlocks - 8;
  }));

  // The observer's own commands, counted so that the flood's can be told apart in
  // total_commands_processed.
  std::uint64_t observer_commands = 0;
  auto observer_info = [&](const std::string& field) {
    ++observer_commands;
    return InfoNumber(observer, "stats", field);
  };
  const std::uint64_t baseline_rss = VmRssBytes(node.pid());
  REQUIRE(baseline_rss > 0);
  const std::uint64_t pauses_before = InfoNumber(observer, "stats", "backpressure_pauses");
  // Counts every command up to and including this INFO.
  const std::uint64_t processed_before = InfoNumber(observer, "stats", "total_commands_processed");

  RespClient flood(node.port(), true, /*receive_buffer_bytes=*/64 * 1024);
  REQUIRE(flood.connected());
  std::string requests;
  for (int i = 0; i < kFlood; ++i) requests += Cmd({"GET", keys[i % kBlocks]});
  REQUIRE(flood.Send(requests));

  // The event: the daemon stopped working for the flood client once its unsent replies
  // passed the limit. A limit that never holds never gets here. From then on the flood
  // connection handles a request only while its unsent replies are under the limit, and
  // the client takes none, so the checks below hold whenever they run, on a fast machine
  // or a slow one: the daemon holds at most the limit plus what the socket buffers take.
  REQUIRE(Eventually([&] { return observer_info("backpressure_pauses") > pauses_before; },
                     std::chrono::seconds(20)));
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::uint64_t kSlack = 384ull << 20;  // ASan's quarantine keeps freed buffers
#else
  constexpr std::uint64_t kSlack = 96ull << 20;
#endif
  std::uint64_t max_rss = VmRssBytes(node.pid());
  // The others are served meanwhile, disk reads included; RSS is sampled after each reply.
  CHECK(Describe(observer.Call({"PING"})) == "+PONG");
  ++observer_commands;
  for (int i = 0; i < 16; ++i) {
    CHECK(Wire(observer.Call({"GET", keys[i]})) == "$1048576\r\n" + values[i] + "\r\n");
    ++observer_commands;
    max_rss = std::max(max_rss, VmRssBytes(node.pid()));
  }
  CHECK(Wire(observer.Call({"BLOCK.MGET", keys[40], keys[41]})) ==
        "*2\r\n$1048576\r\n" + values[40] + "\r\n$1048576\r\n" + values[41] + "\r\n");
  ++observer_commands;
  max_rss = std::max(max_rss, VmRssBytes(node.pid()));
  INFO("baseline RSS " << (baseline_rss >> 20) << " MiB, max " << (max_rss >> 20) << " MiB");
  // Without the limit the daemon would read on and hold up to 1000 MiB of replies.
  CHECK(max_rss < baseline_rss + (4ull << 20) + kSlack);
  // Only a handful of the flood's requests were handled: the limit plus what the socket
  // buffers hold, 1 MiB each.
  const std::uint64_t processed = observer_info("total_commands_processed");
  const std::uint64_t flood_handled = processed - processed_before - observer_commands;
  INFO("flood requests handled: " << flood_handled);
  CHECK(flood_handled < 64);

  // The flood client gets its replies in order once it reads.
  for (int i = 0; i < 12; ++i) {
    std::optional<Reply> reply = flood.Read();
    REQUIRE(reply);
    REQUIRE(reply->type == Reply::Type::kBulk);
    CHECK(reply->bulk.view() == values[i % kBlocks]);
  }
  flood.Close();
  CHECK(Describe(observer.Call({"PING"})) == "+PONG");
  CHECK(Eventually([&] { return InfoField(observer, "clients", "connected_clients") == "1"; }));
}

}  // namespace
}  // namespace prefixcache::testing
