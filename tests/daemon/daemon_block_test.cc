// The BLOCK.* commands over a raw TCP socket: batched writes with depths, existence and
// reads in request order with misses, the JSON of BLOCK.STATS and BLOCK.RING, and errors
// that name the bad argument and store nothing. Also the Prometheus endpoint.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

using Type = Reply::Type;

// 16 random bytes (any byte value, NULs and CRLFs included).
std::string RandomKey(std::mt19937_64& rng) {
  std::string key(16, '\0');
  for (char& c : key) c = static_cast<char>(rng() & 0xff);
  return key;
}

std::string RandomValue(std::mt19937_64& rng, std::size_t size) {
  std::string value(size, '\0');
  for (char& c : value) c = static_cast<char>(rng() & 0xff);
  return value;
}

nlohmann::json StatsJson(RespClient& client) {
  Reply reply = client.Call({"BLOCK.STATS"});
  REQUIRE(reply.type == Type::kBulk);
  return nlohmann::json::parse(reply.bulk.view());
}

TEST_CASE("BLOCK.MSET/EXISTS/MGET: many blocks in request order with misses", "[integration]") {
  TestNode node("block-batch");
  REQUIRE(node.Start({"--memory-capacity", "256MiB"}));
  RespClient client(node.port());
  REQUIRE(client.connected());

  std::mt19937_64 rng(7);
  // Sizes on both sides of the parser's direct-read threshold (16 KiB), empty included.
  const std::vector<std::size_t> sizes = {0, 1, 100, 4095, 16383, 16384, 16385, 65536, 100000};
  constexpr std::size_t kBlocks = 300;
  std::vector<std::string> keys, values;
  std::vector<std::string> mset = {"BLOCK.MSET"};
  for (std::size_t i = 0; i < kBlocks; ++i) {
    keys.push_back(RandomKey(rng));
    values.push_back(RandomValue(rng, sizes[i % sizes.size()]));
    mset.push_back(std::to_string(i % 64));  // chains of 64
    mset.push_back(keys.back());
    mset.push_back(values.back());
  }
  // The largest depth is accepted.
  const std::string deep_key = RandomKey(rng);
  mset.insert(mset.end(), {"4294967295", deep_key, "deep"});
  REQUIRE(Describe(client.Call(mset)) == "+OK");
  CHECK(Describe(client.Call({"DBSIZE"})) == ":" + std::to_string(kBlocks + 1));

  // Interleave misses and shuffle: the replies follow the request order.
  std::vector<std::pair<std::string, int>> asked;  // key, index into values or -1
  for (std::size_t i = 0; i < kBlocks; ++i) {
    asked.emplace_back(keys[i], static_cast<int>(i));
    if (i % 3 == 0) asked.emplace_back(RandomKey(rng), -1);
  }
  std::shuffle(asked.begin(), asked.end(), rng);
  std::vector<std::string> exists = {"BLOCK.EXISTS"};
  std::vector<std::string> mget = {"BLOCK.MGET"};
  std::string want_exists = "*" + std::to_string(asked.size()) + "\r\n";
  std::string want_mget = want_exists;
  std::size_t hits = 0;
  for (const auto& [key, index] : asked) {
    exists.push_back(key);
    mget.push_back(key);
    want_exists += index >= 0 ? ":1\r\n" : ":0\r\n";
    if (index >= 0) {
      const std::string& v = values[static_cast<std::size_t>(index)];
      want_mget += "$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
      ++hits;
    } else {
      want_mget += "$-1\r\n";
    }
  }
  CHECK(Wire(client.Call(exists)) == want_exists);

  const nlohmann::json before = StatsJson(client);
  const Reply got = client.Call(mget);
  REQUIRE(got.type == Type::kArray);
  CHECK(got.elements.size() == asked.size());
  CHECK(Wire(got) == want_mget);  // byte-exact, nils where missing
  const nlohmann::json after = StatsJson(client);
  CHECK(after["keyspace_hits"].get<std::uint64_t>() -
            before["keyspace_hits"].get<std::uint64_t>() ==
        hits);
  CHECK(after["keyspace_misses"].get<std::uint64_t>() -
            before["keyspace_misses"].get<std::uint64_t>() ==
        asked.size() - hits);

  // Standard commands address the same blocks by their raw 16-byte keys.
  CHECK(Wire(client.Call({"GET", keys[7]})) ==
        Wire(client.Call({"BLOCK.MGET", keys[7]})).substr(4));
  CHECK(Describe(client.Call({"EXISTS", keys[0], keys[1], deep_key})) == ":3");
  CHECK(Describe(client.Call({"BLOCK.MGET", deep_key})) == "[\"deep\"]");

  // A block written again is replaced, with another depth.
  CHECK(Describe(client.Call({"BLOCK.MSET", "5", keys[1], "replaced"})) == "+OK");
  CHECK(Wire(client.Call({"BLOCK.MGET", keys[1], keys[2]})) ==
        "*2\r\n$8\r\nreplaced\r\n$" + std::to_string(values[2].size()) + "\r\n" + values[2] +
            "\r\n");
  CHECK(Describe(client.Call({"DBSIZE"})) == ":" + std::to_string(kBlocks + 1));
  CHECK(Describe(client.Call({"DEL", keys[1]})) == ":1");
  CHECK(Describe(client.Call({"BLOCK.EXISTS", keys[0], keys[1]})) == "[:1, :0]");
}

