#include "config/config.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <string>

#include "temp_dir.h"

namespace cfg = prefixcache::config;
using prefixcache::StatusCode;

namespace {

// The message ParseConfig gives for `json`; fails the test if it parses.
std::string ErrorOf(const std::string& json) {
  prefixcache::Result<cfg::Config> result = cfg::ParseConfig(json);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kInvalidArgument);
  return result.status().message();
}

cfg::Config Parse(const std::string& json) {
  prefixcache::Result<cfg::Config> result = cfg::ParseConfig(json);
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  return *result;
}

std::string SizeError(std::string_view text) {
  prefixcache::Result<std::uint64_t> result = cfg::ParseSize(text);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kInvalidArgument);
  return result.status().message();
}

std::string HostPortError(std::string_view text) {
  auto result = cfg::ParseHostPort(text);
  REQUIRE_FALSE(result.ok());
  return result.status().message();
}

}  // namespace

TEST_CASE("ParseConfig of {} gives the built-in defaults", "[unit]") {
  cfg::Config c = Parse("{}");
  cfg::Config d;  // raw defaults; only spill.path differs once "{node_id}" is replaced
  CHECK(c.node == d.node);
  CHECK(c.memory == d.memory);
  CHECK(c.limits == d.limits);
  CHECK(c.security == d.security);
  CHECK(c.cluster == d.cluster);
  CHECK(c.metrics == d.metrics);
  CHECK(c.client == d.client);

  CHECK(c.node.id == "node-1");
  CHECK(c.node.listen == "127.0.0.1:7379");
  CHECK(c.node.io_threads == 0);
  CHECK(c.node.send_lowat_bytes == 64 * prefixcache::kKiB);
  CHECK(c.memory.capacity_bytes == prefixcache::kGiB);
  CHECK(c.memory.eviction_policy == "tiered");
  CHECK(c.memory.shards == 16);
  CHECK(c.spill.enabled);
  CHECK(c.spill.path == "./prefixcache-spill/node-1");
  CHECK(c.spill.path_template == "./prefixcache-spill/{node_id}");
  CHECK(c.spill.capacity_bytes == 16 * prefixcache::kGiB);
  CHECK(c.spill.queue_bytes == 256 * prefixcache::kMiB);
  CHECK(c.spill.flush_on_shutdown);
  CHECK(c.limits.max_value_bytes == 128 * prefixcache::kMiB);
  CHECK(c.limits.max_request_elements == 1048576);
  CHECK(c.limits.max_request_bytes == prefixcache::kGiB);
  CHECK(c.limits.max_connections == 10000);
  CHECK(c.limits.idle_timeout_ms == 600000);
  CHECK(c.limits.client_output_buffer_bytes == 512 * prefixcache::kMiB);
  CHECK(c.limits.inflight_memory_bytes == prefixcache::kGiB);
  CHECK(c.limits.request_timeout_ms == 30000);
  CHECK(c.security.password.empty());
  CHECK_FALSE(c.security.allow_remote_without_password);
  CHECK(c.cluster.nodes.empty());
  CHECK(c.cluster.virtual_nodes == 1024);
  CHECK(c.cluster.replicas == 1);
  CHECK(c.metrics.enabled);
  CHECK(c.metrics.listen == "127.0.0.1:9379");
  CHECK(c.metrics.bearer_token.empty());
  CHECK(c.client.timeout_ms == 1000);
  CHECK(c.client.connect_timeout_ms == 200);
  CHECK(c.client.connections_per_node == 4);
  CHECK(c.client.backoff_initial_ms == 100);
  CHECK(c.client.backoff_max_ms == 10000);
  CHECK(c.client.handoff_window_ms == 300000);
  CHECK(c.spill.retry_min_ms == 1000);
  CHECK(c.spill.retry_max_ms == 60000);

  CHECK(cfg::DefaultConfig() == c);
  CHECK(Parse("{\"memory\": {}, \"cluster\": {\"nodes\": []}}") == c);
}

