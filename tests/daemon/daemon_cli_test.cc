// prefixcached against the real redis-cli (Debian's redis-tools): every standard command
// with its exact output, in redis-cli's raw mode (stdout is a pipe) and in --no-raw mode,
// and a binary value read from stdin (-x) that must come back byte-exact.
#include <catch2/catch.hpp>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

// Runs redis-cli against `node` and returns its stdout; stderr and the exit code are
// reported on failure.
class Cli {
 public:
  explicit Cli(std::uint16_t port) : port_(port) {}

  std::string operator()(const std::vector<std::string>& args, const std::string& in = {}) {
    CapturedRun run = RedisCli(port_, args, in);
    INFO("redis-cli " << Join(args) << "\nstderr: " << run.err);
    CHECK(run.exit_code == 0);
    return run.out;
  }

 private:
  static std::string Join(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) out += a + " ";
    return out;
  }
  std::uint16_t port_;
};

// redis-cli's raw-mode rendering of an error reply: the text, then an empty line.
std::string CliError(const std::string& text) { return text + "\n\n"; }

TEST_CASE("redis-cli: connection commands", "[integration]") {
  REQUIRE(HaveProgram("redis-cli"));
  TestNode node("cli-conn");
  REQUIRE(node.Start());
  Cli cli(node.port());

  CHECK(cli({"PING"}) == "PONG\n");
  CHECK(cli({"ping", "hello there"}) == "hello there\n");
  CHECK(cli({"--no-raw", "PING"}) == "PONG\n");
  CHECK(cli({"ECHO", "hello world"}) == "hello world\n");
  CHECK(cli({"--no-raw", "ECHO", "hello world"}) == "\"hello world\"\n");
  CHECK(cli({"AUTH", "x"}) ==
        CliError("ERR AUTH <password> called without any password configured for the default "
                 "user. Are you sure your configuration is correct?"));
  // The default user has no password, so Redis accepts any password for it.
  CHECK(cli({"AUTH", "default", "anything"}) == "OK\n");
  CHECK(cli({"SELECT", "0"}) == "OK\n");
  CHECK(cli({"SELECT", "1"}) == CliError("ERR DB index is out of range"));
  CHECK(cli({"SELECT", "x"}) == CliError("ERR value is not an integer or out of range"));

  const std::string hello = cli({"HELLO", "2"});
  CHECK(
      std::regex_match(hello, std::regex("server\nredis\nversion\n7\\.0\\.0\nproto\n2\nid\n[0-9]+\n"
                                         "mode\nstandalone\nrole\nmaster\nmodules\n\n")));
  // HELLO 3 switches this connection to RESP3; redis-cli prints the map as key-value lines.
  CHECK(std::regex_match(cli({"HELLO", "3"}),
                         std::regex("server redis\nversion 7\\.0\\.0\nproto 3\nid [0-9]+\n"
                                    "mode standalone\nrole master\nmodules \n")));
  CHECK(cli({"HELLO", "4"}) == CliError("NOPROTO unsupported protocol version"));
  CHECK(cli({"HELLO", "2", "SETNAME", "bad name"}) ==
        CliError("ERR Client names cannot contain spaces, newlines or special characters."));

  // Several commands on one connection: redis-cli reads them from stdin.
  const std::string session = cli({},
                                  "CLIENT GETNAME\nCLIENT SETNAME worker-7\nCLIENT GETNAME\n"
                                  "CLIENT ID\nCLIENT ID\nHELLO 2 SETNAME other\nCLIENT GETNAME\n");
  std::smatch m;
  REQUIRE(std::regex_match(session, m,
                           std::regex("\nOK\nworker-7\n([0-9]+)\n([0-9]+)\nserver\nredis\nversion\n"
                                      "7\\.0\\.0\nproto\n2\nid\n([0-9]+)\nmode\nstandalone\nrole\n"
                                      "master\nmodules\n\nother\n")));
  CHECK(m[1] == m[2]);  // one connection, one id
  CHECK(m[1] == m[3]);  // HELLO reports the same id
  // Another connection has another id.
  CHECK(cli({"CLIENT", "ID"}) != std::string(m[1]) + "\n");
  CHECK(cli({"CLIENT", "SETNAME", "two words"}) ==
        CliError("ERR Client names cannot contain spaces, newlines or special characters."));
  CHECK(cli({"CLIENT", "NOPE"}) == CliError("ERR unknown subcommand 'NOPE'. Try CLIENT HELP."));

  CHECK(cli({"QUIT"}) == "OK\n");
  // (redis-cli reading commands from stdin stops at QUIT by itself.)
  CHECK(cli({}, "PING\nQUIT\nPING\n") == "PONG\n");
  // On the wire: +OK, then the connection closes and nothing after QUIT is answered.
  RespClient raw_client(node.port());
  REQUIRE(
      raw_client.Send("PING\r\n" + Cmd({"QUIT"}) + Cmd({"PING"}) + Cmd({"SET", "after", "quit"})));
  std::string raw;
  CHECK(raw_client.ReadRawUntilEof(raw));
  CHECK(raw == "+PONG\r\n+OK\r\n");
  CHECK(cli({"EXISTS", "after"}) == "0\n");
}

