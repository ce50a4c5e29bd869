// TLS on the RESP port, end to end: real prefixcached daemons with certificates made at
// test time (tests/fixtures/make_test_certs.sh, the openssl CLI), and as clients the
// client library, the real redis-cli (--tls), prefixctl and a plaintext socket. Also the
// daemon's refusal to start on TLS files it cannot use, and the client's on its own.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "../client/client_test_util.h"
#include "daemon_test_util.h"
#include "prefixcache/admin.h"
#include "prefixcache/client.h"
#include "run_program.h"

namespace prefixcache::testing {
namespace {

// The certificates of make_test_certs.sh, made once per test process.
const std::string& CertDir() {
  static TempDir dir("tls-certs");
  static const bool made = [] {
    const CapturedRun run = RunCaptured(
        {"bash", std::string(PREFIXCACHE_SOURCE_DIR) + "/tests/fixtures/make_test_certs.sh",
         dir.str()});
    INFO(run.out << run.err);
    REQUIRE(run.exit_code == 0);
    return true;
  }();
  (void)made;
  static const std::string path = dir.str();
  return path;
}

std::string Cert(const std::string& name) { return CertDir() + "/" + name; }

// A daemon serving TLS with the test server certificate; `verify_clients` requires client
// certificates signed by the test CA.
struct TlsNode {
  explicit TlsNode(bool verify_clients = false, const std::string& tls_json = {}) {
    const std::string tls = !tls_json.empty()
                                ? tls_json
                                : R"({"cert": ")" + Cert("server.pem") + R"(", "key": ")" +
                                      Cert("server.key") + R"(", "ca": ")" + Cert("ca.pem") +
                                      R"(", "verify_clients": )" +
                                      (verify_clients ? "true" : "false") + "}";
    config = dir.str() + "/node.json";
    WriteFile(config, R"({"spill": {"enabled": false}, "tls": )" + tls + "}");
    REQUIRE(daemon.Start(dir.str() + "/spill", {"--config", config}));
  }

  ClientOptions Options(bool with_client_cert = false) const {
    ClientOptions options;
    options.nodes = {{"node-1", daemon.address(), 1}};
    options.tls = true;
    options.tls_ca = Cert("ca.pem");
    if (with_client_cert) {
      options.tls_cert = Cert("client.pem");
      options.tls_key = Cert("client.key");
    }
    options.backoff_initial_ms = 1;
    options.backoff_max_ms = 1;
    return Patient(options);
  }

  TempDir dir{"tls-node"};
  std::string config;
  DaemonProcess daemon;
};

// PING through admin::Command: the reply, or the error's message.
std::string Ping(Client& client) {
  const std::string_view args[] = {"PING"};
  auto reply = admin::Command(client, "node-1", args);
  return reply.ok() ? *reply : reply.status().ToString();
}

std::string Info(Client& client, std::string_view section) {
  const std::string_view args[] = {"INFO", section};
  auto reply = admin::Command(client, "node-1", args);
  REQUIRE(reply.ok());
  return *reply;
}

void PutMatchGet(Client& client) {
  const auto keys = RandomKeys(16, 7);
  const auto values = ValuesFor(keys, 256 * 1024);
  auto put = client.Put(keys, ConstSpans(values), Depths(keys.size()));
  REQUIRE(put.ok());
  CHECK(put->stored == keys.size());
  CHECK(client.Match(keys) == keys.size());
  auto got = client.Get(keys);
  REQUIRE(got.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    REQUIRE(got[i].has_value());
    CHECK(std::equal(got[i]->data(), got[i]->data() + got[i]->size(), values[i].begin(),
                     values[i].end()));
  }
}

TEST_CASE("tls: the client library puts, matches and gets over TLS", "[integration]") {
  TlsNode node;
  auto client = OpenClient(node.Options());
  PutMatchGet(*client);
  CHECK(Info(*client, "server").find("tls:1\r\n") != std::string::npos);
  const std::string_view config_get[] = {"CONFIG", "GET", "tls-auth-clients"};
  CHECK(admin::Command(*client, "node-1", config_get).value() ==
        "1) \"tls-auth-clients\"\n2) \"no\"");

  SECTION("the server name defaults to the node's host and may be set") {
    ClientOptions by_name = node.Options();
    by_name.tls_server_name = "localhost";
    auto named = OpenClient(by_name);
    CHECK(Ping(*named) == "PONG");
  }
}