TEST_CASE("Every section is read and survives ToJson", "[unit]") {
  const std::string json = R"({
    "node": {"id": "n2", "listen": "0.0.0.0:7400", "io_threads": 8, "send_lowat": "256KiB"},
    "memory": {"capacity": "3GiB", "eviction_policy": "lru", "shards": 64},
    "spill": {"enabled": true, "path": "/var/lib/pc/{node_id}/db", "capacity": "2TiB",
              "queue": 1048576, "flush_on_shutdown": false, "retry_min_ms": 250,
              "retry_max_ms": 5000},
    "limits": {"max_value": "64MiB", "max_request_elements": 4096, "max_request": "100MB",
               "max_connections": 500, "idle_timeout_ms": 0,
               "client_output_buffer": "1.5GiB", "inflight_memory": "768MiB",
               "request_timeout_ms": 2500},
    "security": {"password": "s3cret \"quoted\"", "allow_remote_without_password": true},
    "tls": {"cert": "/etc/pc/node.pem", "key": "/etc/pc/node.key", "ca": "ca.pem",
            "verify_clients": true},
    "cluster": {"nodes": [
                  {"id": "n1", "address": "10.0.0.1:7379", "weight": 2},
                  {"id": "n2", "address": "[::1]:7380", "metrics_address": "[::1]:9380"},
                  {"id": "n3", "address": "cache-3.internal:7381", "weight": 1000}],
                "virtual_nodes": 64, "replicas": 3},
    "metrics": {"enabled": false, "listen": "127.0.0.1:0", "bearer_token": "t0k3n/+=_-"},
    "client": {"timeout_ms": 250, "connect_timeout_ms": 50, "connections_per_node": 2,
               "backoff_initial_ms": 10, "backoff_max_ms": 10, "handoff_window_ms": 0,
               "tls": true,
               "tls_ca": "ca.pem", "tls_cert": "w.pem", "tls_key": "w.key",
               "tls_server_name": "cache.internal"}
  })";
  cfg::Config c = Parse(json);
  CHECK(c.node.id == "n2");
  CHECK(c.node.listen == "0.0.0.0:7400");
  CHECK(c.node.io_threads == 8);
  CHECK(c.node.send_lowat_bytes == 256 * prefixcache::kKiB);
  CHECK(c.memory.capacity_bytes == 3 * prefixcache::kGiB);
  CHECK(c.memory.eviction_policy == "lru");
  CHECK(c.memory.shards == 64);
  CHECK(c.spill.path == "/var/lib/pc/n2/db");
  CHECK(c.spill.capacity_bytes == 2 * prefixcache::kTiB);
  CHECK(c.spill.queue_bytes == 1048576);
  CHECK_FALSE(c.spill.flush_on_shutdown);
  CHECK(c.spill.retry_min_ms == 250);
  CHECK(c.spill.retry_max_ms == 5000);
  CHECK(c.limits.max_value_bytes == 64 * prefixcache::kMiB);
  CHECK(c.limits.max_request_elements == 4096);
  CHECK(c.limits.max_request_bytes == 100000000);
  CHECK(c.limits.max_connections == 500);
  CHECK(c.limits.idle_timeout_ms == 0);
  CHECK(c.limits.client_output_buffer_bytes == 3 * prefixcache::kGiB / 2);
  CHECK(c.limits.inflight_memory_bytes == 768 * prefixcache::kMiB);
  CHECK(c.limits.request_timeout_ms == 2500);
  CHECK(c.security.password == "s3cret \"quoted\"");
  CHECK(c.security.allow_remote_without_password);
  REQUIRE(c.cluster.nodes.size() == 3);
  CHECK(c.cluster.nodes[0] == cfg::ClusterNode{"n1", "10.0.0.1:7379", 2, ""});
  CHECK(c.cluster.nodes[1] == cfg::ClusterNode{"n2", "[::1]:7380", 1, "[::1]:9380"});
  CHECK(c.cluster.nodes[2] == cfg::ClusterNode{"n3", "cache-3.internal:7381", 1000, ""});
  CHECK(c.cluster.virtual_nodes == 64);
  CHECK(c.cluster.replicas == 3);
  CHECK_FALSE(c.metrics.enabled);
  CHECK(c.metrics.listen == "127.0.0.1:0");  // given explicitly: not taken from n2
  CHECK(c.metrics.bearer_token == "t0k3n/+=_-");
  CHECK(c.client.timeout_ms == 250);
  CHECK(c.client.connect_timeout_ms == 50);
  CHECK(c.client.connections_per_node == 2);
  CHECK(c.client.backoff_initial_ms == 10);
  CHECK(c.client.backoff_max_ms == 10);
  CHECK(c.client.handoff_window_ms == 0);
  CHECK(c.tls == cfg::TlsConfig{"/etc/pc/node.pem", "/etc/pc/node.key", "ca.pem", true});
  CHECK(c.client.tls);
  CHECK(c.client.tls_ca == "ca.pem");
  CHECK(c.client.tls_cert == "w.pem");
  CHECK(c.client.tls_key == "w.key");
  CHECK(c.client.tls_server_name == "cache.internal");

  const std::string text = cfg::ToJson(c);
  CHECK(text.find("\"capacity\": \"3GiB\"") != std::string::npos);
  CHECK(text.find("\"client_output_buffer\": \"1.5GiB\"") != std::string::npos);
  CHECK(text.find("\"inflight_memory\": \"768MiB\"") != std::string::npos);
  CHECK(text.find("\"path\": \"/var/lib/pc/{node_id}/db\"") != std::string::npos);
  CHECK(Parse(text) == c);
  CHECK(cfg::ToJson(Parse(text)) == text);
}

TEST_CASE("ToJson round trips defaults and configs built in code", "[unit]") {
  cfg::Config defaults = cfg::DefaultConfig();
  CHECK(Parse(cfg::ToJson(defaults)) == defaults);

  cfg::Config c;
  c.node.id = "a";
  c.spill.path = "/data/spill";  // no "{node_id}": written and read back as is
  c.spill.enabled = false;
  c.memory.capacity_bytes = 1000000007;  // not a round size: written as bytes
  c.cluster.nodes = {{"a", "127.0.0.1:1", 7, "127.0.0.1:2"}, {"b", "127.0.0.1:3", 1, ""}};
  c.cluster.replicas = 2;
  c.node.listen = "127.0.0.1:5";  // differs from node a's address, kept since written
  const std::string text = cfg::ToJson(c);
  CHECK(text.find("\"capacity\": \"1000000007B\"") != std::string::npos);
  CHECK(Parse(text) == c);
}

TEST_CASE("ParseSize reads every unit", "[unit]") {
  CHECK(*cfg::ParseSize("0") == 0);
  CHECK(*cfg::ParseSize("1024") == 1024);
  CHECK(*cfg::ParseSize("100B") == 100);
  CHECK(*cfg::ParseSize("64KiB") == 64 * 1024);
  CHECK(*cfg::ParseSize("512MiB") == 512ull << 20);
  CHECK(*cfg::ParseSize("4GiB") == 4ull << 30);
  CHECK(*cfg::ParseSize("1TiB") == 1ull << 40);
  CHECK(*cfg::ParseSize("1.5GiB") == 3ull << 29);
  CHECK(*cfg::ParseSize("0.5KiB") == 512);
  CHECK(*cfg::ParseSize("2KB") == 2000);
  CHECK(*cfg::ParseSize("3MB") == 3000000);
  CHECK(*cfg::ParseSize("4GB") == 4000000000);
  CHECK(*cfg::ParseSize("2TB") == 2000000000000);
  CHECK(*cfg::ParseSize("0.3GB") == 300000000);
  CHECK(*cfg::ParseSize("4 GiB") == 4ull << 30);
  CHECK(*cfg::ParseSize("1.50GiB") == 3ull << 29);
  CHECK(*cfg::ParseSize("007MiB") == 7ull << 20);
  CHECK(*cfg::ParseSize("18446744073709551615") == UINT64_MAX);
  CHECK(*cfg::ParseSize("0.0009765625MiB") == 1024);
  CHECK(*cfg::ParseSize("16777215.75TiB") == UINT64_MAX - prefixcache::kTiB / 4 + 1);
}

