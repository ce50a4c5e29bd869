// Expiry, key names, SCAN and KEYS of prefixcached against real clients: replies compared
// byte for byte with Debian's redis-server (started by the test on a free loopback port),
// expiry in the memory and the spill tier and across a restart on the spill folder,
// expired keys nobody touches reclaimed, SCAN while keys are added and evicted, and the
// real `redis-cli --scan --pattern`.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

// Debian's redis-server on a free loopback port, without persistence; stopped (SIGTERM
// through redis-cli's SHUTDOWN NOSAVE) on destruction.
class RedisServer {
 public:
  bool Start() {
    port_ = PickFreePort();
    CapturedRun run = RunCaptured({"redis-server", "--port", std::to_string(port_), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize",
                                   "yes", "--dir", dir_.path().string()});
    if (run.exit_code != 0) return false;
    return Eventually([&] {
      RespClient probe(port_);
      return probe.connected() && Describe(probe.Call({"PING"})) == "+PONG";
    });
  }
  ~RedisServer() {
    if (port_ != 0) (void)RedisCli(port_, {"SHUTDOWN", "NOSAVE"});
  }
  std::uint16_t port() const { return port_; }

 private:
  TempDir dir_{"redis-server"};
  std::uint16_t port_ = 0;
};

// Sends each command to both servers and compares the whole replies' wire bytes.
void CompareWithRedis(RespClient& ours, RespClient& redis,
                      const std::vector<std::vector<std::string>>& commands) {
  for (const auto& command : commands) {
    std::string shown;
    for (const auto& arg : command) shown += arg + " ";
    INFO("command: " << shown);
    const Reply a = ours.Call(command);
    const Reply b = redis.Call(command);
    CHECK(Wire(a) == Wire(b));
  }
}

