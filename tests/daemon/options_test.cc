// The daemon's config from a file and the command line's overrides (BuildConfig,
// ApplyOverrides, OverrideFlags), without starting anything.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <string>

#include "config/config.h"
#include "daemon/daemon_options.h"
#include "temp_dir.h"

namespace prefixcache::testing {
namespace {

using daemon::ApplyOverrides;
using daemon::BuildConfig;
using daemon::ConfigOverrides;

config::Config ClusterConfig() {
  config::Config config = config::DefaultConfig();
  config.cluster.nodes = {{"a", "127.0.0.1:7001", 1, ""}, {"b", "127.0.0.1:7002", 2, ""}};
  return config;
}

TEST_CASE("overrides: no override leaves the config as it is", "[unit]") {
  config::Config config = config::DefaultConfig();
  REQUIRE(ApplyOverrides({}, config).ok());
  CHECK(config == config::DefaultConfig());
}

TEST_CASE("overrides: each flag sets its part of the config", "[unit]") {
  config::Config config = ClusterConfig();
  ConfigOverrides overrides;
  overrides.node_id = "b";
  overrides.listen = "127.0.0.1:0";
  overrides.metrics_listen = "127.0.0.1:9999";
  overrides.spill_path = "/tmp/spill-{node_id}";
  overrides.memory_capacity = "3MiB";
  config.metrics.enabled = false;
  const Status applied = ApplyOverrides(overrides, config);
  INFO(applied.ToString());
  REQUIRE(applied.ok());
  CHECK(config.node.id == "b");
  CHECK(config.node.listen == "127.0.0.1:0");  // --listen wins over b's cluster address
  CHECK(config.metrics.listen == "127.0.0.1:9999");
  CHECK(config.metrics.enabled);  // --metrics-listen turns metrics on
  CHECK(config.spill.path == "/tmp/spill-b");
  CHECK(config.spill.path_template.empty());
  CHECK(config.memory.capacity_bytes == 3u << 20);
}

TEST_CASE("overrides: --node-id alone takes the node's address from cluster.nodes", "[unit]") {
  config::Config config = ClusterConfig();
  ConfigOverrides overrides;
  overrides.node_id = "a";
  REQUIRE(ApplyOverrides(overrides, config).ok());
  CHECK(config.node.id == "a");
  CHECK(config.node.listen == "127.0.0.1:7001");
}

TEST_CASE("overrides: a bad value is an error naming the flag", "[unit]") {
  struct Case {
    std::string ConfigOverrides::*field;
    const char* value;
    const char* message_start;
  };
  const Case cases[] = {
      {&ConfigOverrides::node_id, "zz", "--node-id: "},
      {&ConfigOverrides::listen, "nowhere", "--listen: "},
      {&ConfigOverrides::metrics_listen, "1.2.3.4:99999", "--metrics-listen: "},
      {&ConfigOverrides::memory_capacity, "lots", "--memory-capacity: "},
      {&ConfigOverrides::memory_capacity, "0", "--memory-capacity: must be more than 0"},
  };
  for (const Case& c : cases) {
    config::Config config = ClusterConfig();
    ConfigOverrides overrides;
    overrides.*c.field = c.value;
    const Status status = ApplyOverrides(overrides, config);
    INFO(c.value << " -> " << status.ToString());
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK(status.message().rfind(c.message_start, 0) == 0);
  }
}

TEST_CASE("overrides: every field has exactly one command-line flag", "[unit]") {
  ConfigOverrides marked;
  std::set<std::string> names;
  for (const daemon::OverrideFlag& flag : daemon::OverrideFlags()) {
    CHECK(std::string(flag.name).rfind("--", 0) == 0);
    CHECK(std::string(flag.help).size() > 10);
    marked.*flag.field += "x";
    names.insert(flag.name);
  }
  for (const std::string* field : {&marked.node_id, &marked.listen, &marked.metrics_listen,
                                   &marked.spill_path, &marked.memory_capacity}) {
    CHECK(*field == "x");
  }
  CHECK(names.size() == daemon::OverrideFlags().size());
}

TEST_CASE("BuildConfig: defaults without a file, the file's errors named with the file", "[unit]") {
  auto defaults = BuildConfig("", {});
  REQUIRE(defaults.ok());
  CHECK(*defaults == config::DefaultConfig());

  TempDir dir("build-config");
  const std::string missing = (dir.path() / "none.json").string();
  auto absent = BuildConfig(missing, {});
  REQUIRE(!absent.ok());
  CHECK(absent.status().code() == StatusCode::kIoError);
  CHECK(absent.status().message().find(missing) != std::string::npos);

  const std::string bad = (dir.path() / "bad.json").string();
  std::ofstream(bad) << R"({"memory": {"capcity": "1GiB"}})";
  auto parsed = BuildConfig(bad, {});
  REQUIRE(!parsed.ok());
  CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
  CHECK(parsed.status().message().rfind(bad + ": memory.capcity: unknown key", 0) == 0);

  const std::string good = (dir.path() / "good.json").string();
  std::ofstream(good) << R"({"memory": {"capacity": "8MiB"}, "spill": {"enabled": false}})";
  ConfigOverrides overrides;
  overrides.memory_capacity = "16MiB";
  auto built = BuildConfig(good, overrides);
  REQUIRE(built.ok());
  CHECK(built->memory.capacity_bytes == 16u << 20);  // the flag wins over the file
  CHECK_FALSE(built->spill.enabled);
}

}  // namespace
}  // namespace prefixcache::testing
