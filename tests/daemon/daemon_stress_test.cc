// Many concurrent clients with mixed, partly pipelined commands whose every reply is
// checked byte-exact against a model; requests sent one byte per send(); large values
// split at random points.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

std::string RandomBytes(std::mt19937_64& rng, std::size_t size) {
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::string BulkWire(const std::optional<std::string>& v) {
  if (!v) return "$-1\r\n";
  return "$" + std::to_string(v->size()) + "\r\n" + *v + "\r\n";
}

std::string IntWire(std::int64_t n) { return ":" + std::to_string(n) + "\r\n"; }

// One client's run: `ops` commands over its own keys (so that their replies are known),
// plus reads of keys shared by every client; values up to `large_value` bytes. Returns the
// first mismatch, or "".
std::string RunClient(std::uint16_t port, int id, int ops,
                      const std::map<std::string, std::string>& shared, std::size_t large_value) {
  RespClient client(port);
  if (!client.connected()) return "client " + std::to_string(id) + ": " + client.error();
  std::mt19937_64 rng(1000 + id);
  std::map<std::string, std::string> strings;  // key -> value held by the daemon
  std::map<std::string, std::string> blocks;   // 16-byte key -> value
  std::vector<std::string> string_keys, block_keys;
  for (int j = 0; j < 6; ++j) {
    string_keys.push_back("client" + std::to_string(id) + ":key" + std::to_string(j));
    std::string bk = RandomBytes(rng, 16);
    block_keys.push_back(bk);
  }
  std::vector<std::string> shared_keys;
  for (const auto& [k, v] : shared) shared_keys.push_back(k);

  auto value_size = [&rng, large_value]() -> std::size_t {
    switch (rng() % 4) {
      case 0:
        return rng() % 64;
      case 1:
        return rng() % 4096;
      case 2:
        return 16384 + rng() % 8;  // around the direct-read threshold
      default:
        return rng() % large_value;
    }
  };
  auto lookup = [](const std::map<std::string, std::string>& m,
                   const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };

  int done = 0;
  while (done < ops) {
    // A batch of 1 to 5 commands sent in one write.
    const int batch = 1 + static_cast<int>(rng() % 5);
    std::string wire;
    std::vector<std::string> expected;
    std::vector<std::string> names;
    std::vector<std::size_t> starts;  // where each request begins in `wire`
    for (int b = 0; b < batch && done < ops; ++b, ++done) {
      starts.push_back(wire.size());
      const std::string& sk = string_keys[rng() % string_keys.size()];
      const std::string& bk = block_keys[rng() % block_keys.size()];
      switch (rng() % 10) {
        case 0: {
          std::string v = RandomBytes(rng, value_size());
          wire += Cmd({"SET", sk, v});
          expected.push_back("+OK\r\n");
          strings[sk] = v;
          names.push_back("SET");
          break;
        }
        case 1:
          wire += Cmd({"GET", sk});
          expected.push_back(BulkWire(lookup(strings, sk)));
          names.push_back("GET");
          break;
        case 2: {
          const std::string& other = string_keys[rng() % string_keys.size()];
          const std::string& sh = shared_keys[rng() % shared_keys.size()];
          wire += Cmd({"MGET", sk, sh, other});
          expected.push_back("*3\r\n" + BulkWire(lookup(strings, sk)) + BulkWire(shared.at(sh)) +
                             BulkWire(lookup(strings, other)));
          names.push_back("MGET");
          break;
        }
        case 3:
          wire += Cmd({"DEL", sk});
          expected.push_back(IntWire(strings.erase(sk)));
          names.push_back("DEL");
          break;
        case 4: {
          const std::int64_t n = strings.count(sk) ? 2 : 0;
          wire += Cmd({"EXISTS", sk, sk});
          expected.push_back(IntWire(n));
          names.push_back("EXISTS");
          break;
        }
        case 5: {
          const std::string& bk2 = block_keys[rng() % block_keys.size()];
          std::string v1 = RandomBytes(rng, value_size());
          std::string v2 = RandomBytes(rng, value_size());
          wire += Cmd({"BLOCK.MSET", std::to_string(rng() % 100), bk, v1,
                       std::to_string(rng() % 100), bk2, v2});
          expected.push_back("+OK\r\n");
          blocks[bk] = v1;
          blocks[bk2] = v2;  // the later triple wins when both keys are the same
          names.push_back("BLOCK.MSET");
          break;
        }
        case 6: {
          const std::string& bk2 = block_keys[rng() % block_keys.size()];
          wire += Cmd({"BLOCK.MGET", bk, bk2});
          expected.push_back("*2\r\n" + BulkWire(lookup(blocks, bk)) +
                             BulkWire(lookup(blocks, bk2)));
          names.push_back("BLOCK.MGET");
          break;
        }
        case 7: {
          std::string want = "*" + std::to_string(block_keys.size()) + "\r\n";
          std::vector<std::string> args = {"BLOCK.EXISTS"};
          for (const auto& k : block_keys) {
            args.push_back(k);
            want += IntWire(blocks.count(k) ? 1 : 0);
          }
          wire += Cmd(args);
          expected.push_back(want);
          names.push_back("BLOCK.EXISTS");
          break;
        }
        case 8: {
          const std::string& sh = shared_keys[rng() % shared_keys.size()];
          wire += Cmd({"GET", sh});
          expected.push_back(BulkWire(shared.at(sh)));
          names.push_back("GET shared");
          break;
        }
        default: {
          std::string v = RandomBytes(rng, rng() % 200);
          wire += Cmd({"ECHO", v});
          expected.push_back(BulkWire(v));
          names.push_back("ECHO");
          break;
        }
      }
    }
    if (!client.Send(wire)) return "client " + std::to_string(id) + ": " + client.error();
    for (std::size_t i = 0; i < expected.size(); ++i) {
      std::optional<Reply> reply = client.Read();
      if (!reply) return "client " + std::to_string(id) + " " + names[i] + ": " + client.error();
      const std::string got = Wire(*reply);
      if (got != expected[i]) {
        protocol::ReplyParser parser;
        std::string want = "?";
        if (parser.Feed(expected[i]).ok() && parser.HasReply()) want = Describe(parser.PopReply());
        std::string message = "client " + std::to_string(id) + " op " + std::to_string(done) + " " +
                              names[i] + ": got " + Describe(*reply).substr(0, 300) + " (" +
                              std::to_string(got.size()) + " bytes), expected " +
                              want.substr(0, 300) + " (" + std::to_string(expected[i].size()) +
                              " bytes)";
        // Diagnosis only (no assertion): does a read show the same a little later? A
        // lasting mismatch means a lost write; a passing one, a transient false miss.
        const bool read_only = names[i] != "SET" && names[i] != "DEL" && names[i] != "BLOCK.MSET";
        for (std::size_t j = i + 1; j < expected.size(); ++j) client.Read();
        if (read_only) {
          const std::size_t end = i + 1 < starts.size() ? starts[i + 1] : wire.size();
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          client.Send(wire.substr(starts[i], end - starts[i]));
          std::optional<Reply> again = client.Read();
          message += again && Wire(*again) == expected[i] ? "; asked again later: as expected"
                                                          : "; asked again later: still wrong";
        }
        return message;
      }
    }
  }
  return "";
}

std::map<std::string, std::string> SetSharedKeys(std::uint16_t port, std::size_t max_size) {
  std::map<std::string, std::string> shared;
  std::mt19937_64 rng(99);
  RespClient setup(port);
  for (int i = 0; i < 16; ++i) {
    std::string key = "shared:" + std::to_string(i);
    shared[key] = RandomBytes(rng, rng() % max_size);
    REQUIRE(Describe(setup.Call({"SET", key, shared[key]})) == "+OK");
  }
  return shared;
}

void RunClients(std::uint16_t port, int clients, int ops,
                const std::map<std::string, std::string>& shared, std::size_t large_value) {
  std::vector<std::string> failures(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] { failures[c] = RunClient(port, c, ops, shared, large_value); });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < clients; ++c) {
    INFO("client " << c);
    CHECK(failures[c] == "");
  }
}