TEST_CASE("Expiry commands answer byte for byte as redis-server does", "[integration]") {
  REQUIRE(HaveProgram("redis-server"));
  RedisServer redis_server;
  REQUIRE(redis_server.Start());
  TestNode node("expiry-compare");
  REQUIRE(node.Start());
  RespClient ours(node.port());
  RespClient redis(redis_server.port());
  REQUIRE(ours.connected());
  REQUIRE(redis.connected());

  // Absolute times far ahead, so that no reply depends on when it is sent.
  const std::string at_s = "4102444800";  // 2100-01-01
  const std::string later_s = "4102448400";
  const std::string at_ms = "4102444800123";
  CompareWithRedis(ours, redis,
                   {
                       {"SET", "k", "v", "EXAT", at_s},
                       {"EXPIRETIME", "k"},
                       {"PEXPIRETIME", "k"},
                       {"SET", "k", "v", "PXAT", at_ms},
                       {"PEXPIRETIME", "k"},
                       {"SET", "k", "v2", "KEEPTTL"},
                       {"PEXPIRETIME", "k"},
                       {"SET", "k", "v3"},
                       {"EXPIRETIME", "k"},
                       {"TTL", "k"},
                       {"PTTL", "k"},
                       {"TTL", "missing"},
                       {"PTTL", "missing"},
                       {"EXPIRETIME", "missing"},
                       {"EXPIREAT", "k", at_s, "XX"},
                       {"EXPIREAT", "k", at_s, "GT"},
                       {"EXPIREAT", "k", at_s, "LT"},
                       {"EXPIRETIME", "k"},
                       {"EXPIREAT", "k", later_s, "NX"},
                       {"EXPIREAT", "k", later_s, "LT"},
                       {"EXPIREAT", "k", later_s, "GT"},
                       {"EXPIREAT", "k", at_s, "XX", "GT"},
                       {"EXPIREAT", "k", at_s, "XX", "LT"},
                       {"EXPIRETIME", "k"},
                       {"PEXPIREAT", "k", at_ms},
                       {"PEXPIRETIME", "k"},
                       {"EXPIREAT", "missing", at_s},
                       {"PERSIST", "k"},
                       {"PERSIST", "k"},
                       {"PERSIST", "missing"},
                       {"EXPIRETIME", "k"},
                       {"EXPIRE", "k", "10", "NX", "XX"},
                       {"EXPIRE", "k", "10", "GT", "LT"},
                       {"EXPIRE", "k", "10", "NX", "GT"},
                       {"EXPIRE", "k", "10", "sometimes"},
                       {"EXPIRE", "k", "ten"},
                       {"EXPIRE", "k", "9223372036854775807"},
                       {"PEXPIRE", "k", "9223372036854775807"},
                       {"EXPIRE", "k"},
                       {"TTL"},
                       {"SET", "k", "v", "EX", "0"},
                       {"SET", "k", "v", "PX", "-1"},
                       {"SET", "k", "v", "EX", "ten"},
                       {"SET", "k", "v", "EX"},
                       {"SET", "k", "v", "EX", "10", "PX", "10"},
                       {"SET", "k", "v", "KEEPTTL", "EX", "10"},
                       {"SET", "k", "v", "EX", "10", "KEEPTTL"},
                       {"SET", "k", "v", "EXAT", "9223372036854775807"},
                       {"SETEX", "k", "0", "v"},
                       {"SETEX", "k", "x", "v"},
                       {"PSETEX", "k", "-3", "v"},
                       {"SET", "k", "v", "NX", "GET", "EXAT", at_s},
                       {"SET", "k", "w", "XX", "GET", "PXAT", at_ms},
                       {"PEXPIRETIME", "k"},
                       {"EXPIRE", "k", "-1"},
                       {"EXISTS", "k"},
                       {"TTL", "k"},
                       {"SET", "gone", "v"},
                       {"PEXPIREAT", "gone", "1"},
                       {"GET", "gone"},
                       {"SCAN", "x"},
                       {"SCAN", "0", "COUNT", "0"},
                       {"SCAN", "0", "COUNT", "x"},
                       {"SCAN", "0", "MATCH"},
                       {"SCAN", "0", "BOGUS", "1"},
                       {"SCAN", "0", "TYPE", "hash"},
                       {"SET", "single", "v"},
                       {"SCAN", "0", "MATCH", "sin*", "COUNT", "100"},
                       {"SCAN", "0", "MATCH", "s[h-j]ngl?", "COUNT", "100", "TYPE", "string"},
                       {"KEYS", "sing*"},
                       {"KEYS", "nomatch*"},
                   });
  // Glob patterns: KEYS answers the same keys as redis-server (in its own order).
  for (const std::string key : {"hello", "hallo", "hillo", "hllo", "heeello", "h*llo", "h[llo",
                                "a-b", "x\\y", "", "abc", "acb", "h^llo"}) {
    CHECK(Wire(ours.Call({"SET", key, "v"})) == Wire(redis.Call({"SET", key, "v"})));
  }
  auto sorted_keys = [](const Reply& reply) {
    std::set<std::string> keys;
    for (const Reply& key : reply.elements) keys.insert(std::string(key.bulk.view()));
    return keys;
  };
  for (const std::string pattern :
       {"*",       "h?llo",     "h*llo",   "h[ae]llo", "h[^e]llo",   "h[a-i]llo", "h[i-a]llo",
        "h\\*llo", "h[\\[]llo", "a[-]b",   "a*",       "*c*",        "a?c",       "x\\\\y",
        "h[llo",   "[",         "h[^]llo", "??",       "h[^a-e]llo", "*llo*",     "h\\[llo"}) {
    INFO("pattern " << pattern);
    CHECK(sorted_keys(ours.Call({"KEYS", pattern})) == sorted_keys(redis.Call({"KEYS", pattern})));
  }

  // Relative times: the same type of reply, and a value within the time given.
  for (RespClient* client : {&ours, &redis}) {
    CHECK(Describe(client->Call({"SET", "r", "v", "EX", "1000"})) == "+OK");
    const Reply ttl = client->Call({"TTL", "r"});
    REQUIRE(ttl.type == Reply::Type::kInteger);
    CHECK((ttl.integer > 0 && ttl.integer <= 1000));
    CHECK(Describe(client->Call({"PEXPIRE", "r", "500000"})) == ":1");
    const Reply pttl = client->Call({"PTTL", "r"});
    REQUIRE(pttl.type == Reply::Type::kInteger);
    CHECK((pttl.integer > 0 && pttl.integer <= 500000));
  }
}

