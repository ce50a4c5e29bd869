// AUTH on and off, refusals to start (non-loopback without a password, bad config files),
// SIGTERM (exit 0, also under load) and restarts on the same spill folder.
#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

using Type = Reply::Type;

constexpr const char* kNoAuth = "-NOAUTH Authentication required.";
constexpr const char* kWrongPass = "-WRONGPASS invalid username-password pair or user is disabled.";

TEST_CASE("AUTH with security.password: NOAUTH WRONGPASS AUTH and HELLO AUTH", "[integration]") {
  TestNode node("auth-on");
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "security": {"password": "s3cret pass"}})")));

  RespClient client(node.port());
  CHECK(Describe(client.Call({"PING"})) == kNoAuth);
  CHECK(Describe(client.Call({"GET", "k"})) == kNoAuth);
  CHECK(Describe(client.Call({"SET", "k", "v"})) == kNoAuth);
  CHECK(Describe(client.Call({"BLOCK.EXISTS", "0123456789abcdef"})) == kNoAuth);
  CHECK(Describe(client.Call({"INFO"})) == kNoAuth);
  // Redis checks the command and its arity before authentication.
  CHECK(Describe(client.Call({"NOSUCH"})) ==
        "-ERR unknown command 'NOSUCH', with args beginning with: ");
  CHECK(Describe(client.Call({"GET"})) == "-ERR wrong number of arguments for 'get' command");
  CHECK(Describe(client.Call({"HELLO", "2"})) ==
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
  CHECK(Describe(client.Call({"AUTH", "wrong"})) == kWrongPass);
  CHECK(Describe(client.Call({"AUTH", "s3cret"})) == kWrongPass);  // a prefix is not enough
  CHECK(Describe(client.Call({"AUTH", "admin", "s3cret pass"})) == kWrongPass);
  CHECK(Describe(client.Call({"HELLO", "2", "AUTH", "default", "nope"})) == kWrongPass);
  CHECK(Describe(client.Call({"PING"})) == kNoAuth);  // still not authenticated
  CHECK(Describe(client.Call({"AUTH", "s3cret pass"})) == "+OK");
  CHECK(Describe(client.Call({"PING"})) == "+PONG");
  CHECK(Describe(client.Call({"SET", "k", "v"})) == "+OK");
  CHECK(Describe(client.Call({"GET", "k"})) == "\"v\"");
  CHECK(InfoField(client, "stats", "auth_failures") == "4");
  // Refused before running (not authenticated, wrong arity): rejected_calls, not calls.
  const std::string get_stats = InfoField(client, "commandstats", "cmdstat_get");
  CHECK(get_stats.starts_with("calls=1,usec="));
  CHECK(get_stats.ends_with(",rejected_calls=2,failed_calls=0"));
  CHECK(InfoField(client, "commandstats", "cmdstat_ping").starts_with("calls=1,"));

  // AUTH default <password>.
  RespClient second(node.port());
  CHECK(Describe(second.Call({"AUTH", "default", "s3cret pass"})) == "+OK");
  CHECK(Describe(second.Call({"GET", "k"})) == "\"v\"");

  // HELLO 2 AUTH default <password> authenticates and answers the server map.
  RespClient third(node.port());
  const Reply hello = third.Call({"HELLO", "2", "AUTH", "default", "s3cret pass", "SETNAME", "w"});
  REQUIRE(hello.type == Type::kArray);
  REQUIRE(hello.elements.size() == 14);
  CHECK(Describe(hello.elements[0]) == "\"server\"");
  CHECK(Describe(hello.elements[1]) == "\"redis\"");
  CHECK(Describe(third.Call({"CLIENT", "GETNAME"})) == "\"w\"");
  CHECK(Describe(third.Call({"GET", "k"})) == "\"v\"");

  // QUIT needs no authentication.
  RespClient fourth(node.port());
  REQUIRE(fourth.Send(Cmd({"QUIT"})));
  std::string raw;
  CHECK(fourth.ReadRawUntilEof(raw));
  CHECK(raw == "+OK\r\n");

  // redis-cli with and without -a.
  if (HaveProgram("redis-cli")) {
    CHECK(RedisCli(node.port(), {"PING"}).out == "NOAUTH Authentication required.\n\n");
    CHECK(RedisCli(node.port(), {"-a", "s3cret pass", "--no-auth-warning", "GET", "k"}).out ==
          "v\n");
    CHECK(RedisCli(node.port(),
                   {"--user", "default", "--pass", "s3cret pass", "--no-auth-warning", "PING"})
              .out == "PONG\n");
  }
}