TEST_CASE("BLOCK.STATS and BLOCK.RING are JSON with the expected fields", "[integration]") {
  TestNode node("block-json");
  REQUIRE(node.Start({"--memory-capacity", "32MiB"}));
  RespClient client(node.port());
  REQUIRE(client.connected());

  std::mt19937_64 rng(11);
  const std::string k0 = RandomKey(rng), k1 = RandomKey(rng);
  REQUIRE(Describe(client.Call({"BLOCK.MSET", "0", k0, "abc", "1", k1, "defg"})) == "+OK");
  REQUIRE(Describe(client.Call({"BLOCK.MGET", k0, RandomKey(rng)})) == "[\"abc\", nil]");

  const nlohmann::json stats = StatsJson(client);
  INFO(stats.dump());
  CHECK(stats["node_id"] == "node-1");
  CHECK(stats["blocks"] == 2);
  for (const char* tier : {"memory", "spill"}) {
    REQUIRE(stats.contains(tier));
    for (const char* field :
         {"hits", "misses", "bytes", "entries", "capacity_bytes", "evictions", "demotions",
          "promotions", "checksum_failures", "demotion_drops", "io_errors", "queue_bytes"}) {
      INFO(tier << "." << field);
      CHECK(stats[tier].contains(field));
      CHECK(stats[tier][field].is_number_unsigned());
    }
  }
  CHECK(stats["memory"]["capacity_bytes"] == 32u << 20);
  CHECK(stats["memory"]["entries"] == 2);
  CHECK(stats["memory"]["bytes"].get<std::uint64_t>() >= 7);
  CHECK(stats["memory"]["hits"].get<std::uint64_t>() >= 1);
  CHECK(stats["spill"]["entries"] == 0);
  CHECK(stats["spill_enabled"] == true);
  CHECK(stats["spill_healthy"] == true);
  CHECK(stats["spill_error"] == "");
  CHECK(stats["keyspace_hits"] == 1);
  CHECK(stats["keyspace_misses"] == 1);
  CHECK(stats["misrouted_keys"] == 0);

  const Reply ring_reply = client.Call({"BLOCK.RING"});
  REQUIRE(ring_reply.type == Type::kBulk);
  const nlohmann::json ring = nlohmann::json::parse(ring_reply.bulk.view());
  INFO(ring.dump());
  REQUIRE(ring["nodes"].size() == 1);
  CHECK(ring["nodes"][0]["id"] == "node-1");
  CHECK(ring["nodes"][0]["address"] == "127.0.0.1:" + std::to_string(node.port()));
  CHECK(ring["nodes"][0]["weight"] == 1);
  const Reply vnodes = client.Call({"CONFIG", "GET", "prefixcache-virtual-nodes"});
  REQUIRE(vnodes.elements.size() == 2);
  const int virtual_nodes = std::stoi(std::string(vnodes.elements[1].bulk.view()));
  CHECK(ring["virtual_nodes_per_weight"] == virtual_nodes);
  CHECK(ring["replicas"] == 1);
  CHECK(ring["points"] == virtual_nodes);
  CHECK(ring["fingerprint"].is_string());
  CHECK_FALSE(ring["fingerprint"].get<std::string>().empty());

  CHECK(Describe(client.Call({"BLOCK.STATS", "x"})) ==
        "-ERR wrong number of arguments for 'block.stats' command");
  CHECK(Describe(client.Call({"BLOCK.RING", "x"})) ==
        "-ERR wrong number of arguments for 'block.ring' command");
}

