// What supervisors see of prefixcached: --version, and the probes GET /healthz and
// GET /readyz (open even behind metrics.bearer_token; /readyz 503 with a reason when the
// spill tier failed or the node is not in its ring).
#include <catch2/catch.hpp>
#include <regex>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

TEST_CASE("prefixcached --version prints the version /metrics reports", "[integration]") {
  CapturedRun run = RunCaptured({DaemonProcess::BinaryPath(), "--version"});
  CHECK(run.exit_code == 0);
  std::smatch version;
  REQUIRE(
      std::regex_match(run.out, version, std::regex("prefixcached ([0-9]+\\.[0-9]+\\.[0-9]+)\n")));

  TestNode node("version");
  MetricsDaemon daemon;
  REQUIRE(daemon.Start({"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                        "--spill-path", node.spill()}));
  std::string status;
  const std::string page = HttpGet(daemon.metrics_port(), "/metrics", &status);
  CHECK(page.find("prefixcache_info{version=\"" + version[1].str() + "\"") != std::string::npos);
  CHECK(ExitedCleanly(daemon.Stop()));
}

TEST_CASE("probes: /healthz and /readyz answer without the metrics token", "[integration]") {
  TestNode node("probes");
  const auto config = node.Config(R"({"metrics": {"bearer_token": "tok-probe-1"}})");
  MetricsDaemon daemon;
  REQUIRE(daemon.Start({config[0], config[1], "--listen", "127.0.0.1:0", "--metrics-listen",
                        "127.0.0.1:0", "--spill-path", node.spill()}));
  std::string status;
  CHECK(HttpGet(daemon.metrics_port(), "/healthz", &status) == "ok\n");
  CHECK(status == "HTTP/1.1 200 OK");
  CHECK(HttpGet(daemon.metrics_port(), "/readyz", &status) == "ready\n");
  CHECK(status == "HTTP/1.1 200 OK");
  // Everything else still needs the token.
  HttpGet(daemon.metrics_port(), "/metrics", &status);
  CHECK(status == "HTTP/1.1 401 Unauthorized");
  HttpGet(daemon.metrics_port(), "/readyz?verbose", &status);
  CHECK(status == "HTTP/1.1 401 Unauthorized");
  CHECK(ExitedCleanly(daemon.Stop()));
}

TEST_CASE("probes: /readyz is 503 with a reason when the spill tier cannot open", "[integration]") {
  TestNode node("probes-spill");
  WriteFile(node.dir() / "not-a-folder", "x");  // the spill path is a file: RocksDB fails
  MetricsDaemon daemon;
  REQUIRE(daemon.Start({"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                        "--spill-path", (node.dir() / "not-a-folder").string()}));
  std::string status;
  CHECK(HttpGet(daemon.metrics_port(), "/healthz", &status) == "ok\n");
  CHECK(status == "HTTP/1.1 200 OK");
  const std::string body = HttpGet(daemon.metrics_port(), "/readyz", &status);
  CHECK(status == "HTTP/1.1 503 Service Unavailable");
  INFO(body);
  CHECK(body.starts_with("not ready: spill tier unavailable: "));
  CHECK(body.find('\n') == body.size() - 1);
  CHECK(ExitedCleanly(daemon.Stop()));
}

TEST_CASE("probes: /readyz is 503 when the node is not in its cluster's ring", "[integration]") {
  TestNode node("probes-ring");
  const auto config = node.Config(R"({"node": {"id": "stranger"}, "spill": {"enabled": false},
      "cluster": {"nodes": [{"id": "a", "address": "127.0.0.1:1"}]}})");
  MetricsDaemon daemon;
  REQUIRE(daemon.Start(
      {config[0], config[1], "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}));
  std::string status;
  CHECK(HttpGet(daemon.metrics_port(), "/readyz", &status) ==
        "not ready: node stranger is not in cluster.nodes\n");
  CHECK(status == "HTTP/1.1 503 Service Unavailable");
  CHECK(ExitedCleanly(daemon.Stop()));
}

}  // namespace
}  // namespace prefixcache::testing