TEST_CASE("redis-cli: key commands", "[integration]") {
  REQUIRE(HaveProgram("redis-cli"));
  TestNode node("cli-keys");
  REQUIRE(node.Start());
  Cli cli(node.port());

  CHECK(cli({"DBSIZE"}) == "0\n");
  CHECK(cli({"SET", "greeting", "hello"}) == "OK\n");
  CHECK(cli({"GET", "greeting"}) == "hello\n");
  CHECK(cli({"--no-raw", "GET", "greeting"}) == "\"hello\"\n");
  CHECK(cli({"GET", "nope"}) == "\n");
  CHECK(cli({"--no-raw", "GET", "nope"}) == "(nil)\n");
  CHECK(cli({"SET", "greeting", "x", "NX"}) == "\n");
  CHECK(cli({"SET", "greeting", "bonjour", "XX", "GET"}) == "hello\n");
  CHECK(cli({"GET", "greeting"}) == "bonjour\n");
  CHECK(cli({"SET", "k", "v", "NX", "XX"}) == CliError("ERR syntax error"));
  CHECK(cli({"SET", "k", "v", "EXAT", "4102444800"}) == "OK\n");
  CHECK(cli({"EXPIRETIME", "k"}) == "4102444800\n");
  CHECK(cli({"DEL", "k"}) == "1\n");

  CHECK(cli({"MSET", "a", "1", "b", "2", "c", "3"}) == "OK\n");
  CHECK(cli({"MSET", "a", "1", "b"}) ==
        CliError("ERR wrong number of arguments for 'mset' command"));
  CHECK(cli({"MGET", "a", "b", "nope", "c"}) == "1\n2\n\n3\n");
  CHECK(cli({"--no-raw", "MGET", "a", "nope"}) == "1) \"1\"\n2) (nil)\n");
  // A key named twice counts twice, as in Redis.
  CHECK(cli({"EXISTS", "a", "b", "nope", "c", "a", "greeting"}) == "5\n");
  CHECK(cli({"--no-raw", "EXISTS", "nope"}) == "(integer) 0\n");
  CHECK(cli({"DBSIZE"}) == "4\n");
  CHECK(cli({"DEL", "a", "nope", "b"}) == "2\n");
  CHECK(cli({"EXISTS", "a", "b", "c"}) == "1\n");
  CHECK(cli({"DBSIZE"}) == "2\n");

  // A 16-byte key is the block key itself: SET and BLOCK.MGET address the same block.
  CHECK(cli({"SET", "0123456789abcdef", "block-value"}) == "OK\n");
  CHECK(cli({"BLOCK.MGET", "0123456789abcdef"}) == "block-value\n");

  CHECK(cli({"FLUSHALL"}) == "OK\n");
  CHECK(cli({"DBSIZE"}) == "0\n");
  CHECK(cli({"GET", "greeting"}) == "\n");
  CHECK(cli({"SET", "x", "y"}) == "OK\n");
  CHECK(cli({"FLUSHALL", "ASYNC"}) == "OK\n");
  CHECK(cli({"DBSIZE"}) == "0\n");
  CHECK(cli({"FLUSHALL", "LATER"}) == CliError("ERR syntax error"));
}

