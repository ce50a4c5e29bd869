// prefixctl (the built binary) against a real three-daemon cluster: its ring agrees with
// the daemons' and the client's; status, stats, ring locate, get, put, del, exists, flush and
// config-check report what the cluster holds, prefix hashes a token file for a namespace
// as the client does and tells which of its blocks are cached where, in text and as JSON that
// parses; a stopped node shows as down with exit status 1; flush asks unless --yes, and
// flush --node deletes the copies stand-ins took of the node's blocks while it was down.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client_test_util.h"
#include "daemon_test_util.h"
#include "local_cluster.h"
#include "prefixcache/admin.h"
#include "prefixcache/client.h"
#include "prefixcache/hasher.h"
#include "prefixcache/value_format.h"
#include "run_program.h"

namespace prefixcache::testing {
namespace {

std::string Prefixctl() { return std::string(PREFIXCACHE_BIN_DIR) + "/prefixctl"; }

// prefixctl `args...` against the cluster of `config`, with a timeout only a hang reaches.
ProgramResult Ctl(const std::string& config, std::vector<std::string> args) {
  std::vector<std::string> argv = {Prefixctl(), "--config", config, "--timeout-ms",
                                   std::to_string(kGenerousBound.count())};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv);
}

std::string Hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// A started three-node cluster holding six blocks of `value_bytes` each under keys drawn
// from `seed`, with a patient client to it.
struct FilledCluster {
  FilledCluster(std::uint64_t seed, std::size_t value_bytes)
      : keys(RandomKeys(6, seed)), values(ValuesFor(keys, value_bytes)) {
    REQUIRE(cluster.Start());
    client = OpenClient(Patient(cluster.ClientOptions()));
    REQUIRE(client->Put(keys, ConstSpans(values), Depths(6))->stored == 6);
  }
  LocalCluster cluster;
  std::unique_ptr<Client> client;
  const std::vector<BlockKey> keys;
  const std::vector<std::vector<std::byte>> values;
};

TEST_CASE("prefixctl: ring, status, stats, get, exists against a real cluster", "[integration]") {
  FilledCluster filled(77, 3000);
  LocalCluster& cluster = filled.cluster;
  Client* client = filled.client.get();
  const auto& keys = filled.keys;
  const auto& values = filled.values;
  const std::string config = cluster.config_path();

  SECTION("the daemons, the client and prefixctl compute the same ring") {
    ProgramResult ring = RunProgram({Prefixctl(), "--config", config, "ring"});
    INFO(ring.output);
    REQUIRE(ring.exit_code == 0);
    const std::string fingerprint = Hex64(admin::RingFingerprint(*client));
    CHECK(
        ring.output.starts_with(admin::RingJson(*client) + "\nfingerprint " + fingerprint + "\n"));
    for (int i = 0; i < cluster.size(); ++i) {
      CHECK(ring.output.find("\nshare " + cluster.id(i) + " " + cluster.address(i) +
                             " weight 1 ") != std::string::npos);
    }
    const std::string_view cmd[] = {"BLOCK.RING"};
    for (int i = 0; i < cluster.size(); ++i) {
      auto daemon_ring = admin::Command(*client, cluster.id(i), cmd);
      REQUIRE(daemon_ring.ok());
      CHECK(daemon_ring->find("\"fingerprint\":\"" + fingerprint + "\"") != std::string::npos);
      CHECK(*daemon_ring == admin::RingJson(*client));
    }
  }

  SECTION("status and stats") {
    ProgramResult status = Ctl(config, {"status"});
    INFO(status.output);
    CHECK(status.exit_code == 0);
    for (int i = 0; i < cluster.size(); ++i) {
      CHECK(status.output.find(cluster.id(i) + " ") != std::string::npos);
    }
    std::size_t oks = 0;
    for (std::size_t at = 0; (at = status.output.find(" ok\n", at)) != std::string::npos; ++at) {
      ++oks;
    }
    CHECK(oks == 3);
    ProgramResult stats = RunProgram({Prefixctl(), "-c", config, "--timeout-ms",
                                      std::to_string(kGenerousBound.count()), "stats"});
    INFO(stats.output);
    CHECK(stats.exit_code == 0);
    CHECK(stats.output.find("\nn1 ") != std::string::npos);
    CHECK(stats.output.find("\nn3 ") != std::string::npos);
    CHECK(stats.output.find("\ntotal       6 ") != std::string::npos);

    cluster.StopNode(1);
    status = Ctl(config, {"status"});  // n2's port refuses at once
    INFO(status.output);
    CHECK(status.exit_code == 1);
    CHECK(status.output.find("down (") != std::string::npos);
  }

  SECTION("get and exists") {
    ProgramResult get = Ctl(config, {"get", keys[2].ToHex()});
    INFO(get.output);
    CHECK(get.exit_code == 0);
    CHECK(get.output.find("hit: 3000 bytes, checksum ok") != std::string::npos);

    const auto absent = RandomKeys(1, 78)[0];
    get = Ctl(config, {"get", absent.ToHex()});
    INFO(get.output);
    CHECK(get.exit_code == 1);
    CHECK(get.output.find("miss (not stored)") != std::string::npos);

    // A value whose payload no longer matches its checksum.
    std::string bad(reinterpret_cast<const char*>(values[0].data()), values[0].size());
    const auto trailer = MakeValueTrailer(keys[0], values[0]);
    bad.append(reinterpret_cast<const char*>(trailer.data()), trailer.size());
    bad[10] ^= 0x40;
    const std::string owner = admin::NodesFor(*client, keys[0]).front();
    const std::string_view mset[] = {"BLOCK.MSET", "0", keys[0].View(), bad};
    REQUIRE(admin::Command(*client, owner, mset).ok());
    get = Ctl(config, {"get", keys[0].ToHex()});
    INFO(get.output);
    CHECK(get.exit_code == 1);
    CHECK(get.output.find(owner + ": holds 3012 bytes, CORRUPT") != std::string::npos);

    ProgramResult exists =
        Ctl(config, {"exists", keys[3].ToHex(), keys[4].ToHex(), absent.ToHex()});
    INFO(exists.output);
    CHECK(exists.exit_code == 0);
    CHECK(exists.output.find(keys[3].ToHex() + " 1 ") != std::string::npos);
    CHECK(exists.output.find(absent.ToHex() + " 0 ") != std::string::npos);
    CHECK(exists.output.find("leading cached run: 2 of 3") != std::string::npos);

    ProgramResult bad_key = Ctl(config, {"get", "xyz"});
    CHECK(bad_key.exit_code == 2);
  }
}

// prefixctl --json `args...` with `stdin_data`: its exit status, stdout and stderr apart.
CapturedRun CtlJson(const std::string& config, std::vector<std::string> args,
                    const std::string& stdin_data = {}) {
  std::vector<std::string> argv = {Prefixctl(), "--config", config, "--timeout-ms",
                                   std::to_string(kGenerousBound.count())};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  return RunCaptured(argv, stdin_data);
}

// The one JSON document of a --json run's stdout (a failed check, not an exception, when
// it is not exactly one line of JSON).
nlohmann::json ParseOne(const CapturedRun& run) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(!run.out.empty());
  REQUIRE(run.out.find('\n') == run.out.size() - 1);
  nlohmann::json doc = nlohmann::json::parse(run.out, nullptr, false);
  REQUIRE(!doc.is_discarded());
  return doc;
}