TEST_CASE("32 concurrent clients x 200 mixed ops: every reply byte-exact", "[integration]") {
  TestNode node("concurrent");
  REQUIRE(node.Start({"--memory-capacity", "512MiB"}));
  const auto shared = SetSharedKeys(node.port(), 30000);
  constexpr int kClients = 32;
  constexpr int kOps = 200;
  RunClients(node.port(), kClients, kOps, shared, 40000);

  RespClient after(node.port());
  CHECK(Describe(after.Call({"PING"})) == "+PONG");
  const std::string processed = InfoField(after, "stats", "total_commands_processed");
  CHECK(std::stoull(processed) >= kClients * kOps);
  CHECK(InfoField(after, "stats", "protocol_errors") == "0");
}

TEST_CASE("concurrent clients over a small memory tier: disk reads keep replies in order",
          "[integration]") {
  // 2 MiB of memory for tens of MiB of values: most reads go to the spill tier on the
  // worker pool while later pipelined requests wait. The spill queue holds everything, so
  // no evicted block is dropped and every reply stays predictable. A spill capacity of
  // 64 MiB makes its segments 4 MiB (capacity / 16), so most spilled blocks are sealed
  // onto disk rather than still readable from the open segment in RAM.
  TestNode node("concurrent-disk");
  REQUIRE(node.Start(node.Config(R"({"memory": {"capacity": "2MiB"},
                                     "spill": {"queue": "1GiB", "capacity": "64MiB"}})")));
  const auto shared = SetSharedKeys(node.port(), 200000);
  RunClients(node.port(), 16, 250, shared, 300000);

  RespClient after(node.port());
  const Reply reply = after.Call({"BLOCK.STATS"});
  REQUIRE(reply.type == Reply::Type::kBulk);
  const auto stats = nlohmann::json::parse(reply.bulk.view());
  INFO(stats.dump());
  CHECK(stats["spill"]["hits"].get<std::uint64_t>() > 0);
  CHECK(stats["memory"]["demotion_drops"] == 0);
  CHECK(stats["spill"]["checksum_failures"] == 0);
  CHECK(std::stoull(InfoField(after, "stats", "disk_commands")) > 0);
}

// A sharper form of the test above, which fails nearly every run while blocks can go
// missing in the hand-off between the tiers: a memory tier of one shard that holds only a
// few blocks, writers that overwrite their keys with ever deeper blocks (so the prefix
// policy evicts the freshest block first), and after every write a check that the
// writer's blocks are all still there.
TEST_CASE("memory churn never hides or loses an acknowledged block", "[integration][slow]") {
  TestNode node("churn");
  REQUIRE(node.Start(node.Config(R"({"memory": {"capacity": "1MiB", "shards": 1},
                                     "spill": {"queue": "1GiB"}})")));
  constexpr int kWriters = 6;
  constexpr int kRounds = 1500;
  constexpr int kKeys = 4;
  std::vector<std::vector<std::string>> failures(kWriters);
  std::vector<std::map<std::string, std::string>> finals(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      RespClient client(node.port());
      std::mt19937_64 rng(300 + w);
      std::vector<std::string> keys;
      for (int k = 0; k < kKeys; ++k) keys.push_back(RandomBytes(rng, 16));
      std::map<std::string, std::string>& held = finals[w];
      for (int i = 0; i < kRounds && failures[w].size() < 5; ++i) {
        const std::string& key = keys[i % kKeys];
        std::string value = RandomBytes(rng, 50000 + rng() % 100000);
        const Reply set = client.Call({"BLOCK.MSET", std::to_string(1000 + i), key, value});
        if (Describe(set) != "+OK") {
          failures[w].push_back("write " + std::to_string(i) + ": " + Describe(set));
          continue;
        }
        held[key] = std::move(value);
        std::vector<std::string> exists = {"BLOCK.EXISTS"};
        for (const auto& [k, v] : held) exists.push_back(k);
        const Reply reply = client.Call(exists);
        std::string want = "[";
        for (std::size_t j = 0; j < held.size(); ++j) want += j ? ", :1" : ":1";
        want += "]";
        if (Describe(reply) != want) {
          failures[w].push_back("after write " + std::to_string(i) + ": BLOCK.EXISTS " +
                                Describe(reply));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  RespClient checker(node.port());
  REQUIRE(Eventually([&] {
    const auto stats = nlohmann::json::parse(checker.Call({"BLOCK.STATS"}).bulk.view());
    return stats["memory"]["queue_bytes"] == 0 && stats["spill"]["queue_bytes"] == 0;
  }));
  for (int w = 0; w < kWriters; ++w) {
    for (const auto& [key, value] : finals[w]) {
      const Reply reply = checker.Call({"BLOCK.MGET", key});
      if (reply.elements.size() != 1 || reply.elements[0].type != Reply::Type::kBulk ||
          reply.elements[0].bulk.view() != value) {
        failures[w].push_back("at the end: " + Describe(reply).substr(0, 100));
      }
    }
  }
  const auto stats = nlohmann::json::parse(checker.Call({"BLOCK.STATS"}).bulk.view());
  INFO(stats.dump());
  REQUIRE(stats["memory"]["demotion_drops"] == 0);  // nothing was dropped on purpose
  for (int w = 0; w < kWriters; ++w) {
    INFO("writer " << w);
    CHECK(failures[w] == std::vector<std::string>{});
  }
}

TEST_CASE("a disk read in a pipeline keeps its place before errors and QUIT", "[integration]") {
  TestNode node("pipeline-disk");
  REQUIRE(node.Start({"--memory-capacity", "1MiB"}));
  std::mt19937_64 rng(8);
  std::vector<std::string> values;
  RespClient writer(node.port());
  for (int i = 0; i < 8; ++i) {
    values.push_back(RandomBytes(rng, 400000));
    REQUIRE(Describe(writer.Call({"SET", "disk:" + std::to_string(i), values.back()})) == "+OK");
  }
  // disk:0 was evicted long ago; its read is deferred to a worker.
  SECTION("then malformed input") {
    RespClient client(node.port());
    REQUIRE(client.Send(Cmd({"GET", "disk:0"}) + Cmd({"PING"}) + "*1\r\n$x\r\n"));
    std::string raw;
    CHECK(client.ReadRawUntilEof(raw));
    CHECK(raw == BulkWire(values[0]) + "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
  }
  SECTION("then QUIT") {
    RespClient client(node.port());
    REQUIRE(client.Send(Cmd({"MGET", "disk:1", "nope", "disk:7"}) + Cmd({"QUIT"}) +
                        Cmd({"SET", "after", "quit"})));
    std::string raw;
    CHECK(client.ReadRawUntilEof(raw));
    CHECK(raw == "*3\r\n" + BulkWire(values[1]) + "$-1\r\n" + BulkWire(values[7]) + "+OK\r\n");
    CHECK(Describe(writer.Call({"EXISTS", "after"})) == ":0");
  }
  SECTION("then an error and SET ... GET of a spilled value") {
    RespClient client(node.port());
    REQUIRE(client.Send(Cmd({"GET", "disk:2"}) + Cmd({"GET"}) +
                        Cmd({"SET", "disk:3", "new", "GET"}) + Cmd({"GET", "disk:3"})));
    std::string got;
    for (int i = 0; i < 4; ++i) {
      auto reply = client.Read();
      REQUIRE(reply);
      got += Wire(*reply);
    }
    CHECK(got == BulkWire(values[2]) + "-ERR wrong number of arguments for 'get' command\r\n" +
                     BulkWire(values[3]) + "$3\r\nnew\r\n");
  }
}

// A pipelined mix of commands (multibulk and inline, binary values with CRLFs) and the
// exact bytes its replies must be.
struct Script {
  std::string requests;
  std::string replies;
};

Script MixedScript() {
  Script s;
  auto add = [&s](const std::string& request, const std::string& reply) {
    s.requests += request;
    s.replies += reply;
  };
  const std::string crlf_value = Bytes("a\r\nb\0c\r\n*1\r\n$3\r\n");
  const std::string block_key = Bytes("\0\r\n\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\r\n\xff");
  REQUIRE(block_key.size() == 16);
  add(Cmd({"PING"}), "+PONG\r\n");
  add("PING\r\n", "+PONG\r\n");
  add("ECHO inline-hello\r\n", "$12\r\ninline-hello\r\n");
  add(Cmd({"SET", "split:k", crlf_value}), "+OK\r\n");
  add(Cmd({"GET", "split:k"}), BulkWire(crlf_value));
  add(Cmd({"BLOCK.MSET", "0", block_key, crlf_value, "1", "0123456789abcdef", ""}), "+OK\r\n");
  add(Cmd({"BLOCK.EXISTS", block_key, "fedcba9876543210", "0123456789abcdef"}),
      "*3\r\n:1\r\n:0\r\n:1\r\n");
  add(Cmd({"BLOCK.MGET", "0123456789abcdef", block_key, "fedcba9876543210"}),
      "*3\r\n$0\r\n\r\n" + BulkWire(crlf_value) + "$-1\r\n");
  add("*0\r\n", "");  // an empty multibulk is no command, as in Redis
  add(Cmd({"MSET", "split:a", "1", "split:b", std::string(17000, 'z')}), "+OK\r\n");
  add(Cmd({"MGET", "split:a", "split:none", "split:b"}),
      "*3\r\n$1\r\n1\r\n$-1\r\n" + BulkWire(std::string(17000, 'z')));
  add(Cmd({"EXISTS", "split:a", "split:b", "split:none"}), ":2\r\n");
  add(Cmd({"DEL", "split:a", "split:none"}), ":1\r\n");
  add(Cmd({"NOSUCH", "x"}), "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n");
  add(Cmd({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  add(Cmd({"DBSIZE"}), ":4\r\n");
  add(Cmd({"ECHO", ""}), "$0\r\n\r\n");
  return s;
}

std::string ReadExactly(RespClient& client, std::size_t replies) {
  std::string out;
  for (std::size_t i = 0; i < replies; ++i) {
    std::optional<Reply> reply = client.Read();
    if (!reply) return out + "<" + client.error() + ">";
    out += Wire(*reply);
  }
  return out;
}

std::size_t CountReplies(const std::string& wire) {
  // Top-level replies of a known script: parse them with the reply parser.
  protocol::ReplyParser parser;
  REQUIRE(parser.Feed(wire).ok());
  std::size_t n = 0;
  while (parser.HasReply()) {
    parser.PopReply();
    ++n;
  }
  return n;
}

TEST_CASE("requests split one byte per send are answered in order", "[integration]") {
  TestNode node("split-bytes");
  REQUIRE(node.Start());
  const Script script = MixedScript();
  const std::size_t replies = CountReplies(script.replies);

  RespClient client(node.port(), /*no_delay=*/true);
  REQUIRE(client.connected());
  for (char c : script.requests) REQUIRE(client.Send(&c, 1));
  CHECK(ReadExactly(client, replies) == script.replies);

  // The same script in one write, on a fresh daemon state, gives the same bytes.
  RespClient again(node.port());
  REQUIRE(Describe(again.Call({"FLUSHALL"})) == "+OK");
  REQUIRE(again.Send(script.requests));
  CHECK(ReadExactly(again, replies) == script.replies);
}

TEST_CASE("large values split at random points round-trip byte-exact", "[integration]") {
  TestNode node("split-large");
  REQUIRE(node.Start({"--memory-capacity", "128MiB"}));
  std::mt19937_64 rng(4242);
  const std::string big = RandomBytes(rng, 5 * 1024 * 1024 + 17);
  const std::string other = RandomBytes(rng, 3 * 1024 * 1024);
  const std::string key1 = RandomBytes(rng, 16), key2 = RandomBytes(rng, 16);
  const std::string requests = Cmd({"SET", "large", big}) +
                               Cmd({"BLOCK.MSET", "0", key1, other, "1", key2, big}) +
                               Cmd({"GET", "large"}) + Cmd({"BLOCK.MGET", key2, key1});
  const std::string expected =
      "+OK\r\n+OK\r\n" + BulkWire(big) + "*2\r\n" + BulkWire(big) + BulkWire(other);

  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    RespClient client(node.port());
    REQUIRE(client.connected());
    // Cut points: random, plus single bytes around every header.
    std::size_t at = 0;
    while (at < requests.size()) {
      std::size_t n;
      switch (rng() % 4) {
        case 0:
          n = 1 + rng() % 3;
          break;
        case 1:
          n = 1 + rng() % 1000;
          break;
        default:
          n = 1 + rng() % 300000;
          break;
      }
      n = std::min(n, requests.size() - at);
      REQUIRE(client.Send(requests.substr(at, n)));
      at += n;
    }
    CHECK(ReadExactly(client, 4) == expected);
  }
}

// A "chain" value "<client>:<n>...." as "<client>:<n>"; nil as "nil"; else the reply.
std::string ChainValue(const Reply& reply) {
  if (reply.type == Reply::Type::kNil) return "nil";
  if (reply.type != Reply::Type::kBulk) return Describe(reply);
  const std::string_view value = reply.bulk.view();
  return std::string(value.substr(0, value.find('.')));
}

TEST_CASE("SET NX and SET GET are atomic against concurrent writers of the same key",
          "[integration]") {
  TestNode node("set-atomic");
  // A small memory tier, so some old values are read from disk on a worker.
  REQUIRE(node.Start({"--memory-capacity", "64KiB"}));
  constexpr int kClients = 6;
  constexpr int kKeys = 150;
  constexpr int kSwaps = 150;
  // Each client: SET nx:<i> <client> NX for every key, then SET chain <client>:<n> GET.
  std::vector<std::vector<std::string>> nx_replies(kClients), olds(kClients);
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      RespClient client(node.port());
      std::string pipeline;
      for (int i = 0; i < kKeys; ++i) {
        pipeline += Cmd({"SET", "nx:" + std::to_string(i), "client" + std::to_string(c), "NX"});
      }
      if (!client.Send(pipeline)) failures[c] = "send failed";
      for (int i = 0; i < kKeys && failures[c].empty(); ++i) {
        std::optional<Reply> reply = client.Read();
        if (!reply) failures[c] = "read: " + client.error();
        if (reply) nx_replies[c].push_back(Describe(*reply));
      }
      // 1 KiB values, so that old values get evicted to the spill tier.
      for (int n = 0; n < kSwaps && failures[c].empty(); ++n) {
        std::string value = std::to_string(c) + ":" + std::to_string(n);
        value.resize(1024, '.');
        const Reply reply = client.Call({"SET", "chain", value, "GET"});
        olds[c].push_back(ChainValue(reply));
      }
    });
  }
  for (auto& t : clients) t.join();
  for (const auto& f : failures) REQUIRE(f.empty());

  RespClient check(node.port());
  for (int i = 0; i < kKeys; ++i) {
    int winners = 0, winner = -1;
    for (int c = 0; c < kClients; ++c) {
      if (nx_replies[c][i] == "+OK") {
        ++winners;
        winner = c;
      } else {
        CHECK(nx_replies[c][i] == "nil");
      }
    }
    INFO("key nx:" << i);
    REQUIRE(winners == 1);
    CHECK(Describe(check.Call({"GET", "nx:" + std::to_string(i)})) ==
          "\"client" + std::to_string(winner) + "\"");
  }
  // The SET ... GET chain: every value but the last was replaced exactly once, so each
  // comes back as somebody's old value exactly once, and nil (no old value) once.
  std::map<std::string, int> seen;
  for (const auto& list : olds) {
    for (const auto& old : list) ++seen[old];
  }
  CHECK(seen["nil"] == 1);
  const std::string last = ChainValue(check.Call({"GET", "chain"}));
  CHECK(seen.count(last) == 0);
  for (const auto& [value, count] : seen) {
    INFO("old value " << value);
    CHECK(count == 1);
  }
  CHECK(seen.size() == kClients * kSwaps);  // nil plus every value but the last

  // An old value pushed out of memory (to the spill queue or the disk) still comes back.
  REQUIRE(Describe(check.Call({"SET", "old", "first"})) == "+OK");
  const std::string filler(1024, 'f');
  for (int i = 0; i < 200; ++i) {
    REQUIRE(Describe(check.Call({"SET", "fill:" + std::to_string(i), filler})) == "+OK");
  }
  CHECK(Describe(check.Call({"SET", "old", "second", "GET"})) == "\"first\"");
  CHECK(Describe(check.Call({"SET", "old", "third", "NX", "GET"})) == "\"second\"");
  CHECK(Describe(check.Call({"SET", "missing", "x", "XX", "GET"})) == "nil");
  CHECK(Describe(check.Call({"EXISTS", "missing"})) == ":0");
  // A value the memory tier can never hold is refused and leaves the old one.
  const Reply refused = check.Call({"SET", "old", std::string(100 * 1024, 'x'), "GET"});
  CHECK(refused.type == Reply::Type::kError);
  CHECK(Describe(check.Call({"GET", "old"})) == "\"second\"");
}

TEST_CASE("node.send_lowat: multi-MiB replies to concurrent pipelining readers stay byte-exact",
          "[integration]") {
  std::mt19937_64 rng(77);
  const std::string big = RandomBytes(rng, 8 * 1024 * 1024 + 5);
  const std::string medium = RandomBytes(rng, 300 * 1024);
  // Tiny, the default and off (the kernel's own behaviour).
  for (const char* lowat : {"4096", "65536", "0"}) {
    INFO("send_lowat " << lowat);
    TestNode node(std::string("lowat-") + lowat);
    REQUIRE(node.Start(node.Config(std::string(R"({"node": {"send_lowat": )") + lowat +
                                   R"(}, "spill": {"enabled": false}})")));
    RespClient setup(node.port());
    REQUIRE(Describe(setup.Call({"SET", "big", big})) == "+OK");
    REQUIRE(Describe(setup.Call({"SET", "medium", medium})) == "+OK");
    CHECK(Describe(setup.Call({"CONFIG", "GET", "prefixcache-send-lowat"})) ==
          std::string("[\"prefixcache-send-lowat\", \"") + lowat + "\"]");

    const std::string requests = Cmd({"GET", "big"}) + Cmd({"GET", "medium"}) +
                                 Cmd({"MGET", "big", "medium", "big"}) + Cmd({"PING"});
    const std::string expected = BulkWire(big) + BulkWire(medium) + "*3\r\n" + BulkWire(big) +
                                 BulkWire(medium) + BulkWire(big) + "+PONG\r\n";
    std::vector<std::string> got(4);
    std::vector<std::thread> readers;
    for (std::size_t i = 0; i < got.size(); ++i) {
      readers.emplace_back([&, i] {
        RespClient client(node.port());
        if (!client.Send(requests + requests)) {
          got[i] = "<send: " + client.error() + ">";
          return;
        }
        got[i] = ReadExactly(client, 8);
      });
    }
    for (auto& t : readers) t.join();
    for (const std::string& g : got) CHECK((g == expected + expected));
  }
}

}  // namespace
}  // namespace prefixcache::testing