TEST_CASE("ParseSize refuses bad sizes and says why", "[unit]") {
  const std::string units = "; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB";
  CHECK(SizeError("") == "empty");
  CHECK(SizeError("-1GiB") == "negative");
  CHECK(SizeError("-0") == "negative");
  CHECK(SizeError("abc") == "not a number followed by an optional unit");
  CHECK(SizeError("GiB") == "not a number followed by an optional unit");
  CHECK(SizeError(".5GiB") == "not a number followed by an optional unit");
  CHECK(SizeError("4.GiB") == "not a number followed by an optional unit");
  CHECK(SizeError(" 4GiB") == "not a number followed by an optional unit");
  CHECK(SizeError("+4GiB") == "not a number followed by an optional unit");
  CHECK(SizeError("4XB") == "unknown unit \"XB\"" + units);
  CHECK(SizeError("4gib") == "unknown unit \"gib\"" + units);  // case-sensitive
  CHECK(SizeError("4kB") == "unknown unit \"kB\"" + units);
  CHECK(SizeError("4GiB ") == "unknown unit \"GiB \"" + units);
  CHECK(SizeError("1.2.3") == "unknown unit \".3\"" + units);
  CHECK(SizeError("4 2") == "unknown unit \"2\"" + units);
  CHECK(SizeError("18446744073709551616") == "larger than 18446744073709551615 bytes");
  CHECK(SizeError("16777216TiB") == "larger than 18446744073709551615 bytes");
  CHECK(SizeError("99999999999999999999999") == "larger than 18446744073709551615 bytes");
  CHECK(SizeError("1.5") == "not a whole number of bytes");
  CHECK(SizeError("1.5B") == "not a whole number of bytes");
  CHECK(SizeError("0.1GiB") == "not a whole number of bytes");
  CHECK(SizeError("1.00000000000000000001TiB") == "not a whole number of bytes");
}

TEST_CASE("FormatSize is short, exact and read back by ParseSize", "[unit]") {
  CHECK(cfg::FormatSize(0) == "0B");
  CHECK(cfg::FormatSize(100) == "100B");
  CHECK(cfg::FormatSize(1024) == "1KiB");
  CHECK(cfg::FormatSize(1025) == "1025B");
  CHECK(cfg::FormatSize(1536) == "1536B");  // shorter than "1.5KiB"
  CHECK(cfg::FormatSize(3 * prefixcache::kMiB / 2) == "1.5MiB");
  CHECK(cfg::FormatSize(4 * prefixcache::kGiB) == "4GiB");
  CHECK(cfg::FormatSize(3 * prefixcache::kGiB / 2) == "1.5GiB");
  CHECK(cfg::FormatSize(prefixcache::kTiB) == "1TiB");
  CHECK(cfg::FormatSize(2048 * prefixcache::kTiB) == "2048TiB");
  CHECK(cfg::FormatSize(1000000000) == "1GB");
  CHECK(cfg::FormatSize(1250 * prefixcache::kMiB) == "1250MiB");
  for (std::uint64_t bytes :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{999}, std::uint64_t{1000},
        std::uint64_t{1023}, std::uint64_t{123456789}, 5 * prefixcache::kGiB / 4,
        5 * prefixcache::kGiB / 8, 7 * prefixcache::kTiB + 1, std::uint64_t{UINT64_MAX},
        std::uint64_t{1} << 63}) {
    INFO(bytes << " -> " << cfg::FormatSize(bytes));
    prefixcache::Result<std::uint64_t> back = cfg::ParseSize(cfg::FormatSize(bytes));
    REQUIRE(back.ok());
    CHECK(*back == bytes);
  }
}

TEST_CASE("Size fields take numbers or unit strings", "[unit]") {
  CHECK(Parse(R"({"memory": {"capacity": 1048576}})").memory.capacity_bytes == 1048576);
  CHECK(Parse(R"({"memory": {"capacity": 1e9}})").memory.capacity_bytes == 1000000000);
  CHECK(Parse(R"({"memory": {"capacity": "2GB"}})").memory.capacity_bytes == 2000000000);
  CHECK(Parse(R"({"limits": {"max_value": "4GiB"}})").limits.max_value_bytes ==
        4 * prefixcache::kGiB);
}