TEST_CASE("tls: a certificate the client cannot verify is a clean error and gives no data",
          "[integration]") {
  TlsNode node;
  auto trusted = OpenClient(node.Options());
  const auto keys = RandomKeys(4, 9);
  const auto values = ValuesFor(keys, 4096);
  REQUIRE(trusted->Put(keys, ConstSpans(values), Depths(keys.size()))->stored == keys.size());

  SECTION("another CA") {
    ClientOptions options = node.Options();
    options.tls_ca = Cert("other-ca.pem");
    auto client = OpenClient(options);
    const std::string error = Ping(*client);
    CHECK(error.find("TLS handshake with " + node.daemon.address() + " failed") !=
          std::string::npos);
    CHECK(error.find("certificate verify failed") != std::string::npos);
    CHECK(client->Match(keys) == 0);
    for (const auto& value : client->Get(keys)) CHECK_FALSE(value.has_value());
    CHECK(client->Stats().nodes.at(0).errors > 0);
  }
  SECTION("a server name the certificate does not carry") {
    ClientOptions options = node.Options();
    options.tls_server_name = "cache.example.org";
    auto client = OpenClient(options);
    const std::string error = Ping(*client);
    CHECK(error.find("hostname mismatch") != std::string::npos);
    CHECK(client->Match(keys) == 0);
  }
  SECTION("a plaintext client") {
    ClientOptions options = node.Options();
    options.tls = false;
    auto client = OpenClient(options);
    CHECK(Ping(*client) != "PONG");
    CHECK(client->Match(keys) == 0);
  }
  // The daemon served the trusted client throughout.
  CHECK(trusted->Match(keys) == keys.size());
}

TEST_CASE("tls: verify_clients admits only certificates signed by tls.ca", "[integration]") {
  TlsNode node(/*verify_clients=*/true);

  auto with_cert = OpenClient(node.Options(/*with_client_cert=*/true));
  PutMatchGet(*with_cert);

  auto without = OpenClient(node.Options());
  CHECK(Ping(*without) != "PONG");

  ClientOptions other = node.Options();
  other.tls_cert = Cert("other-client.pem");
  other.tls_key = Cert("other-client.key");
  auto foreign = OpenClient(other);
  CHECK(Ping(*foreign) != "PONG");

  CHECK(Ping(*with_cert) == "PONG");
  const std::string stats = Info(*with_cert, "stats");
  CHECK(stats.find("tls_handshake_failures:0\r\n") == std::string::npos);
  const std::string_view config_get[] = {"CONFIG", "GET", "tls-auth-clients"};
  CHECK(admin::Command(*with_cert, "node-1", config_get).value() ==
        "1) \"tls-auth-clients\"\n2) \"yes\"");
}

TEST_CASE("tls: redis-cli --tls talks to the daemon", "[integration]") {
  REQUIRE(HaveProgram("redis-cli"));
  SECTION("server certificate only") {
    TlsNode node;
    const std::vector<std::string> tls = {"--tls", "--cacert", Cert("ca.pem")};
    auto cli = [&](std::vector<std::string> args) {
      args.insert(args.begin(), tls.begin(), tls.end());
      return RedisCli(node.daemon.port(), args);
    };
    CHECK(cli({"PING"}).out == "PONG\n");
    CHECK(cli({"SET", "greeting", "hello"}).out == "OK\n");
    CHECK(cli({"GET", "greeting"}).out == "hello\n");
    CHECK(cli({"INFO", "server"}).out.find("tls:1") != std::string::npos);
    // Without --tls redis-cli gets no answer, and the daemon goes on serving.
    const CapturedRun plain = RedisCli(node.daemon.port(), {"PING"});
    CHECK(plain.out.find("PONG") == std::string::npos);
    CHECK(cli({"GET", "greeting"}).out == "hello\n");
  }
  SECTION("with a client certificate") {
    TlsNode node(/*verify_clients=*/true);
    const CapturedRun with_cert =
        RedisCli(node.daemon.port(), {"--tls", "--cacert", Cert("ca.pem"), "--cert",
                                      Cert("client.pem"), "--key", Cert("client.key"), "PING"});
    CHECK(with_cert.out == "PONG\n");
    const CapturedRun without =
        RedisCli(node.daemon.port(), {"--tls", "--cacert", Cert("ca.pem"), "PING"});
    CHECK(without.out.find("PONG") == std::string::npos);
  }
}

