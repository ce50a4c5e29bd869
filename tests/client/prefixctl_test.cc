// prefixctl (the built binary) against a real three-daemon cluster: its ring agrees with
// the daemons' and the client's, and status, stats, get, exists and config-check report
// what the cluster holds.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "client_test_util.h"
#include "local_cluster.h"
#include "prefixcache/admin.h"
#include "prefixcache/client.h"
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

TEST_CASE("prefixctl: ring, status, stats, get, exists against a real cluster", "[integration]") {
  LocalCluster cluster;
  REQUIRE(cluster.Start());
  auto client = OpenClient(Patient(cluster.ClientOptions()));
  const auto keys = RandomKeys(6, 77);
  const auto values = ValuesFor(keys, 3000);
  REQUIRE(client->Put(keys, ConstSpans(values), Depths(6))->stored == 6);
  const std::string config = cluster.config_path();

  SECTION("the daemons, the client and prefixctl compute the same ring") {
    ProgramResult ring = RunProgram({Prefixctl(), "--config", config, "ring"});
    INFO(ring.output);
    REQUIRE(ring.exit_code == 0);
    const std::string fingerprint = Hex64(admin::RingFingerprint(*client));
    CHECK(ring.output == admin::RingJson(*client) + "\nfingerprint " + fingerprint + "\n");
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
    CHECK(stats.output.find("n1 {\"node_id\":\"n1\"") != std::string::npos);
    CHECK(stats.output.find("n3 {\"node_id\":\"n3\"") != std::string::npos);

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

  ProgramResult missing = RunProgram({Prefixctl(), "config-check", dir.str() + "/nope.json"});
  CHECK(missing.exit_code == 2);
  ProgramResult usage = RunProgram({Prefixctl()});
  CHECK(usage.exit_code == 2);
}

}  // namespace
}  // namespace prefixcache::testing