TEST_CASE("Wrong types name the field, the expectation and the value", "[unit]") {
  CHECK(ErrorOf(R"({"memory": {"capacity": true}})") ==
        "memory.capacity: expected a size like \"4GiB\" or a number of bytes, got true");
  CHECK(ErrorOf(R"({"memory": {"capacity": -5}})") ==
        "memory.capacity: expected a size like \"4GiB\" or a number of bytes, got -5");
  CHECK(ErrorOf(R"({"memory": {"capacity": 1.5}})") ==
        "memory.capacity: expected a size like \"4GiB\" or a number of bytes, got 1.5");
  CHECK(ErrorOf(R"({"memory": {"capacity": "4XB"}})") ==
        "memory.capacity: expected a size like \"4GiB\" or a number of bytes, got \"4XB\" "
        "(unknown unit \"XB\"; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)");
  CHECK(ErrorOf(R"({"spill": {"queue": "-1MiB"}})") ==
        "spill.queue: expected a size like \"4GiB\" or a number of bytes, got \"-1MiB\" "
        "(negative)");
  CHECK(ErrorOf(R"({"limits": {"max_connections": "10"}})") ==
        "limits.max_connections: expected an integer from 1 to 1000000, got \"10\"");
  CHECK(ErrorOf(R"({"memory": {"shards": 2.5}})") ==
        "memory.shards: expected an integer from 1 to 1024, got 2.5");
  CHECK(ErrorOf(R"({"spill": {"enabled": "yes"}})") ==
        "spill.enabled: expected true or false, got \"yes\"");
  CHECK(ErrorOf(R"({"node": {"listen": 7379}})") == "node.listen: expected host:port, got 7379");
  // Secrets are never quoted back in errors, whatever their type.
  CHECK(ErrorOf(R"({"security": {"password": null}})") == "security.password: expected a string");
  CHECK(ErrorOf(R"({"security": {"password": 271828}})") == "security.password: expected a string");
  CHECK(ErrorOf(R"({"metrics": {"bearer_token": 314159}})") ==
        "metrics.bearer_token: expected a string of printable ASCII without spaces");
  CHECK(ErrorOf(R"({"metrics": {"bearer_token": "two words"}})") ==
        "metrics.bearer_token: expected a string of printable ASCII without spaces");
  CHECK(ErrorOf("{\"metrics\": {\"bearer_token\": \"tab\\there\"}}") ==
        "metrics.bearer_token: expected a string of printable ASCII without spaces");
  CHECK(ErrorOf(R"({"memory": {"eviction_policy": 1}})") ==
        "memory.eviction_policy: expected \"lru\", \"prefix\" or \"tiered\", got 1");
  CHECK(ErrorOf(R"({"memory": 5})") == "memory: expected an object, got 5");
  CHECK(ErrorOf(R"([1, 2])") == "top level: expected an object, got [1,2]");
  CHECK(ErrorOf(R"({"cluster": {"nodes": {"id": "n1"}}})") ==
        "cluster.nodes: expected an array of nodes, got {\"id\":\"n1\"}");
  CHECK(ErrorOf(R"({"cluster": {"nodes": ["n1"]}})") ==
        "cluster.nodes[0]: expected an object, got \"n1\"");
  CHECK(ErrorOf(R"({"node": {"id": ")" + std::string(100, 'x') + R"("}})") ==
        "node.id: expected 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or "
        "digit, got \"" +
            std::string(59, 'x') + " ...");
}

TEST_CASE("Out-of-range values name the allowed range", "[unit]") {
  CHECK(ErrorOf(R"({"limits": {"max_connections": 0}})") ==
        "limits.max_connections: expected an integer from 1 to 1000000, got 0");
  CHECK(ErrorOf(R"({"limits": {"max_connections": 1000001}})") ==
        "limits.max_connections: expected an integer from 1 to 1000000, got 1000001");
  CHECK(ErrorOf(R"({"limits": {"max_request_elements": 0}})") ==
        "limits.max_request_elements: expected an integer >= 1, got 0");
  CHECK(ErrorOf(R"({"limits": {"idle_timeout_ms": -1}})") ==
        "limits.idle_timeout_ms: expected a non-negative integer, got -1");
  CHECK(ErrorOf(R"({"memory": {"capacity": 0}})") ==
        "memory.capacity: expected a size of at least 1B, got 0");
  CHECK(ErrorOf(R"({"spill": {"capacity": "0GiB"}})") ==
        "spill.capacity: expected a size of at least 1B, got \"0GiB\"");
  CHECK(ErrorOf(R"({"limits": {"max_value": "5GiB"}})") ==
        "limits.max_value: expected a size from 1B to 4GiB, got \"5GiB\"");
  CHECK(ErrorOf(R"({"limits": {"client_output_buffer": 0}})") ==
        "limits.client_output_buffer: expected a size of at least 1B, got 0");
  CHECK(ErrorOf(R"({"limits": {"inflight_memory": 0}})") ==
        "limits.inflight_memory: expected a size of at least 1B, got 0");
  // The budget must hold a request of max_request.
  CHECK(ErrorOf(R"({"limits": {"inflight_memory": "512MiB"}})") ==
        "limits.inflight_memory: expected a size of at least limits.max_request (1GiB), got "
        "\"512MiB\"");
  CHECK(ErrorOf(R"({"limits": {"max_request": "2GiB"}})") ==
        "limits.inflight_memory: expected a size of at least limits.max_request (2GiB), got "
        "\"1GiB\"");
  CHECK(Parse(R"({"limits": {"max_request": "64MiB", "inflight_memory": "64MiB"}})")
            .limits.inflight_memory_bytes == 64 * prefixcache::kMiB);
  CHECK(ErrorOf(R"({"limits": {"request_timeout_ms": -1}})") ==
        "limits.request_timeout_ms: expected a non-negative integer, got -1");
  CHECK(Parse(R"({"limits": {"request_timeout_ms": 0}})").limits.request_timeout_ms == 0);
  CHECK(ErrorOf(R"({"memory": {"shards": 0}})") ==
        "memory.shards: expected an integer from 1 to 1024, got 0");
  CHECK(ErrorOf(R"({"memory": {"shards": 1025}})") ==
        "memory.shards: expected an integer from 1 to 1024, got 1025");
  CHECK(ErrorOf(R"({"node": {"io_threads": 5000}})") ==
        "node.io_threads: expected an integer from 0 to 1024, got 5000");
  CHECK(ErrorOf(R"({"node": {"send_lowat": "1GiB"}})") ==
        "node.send_lowat: expected a size from 0B to 64MiB, got \"1GiB\"");
  CHECK(Parse(R"({"node": {"send_lowat": 0}})").node.send_lowat_bytes == 0);
  CHECK(ErrorOf(R"({"cluster": {"virtual_nodes": 0}})") ==
        "cluster.virtual_nodes: expected an integer from 1 to 10000, got 0");
  CHECK(ErrorOf(R"({"cluster": {"replicas": 0}})") ==
        "cluster.replicas: expected an integer from 1 to 4294967295, got 0");
  CHECK(ErrorOf(R"({"client": {"timeout_ms": 4294967296}})") ==
        "client.timeout_ms: expected an integer from 1 to 4294967295, got 4294967296");
  CHECK(ErrorOf(R"({"client": {"connections_per_node": 0}})") ==
        "client.connections_per_node: expected an integer from 1 to 1024, got 0");
  CHECK(ErrorOf(R"({"client": {"backoff_initial_ms": 500, "backoff_max_ms": 100}})") ==
        "client.backoff_max_ms: expected an integer from 500 to 4294967295 (at least "
        "client.backoff_initial_ms), got 100");
  CHECK(ErrorOf(R"({"client": {"handoff_window_ms": -1}})") ==
        "client.handoff_window_ms: expected an integer from 0 to 4294967295, got -1");
  CHECK(ErrorOf(R"({"spill": {"retry_min_ms": 0}})") ==
        "spill.retry_min_ms: expected an integer from 1 to 4294967295, got 0");
  CHECK(ErrorOf(R"({"spill": {"retry_min_ms": 2000, "retry_max_ms": 1000}})") ==
        "spill.retry_max_ms: expected an integer from 2000 to 4294967295 (at least "
        "spill.retry_min_ms), got 1000");
  CHECK(ErrorOf(R"({"spill": {"path": ""}})") ==
        "spill.path: expected a folder path (spill.enabled is true), got \"\"");
  CHECK(Parse(R"({"spill": {"enabled": false, "path": ""}})").spill.path.empty());
}