std::uint64_t TotalBlocks(const std::string& config) {
  CapturedRun stats = CtlJson(config, {"stats"});
  REQUIRE(stats.exit_code == 0);
  return ParseOne(stats)["total"]["blocks"].get<std::uint64_t>();
}

TEST_CASE("prefixctl --json: every command's output parses and says what the text says",
          "[integration]") {
  FilledCluster filled(91, 2000);
  LocalCluster& cluster = filled.cluster;
  Client* client = filled.client.get();
  const auto& keys = filled.keys;
  const std::string config = cluster.config_path();

  nlohmann::json ring = ParseOne(CtlJson(config, {"ring"}));
  CHECK(ring["fingerprint"] == Hex64(admin::RingFingerprint(*client)));
  CHECK(ring["ring"]["nodes"].size() == 3);
  double shares = 0;
  for (const auto& [id, share] : ring["shares"].items()) shares += share.get<double>();
  CHECK(shares == Approx(1.0));

  CapturedRun run = CtlJson(config, {"status"});
  CHECK(run.exit_code == 0);
  nlohmann::json status = ParseOne(run);
  CHECK(status["ok"] == true);
  REQUIRE(status["nodes"].size() == 3);
  std::uint64_t entries = 0;
  for (const auto& node : status["nodes"]) {
    INFO(node.dump());
    CHECK(node["up"] == true);
    CHECK(node["ring"] == "ok");
    CHECK(node["version"].is_string());
    CHECK(node["uptime_seconds"].is_number_unsigned());
    CHECK(node["memory"]["capacity_bytes"].get<std::uint64_t>() > 0);
    CHECK(node["memory"]["bytes"].get<std::uint64_t>() <=
          node["memory"]["capacity_bytes"].get<std::uint64_t>());
    entries += node["memory"]["entries"].get<std::uint64_t>();
  }
  CHECK(entries == 6);

  nlohmann::json stats = ParseOne(CtlJson(config, {"stats"}));
  CHECK(stats["nodes"].size() == 3);
  CHECK(stats["down"].empty());
  CHECK(stats["total"]["blocks"] == 6);
  CHECK(stats["nodes"]["n1"]["node_id"] == "n1");

  // Two samples a second apart: the second carries rates, here of the reads in between.
  run = CtlJson(config, {"stats", "--watch", "1", "--count", "2"});
  CHECK(run.exit_code == 0);
  std::istringstream lines(run.out);
  std::string first, second, extra;
  REQUIRE(std::getline(lines, first));
  REQUIRE(std::getline(lines, second));
  CHECK(!std::getline(lines, extra));
  CHECK(!nlohmann::json::parse(first).contains("rates"));
  const nlohmann::json watched = nlohmann::json::parse(second);
  CHECK(watched["interval_seconds"].get<double>() > 0);
  CHECK(watched["rates"]["total"].contains("keyspace_hits"));
  CHECK(watched["rates"].contains("n2"));

  const std::string owner = admin::NodesFor(*client, keys[1]).front();
  nlohmann::json located = ParseOne(CtlJson(config, {"ring", "locate", keys[1].ToHex()}));
  CHECK(located["key"] == keys[1].ToHex());
  CHECK(located["replicas"][0]["id"] == owner);
  CHECK(located["replicas"][0]["up"] == true);
  CHECK(located["stand_in"].is_null());

  nlohmann::json got = ParseOne(CtlJson(config, {"get", keys[1].ToHex()}));
  CHECK(got["hit"] == true);
  CHECK(got["bytes"] == 2000);
  CHECK(got["nodes"][0] == owner);

  TempDir dir("prefixctl-put");
  const std::string value_file = dir.str() + "/value.bin";
  std::ofstream(value_file, std::ios::binary) << "a block of forty-two bytes, more or less!!";
  const BlockKey fresh = RandomKeys(1, 92)[0];
  run = CtlJson(config, {"put", fresh.ToHex(), "--file", value_file, "--depth", "3"});
  CHECK(run.exit_code == 0);
  nlohmann::json put = ParseOne(run);
  CHECK(put["stored"] == true);
  CHECK(put["bytes"] == 42);
  // From stdin, through the text form.
  const BlockKey piped = RandomKeys(1, 93)[0];
  CapturedRun piped_put = RunCaptured({Prefixctl(), "-c", config, "put", piped.ToHex(), "-f", "-"},
                                      std::string(100, 'z'));
  CHECK(piped_put.exit_code == 0);
  CHECK(piped_put.out.find(": 100 bytes stored on ") != std::string::npos);

  nlohmann::json exists =
      ParseOne(CtlJson(config, {"exists", fresh.ToHex(), piped.ToHex(), keys[0].ToHex()}));
  CHECK(exists["leading_cached_run"] == 3);
  CHECK(exists["keys"][0]["cached"] == true);

  run = CtlJson(config, {"del", fresh.ToHex(), piped.ToHex()});
  CHECK(run.exit_code == 0);
  CHECK(ParseOne(run)["removed"] == 2);
  exists = ParseOne(CtlJson(config, {"exists", fresh.ToHex()}));
  CHECK(exists["keys"][0]["cached"] == false);
  got = ParseOne(CtlJson(config, {"get", fresh.ToHex()}));
  CHECK(got["hit"] == false);

  nlohmann::json checked = ParseOne(CtlJson(config, {"config-check", config}));
  CHECK(checked["valid"] == true);
  CHECK(checked["ring_fingerprint"] == ring["fingerprint"]);

  SECTION("a stopped node: status exits 1 and shows it down; locate names the stand-in") {
    std::size_t down_index = 0;
    for (int i = 0; i < cluster.size(); ++i) {
      if (cluster.id(i) == owner) down_index = static_cast<std::size_t>(i);
    }
    cluster.StopNode(static_cast<int>(down_index));
    run = CtlJson(config, {"status"});
    CHECK(run.exit_code == 1);
    status = ParseOne(run);
    CHECK(status["ok"] == false);
    for (const auto& node : status["nodes"]) {
      INFO(node.dump());
      CHECK(node["up"] == (node["id"] != owner));
      if (node["id"] == owner) CHECK(!node["error"].get<std::string>().empty());
    }
    ProgramResult text = Ctl(config, {"status"});
    CHECK(text.exit_code == 1);
    CHECK(text.output.find(owner + " ") != std::string::npos);
    CHECK(text.output.find("down (") != std::string::npos);

    run = CtlJson(config, {"ring", "locate", keys[1].ToHex()});
    CHECK(run.exit_code == 1);
    located = ParseOne(run);
    CHECK(located["replicas"][0]["up"] == false);
    CHECK(located["stand_in"].is_string());
    CHECK(located["stand_in"] != owner);
    // The client routes the key to the node locate names: the first put finds the owner
    // down, the second stores the block on the stand-in.
    const std::vector<std::byte> value(2000, std::byte{7});
    const std::span<const std::byte> spans[] = {value};
    const std::uint32_t depth[] = {0};
    CHECK(client->Put(std::span(&keys[1], 1), spans, depth).ok());
    REQUIRE(client->Put(std::span(&keys[1], 1), spans, depth)->stored == 1);
    const std::string_view exists[] = {"EXISTS", keys[1].View()};
    CHECK(admin::Command(*client, located["stand_in"].get<std::string>(), exists).value() == "1");

    run = CtlJson(config, {"stats"});
    CHECK(run.exit_code == 1);
    CHECK(ParseOne(run)["down"].contains(owner));
  }

  SECTION("flush asks unless --yes") {
    run = CtlJson(config, {"flush"}, "n\n");
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("remove every block on n1 n2 n3? [y/N]") != std::string::npos);
    CHECK(run.err.find("nothing flushed") != std::string::npos);
    CHECK(run.out.empty());
    run = CtlJson(config, {"flush"});  // end of input is no
    CHECK(run.exit_code == 1);
    CHECK(TotalBlocks(config) == 6);

    run = CtlJson(config, {"flush", "--node", "nope", "--yes"});
    CHECK(run.exit_code == 2);

    const std::string_view dbsize[] = {"DBSIZE"};
    auto n1_before = admin::Command(*client, "n1", dbsize);
    REQUIRE(n1_before.ok());
    run = CtlJson(config, {"flush", "--node", "n2", "--yes"});
    CHECK(run.exit_code == 0);
    CHECK(run.err.find("[y/N]") == std::string::npos);
    nlohmann::json flushed = ParseOne(run);
    CHECK(flushed["flushed"] == nlohmann::json::array({"n2"}));
    CHECK(*admin::Command(*client, "n2", dbsize) == "0");
    CHECK(*admin::Command(*client, "n1", dbsize) == *n1_before);

    run = CtlJson(config, {"flush"}, "yes\n");
    CHECK(run.exit_code == 0);
    CHECK(ParseOne(run)["flushed"].size() == 3);
    CHECK(TotalBlocks(config) == 0);
  }
}