TEST_CASE("tls: a plaintext client on the TLS port is disconnected and counted", "[integration]") {
  TlsNode node;
  auto client = OpenClient(node.Options());
  REQUIRE(Ping(*client) == "PONG");
  for (int i = 0; i < 3; ++i) {
    RespClient plain(node.daemon.port());
    REQUIRE(plain.connected());
    REQUIRE(plain.Send("*1\r\n$4\r\nPING\r\n"));
    // The connection ends without a reply.
    CHECK_FALSE(plain.Read().has_value());
  }
  // A client that connects and sends nothing holds no slot the others need either.
  RespClient silent(node.daemon.port());
  REQUIRE(silent.connected());
  CHECK(Ping(*client) == "PONG");
  CHECK(Info(*client, "stats").find("tls_handshake_failures:3\r\n") != std::string::npos);
  PutMatchGet(*client);
}

TEST_CASE("tls: prefixctl speaks TLS from its config or its flags", "[integration]") {
  TlsNode node;
  const std::string cluster =
      R"("cluster": {"nodes": [{"id": "node-1", "address": ")" + node.daemon.address() + R"("}]})";
  const std::string with_tls = node.dir.str() + "/client-tls.json";
  WriteFile(with_tls,
            "{" + cluster + R"(, "client": {"tls": true, "tls_ca": ")" + Cert("ca.pem") + R"("}})");
  const std::string plain = node.dir.str() + "/client.json";
  WriteFile(plain, "{" + cluster + "}");
  const std::string prefixctl = std::string(PREFIXCACHE_BIN_DIR) + "/prefixctl";

  ProgramResult status = RunProgram({prefixctl, "--config", with_tls, "status"});
  INFO(status.output);
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("node-1") != std::string::npos);

  status = RunProgram({prefixctl, "--config", plain, "--tls", "--tls-ca", Cert("ca.pem"),
                       "--tls-server-name", "localhost", "status"});
  INFO(status.output);
  CHECK(status.exit_code == 0);

  // Without TLS the node cannot be reached: a problem found, exit 1.
  status = RunProgram({prefixctl, "--config", plain, "status"});
  INFO(status.output);
  CHECK(status.exit_code == 1);

  status = RunProgram(
      {prefixctl, "--config", plain, "--tls", "--tls-ca", Cert("other-ca.pem"), "status"});
  INFO(status.output);
  CHECK(status.exit_code == 1);
  CHECK(status.output.find("certificate verify failed") != std::string::npos);
}

TEST_CASE("tls: the daemon refuses to start on TLS files it cannot use", "[integration]") {
  TempDir dir("tls-bad");
  auto start = [&](const std::string& tls) {
    const std::string config = dir.str() + "/bad.json";
    WriteFile(config, R"({"node": {"listen": "127.0.0.1:0"}, "spill": {"enabled": false},
                         "metrics": {"enabled": false}, "tls": )" +
                          tls + "}");
    return RunCaptured({DaemonProcess::BinaryPath(), "--config", config});
  };
  const std::string cert = Cert("server.pem"), key = Cert("server.key");

  CapturedRun run = start(R"({"cert": ")" + dir.str() + R"(/none.pem", "key": ")" + key + "\"}");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("tls.cert: cannot read \"" + dir.str() + "/none.pem\": No such file") !=
        std::string::npos);

  run = start(R"({"cert": ")" + cert + R"(", "key": ")" + Cert("client.key") + "\"}");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("tls.key: \"" + Cert("client.key") + "\" does not match tls.cert") !=
        std::string::npos);

  run = start(R"({"cert": ")" + key + R"(", "key": ")" + key + "\"}");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("tls.cert: \"" + key + "\" is not a PEM certificate") != std::string::npos);

  run = start(R"({"cert": ")" + cert + R"(", "key": ")" + key + R"(", "verify_clients": true})");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("tls.ca: missing") != std::string::npos);
}

TEST_CASE("tls: Client::Open names the TLS option it cannot use", "[unit]") {
  ClientOptions options;
  options.nodes = {{"node-1", "127.0.0.1:1", 1}};
  options.tls = true;
  options.tls_ca = "/nonexistent/ca.pem";
  auto opened = Client::Open(options);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().message() ==
        "tls_ca: cannot read \"/nonexistent/ca.pem\": No such file or directory");

  options.tls_ca = Cert("ca.pem");
  options.tls_cert = Cert("client.pem");
  options.tls_key = Cert("server.key");
  opened = Client::Open(options);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().message().starts_with("tls_key: \"" + Cert("server.key") +
                                              "\" does not match tls_cert"));

  options.tls_key.clear();
  opened = Client::Open(options);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().message() == "tls_key: missing (required with tls_cert)");
}

}  // namespace
}  // namespace prefixcache::testing