TEST_CASE("Bad eviction policy and node ids are refused", "[unit]") {
  CHECK(ErrorOf(R"({"memory": {"eviction_policy": "lfu"}})") ==
        "memory.eviction_policy: expected \"lru\", \"prefix\" or \"tiered\", got \"lfu\"");
  CHECK(ErrorOf(R"({"memory": {"eviction_policy": "LRU"}})") ==
        "memory.eviction_policy: expected \"lru\", \"prefix\" or \"tiered\", got \"LRU\"");
  const std::string id_expected =
      "expected 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit";
  CHECK(ErrorOf(R"({"node": {"id": ""}})") == "node.id: " + id_expected + ", got \"\"");
  CHECK(ErrorOf(R"({"node": {"id": "../x"}})") == "node.id: " + id_expected + ", got \"../x\"");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "a b", "address": "h:1"}]}})") ==
        "cluster.nodes[0].id: " + id_expected + ", got \"a b\"");
  CHECK(Parse(R"({"node": {"id": "cache-1.eu_west"}})").node.id == "cache-1.eu_west");
}

TEST_CASE("Unknown keys are refused at every level", "[unit]") {
  CHECK(ErrorOf(R"({"memry": {}})") == "memry: unknown key (did you mean \"memory\"?)");
  CHECK(ErrorOf(R"({"acl": {}})") == "acl: unknown key");
  CHECK(ErrorOf(R"({"memory": {"capcity": "1GiB"}})") ==
        "memory.capcity: unknown key (did you mean \"capacity\"?)");
  CHECK(ErrorOf(R"({"memory": {"capacity_bytes": 1024}})") ==
        "memory.capacity_bytes: unknown key (did you mean \"capacity\"?)");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "h:1"},
                                          {"id": "n2", "address": "h:2", "addr": "x"}]}})") ==
        "cluster.nodes[1].addr: unknown key");
  // The unknown key is reported before a bad value after it in the same object.
  CHECK(ErrorOf(R"({"limits": {"max_connections": 0, "max_conections": 5}})") ==
        "limits.max_conections: unknown key (did you mean \"max_connections\"?)");
}

TEST_CASE("Addresses must be host:port", "[unit]") {
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "h:1"},
      {"id": "n2", "address": "h:2"}, {"id": "n3", "address": "abc"}]}})") ==
        "cluster.nodes[2].address: expected host:port, got \"abc\" (no \":port\")");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "127.0.0.1:0"}]}})") ==
        "cluster.nodes[0].address: expected host:port, got \"127.0.0.1:0\" (the port must "
        "be from 1 to 65535)");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "h:1",
                                           "metrics_address": "h"}]}})") ==
        "cluster.nodes[0].metrics_address: expected host:port, got \"h\" (no \":port\")");
  CHECK(ErrorOf(R"({"node": {"listen": "127.0.0.1:65536"}})") ==
        "node.listen: expected host:port, got \"127.0.0.1:65536\" (port is not a number from "
        "0 to 65535)");
  CHECK(ErrorOf(R"({"metrics": {"listen": "::1:9379"}})") ==
        "metrics.listen: expected host:port, got \"::1:9379\" (an IPv6 address needs "
        "brackets, like [::1]:7379)");
  CHECK(ErrorOf(R"({"node": {"listen": "300.1.1.1:80"}})") ==
        "node.listen: expected host:port, got \"300.1.1.1:80\" (\"300.1.1.1\" is neither a "
        "host name nor an IPv4 address)");
  CHECK(Parse(R"({"node": {"listen": "127.0.0.1:0"}})").node.listen == "127.0.0.1:0");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1"}]}})") ==
        "cluster.nodes[0].address: missing");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"address": "h:1"}]}})") ==
        "cluster.nodes[0].id: missing");
}