// A daemon whose memory tier holds a few 64 KiB values, so most go to the spill tier.
bool StartSmall(TestNode& node) { return node.Start({"--memory-capacity", "1MiB"}); }

std::string Value(std::size_t i) { return std::string(64 * 1024, static_cast<char>('a' + i % 26)); }

std::int64_t Integer(RespClient& client, std::initializer_list<std::string_view> args) {
  const Reply reply = client.Call(args);
  INFO(Describe(reply));
  REQUIRE(reply.type == Reply::Type::kInteger);
  return reply.integer;
}

TEST_CASE("Expiry in both tiers, reclaimed untouched, and across a restart", "[integration]") {
  TestNode node("expiry-tiers");
  REQUIRE(StartSmall(node));
  {
    RespClient client(node.port());
    REQUIRE(client.connected());
    // Kept for long, short-lived, no expiry; then enough more to push them all to spill.
    for (int i = 0; i < 5; ++i) {
      CHECK(Describe(client.Call({"SET", "long:" + std::to_string(i), Value(i), "EX", "100000"})) ==
            "+OK");
      CHECK(Describe(client.Call({"SET", "short:" + std::to_string(i), Value(i), "PX", "300"})) ==
            "+OK");
      CHECK(Describe(client.Call({"SET", "plain:" + std::to_string(i), Value(i)})) == "+OK");
    }
    CHECK(Describe(client.Call({"SET", "persisted", Value(1), "EX", "100000"})) == "+OK");
    CHECK(Integer(client, {"PERSIST", "persisted"}) == 1);
    for (int i = 0; i < 40; ++i) {
      CHECK(Describe(client.Call({"SET", "fill:" + std::to_string(i), Value(i)})) == "+OK");
    }
    // The short-lived keys expire on their own, in spill and never read: DBSIZE shows them
    // reclaimed without a read of them (the sweep).
    REQUIRE(Eventually([&] { return Integer(client, {"DBSIZE"}) == 5 + 5 + 1 + 40; },
                       std::chrono::seconds(30)));
    for (int i = 0; i < 5; ++i) {
      const std::string n = std::to_string(i);
      CHECK(Describe(client.Call({"GET", "short:" + n})) == "nil");
      CHECK(Integer(client, {"EXISTS", "short:" + n}) == 0);
      CHECK(Integer(client, {"TTL", "short:" + n}) == -2);
      const std::int64_t ttl = Integer(client, {"TTL", "long:" + n});
      CHECK((ttl > 0 && ttl <= 100000));
      CHECK(Integer(client, {"TTL", "plain:" + n}) == -1);
    }
    // An expiry set on a spilled key, in the past: the key goes from spill at once.
    CHECK(Integer(client, {"PEXPIREAT", "plain:0", "1"}) == 1);
    CHECK(Describe(client.Call({"GET", "plain:0"})) == "nil");
    // One set on a spilled key for later, read back after the restart.
    CHECK(Integer(client, {"EXPIREAT", "plain:1", "4102444800"}) == 1);
  }
  REQUIRE(ExitedCleanly(node.Stop()));
  REQUIRE(StartSmall(node));
  RespClient client(node.port());
  REQUIRE(client.connected());
  CHECK(Integer(client, {"DBSIZE"}) == 5 + 4 + 1 + 40);
  for (int i = 0; i < 5; ++i) {
    const std::string n = std::to_string(i);
    const std::int64_t ttl = Integer(client, {"TTL", "long:" + n});
    CHECK((ttl > 0 && ttl <= 100000));
    const Reply value = client.Call({"GET", "long:" + n});
    REQUIRE(value.type == Reply::Type::kBulk);
    CHECK(value.bulk.view() == Value(i));
    CHECK(Integer(client, {"TTL", "short:" + n}) == -2);
  }
  CHECK(Integer(client, {"TTL", "persisted"}) == -1);
  CHECK(Integer(client, {"EXPIRETIME", "plain:1"}) == 4102444800);
  CHECK(Integer(client, {"TTL", "plain:0"}) == -2);
  // The names came back with the blocks.
  const Reply keys = client.Call({"KEYS", "long:*"});
  REQUIRE(keys.type == Reply::Type::kArray);
  CHECK(keys.elements.size() == 5);
}