TEST_CASE("BLOCK.RING of a configured cluster names this node among the others", "[integration]") {
  TestNode node("block-ring");
  const auto config = node.Config(R"({
    "node": {"id": "b"},
    "spill": {"enabled": false},
    "cluster": {"nodes": [{"id": "a", "address": "127.0.0.1:1"},
                          {"id": "b", "address": "127.0.0.1:2", "weight": 2},
                          {"id": "c", "address": "127.0.0.1:3"}],
                "virtual_nodes": 100, "replicas": 2}
  })");
  REQUIRE(node.Start(config));  // DaemonProcess passes --listen 127.0.0.1:0
  RespClient client(node.port());
  const Reply reply = client.Call({"BLOCK.RING"});
  REQUIRE(reply.type == Type::kBulk);
  const nlohmann::json ring = nlohmann::json::parse(reply.bulk.view());
  INFO(ring.dump());
  REQUIRE(ring["nodes"].size() == 3);
  CHECK(ring["virtual_nodes_per_weight"] == 100);
  CHECK(ring["replicas"] == 2);
  CHECK(ring["points"] == 400);
  std::vector<std::string> ids;
  for (const auto& n : ring["nodes"]) ids.push_back(n["id"]);
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{"a", "b", "c"});

  // Keys this node does not own are served but counted as misrouted.
  std::mt19937_64 rng(3);
  std::vector<std::string> exists = {"BLOCK.EXISTS"};
  for (int i = 0; i < 64; ++i) exists.push_back(RandomKey(rng));
  REQUIRE(client.Call(exists).elements.size() == 64);
  const nlohmann::json stats = StatsJson(client);
  CHECK(stats["node_id"] == "b");
  CHECK(stats["misrouted_keys"].get<std::uint64_t>() > 0);
  CHECK(stats["misrouted_keys"].get<std::uint64_t>() < 64);
}