TEST_CASE("redis-cli: INFO COMMAND CONFIG and error formats", "[integration]") {
  REQUIRE(HaveProgram("redis-cli"));
  TestNode node("cli-server");
  REQUIRE(node.Start({"--memory-capacity", "64MiB"}));
  Cli cli(node.port());
  const std::string port = std::to_string(node.port());

  CHECK(cli({"SET", "one", "1"}) == "OK\n");
  CHECK(cli({"SET", "two", "2"}) == "OK\n");

  // INFO renders "# Section\r\nkey:value\r\n..."; redis-cli prints it as it is.
  // (redis-cli adds no newline to text that ends with one.)
  CHECK(cli({"INFO", "keyspace"}) == "# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n");
  const std::string server = cli({"INFO", "server"});
  CHECK(server.rfind("# Server\r\n", 0) == 0);
  CHECK(server.find("\r\nredis_version:7.0.0\r\n") != std::string::npos);
  CHECK(server.find("\r\ntcp_port:" + port + "\r\n") != std::string::npos);
  CHECK(server.find("\r\nprocess_id:" + std::to_string(node.pid()) + "\r\n") != std::string::npos);
  CHECK(server.find("# Clients") == std::string::npos);
  const std::string two = cli({"INFO", "clients", "memory"});
  CHECK(two.rfind("# Clients\r\n", 0) == 0);
  CHECK(two.find("\r\n# Memory\r\n") != std::string::npos);
  CHECK(two.find("\r\nmaxmemory:67108864\r\n") != std::string::npos);
  CHECK(two.find("\r\nconnected_clients:1\r\n") != std::string::npos);
  CHECK(two.find("# Server") == std::string::npos);
  CHECK(two.find("# Stats") == std::string::npos);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"INFO"}, {"INFO", "all"}, {"INFO", "everything"}}) {
    const std::string all = cli(args);
    for (const char* section : {"# Server\r\n", "# Clients\r\n", "# Memory\r\n", "# Stats\r\n",
                                "# Keyspace\r\n", "# Memory_tier\r\n", "# Spill_tier\r\n"}) {
      CHECK(all.find(section) != std::string::npos);
    }
    CHECK(all.find("\r\nmemory_tier_entries:2\r\n") != std::string::npos);
    CHECK(all.find("\r\nspill_tier_enabled:1\r\n") != std::string::npos);
  }

  // COMMAND COUNT agrees with COMMAND LIST and COMMAND; every standard command is listed.
  const std::string count = cli({"COMMAND", "COUNT"});
  const std::string list = cli({"COMMAND", "LIST"});
  std::size_t lines = 0;
  for (char c : list) lines += c == '\n' ? 1 : 0;
  CHECK(count == std::to_string(lines) + "\n");
  const std::string all_commands = cli({"--no-raw", "COMMAND"});
  // Top-level entries render as " 1)  1) \"ping\"", "10)  1) \"quit\"", ...
  const std::regex entry("^ *[0-9]+\\)  1\\) \"[a-z.]+\"$",
                         std::regex::ECMAScript | std::regex::multiline);
  const auto entries =
      std::distance(std::sregex_iterator(all_commands.begin(), all_commands.end(), entry),
                    std::sregex_iterator());
  CHECK(std::to_string(entries) + "\n" == count);
  for (const char* name : {"ping",       "echo",        "auth",         "hello",
                           "select",     "quit",        "get",          "set",
                           "del",        "exists",      "mget",         "mset",
                           "dbsize",     "info",        "flushall",     "command",
                           "client",     "config",      "block.exists", "block.mget",
                           "block.mset", "block.stats", "block.ring",   "block.mgetprefix"}) {
    CHECK(("\n" + list).find("\n" + std::string(name) + "\n") != std::string::npos);
  }
  // Redis 7's 10-element layout: name, arity, flags, first/last key, step, categories,
  // tips, key specs, subcommands.
  CHECK(cli({"COMMAND", "INFO", "get"}) ==
        "get\n2\nreadonly\nfast\n1\n1\n1\n@read\n@string\n@fast\n\n\n\n");
  CHECK(cli({"--no-raw", "COMMAND", "INFO", "nosuchcommand"}) == "1) (nil)\n");
  CHECK(cli({"COMMAND", "DOCS"}) == "\n");
  CHECK(cli({"--no-raw", "COMMAND", "DOCS"}) == "(empty array)\n");
  CHECK(cli({"COMMAND", "COUNT", "x"}) ==
        CliError("ERR wrong number of arguments for 'command|count' command"));

  CHECK(cli({"CONFIG", "GET", "maxmemory"}) == "maxmemory\n67108864\n");
  CHECK(cli({"CONFIG", "GET", "max*"}) ==
        "maxmemory\n67108864\nmaxmemory-policy\ntiered\nmaxclients\n10000\n");
  CHECK(cli({"CONFIG", "GET", "timeout", "MAXCLIENTS"}) == "maxclients\n10000\ntimeout\n600\n");
  CHECK(cli({"CONFIG", "GET", "save"}) == "save\n\n");
  CHECK(cli({"CONFIG", "GET", "appendonly"}) == "appendonly\nno\n");
  CHECK(cli({"CONFIG", "GET", "prefixcache-spill-path"}) ==
        "prefixcache-spill-path\n" + node.spill() + "\n");
  CHECK(cli({"CONFIG", "GET", "prefixcache-spill-retry-*"}) ==
        "prefixcache-spill-retry-min-ms\n1000\nprefixcache-spill-retry-max-ms\n60000\n");
  CHECK(cli({"--no-raw", "CONFIG", "GET", "nosuch*"}) == "(empty array)\n");
  CHECK(cli({"CONFIG", "SET", "maxmemory", "1"}) ==
        CliError("ERR CONFIG SET is not supported: prefixcached reads its settings from the "
                 "config file at start-up"));

  // Errors in Redis's texts (redis-cli sends the name as typed).
  CHECK(cli({"FOO", "a", "b"}) ==
        CliError("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "));
  CHECK(cli({"nosuch"}) == CliError("ERR unknown command 'nosuch', with args beginning with: "));
  CHECK(cli({"GET"}) == CliError("ERR wrong number of arguments for 'get' command"));
  CHECK(cli({"--no-raw", "GET"}) == "(error) ERR wrong number of arguments for 'get' command\n");
  CHECK(cli({"ECHO", "a", "b"}) == CliError("ERR wrong number of arguments for 'echo' command"));
  // The server kept serving through all of that.
  CHECK(cli({"DBSIZE"}) == "2\n");
}