TEST_CASE("ParseHostPort and IsLoopbackHost", "[unit]") {
  using HostPort = std::pair<std::string, std::uint16_t>;
  CHECK(*cfg::ParseHostPort("127.0.0.1:7379") == HostPort{"127.0.0.1", 7379});
  CHECK(*cfg::ParseHostPort("localhost:0") == HostPort{"localhost", 0});
  CHECK(*cfg::ParseHostPort("cache-1.example.com:65535") == HostPort{"cache-1.example.com", 65535});
  CHECK(*cfg::ParseHostPort("[::1]:7379") == HostPort{"::1", 7379});
  CHECK(*cfg::ParseHostPort("[2001:db8::7]:80") == HostPort{"2001:db8::7", 80});
  CHECK(*cfg::ParseHostPort("0.0.0.0:1") == HostPort{"0.0.0.0", 1});

  CHECK(HostPortError("abc") == "no \":port\"");
  CHECK(HostPortError("") == "no \":port\"");
  CHECK(HostPortError(":7379") == "empty host");
  CHECK(HostPortError("host:") == "port is not a number from 0 to 65535");
  CHECK(HostPortError("host:x1") == "port is not a number from 0 to 65535");
  CHECK(HostPortError("host:-1") == "port is not a number from 0 to 65535");
  CHECK(HostPortError("host:123456") == "port is not a number from 0 to 65535");
  CHECK(HostPortError("::1:80") == "an IPv6 address needs brackets, like [::1]:7379");
  CHECK(HostPortError("[::1]") == "no \":port\"");
  CHECK(HostPortError("[::1:80") == "no \"]\" after an IPv6 address");
  CHECK(HostPortError("[zz::1]:80") == "\"zz::1\" is not an IPv6 address");
  CHECK(HostPortError("1.2.3:80") == "\"1.2.3\" is neither a host name nor an IPv4 address");
  CHECK(HostPortError("a..b:80") == "\"a..b\" is neither a host name nor an IPv4 address");
  CHECK(HostPortError("a b:80") == "\"a b\" is neither a host name nor an IPv4 address");

  CHECK(cfg::IsLoopbackHost("127.0.0.1"));
  CHECK(cfg::IsLoopbackHost("127.1.2.3"));
  CHECK(cfg::IsLoopbackHost("localhost"));
  CHECK(cfg::IsLoopbackHost("LocalHost"));
  CHECK(cfg::IsLoopbackHost("::1"));
  CHECK(cfg::IsLoopbackHost("[::1]"));
  CHECK(cfg::IsLoopbackHost("::ffff:127.0.0.1"));
  CHECK_FALSE(cfg::IsLoopbackHost("0.0.0.0"));
  CHECK_FALSE(cfg::IsLoopbackHost("10.0.0.1"));
  CHECK_FALSE(cfg::IsLoopbackHost("128.0.0.1"));
  CHECK_FALSE(cfg::IsLoopbackHost("127.0.0.256"));
  CHECK_FALSE(cfg::IsLoopbackHost("localhost.example.com"));
  CHECK_FALSE(cfg::IsLoopbackHost("::"));
  CHECK_FALSE(cfg::IsLoopbackHost(""));
}

TEST_CASE("Cluster node ids and addresses are unique and replicas fit the nodes", "[unit]") {
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "h:1"},
      {"id": "n2", "address": "h:2"}, {"id": "n1", "address": "h:3"}]}})") ==
        "cluster.nodes[2].id: duplicate node id \"n1\" (also cluster.nodes[0])");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "h:1"},
      {"id": "n2", "address": "h:1"}]}})") ==
        "cluster.nodes[1].address: duplicate address \"h:1\" (also cluster.nodes[0])");
  CHECK(ErrorOf(R"({"cluster": {"replicas": 3, "nodes": [{"id": "n1", "address": "h:1"},
      {"id": "n2", "address": "h:2"}]}})") ==
        "cluster.replicas: expected an integer from 1 to 2 (the number of cluster.nodes), "
        "got 3");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "h:1", "weight": 0}]}})") ==
        "cluster.nodes[0].weight: expected an integer from 1 to 1000, got 0");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "h:1", "weight": 1001}]}})") ==
        "cluster.nodes[0].weight: expected an integer from 1 to 1000, got 1001");
  // Without a node list any replica count is accepted (the ring is the caller's).
  CHECK(Parse(R"({"cluster": {"replicas": 3}})").cluster.replicas == 3);
}

TEST_CASE("TLS keys that need each other name the one missing", "[unit]") {
  CHECK(ErrorOf(R"({"tls": {"cert": "a.pem"}})") == "tls.key: missing (required with tls.cert)");
  CHECK(ErrorOf(R"({"tls": {"key": "a.key"}})") == "tls.cert: missing (required with tls.key)");
  CHECK(ErrorOf(R"({"tls": {"cert": "a.pem", "key": "a.key", "verify_clients": true}})") ==
        "tls.ca: missing (tls.verify_clients needs the authorities that sign client "
        "certificates)");
  CHECK(ErrorOf(R"({"tls": {"ca": "ca.pem", "verify_clients": true}})") ==
        "tls.cert: missing (required by tls.verify_clients)");
  CHECK(ErrorOf(R"({"tls": {"cert": 1}})") == "tls.cert: expected the path of a PEM file, got 1");
  CHECK(ErrorOf(R"({"client": {"tls_cert": "w.pem"}})") ==
        "client.tls_key: missing (required with client.tls_cert)");
  CHECK(ErrorOf(R"({"client": {"tls": "yes"}})") ==
        "client.tls: expected true or false, got \"yes\"");
  // A CA alone (clients not verified yet) and a client CA without TLS on are fine.
  CHECK(Parse(R"({"tls": {"ca": "ca.pem"}, "client": {"tls_ca": "ca.pem"}})").tls.ca == "ca.pem");
}