TEST_CASE("BLOCK.* errors name the argument and store nothing", "[integration]") {
  TestNode node("block-errors");
  REQUIRE(node.Start({"--memory-capacity", "1MiB"}));
  RespClient client(node.port());
  REQUIRE(client.connected());

  std::mt19937_64 rng(5);
  const std::string k0 = RandomKey(rng), k1 = RandomKey(rng), k2 = RandomKey(rng);
  auto nothing_stored = [&] {
    CHECK(Describe(client.Call({"BLOCK.EXISTS", k0, k1, k2})) == "[:0, :0, :0]");
    CHECK(Describe(client.Call({"DBSIZE"})) == ":0");
  };

  // Arity.
  CHECK(Describe(client.Call({"BLOCK.MSET"})) ==
        "-ERR wrong number of arguments for 'block.mset' command");
  CHECK(Describe(client.Call({"BLOCK.MSET", "0", k0})) ==
        "-ERR wrong number of arguments for 'block.mset' command");
  CHECK(Describe(client.Call({"BLOCK.MSET", "0", k0, "v", "1", k1})) ==
        "-ERR wrong number of arguments for 'block.mset' command");
  CHECK(Describe(client.Call({"BLOCK.EXISTS"})) ==
        "-ERR wrong number of arguments for 'block.exists' command");
  CHECK(Describe(client.Call({"BLOCK.MGET"})) ==
        "-ERR wrong number of arguments for 'block.mget' command");
  nothing_stored();

  // Depths: the bad triple is named by its 0-based index; the good ones before it are not
  // stored.
  for (const std::string bad : {"-1", "x", "4294967296", "1.5", "", " 1", "99999999999999999999"}) {
    INFO("depth '" << bad << "'");
    CHECK(Describe(client.Call({"BLOCK.MSET", "0", k0, "v0", "1", k1, "v1", bad, k2, "v2"})) ==
          "-ERR BLOCK.MSET triple 2: depth must be an integer from 0 to 4294967295, got '" + bad +
              "'");
  }
  nothing_stored();

  // Key lengths.
  for (std::size_t size : {0, 1, 15, 17, 32}) {
    INFO("key of " << size << " bytes");
    CHECK(Describe(client.Call({"BLOCK.MSET", "0", k0, "v0", "1", std::string(size, 'k'), "v1"})) ==
          "-ERR BLOCK.MSET triple 1: a block key must be exactly 16 bytes, got " +
              std::to_string(size));
    CHECK(Describe(client.Call({"BLOCK.EXISTS", k0, k1, std::string(size, 'k')})) ==
          "-ERR BLOCK.EXISTS argument 3: a block key must be exactly 16 bytes, got " +
              std::to_string(size));
    CHECK(Describe(client.Call({"BLOCK.MGET", std::string(size, 'k'), k0})) ==
          "-ERR BLOCK.MGET argument 1: a block key must be exactly 16 bytes, got " +
              std::to_string(size));
  }
  nothing_stored();

  // A value larger than the memory tier can hold: named, and nothing stored.
  const std::string big(2u << 20, 'b');
  CHECK(Describe(client.Call({"BLOCK.MSET", "0", k0, "small", "1", k1, big})) ==
        "-ERR BLOCK.MSET triple 1: value of 2097152 bytes exceeds the largest storable block "
        "(1048256 bytes)");  // 1 MiB less the memory tier's 320-byte entry overhead
  nothing_stored();
  // Just under the capacity, but too large once the memory tier's per-entry bookkeeping is
  // added: still refused before anything is stored.
  const Reply almost = client.Call(
      {"BLOCK.MSET", "0", k0, "small", "1", k1, std::string((1u << 20) - 100, 'a'), "2", k2, "c"});
  CHECK(almost.type == Type::kError);
  CHECK(almost.text.rfind("ERR BLOCK.MSET triple 1: ", 0) == 0);
  nothing_stored();
  // MSET is all or nothing too, as in Redis.
  const Reply mset = client.Call({"MSET", k0, "small", k1, big, k2, "c"});
  CHECK(mset.type == Type::kError);
  nothing_stored();

  // Pipelined: the bad request in the middle fails alone.
  std::string pipeline = Cmd({"BLOCK.MSET", "0", k0, "a"}) + Cmd({"BLOCK.MSET", "x", k1, "b"}) +
                         Cmd({"BLOCK.MSET", "2", k2, "c"}) + Cmd({"BLOCK.MGET", k0, k1, k2});
  REQUIRE(client.Send(pipeline));
  std::vector<std::string> replies;
  for (int i = 0; i < 4; ++i) {
    auto reply = client.Read();
    REQUIRE(reply);
    replies.push_back(Describe(*reply));
  }
  CHECK(replies == std::vector<std::string>{
                       "+OK",
                       "-ERR BLOCK.MSET triple 0: depth must be an integer from 0 to 4294967295, "
                       "got 'x'",
                       "+OK", "[\"a\", nil, \"c\"]"});
  CHECK(Describe(client.Call({"PING"})) == "+PONG");
}

std::uint64_t Sample(const std::string& page, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const std::size_t at = ("\n" + page).find(needle);
  if (at == std::string::npos) return UINT64_MAX;
  return std::stoull(page.substr(at + needle.size() - 1));
}