TEST_CASE("AUTH with security.password: an unauthenticated client is capped as Redis caps it",
          "[integration]") {
  TestNode node("auth-caps");
  REQUIRE(node.Start(node.Config(R"({"spill": {"enabled": false},
                                     "security": {"password": "pw"}})")));
  const std::string big(100000, 'b');

  // A bulk over 16 KiB before AUTH: the error from its header, then the connection closes.
  RespClient bulk(node.port());
  REQUIRE(bulk.Send(Cmd({"PING"}) + "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n"));
  std::string raw;
  CHECK(bulk.ReadRawUntilEof(raw));
  CHECK(raw == std::string(kNoAuth) + "\r\n-ERR Protocol error: unauthenticated bulk length\r\n");

  // More than 10 arguments before AUTH.
  RespClient many(node.port());
  REQUIRE(many.Send(Cmd({"EXISTS", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"})));
  raw.clear();
  CHECK(many.ReadRawUntilEof(raw));
  CHECK(raw == "-ERR Protocol error: unauthenticated multibulk length\r\n");

  // A wrong AUTH pipelined before a large SET does not lift the caps ...
  RespClient wrong(node.port());
  REQUIRE(wrong.Send(Cmd({"AUTH", "nope"}) + Cmd({"SET", "k", big})));
  raw.clear();
  CHECK(wrong.ReadRawUntilEof(raw));
  CHECK(raw ==
        std::string(kWrongPass) + "\r\n-ERR Protocol error: unauthenticated bulk length\r\n");

  // ... the right one does, for the requests pipelined right behind it.
  RespClient right(node.port());
  REQUIRE(right.Send(Cmd({"AUTH", "pw"}) + Cmd({"SET", "k", big}) + Cmd({"GET", "k"}) +
                     Cmd({"EXISTS", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k"})));
  CHECK(Describe(*right.Read()) == "+OK");
  CHECK(Describe(*right.Read()) == "+OK");
  const std::optional<Reply> got = right.Read();
  REQUIRE(got);
  CHECK(Wire(*got) == "$100000\r\n" + big + "\r\n");
  CHECK(Describe(*right.Read()) == ":11");

  // The daemon kept serving: a fresh client authenticates and reads the value.
  RespClient after(node.port());
  CHECK(Describe(after.Call({"AUTH", "pw"})) == "+OK");
  CHECK(Describe(after.Call({"EXISTS", "k"})) == ":1");
}

TEST_CASE("AUTH without a password configured answers Redis's error", "[integration]") {
  TestNode node("auth-off");
  REQUIRE(node.Start());
  RespClient client(node.port());
  CHECK(Describe(client.Call({"PING"})) == "+PONG");
  CHECK(Describe(client.Call({"AUTH", "x"})) ==
        "-ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?");
  CHECK(Describe(client.Call({"AUTH", "other", "x"})) == kWrongPass);
  CHECK(Describe(client.Call({"AUTH", "a", "b", "c"})) == "-ERR syntax error");
  const Reply hello = client.Call({"HELLO", "2", "AUTH", "default", "whatever"});
  CHECK(hello.type == Type::kArray);
  CHECK(Describe(client.Call({"SET", "k", "v"})) == "+OK");
}

TEST_CASE("a non-loopback listen address without a password refuses to start", "[integration]") {
  TempDir dir("remote");
  const std::string bin = DaemonProcess::BinaryPath();
  CapturedRun run = RunCaptured({bin, "--listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:0",
                                 "--spill-path", dir.str() + "/spill"},
                                {}, std::chrono::seconds(30));
  INFO(run.out << run.err);
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("refusing to listen on 0.0.0.0:0 without a password") != std::string::npos);
  CHECK(run.out.find("listening") == std::string::npos);

  // The same from a config file.
  WriteFile(dir.path() / "remote.json", R"({"node": {"listen": "0.0.0.0:0"},
                                            "metrics": {"listen": "127.0.0.1:0"},
                                            "spill": {"enabled": false}})");
  run = RunCaptured({bin, "--config", (dir.path() / "remote.json").string()}, {},
                    std::chrono::seconds(30));
  INFO(run.out << run.err);
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("refusing to listen on 0.0.0.0:0") != std::string::npos);
  CHECK(run.err.find("security.password") != std::string::npos);
}

TEST_CASE("a bad config file: exit 2 with the JSON path in the message", "[integration]") {
  TempDir dir("badconfig");
  const std::string bin = DaemonProcess::BinaryPath();
  struct Case {
    const char* json;
    const char* expect;  // in stderr
  };
  const std::vector<Case> cases = {
      {R"({"memory": {"capcity": "1GiB"}})", "memory.capcity: unknown key"},
      {R"({"memory": {"capacity": "lots"}})", "memory.capacity: "},
      {R"({"limits": {"max_connections": 0}})", "limits.max_connections: "},
      {R"({"node": {"listen": "nowhere"}})", "node.listen: "},
      {R"({"cluster": {"nodes": [{"id": "a", "address": "127.0.0.1:1"},
                                 {"id": "b", "address": "abc"}]}})",
       "cluster.nodes[1].address: "},
      {R"({"spill": {"enabled": "yes"}})", "spill.enabled: "},
      {R"({"memory": )", "invalid JSON at line 1"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const auto path = dir.path() / ("bad" + std::to_string(i++) + ".json");
    WriteFile(path, c.json);
    CapturedRun run = RunCaptured({bin, "--config", path.string(), "--listen", "127.0.0.1:0",
                                   "--metrics-listen", "127.0.0.1:0"},
                                  {}, std::chrono::seconds(30));
    INFO(c.json << "\nstderr: " << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(c.expect) != std::string::npos);
    CHECK(run.err.find(path.string()) != std::string::npos);  // and the file
    CHECK(run.out.find("listening") == std::string::npos);
  }

  CapturedRun missing = RunCaptured({bin, "--config", (dir.path() / "none.json").string()}, {},
                                    std::chrono::seconds(30));
  INFO(missing.err);
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("none.json") != std::string::npos);

  CapturedRun flag = RunCaptured({bin, "--memory-capacity", "lots", "--listen", "127.0.0.1:0"}, {},
                                 std::chrono::seconds(30));
  INFO(flag.err);
  CHECK(flag.exit_code == 2);
  CHECK(flag.err.find("--memory-capacity") != std::string::npos);
}

TEST_CASE("SIGTERM while a client holds a half-sent request still exits 0", "[integration]") {
  TestNode node("sigterm-half");
  REQUIRE(node.Start());
  RespClient writer(node.port());
  REQUIRE(Describe(writer.Call({"SET", "kept", "value"})) == "+OK");
  RespClient half(node.port());
  REQUIRE(half.Send("*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100\r\nonly part of it"));
  RespClient idle(node.port());
  REQUIRE(Describe(idle.Call({"PING"})) == "+PONG");

  // Shutdown waits a grace period for the request in flight, then closes it.
  CHECK(ExitedCleanly(node.Stop()));
  CHECK(idle.WaitForEof());
  CHECK(half.WaitForEof());

  REQUIRE(node.Start());
  RespClient after(node.port());
  CHECK(Describe(after.Call({"MGET", "kept", "half"})) == "[\"value\", nil]");
}

// 16-byte keys and deterministic values for block i.
std::string KeyOf(int i) {
  std::string key = "restart-key-";
  key += static_cast<char>('A' + i / 26);
  key += static_cast<char>('a' + i % 26);
  key.resize(16, '\0');
  return key;
}

std::string ValueOf(int i, std::size_t size) {
  std::mt19937_64 rng(5000 + i);
  std::string value(size, '\0');
  for (char& c : value) c = static_cast<char>(rng());
  return value;
}

nlohmann::json Stats(RespClient& client) {
  const Reply reply = client.Call({"BLOCK.STATS"});
  REQUIRE(reply.type == Type::kBulk);
  return nlohmann::json::parse(reply.bulk.view());
}

void WriteBlocks(RespClient& client, int count, std::size_t size) {
  for (int i = 0; i < count; ++i) {
    REQUIRE(Describe(client.Call({"BLOCK.MSET", std::to_string(i), KeyOf(i), ValueOf(i, size)})) ==
            "+OK");
  }
}

void WaitForSpillQueue(RespClient& client) {
  REQUIRE(Eventually([&] {
    auto stats = Stats(client);
    return stats["memory"]["queue_bytes"] == 0 && stats["spill"]["queue_bytes"] == 0;
  }));
}

// Reads blocks 0..count-1 in batches of 8; returns how many exist, CHECKing that each one
// that exists is byte-exact.
int ReadBackBlocks(RespClient& client, int count, std::size_t size) {
  int found = 0;
  for (int first = 0; first < count; first += 8) {
    std::vector<std::string> args = {"BLOCK.MGET"};
    for (int i = first; i < std::min(count, first + 8); ++i) args.push_back(KeyOf(i));
    const Reply reply = client.Call(args);
    REQUIRE(reply.type == Type::kArray);
    REQUIRE(reply.elements.size() == args.size() - 1);
    for (std::size_t j = 0; j < reply.elements.size(); ++j) {
      const Reply& e = reply.elements[j];
      if (e.type == Type::kNil) continue;
      INFO("block " << first + j);
      REQUIRE(e.type == Type::kBulk);
      CHECK(e.bulk.view() == ValueOf(first + static_cast<int>(j), size));
      ++found;
    }
  }
  return found;
}

TEST_CASE("restart on the same spill folder serves the spilled blocks", "[integration]") {
  TestNode node("restart");
  constexpr int kBlocks = 64;
  constexpr std::size_t kSize = 256 * 1024;
  const std::vector<std::string> args = {"--memory-capacity", "4MiB"};
  REQUIRE(node.Start(args));
  {
    RespClient client(node.port());
    WriteBlocks(client, kBlocks, kSize);
    WaitForSpillQueue(client);
    const auto stats = Stats(client);
    INFO(stats.dump());
    CHECK(stats["spill"]["entries"].get<int>() >= kBlocks - 16);  // 4 MiB hold 16 at most
    CHECK(stats["blocks"] == kBlocks);
  }
  CHECK(ExitedCleanly(node.Stop()));

  REQUIRE(node.Start(args));
  RespClient client(node.port());
  CHECK(Describe(client.Call({"DBSIZE"})) == ":" + std::to_string(kBlocks));
  std::vector<std::string> exists = {"BLOCK.EXISTS"};
  for (int i = 0; i < kBlocks; ++i) exists.push_back(KeyOf(i));
  exists.push_back(KeyOf(kBlocks));  // never written
  std::string want = "*" + std::to_string(kBlocks + 1) + "\r\n";
  for (int i = 0; i < kBlocks; ++i) want += ":1\r\n";
  CHECK(Wire(client.Call(exists)) == want + ":0\r\n");

  CHECK(ReadBackBlocks(client, kBlocks, kSize) == kBlocks);
  const auto stats = Stats(client);
  INFO(stats.dump());
  // The memory tier starts empty: every block came from disk.
  CHECK(stats["spill"]["hits"].get<int>() >= kBlocks);
  CHECK(stats["spill"]["checksum_failures"] == 0);
  CHECK(stats["keyspace_hits"] == kBlocks);
  CHECK(std::stoi(InfoField(client, "stats", "disk_commands")) >= kBlocks / 8);
  CHECK(std::stoi(InfoField(client, "spill_tier", "spill_tier_hits")) >= kBlocks);

  // Standard commands read spilled blocks as well.
  CHECK(Describe(client.Call({"FLUSHALL"})) == "+OK");
  CHECK(ExitedCleanly(node.Stop()));
  REQUIRE(node.Start(args));
  RespClient after_flush(node.port());
  CHECK(Describe(after_flush.Call({"DBSIZE"})) == ":0");  // FLUSHALL reached the disk too
}

TEST_CASE("flush_on_shutdown: blocks only in memory survive a restart when true", "[integration]") {
  constexpr int kBlocks = 16;
  constexpr std::size_t kSize = 256 * 1024;
  const bool flush = GENERATE(true, false);
  INFO("flush_on_shutdown " << flush);
  TestNode node("flush");
  const auto config = node.Config(std::string(R"({"memory": {"capacity": "64MiB"},
                                                  "spill": {"flush_on_shutdown": )") +
                                  (flush ? "true" : "false") + "}}");
  REQUIRE(node.Start(config));
  {
    RespClient client(node.port());
    WriteBlocks(client, kBlocks, kSize);
    const auto stats = Stats(client);
    INFO(stats.dump());
    REQUIRE(stats["memory"]["entries"] == kBlocks);
    REQUIRE(stats["spill"]["entries"] == 0);  // nothing was evicted
  }
  CHECK(ExitedCleanly(node.Stop()));
  REQUIRE(node.Start(config));
  RespClient client(node.port());
  CHECK(ReadBackBlocks(client, kBlocks, kSize) == (flush ? kBlocks : 0));
  CHECK(Describe(client.Call({"DBSIZE"})) == ":" + std::to_string(flush ? kBlocks : 0));
}

TEST_CASE("flush_on_shutdown false: the spilled blocks still survive", "[integration]") {
  constexpr int kBlocks = 64;
  constexpr std::size_t kSize = 256 * 1024;
  TestNode node("noflush");
  const auto config = node.Config(R"({"memory": {"capacity": "4MiB"},
                                      "spill": {"flush_on_shutdown": false}})");
  REQUIRE(node.Start(config));
  int spilled = 0;
  {
    RespClient client(node.port());
    WriteBlocks(client, kBlocks, kSize);
    WaitForSpillQueue(client);
    spilled = Stats(client)["spill"]["entries"].get<int>();
    CHECK(spilled >= kBlocks - 16);
  }
  CHECK(ExitedCleanly(node.Stop()));
  REQUIRE(node.Start(config));
  RespClient client(node.port());
  const int found = ReadBackBlocks(client, kBlocks, kSize);
  CHECK(found >= spilled);
  CHECK(found < kBlocks);  // the memory tier's blocks were not written out
}

TEST_CASE("SIGTERM under load exits 0 and keeps every acknowledged write", "[integration]") {
  TestNode node("sigterm");
  REQUIRE(node.Start({"--memory-capacity", "256MiB"}));
  constexpr int kThreads = 4;
  constexpr std::size_t kSize = 64 * 1024;
  std::atomic<int> acknowledged_total{0};
  std::vector<std::vector<int>> acknowledged(kThreads);
  std::vector<std::thread> threads;
  auto key_of = [](int t, int i) { return "load:" + std::to_string(t) + ":" + std::to_string(i); };
  auto value_of = [](int t, int i) { return ValueOf(t * 100000 + i, kSize / (1 + i % 4)); };
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RespClient client(node.port());
      for (int i = 0;; ++i) {
        // A SET and a GET of an earlier key, pipelined.
        const int earlier = i / 2;
        if (!client.Send(Cmd({"SET", key_of(t, i), value_of(t, i)}) +
                         Cmd({"GET", key_of(t, earlier)}))) {
          return;
        }
        std::optional<Reply> set = client.Read();
        if (!set) return;
        if (set->type == Type::kSimple && set->text == "OK") {
          acknowledged[t].push_back(i);
          acknowledged_total.fetch_add(1);
        }
        if (!client.Read()) return;
      }
    });
  }
  REQUIRE(Eventually([&] { return acknowledged_total.load() >= 200; }, std::chrono::seconds(60)));
  const int status = node.Stop();
  for (auto& thread : threads) thread.join();  // each ends when its connection closes
  CHECK(ExitedCleanly(status));

  REQUIRE(node.Start({"--memory-capacity", "256MiB"}));
  RespClient client(node.port());
  int checked = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i : acknowledged[t]) {
      INFO("thread " << t << " write " << i);
      const Reply reply = client.Call({"GET", key_of(t, i)});
      REQUIRE(reply.type == Type::kBulk);
      CHECK(reply.bulk.view() == value_of(t, i));
      ++checked;
    }
  }
  CHECK(checked >= 200);
}

}  // namespace
}  // namespace prefixcache::testing