// Whether node `id` holds `key` (EXISTS straight to it, past the client's routing).
bool Holds(Client& client, const std::string& id, const BlockKey& key) {
  const std::string_view exists[] = {"EXISTS", key.View()};
  auto reply = admin::Command(client, id, exists);
  return reply.ok() && *reply == "1";
}

TEST_CASE("prefixctl flush --node also deletes the copies stand-ins took while it was down",
          "[integration]") {
  FilledCluster filled(95, 2000);
  LocalCluster& cluster = filled.cluster;
  Client& client = *filled.client;
  const std::string config = cluster.config_path();
  const int victim = 1;
  const std::string victim_id = cluster.id(victim);

  // Blocks whose owner is the victim, written while it is down: each lands on a stand-in.
  std::vector<BlockKey> handed_off;
  for (const BlockKey& key : RandomKeys(60, 96)) {
    if (admin::NodesFor(client, key).front() == victim_id) handed_off.push_back(key);
  }
  REQUIRE(handed_off.size() >= 5);
  const auto values = ValuesFor(handed_off, 1500);
  cluster.KillNode(victim);
  (void)client.Put(handed_off, ConstSpans(values), Depths(handed_off.size()));  // finds it down
  REQUIRE(client.Put(handed_off, ConstSpans(values), Depths(handed_off.size()))->stored ==
          handed_off.size());
  for (const BlockKey& key : handed_off) {
    int holders = 0;
    for (int i = 0; i < cluster.size(); ++i) {
      if (i != victim && Holds(client, cluster.id(i), key)) ++holders;
    }
    CHECK(holders == 1);
  }
  REQUIRE(cluster.StartNode(victim));

  CapturedRun run = CtlJson(config, {"flush", "--node", victim_id, "--yes"});
  CHECK(run.exit_code == 0);
  const nlohmann::json flushed = ParseOne(run);
  CHECK(flushed["flushed"] == nlohmann::json::array({victim_id}));
  CHECK(flushed["failed"].empty());
  std::uint64_t removed = 0;
  for (const auto& [id, n] : flushed["stand_in_copies_removed"].items()) {
    CHECK(id != victim_id);
    removed += n.get<std::uint64_t>();
  }
  CHECK(removed == handed_off.size());
  for (const BlockKey& key : handed_off) {
    for (int i = 0; i < cluster.size(); ++i) CHECK_FALSE(Holds(client, cluster.id(i), key));
  }
  // The other nodes' own blocks stay where they are.
  std::size_t kept = 0;
  for (const BlockKey& key : filled.keys) {
    const std::string owner = admin::NodesFor(client, key).front();
    if (owner == victim_id) continue;
    CHECK(Holds(client, owner, key));
    ++kept;
  }
  CHECK(kept > 0);

  // Nothing is left to remove: the text form says only what it flushed.
  ProgramResult text = Ctl(config, {"flush", "--node", victim_id, "--yes"});
  CHECK(text.exit_code == 0);
  CHECK(text.output.find(victim_id + ": flushed") != std::string::npos);
  CHECK(text.output.find("removed") == std::string::npos);

  // A node that cannot be scanned is reported, and the exit status says so.
  cluster.KillNode(2);
  run = CtlJson(config, {"flush", "--node", victim_id, "--yes"});
  CHECK(run.exit_code == 1);
  const nlohmann::json partial = ParseOne(run);
  REQUIRE(partial["failed"].contains(cluster.id(2)));
  CHECK(partial["failed"][cluster.id(2)].get<std::string>().find("not removed") !=
        std::string::npos);
}

