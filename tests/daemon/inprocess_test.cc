// A whole prefixcached node in the test's process (daemon::Daemon): started on ephemeral
// loopback ports, served over real sockets, stopped. Also checks that INFO, BLOCK.STATS and
// /metrics show every field of the one stats table (stats_fields.h) with the same values.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon_test_util.h"
#include "stats_fields.h"

namespace prefixcache::testing {
namespace {

std::unique_ptr<daemon::Daemon> StartDaemon(const TempDir& dir) {
  config::Config config = config::DefaultConfig();
  config.node.listen = "127.0.0.1:0";
  config.metrics.listen = "127.0.0.1:0";
  config.memory.capacity_bytes = 64 * 1024;
  config.spill.path = (dir.path() / "spill").string();
  config.spill.path_template.clear();
  auto options = daemon::MakeDaemonOptions(config, "");
  REQUIRE(options.ok());
  auto opened = daemon::Daemon::Open(std::move(options).value());
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  std::unique_ptr<daemon::Daemon> node = std::move(opened).value();
  const Status started = node->Start();
  INFO(started.ToString());
  REQUIRE(started.ok());
  return node;
}

std::uint16_t PortOf(const std::string& address) {
  return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

// "name value" lines of a metrics page, by "name{labels}".
std::map<std::string, std::string> Samples(const std::string& page) {
  std::map<std::string, std::string> out;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

// "key:value" lines of an INFO reply.
std::map<std::string, std::string> InfoFields(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
    out[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

TEST_CASE("in-process daemon: starts on free ports, serves, stops", "[integration]") {
  TempDir dir("inprocess");
  std::unique_ptr<daemon::Daemon> node = StartDaemon(dir);
  REQUIRE(!node->metrics_address().empty());
  RespClient client(PortOf(node->address()));
  REQUIRE(client.connected());
  CHECK(Describe(client.Call({"PING"})) == "+PONG");
  CHECK(Describe(client.Call({"SET", "k", "v"})) == "+OK");
  CHECK(Describe(client.Call({"GET", "k"})) == "\"v\"");
  CHECK(node->command_stats().keyspace_hits.Load() == 1);
  CHECK(node->server_stats().total_commands_processed.Load() == 3);

  CHECK(node->Stop(std::chrono::seconds(5)).ok());
  CHECK(client.WaitForEof());
  CHECK(node->Stop(std::chrono::seconds(5)).ok());  // idempotent
}

TEST_CASE("in-process daemon: INFO, BLOCK.STATS and /metrics render the same stats table",
          "[integration]") {
  TempDir dir("stats-views");
  std::unique_ptr<daemon::Daemon> node = StartDaemon(dir);
  RespClient client(PortOf(node->address()));
  // Enough 16 KiB blocks to push some out of the 64 KiB memory tier into the spill tier.
  for (int i = 0; i < 12; ++i) {
    std::string key = "view-key-" + std::to_string(i);
    key.resize(16, '.');
    REQUIRE(Describe(client.Call({"BLOCK.MSET", "0", key, std::string(16 * 1024, 'x')})) == "+OK");
  }
  CHECK(Describe(client.Call({"GET", "absent"})) == "nil");
  // Tier stats stop moving once the evicted blocks are written.
  REQUIRE(Eventually([&] {
    const auto stats = nlohmann::json::parse(client.Call({"BLOCK.STATS"}).bulk.view());
    return stats["memory"]["queue_bytes"] == 0 && stats["spill"]["queue_bytes"] == 0;
  }));

  const auto json = nlohmann::json::parse(client.Call({"BLOCK.STATS"}).bulk.view());
  const auto info = InfoFields(std::string(client.Call({"INFO", "everything"}).bulk.view()));
  std::string status;
  const auto metrics = Samples(HttpGet(PortOf(node->metrics_address()), "/metrics", &status));
  REQUIRE(status == "HTTP/1.1 200 OK");

  CHECK(json["spill"]["entries"].get<std::uint64_t>() > 0);
  for (const daemon::TierField& field : daemon::TierFields()) {
    const std::string name(field.name);
    const std::string metric =
        "prefixcache_tier_" + name + (field.type == daemon::MetricType::kCounter ? "_total" : "");
    for (const std::string tier : {"memory", "spill"}) {
      INFO(tier << " " << name);
      REQUIRE(json[tier].contains(name));
      const std::string value = std::to_string(json[tier][name].get<std::uint64_t>());
      CHECK(metrics.at(metric + "{tier=\"" + tier + "\"}") == value);
      const std::string info_name = tier + "_tier_" + name;
      const bool in_info = field.info == daemon::InfoTiers::kBoth || tier == "spill";
      CHECK(info.count(info_name) == (in_info ? 1u : 0u));
      if (in_info) CHECK(info.at(info_name) == value);
    }
  }
  for (const daemon::CounterField& field : daemon::CounterFields()) {
    INFO(field.info << " / " << field.metric);
    CHECK((!field.info.empty() || !field.metric.empty()));
    if (!field.info.empty()) CHECK(info.count(std::string(field.info)) == 1);
    if (!field.metric.empty()) CHECK(metrics.count("prefixcache_" + std::string(field.metric)));
    CHECK(json.contains(std::string(field.info)) == field.in_block_stats);
  }
  // Counters that only the GET above moved agree across the views.
  CHECK(json["keyspace_misses"] == 1);
  CHECK(info.at("keyspace_misses") == "1");
  CHECK(metrics.at("prefixcache_keyspace_misses_total") == "1");
}

}  // namespace
}  // namespace prefixcache::testing