// Every key SCAN returns from cursor 0 until it is 0 again.
std::multiset<std::string> ScanAll(RespClient& client, const std::vector<std::string>& options) {
  std::multiset<std::string> keys;
  std::string cursor = "0";
  do {
    std::vector<std::string> command = {"SCAN", cursor};
    command.insert(command.end(), options.begin(), options.end());
    const Reply reply = client.Call(command);
    INFO(Describe(reply));
    REQUIRE(reply.type == Reply::Type::kArray);
    REQUIRE(reply.elements.size() == 2);
    cursor = std::string(reply.elements[0].bulk.view());
    for (const Reply& key : reply.elements[1].elements) keys.insert(std::string(key.bulk.view()));
  } while (cursor != "0");
  return keys;
}

TEST_CASE("SCAN while keys are added and evicted sees every key present throughout",
          "[integration]") {
  TestNode node("scan-churn");
  REQUIRE(StartSmall(node));
  RespClient client(node.port());
  REQUIRE(client.connected());
  std::set<std::string> stable;
  for (int i = 0; i < 60; ++i) {
    const std::string key = "stable:" + std::to_string(i);
    CHECK(Describe(client.Call({"SET", key, Value(i)})) == "+OK");
    stable.insert(key);
  }
  // A raw 16-byte key: returned as its 16 bytes.
  const std::string raw = Bytes("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10");
  CHECK(Describe(client.Call({"SET", raw, "v"})) == "+OK");

  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    RespClient churn(node.port());
    for (int i = 0; !stop.load() && churn.connected(); ++i) {
      if (Describe(churn.Call({"SET", "churn:" + std::to_string(i), Value(i)})) != "+OK") break;
      if (i % 4 == 0) (void)churn.Call({"GET", "stable:" + std::to_string(i % 60)});
      written.fetch_add(1);
    }
  });
  for (int round = 0; round < 3; ++round) {
    const std::multiset<std::string> seen = ScanAll(client, {"COUNT", "7"});
    for (const std::string& key : stable) {
      INFO("round " << round << ": " << key);
      CHECK(seen.contains(key));
    }
    CHECK(seen.contains(raw));
  }
  REQUIRE(Eventually([&] { return written.load() > 100; }, std::chrono::seconds(60)));
  stop = true;
  writer.join();

  // MATCH and TYPE filter what each page found.
  const std::multiset<std::string> matched = ScanAll(client, {"MATCH", "stable:1*", "COUNT", "5"});
  const std::set<std::string> distinct(matched.begin(), matched.end());
  std::set<std::string> expected;
  for (const std::string& key : stable) {
    if (key.rfind("stable:1", 0) == 0) expected.insert(key);
  }
  CHECK(distinct == expected);
  CHECK(ScanAll(client, {"TYPE", "hash"}).empty());
  CHECK(ScanAll(client, {"TYPE", "string", "MATCH", "stable:5?"}).size() >= 10);

  // The real redis-cli, as an operator types it.
  REQUIRE(HaveProgram("redis-cli"));
  CapturedRun run = RedisCli(node.port(), {"--scan", "--pattern", "stable:1*"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  std::set<std::string> printed;
  for (std::size_t at = 0, end; (end = run.out.find('\n', at)) != std::string::npos; at = end + 1) {
    printed.insert(run.out.substr(at, end - at));
  }
  CHECK(printed == expected);
}

}  // namespace
}  // namespace prefixcache::testing
