#include "prefixcache/client_config.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "cluster/ring.h"
#include "temp_dir.h"

namespace prefixcache::client {
namespace {

TEST_CASE("client config: defaults agree with the config file's and the ring's", "[unit]") {
  const ClientOptions defaults;
  CHECK(defaults.virtual_nodes == cluster::Ring::kDefaultVirtualNodesPerWeight);
  auto parsed = ClientOptionsFromConfigText("{}");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->nodes.size() == 1);  // no cluster: this one node
  CHECK(parsed->nodes[0].id == "node-1");
  CHECK(parsed->nodes[0].address == "127.0.0.1:7379");
  CHECK(parsed->virtual_nodes == defaults.virtual_nodes);
  CHECK(parsed->replicas == 1);
  CHECK(parsed->timeout_ms == defaults.timeout_ms);
  CHECK(parsed->connect_timeout_ms == defaults.connect_timeout_ms);
  CHECK(parsed->connections_per_node == defaults.connections_per_node);
  CHECK(parsed->backoff_initial_ms == defaults.backoff_initial_ms);
  CHECK(parsed->backoff_max_ms == defaults.backoff_max_ms);
  CHECK(parsed->handoff_window_ms == defaults.handoff_window_ms);
}

TEST_CASE("client config: the cluster section maps into ClientOptions", "[unit]") {
  auto parsed = ClientOptionsFromConfigText(R"({
    "cluster": {"nodes": [{"id": "b", "address": "10.0.0.2:7379", "weight": 2},
                          {"id": "a", "address": "10.0.0.1:7379"}],
                "virtual_nodes": 64, "replicas": 2},
    "security": {"password": "pw"},
    "client": {"timeout_ms": 50, "connect_timeout_ms": 20, "connections_per_node": 3,
               "backoff_initial_ms": 5, "backoff_max_ms": 80, "handoff_window_ms": 1500}})");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->nodes.size() == 2);
  CHECK(parsed->nodes[0].id == "b");
  CHECK(parsed->nodes[0].weight == 2);
  CHECK(parsed->nodes[1].address == "10.0.0.1:7379");
  CHECK(parsed->virtual_nodes == 64);
  CHECK(parsed->replicas == 2);
  CHECK(parsed->password == "pw");
  CHECK(parsed->timeout_ms == 50);
  CHECK(parsed->connect_timeout_ms == 20);
  CHECK(parsed->connections_per_node == 3);
  CHECK(parsed->backoff_initial_ms == 5);
  CHECK(parsed->backoff_max_ms == 80);
  CHECK(parsed->handoff_window_ms == 1500);
}

TEST_CASE("client config: errors name the file and the field", "[unit]") {
  testing::TempDir dir("client-config");
  const std::string path = dir.str() + "/bad.json";
  std::ofstream(path) << R"({"client": {"timeout": 5}})";
  auto bad = ClientOptionsFromConfigFile(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find(path + ": client.timeout") == 0);
  auto missing = ClientOptionsFromConfigFile(dir.str() + "/none.json");
  CHECK(missing.status().code() == StatusCode::kIoError);
  CHECK(ClientOptionsFromConfigText("{").status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace prefixcache::client