// Writes `text` to `dir`/`name` and returns the path.
std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.str() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST_CASE("prefixctl prefix: the cached leading blocks of a token file and their nodes",
          "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  const std::string config = cluster.config_path();
  TempDir dir("prefixctl-prefix");

  Namespace ns;
  ns.model_id = "meta-llama/Llama-3.1-8B-Instruct";
  ns.model_revision = "r1";
  ns.dtype = "bfloat16";
  ns.kv_layout = "flat";
  ns.block_size_tokens = 4;
  ns.tenant_salt = "t1";
  const std::string ns_file =
      WriteFile(dir, "ns.json",
                R"({"model_id": "meta-llama/Llama-3.1-8B-Instruct", "model_revision": "r1",
          "dtype": "bfloat16", "kv_layout": "flat", "block_size_tokens": 4,
          "tenant_salt": "t1"})");
  // 10 full blocks and 2 trailing tokens, over several lines and separators.
  std::vector<std::uint32_t> tokens;
  std::string token_text;
  for (std::uint32_t i = 0; i < 42; ++i) {
    tokens.push_back(1000 + i * 7919);
    token_text += std::to_string(tokens.back()) + (i % 5 == 4 ? "\n" : i % 2 ? "\t" : "  ");
  }
  const std::string token_file = WriteFile(dir, "tokens.txt", token_text);
  const std::vector<BlockKey> keys = Hasher::Create(ns)->Keys(tokens);
  REQUIRE(keys.size() == 10);

  // Blocks 0..5 and 8 stored: the leading run is 6 blocks, 7 are cached in all.
  std::vector<BlockKey> stored(keys.begin(), keys.begin() + 6);
  stored.push_back(keys[8]);
  const auto values = ValuesFor(stored, 1500);
  REQUIRE(client->Put(stored, ConstSpans(values), Depths(stored.size()))->stored == 7);

  CapturedRun text = RunCaptured(
      {Prefixctl(), "--config", config, "prefix", "--tokens", token_file, "--namespace", ns_file});
  INFO(text.out << text.err);
  CHECK(text.exit_code == 1);  // not all of the prefix is cached
  CHECK(text.out.starts_with("42 tokens, 10 full blocks of 4 (2 trailing tokens not hashed)"));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string owner = admin::NodesFor(*client, keys[i]).front();
    const bool cached = i < 6 || i == 8;
    CHECK(text.out.find("\n" + std::to_string(i) + " " + keys[i].ToHex() + " " + owner + " " +
                        (cached ? "yes" : "no") + "\n") != std::string::npos);
  }
  CHECK(text.out.find("leading cached run: 6 of 10 blocks (24 tokens); 7 blocks cached in all") !=
        std::string::npos);

  CapturedRun json = CtlJson(config, {"prefix", "--tokens", token_file, "--namespace", ns_file});
  CHECK(json.exit_code == 1);
  nlohmann::json report = ParseOne(json);
  CHECK(report["seed"] == Hasher::Create(ns)->seed().ToHex());
  CHECK(report["leading_cached_blocks"] == 6);
  CHECK(report["leading_cached_tokens"] == 24);
  CHECK(report["cached_blocks"] == 7);
  CHECK(report["trailing_tokens"] == 2);
  REQUIRE(report["blocks"].size() == 10);
  std::size_t on_nodes = 0;
  for (const auto& [id, count] : report["leading_run_nodes"].items()) {
    on_nodes += count.get<std::size_t>();
  }
  CHECK(on_nodes == 6);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO(i);
    CHECK(report["blocks"][i]["key"] == keys[i].ToHex());
    CHECK(report["blocks"][i]["owner"] == admin::NodesFor(*client, keys[i]).front());
    CHECK(report["blocks"][i]["cached"] == (i < 6 || i == 8));
  }

  // With the rest stored the whole prefix is cached: exit 0.
  const std::vector<BlockKey> rest = {keys[6], keys[7], keys[9]};
  REQUIRE(client->Put(rest, ConstSpans(ValuesFor(rest, 1500)), Depths(3))->stored == 3);
  json = CtlJson(config, {"prefix", "--tokens", token_file, "--namespace", ns_file});
  CHECK(json.exit_code == 0);
  CHECK(ParseOne(json)["leading_cached_blocks"] == 10);

  {  // every error of a namespace file names its field; exit 2
    const std::string bad = WriteFile(
        dir, "bad.json",
        R"({"model_id": "m", "model_revision": 3, "kv_layout": "flat", "block_size_tokens": "4",
            "lora": ""})");
    CapturedRun run = CtlJson(config, {"prefix", "--tokens", token_file, "--namespace", bad});
    INFO(run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.out.empty());
    for (const char* line : {": lora: unknown field\n",
                             ": model_revision: expected a string, got 3\n", ": dtype: missing\n",
                             ": block_size_tokens: expected an integer from 1 to 4294967295, "
                             "got \"4\"\n"}) {
      CHECK(run.err.find("prefixctl: " + bad + line) != std::string::npos);
    }
    const std::string not_json = WriteFile(dir, "not.json", "{\"model_id\": ");
    run = CtlJson(config, {"prefix", "--tokens", token_file, "--namespace", not_json});
    CHECK(run.exit_code == 2);
  }

  {  // a token that is not a decimal token id: exit 2 naming its line
    const std::string bad = WriteFile(dir, "bad-tokens.txt", "1 2 3\n4 5x 6\n");
    CapturedRun run = CtlJson(config, {"prefix", "--tokens", bad, "--namespace", ns_file});
    CHECK(run.exit_code == 2);
    CHECK(run.err == "prefixctl: " + bad +
                         ": line 2: \"5x\" is not a token id (a decimal integer from 0 to "
                         "4294967295)\n");
    const std::string big = WriteFile(dir, "big-tokens.txt", "4294967296\n");
    CHECK(CtlJson(config, {"prefix", "--tokens", big, "--namespace", ns_file}).exit_code == 2);
    CHECK(CtlJson(config, {"prefix", "--tokens", dir.str() + "/nope", "--namespace", ns_file})
              .exit_code == 2);
  }
}