TEST_CASE("JSON syntax errors and duplicate keys", "[unit]") {
  CHECK(ErrorOf("{\n  \"memory\": {\n    \"capacity\": \"1GiB\",\n  }\n}") ==
        "invalid JSON at line 4, column 3: syntax error while parsing object key - unexpected "
        "'}'; expected string literal");
  CHECK(ErrorOf("").starts_with("invalid JSON at line 1, column 1: "));
  CHECK(ErrorOf("{} x").starts_with("invalid JSON at line 1, column 4: "));
  CHECK(ErrorOf(R"({"node": {"id": "a", "id": "b"}})") == "node.id: duplicate key");
  CHECK(ErrorOf(R"({"memory": {}, "memory": {}})") == "memory: duplicate key");
  CHECK(ErrorOf(R"({"cluster": {"nodes": [{"id": "n1", "address": "h:1"},
      {"id": "n2", "address": "h:2", "weight": 1, "weight": 2}]}})") ==
        "cluster.nodes[1].weight: duplicate key");
  // Comments are allowed.
  CHECK(Parse("{ // the node\n \"node\": {/* mine */ \"id\": \"c\"}}").node.id == "c");
}

TEST_CASE("This node's entry in cluster.nodes gives listen defaults", "[unit]") {
  const std::string nodes = R"("cluster": {"nodes": [
      {"id": "n1", "address": "10.0.0.1:7379", "metrics_address": "10.0.0.1:9379"},
      {"id": "n2", "address": "10.0.0.2:7379"}]})";
  cfg::Config c = Parse("{\"node\": {\"id\": \"n1\"}, " + nodes + "}");
  CHECK(c.node.listen == "10.0.0.1:7379");
  CHECK(c.metrics.listen == "10.0.0.1:9379");

  c = Parse("{\"node\": {\"id\": \"n2\"}, " + nodes + "}");
  CHECK(c.node.listen == "10.0.0.2:7379");
  CHECK(c.metrics.listen == "127.0.0.1:9379");  // n2 has no metrics_address

  c = Parse(R"({"node": {"id": "n1", "listen": "0.0.0.0:7000"},
               "metrics": {"listen": "0.0.0.0:9000"}, )" +
            nodes + "}");
  CHECK(c.node.listen == "0.0.0.0:7000");
  CHECK(c.metrics.listen == "0.0.0.0:9000");

  c = Parse("{" + nodes + "}");  // node.id "node-1" is not a member: defaults stay
  CHECK(c.node.listen == "127.0.0.1:7379");
}

TEST_CASE("{node_id} in spill.path becomes node.id", "[unit]") {
  CHECK(Parse(R"({"node": {"id": "n7"}})").spill.path == "./prefixcache-spill/n7");
  cfg::Config c = Parse(R"({"node": {"id": "x"}, "spill": {"path": "/d/{node_id}/{node_id}"}})");
  CHECK(c.spill.path == "/d/x/x");
  CHECK(c.spill.path_template == "/d/{node_id}/{node_id}");
  c = Parse(R"({"spill": {"path": "/plain"}})");
  CHECK(c.spill.path == "/plain");
  CHECK(c.spill.path_template.empty());
  CHECK(cfg::ExpandNodeId("{node_id}", "n") == "n");
  CHECK(cfg::ExpandNodeId("{node_id", "n") == "{node_id");
  CHECK(cfg::ExpandNodeId("", "n").empty());
}

TEST_CASE("SelectNode makes the config describe one member", "[unit]") {
  cfg::Config c = Parse(R"({"node": {"id": "n1"}, "cluster": {"nodes": [
      {"id": "n1", "address": "10.0.0.1:7379", "metrics_address": "10.0.0.1:9379"},
      {"id": "n2", "address": "10.0.0.2:7380", "metrics_address": "10.0.0.2:9380"},
      {"id": "n3", "address": "10.0.0.3:7381"}]}})");
  REQUIRE(c.spill.path == "./prefixcache-spill/n1");

  REQUIRE(cfg::SelectNode(c, "n2").ok());
  CHECK(c.node.id == "n2");
  CHECK(c.node.listen == "10.0.0.2:7380");
  CHECK(c.metrics.listen == "10.0.0.2:9380");
  CHECK(c.spill.path == "./prefixcache-spill/n2");
  CHECK(Parse(cfg::ToJson(c)) == c);

  REQUIRE(cfg::SelectNode(c, "n3").ok());
  CHECK(c.node.listen == "10.0.0.3:7381");
  CHECK(c.metrics.listen == "10.0.0.2:9380");  // n3 has no metrics_address: unchanged
  CHECK(c.spill.path == "./prefixcache-spill/n3");

  const cfg::Config before = c;
  prefixcache::Status missing = cfg::SelectNode(c, "n9");
  CHECK(missing.code() == StatusCode::kInvalidArgument);
  CHECK(missing.message() == "node \"n9\" is not in cluster.nodes (ids: n1, n2, n3)");
  CHECK(c == before);

  cfg::Config alone = cfg::DefaultConfig();
  CHECK(cfg::SelectNode(alone, "node-1").message() ==
        "node \"node-1\" is not in cluster.nodes (cluster.nodes is empty)");

  // A spill.path the caller set after parsing is kept.
  c.spill.path = "/override";
  REQUIRE(cfg::SelectNode(c, "n1").ok());
  CHECK(c.spill.path == "/override");
  CHECK(c.spill.path_template.empty());

  // A config built in code with the placeholder still in spill.path gets it replaced.
  cfg::Config code;
  code.cluster.nodes = {{"a", "127.0.0.1:1", 1, ""}};
  REQUIRE(cfg::SelectNode(code, "a").ok());
  CHECK(code.spill.path == "./prefixcache-spill/a");
  CHECK(code.node.listen == "127.0.0.1:1");
}