TEST_CASE("metrics: GET /metrics serves the counters and they move", "[integration]") {
  TestNode node("metrics");
  MetricsDaemon daemon;
  REQUIRE(daemon.Start({"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                        "--spill-path", node.spill()}));
  std::string status;
  const std::string first = HttpGet(daemon.metrics_port(), "/metrics", &status);
  CHECK(status == "HTTP/1.1 200 OK");
  INFO(first);
  for (const char* name : {"prefixcache_commands_total",
                           "prefixcache_commands_rejected_total",
                           "prefixcache_command_seconds_total",
                           "prefixcache_tier_hits_total",
                           "prefixcache_tier_misses_total",
                           "prefixcache_tier_bytes",
                           "prefixcache_tier_entries",
                           "prefixcache_tier_capacity_bytes",
                           "prefixcache_tier_evictions_total",
                           "prefixcache_tier_demotions_total",
                           "prefixcache_tier_promotions_total",
                           "prefixcache_tier_checksum_failures_total",
                           "prefixcache_tier_demotion_drops_total",
                           "prefixcache_tier_io_errors_total",
                           "prefixcache_connections",
                           "prefixcache_connections_received_total",
                           "prefixcache_connections_rejected_total",
                           "prefixcache_requests_total",
                           "prefixcache_requests_rejected_total",
                           "prefixcache_protocol_errors_total",
                           "prefixcache_keyspace_hits_total",
                           "prefixcache_keyspace_misses_total",
                           "prefixcache_misrouted_keys_total",
                           "prefixcache_request_duration_seconds"}) {
    INFO(name);
    CHECK(first.find("\n# TYPE " + std::string(name) + " ") != std::string::npos);
    CHECK(("\n" + first).find("\n" + std::string(name)) != std::string::npos);
  }
  CHECK(first.find("\n# TYPE prefixcache_request_duration_seconds histogram\n") !=
        std::string::npos);
  for (const char* series :
       {"prefixcache_request_duration_seconds_bucket{le=\"+Inf\"}",
        "prefixcache_request_duration_seconds_sum", "prefixcache_request_duration_seconds_count"}) {
    INFO(series);
    CHECK(first.find("\n" + std::string(series) + " ") != std::string::npos);
  }
  const std::uint64_t hits0 = Sample(first, "prefixcache_keyspace_hits_total");
  const std::uint64_t misses0 = Sample(first, "prefixcache_keyspace_misses_total");
  const std::uint64_t gets0 = Sample(first, "prefixcache_commands_total{command=\"get\"}");
  const std::uint64_t memory_hits0 = Sample(first, "prefixcache_tier_hits_total{tier=\"memory\"}");
  REQUIRE(hits0 != UINT64_MAX);
  REQUIRE(misses0 != UINT64_MAX);
  REQUIRE(gets0 != UINT64_MAX);
  REQUIRE(memory_hits0 != UINT64_MAX);

  RespClient client(daemon.port());
  REQUIRE(Describe(client.Call({"SET", "k", "v"})) == "+OK");
  for (int i = 0; i < 5; ++i) REQUIRE(Describe(client.Call({"GET", "k"})) == "\"v\"");
  for (int i = 0; i < 3; ++i) REQUIRE(Describe(client.Call({"GET", "missing"})) == "nil");
  // Refused for its arity: rejected, not run.
  REQUIRE(Describe(client.Call({"GET"})).find("wrong number of arguments") != std::string::npos);

  const std::string second = HttpGet(daemon.metrics_port(), "/metrics", &status);
  CHECK(status == "HTTP/1.1 200 OK");
  CHECK(Sample(second, "prefixcache_keyspace_hits_total") == hits0 + 5);
  CHECK(Sample(second, "prefixcache_keyspace_misses_total") == misses0 + 3);
  CHECK(Sample(second, "prefixcache_commands_total{command=\"get\"}") == gets0 + 8);
  CHECK(Sample(second, "prefixcache_commands_rejected_total{command=\"get\"}") == 1);
  CHECK(Sample(second, "prefixcache_commands_rejected_total{command=\"set\"}") == 0);
  // Nine commands ran: their time is not zero (a steady clock in nanoseconds).
  const std::string seconds = "\nprefixcache_command_seconds_total{command=\"get\"} ";
  const std::size_t at = second.find(seconds);
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(second.substr(at + seconds.size())) > 0);
  CHECK(Sample(second, "prefixcache_tier_hits_total{tier=\"memory\"}") >= memory_hits0 + 5);
  CHECK(Sample(second, "prefixcache_connections") == 1);
  CHECK(Sample(second, "prefixcache_tier_entries{tier=\"memory\"}") == 1);

  HttpGet(daemon.metrics_port(), "/nope", &status);
  CHECK(status == "HTTP/1.1 404 Not Found");
  client.Close();
  CHECK(ExitedCleanly(daemon.Stop()));
}

}  // namespace
}  // namespace prefixcache::testing