TEST_CASE("prefixctl: config-check", "[integration]") {
  TempDir dir("prefixctl");
  const std::string good = dir.str() + "/good.json";
  std::ofstream(good) << R"({"cluster": {"nodes": [
      {"id": "a", "address": "127.0.0.1:7001"}, {"id": "b", "address": "127.0.0.1:7002"}],
      "replicas": 2}})";
  ProgramResult ok = RunProgram({Prefixctl(), "config-check", good});
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("cluster: 2 node(s), ") != std::string::npos);
  CHECK(ok.output.find(" virtual nodes per weight, 2 replica(s)") != std::string::npos);

  const std::string bad = dir.str() + "/bad.json";
  std::ofstream(bad) << R"({"cluster": {"nodes": [{"id": "a", "adress": "127.0.0.1:7001"}]}})";
  ProgramResult err = RunProgram({Prefixctl(), "config-check", bad});
  INFO(err.output);
  CHECK(err.exit_code == 2);
  CHECK(err.output.find("cluster.nodes[0]") != std::string::npos);

  // Several mistakes: every one is reported, each with its JSON path, in text and in JSON.
  const std::string several = dir.str() + "/several.json";
  std::ofstream(several) << R"({"memory": {"capacity": "lots"}, "spill": {"queue": 0},
      "cluster": {"nodes": [{"id": "a", "address": "127.0.0.1:7001", "wieght": 2}]},
      "client": {"backoff_max_ms": true}})";
  CapturedRun text = RunCaptured({Prefixctl(), "config-check", several});
  INFO(text.err);
  CHECK(text.exit_code == 2);
  for (const char* path : {"memory.capacity: ", "spill.queue: ", "cluster.nodes[0].wieght: ",
                           "client.backoff_max_ms: "}) {
    CHECK(text.err.find("prefixctl: " + several + ": " + path) != std::string::npos);
  }
  CapturedRun json = RunCaptured({Prefixctl(), "config-check", several, "--json"});
  CHECK(json.exit_code == 2);
  const nlohmann::json report = nlohmann::json::parse(json.out);
  CHECK(report["valid"] == false);
  CHECK(report["errors"].size() == 4);

  // Every example config of the repository is valid.
  for (const char* example : {"single.json", "cluster-3.json"}) {
    const std::string path = std::string(PREFIXCACHE_SOURCE_DIR) + "/config/examples/" + example;
    CapturedRun checked = RunCaptured({Prefixctl(), "config-check", path, "--json"});
    INFO(path << ": " << checked.err);
    CHECK(checked.exit_code == 0);
    CHECK(nlohmann::json::parse(checked.out)["valid"] == true);
  }

  ProgramResult missing = RunProgram({Prefixctl(), "config-check", dir.str() + "/nope.json"});
  CHECK(missing.exit_code == 2);
  ProgramResult usage = RunProgram({Prefixctl()});
  CHECK(usage.exit_code == 2);
}

}  // namespace
}  // namespace prefixcache::testing