TEST_CASE("LoadConfig reads a file and names the path on failure", "[unit]") {
  prefixcache::testing::TempDir dir;
  const std::string path = dir.str() + "/c.json";
  {
    std::ofstream out(path);
    out << R"({"memory": {"capacity": "2GiB"}})";
  }
  prefixcache::Result<cfg::Config> loaded = cfg::LoadConfig(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->memory.capacity_bytes == 2 * prefixcache::kGiB);

  prefixcache::Result<cfg::Config> missing = cfg::LoadConfig(dir.str() + "/nope.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kIoError);
  CHECK(missing.status().message() ==
        "cannot read \"" + dir.str() + "/nope.json\": No such file or directory");

  const std::string long_path = dir.str() + "/" + std::string(100, 'd') + "/c.json";
  CHECK(cfg::LoadConfig(long_path).status().message() ==
        "cannot read \"" + long_path + "\": No such file or directory");

  prefixcache::Result<cfg::Config> folder = cfg::LoadConfig(dir.str());
  REQUIRE_FALSE(folder.ok());
  CHECK(folder.status().message() == "cannot read \"" + dir.str() + "\": Is a directory");

  {
    std::ofstream out(path);
    out << R"({"memory": {"shards": 0}})";
  }
  CHECK(cfg::LoadConfig(path).status().message() ==
        "memory.shards: expected an integer from 1 to 1024, got 0");
}

TEST_CASE("The example configs parse", "[unit]") {
  const std::string examples = std::string(PREFIXCACHE_SOURCE_DIR) + "/config/examples/";
  prefixcache::Result<cfg::Config> single = cfg::LoadConfig(examples + "single.json");
  INFO(single.status().ToString());
  REQUIRE(single.ok());
  CHECK(single->node.listen == "127.0.0.1:7379");
  CHECK(single->cluster.nodes.size() == 1);
  CHECK(single->spill.path == "./prefixcache-spill/node-1");
  CHECK(Parse(cfg::ToJson(*single)) == *single);

  prefixcache::Result<cfg::Config> cluster = cfg::LoadConfig(examples + "cluster-3.json");
  INFO(cluster.status().ToString());
  REQUIRE(cluster.ok());
  REQUIRE(cluster->cluster.nodes.size() == 3);
  CHECK(cluster->cluster.replicas == 1);
  CHECK(cluster->node.id == "n1");
  CHECK(cluster->node.listen == "127.0.0.1:7379");
  CHECK(cluster->metrics.listen == "127.0.0.1:9379");
  for (int i = 0; i < 3; ++i) {
    const std::string id = "n" + std::to_string(i + 1);
    cfg::Config member = *cluster;
    REQUIRE(cfg::SelectNode(member, id).ok());
    CHECK(member.node.listen == "127.0.0.1:" + std::to_string(7379 + i));
    CHECK(member.metrics.listen == "127.0.0.1:" + std::to_string(9379 + i));
    CHECK(member.spill.path == "./prefixcache-spill/" + id);
  }
}

TEST_CASE("CheckConfig reports every error with its JSON path, the first being ParseConfig's",
          "[unit]") {
  const std::string text = R"({
    "node": {"id": "bad id", "io_threads": -1},
    "memory": {"capcity": "1GiB", "eviction_policy": "fifo"},
    "spill": {"enabled": "yes"},
    "limits": {"max_request": "2GiB", "inflight_memory": "1GiB"},
    "cluster": {"nodes": [{"id": "a", "address": "nohost"}, {"address": "127.0.0.1:2"},
                          {"id": "c", "address": "127.0.0.1:3"}], "replicas": 9},
    "client": {"timeout_ms": 5, "timeout_ms": 0}
  })";
  const std::vector<prefixcache::Status> errors = cfg::CheckConfig(text);
  std::vector<std::string> messages;
  for (const auto& error : errors) {
    CHECK(error.code() == StatusCode::kInvalidArgument);
    messages.push_back(error.message());
  }
  INFO(Catch::Detail::stringify(messages));
  REQUIRE(messages.size() == 10);
  CHECK(messages[0] == "client.timeout_ms: duplicate key");
  CHECK(messages[0] == ErrorOf(text));
  CHECK(messages[1].starts_with("node.id: expected 1 to 64 letters"));
  CHECK(messages[2].starts_with("node.io_threads: expected an integer from 0 to 1024, got -1"));
  CHECK(messages[3] == "memory.capcity: unknown key (did you mean \"capacity\"?)");
  CHECK(messages[4].starts_with("memory.eviction_policy: expected "));
  CHECK(messages[5] == "spill.enabled: expected true or false, got \"yes\"");
  CHECK(messages[6].starts_with("limits.inflight_memory: expected a size of at least"));
  CHECK(messages[7].starts_with("cluster.nodes[0].address: expected host:port"));
  CHECK(messages[8] == "cluster.nodes[1].id: missing");
  // replicas against the node count is not judged while a node entry is bad.
  CHECK(messages[9] == "client.timeout_ms: expected an integer from 1 to 4294967295, got 0");

  CHECK(cfg::CheckConfig("{}").empty());
  CHECK(cfg::CheckConfig(R"({"cluster": {"nodes": [{"id": "a", "address": "127.0.0.1:1"}],
                                         "replicas": 2}})")
            .size() == 1);
  const auto syntax = cfg::CheckConfig("{\"memory\": ");
  REQUIRE(syntax.size() == 1);
  CHECK(syntax[0].message().starts_with("invalid JSON"));
  const auto missing = cfg::CheckConfigFile("/nonexistent/prefixcache.json");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].code() == StatusCode::kIoError);
}