TEST_CASE("redis-cli: a binary value from stdin with -x round-trips byte-exact", "[integration]") {
  REQUIRE(HaveProgram("redis-cli"));
  TestNode node("cli-binary");
  REQUIRE(node.Start());
  Cli cli(node.port());

  // Every byte value, NULs, CRLFs and things that look like RESP framing.
  std::string value;
  for (int i = 0; i < 256; ++i) value += static_cast<char>(i);
  value += Bytes("\0\0\r\n\r\n$5\r\nhello\r\n*2\r\n\n\r");
  std::mt19937_64 rng(20240611);
  while (value.size() < 300000) value += static_cast<char>(rng() & 0xff);
  value += Bytes("\r\n\0");

  CHECK(cli({"-x", "SET", "binary"}, value) == "OK\n");
  CHECK(cli({"--raw", "GET", "binary"}) == value + "\n");
  CHECK(cli({"STRLEN", "binary"}) == std::to_string(value.size()) + "\n");

  // A small one, and one given to a block command as its last argument.
  const std::string small = Bytes("a\0b\r\nc");
  CHECK(cli({"-x", "SET", "small"}, small) == "OK\n");
  CHECK(cli({"--raw", "GET", "small"}) == small + "\n");
  CHECK(cli({"-x", "BLOCK.MSET", "3", "0123456789abcdef"}, value) == "OK\n");
  CHECK(cli({"--raw", "BLOCK.MGET", "0123456789abcdef"}) == value + "\n");
  CHECK(cli({"--raw", "GET", "0123456789abcdef"}) == value + "\n");
}

}  // namespace
}  // namespace prefixcache::testing
