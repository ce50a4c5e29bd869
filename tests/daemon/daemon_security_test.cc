// The metrics endpoint behind metrics.bearer_token (401 without it, a refusal to start off
// loopback without one) and secrets kept out of every view: the password and the token never
// appear in the log (at debug level), INFO, CONFIG GET, /metrics or a config error.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

constexpr char kPassword[] = "pw-SECRET-4242";
constexpr char kToken[] = "tok-SECRET-4242";
constexpr char kSecretPart[] = "SECRET-4242";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("metrics.bearer_token: /metrics answers 401 without the token", "[integration]") {
  TestNode node("metrics-token");
  const auto config = node.Config(R"({"metrics": {"bearer_token": "tok-SECRET-4242"},
                                      "spill": {"enabled": false}})");
  MetricsDaemon daemon;
  REQUIRE(daemon.Start(
      {config[0], config[1], "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}));
  std::string status;
  std::string body = HttpGet(daemon.metrics_port(), "/metrics", &status);
  CHECK(status == "HTTP/1.1 401 Unauthorized");
  CHECK(body.find("prefixcache_") == std::string::npos);
  HttpGet(daemon.metrics_port(), "/metrics", &status, "Authorization: Bearer wrong\r\n");
  CHECK(status == "HTTP/1.1 401 Unauthorized");
  HttpGet(daemon.metrics_port(), "/metrics", &status, "Authorization: Bearer tok-SECRET-4242x\r\n");
  CHECK(status == "HTTP/1.1 401 Unauthorized");
  HttpGet(daemon.metrics_port(), "/metrics", &status, "Authorization: Basic dG9rOng=\r\n");
  CHECK(status == "HTTP/1.1 401 Unauthorized");
  HttpGet(daemon.metrics_port(), "/", &status);
  CHECK(status == "HTTP/1.1 401 Unauthorized");
  body = HttpGet(daemon.metrics_port(), "/metrics", &status,
                 "Authorization: Bearer tok-SECRET-4242\r\n");
  CHECK(status == "HTTP/1.1 200 OK");
  CHECK(body.find("prefixcache_requests_total") != std::string::npos);
  // The scheme is case-insensitive, the token is not.
  HttpGet(daemon.metrics_port(), "/metrics", &status, "authorization: bearer tok-SECRET-4242\r\n");
  CHECK(status == "HTTP/1.1 200 OK");
  HttpGet(daemon.metrics_port(), "/metrics", &status, "Authorization: Bearer TOK-SECRET-4242\r\n");
  CHECK(status == "HTTP/1.1 401 Unauthorized");
  CHECK(ExitedCleanly(daemon.Stop()));
}

TEST_CASE("metrics off loopback without metrics.bearer_token: the daemon refuses to start",
          "[integration]") {
  TempDir dir("metrics-remote");
  const std::string bin = DaemonProcess::BinaryPath();
  CapturedRun run = RunCaptured({bin, "--listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:0",
                                 "--spill-path", dir.str() + "/spill"},
                                {}, std::chrono::seconds(30));
  INFO(run.out << run.err);
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("refusing to serve metrics on 0.0.0.0:0 without metrics.bearer_token") !=
        std::string::npos);
  CHECK(run.out.find("listening") == std::string::npos);
  // Metrics off: nothing to protect.
  WriteFile(dir.path() / "off.json", R"({"metrics": {"enabled": false, "listen": "0.0.0.0:0"},
                                         "spill": {"enabled": false}})");
  DaemonProcess off;
  REQUIRE(off.Start(dir.str() + "/spill-off", {"--config", (dir.path() / "off.json").string()}));
}

TEST_CASE("secrets never appear in the log, INFO, CONFIG GET, /metrics or config errors",
          "[integration]") {
  TestNode node("secrets");
  const auto config = node.Config(std::string(R"({"security": {"password": ")") + kPassword +
                                  R"("}, "metrics": {"bearer_token": ")" + kToken +
                                  R"("}, "spill": {"enabled": false}})");
  MetricsDaemon daemon;
  REQUIRE(daemon.Start({config[0], config[1], "--listen", "127.0.0.1:0", "--metrics-listen",
                        "127.0.0.1:0", "--log-level", "debug"}));
  RespClient client(daemon.port());
  std::string seen;
  auto record = [&](const Reply& reply) { seen += Wire(reply); };
  record(client.Call({"AUTH", "pw-SECRET-4241"}));
  record(client.Call({"HELLO", "2", "AUTH", "default", "not-it"}));
  record(client.Call({"AUTH", kPassword}));
  record(client.Call({"INFO", "everything"}));
  record(client.Call({"CONFIG", "GET", "*"}));
  record(client.Call({"CLIENT", "INFO"}));
  record(client.Call({"BLOCK.STATS"}));
  CHECK(Describe(client.Call({"CONFIG", "GET", "prefixcache-password-set"})) ==
        "[\"prefixcache-password-set\", \"yes\"]");
  CHECK(Describe(client.Call({"CONFIG", "GET", "prefixcache-metrics-token-set"})) ==
        "[\"prefixcache-metrics-token-set\", \"yes\"]");
  CHECK(Describe(client.Call({"CONFIG", "GET", "requirepass"})) == "[]");
  std::string status;
  seen += HttpGet(daemon.metrics_port(), "/metrics", &status,
                  std::string("Authorization: Bearer ") + kToken + "\r\n");
  REQUIRE(status == "HTTP/1.1 200 OK");
  HttpGet(daemon.metrics_port(), "/metrics", &status, "Authorization: Bearer tok-SECRET-4241\r\n");
  client.Close();
  const std::string log = ReadAll(daemon.err_path());
  CHECK(ExitedCleanly(daemon.Stop()));
  CHECK(seen.find("auth_failures:2") != std::string::npos);
  CHECK(seen.find(kSecretPart) == std::string::npos);
  INFO(log);
  CHECK(!log.empty());
  CHECK(log.find(kSecretPart) == std::string::npos);

  // A config error names the field, never the value.
  const auto bad = node.Config(R"({"security": {"password": 987654321}})", "bad.json");
  CapturedRun run = RunCaptured({DaemonProcess::BinaryPath(), bad[0], bad[1], "--listen",
                                 "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"},
                                {}, std::chrono::seconds(30));
  INFO(run.err);
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("security.password: expected a string") != std::string::npos);
  CHECK(run.err.find("987654321") == std::string::npos);
}

}  // namespace
}  // namespace prefixcache::testing
