// prefixctl: the admin tool of a prefixcache cluster. Parses the command line (CLI11) and
// runs one command of cli/prefixctl.h.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/prefixctl.h"

int main(int argc, char** argv) {
  using namespace prefixcache::cli;
  CLI::App app{"prefixctl: inspect and operate a prefixcache cluster described by its JSON config.",
               "prefixctl"};
  app.require_subcommand(1);
  // Options of the app may also follow the subcommand: "prefixctl status --json".
  app.fallthrough();
  GlobalOptions global;
  app.add_option("-c,--config", global.config_path, "The cluster's JSON config file");
  app.add_option("--timeout-ms", global.timeout_ms,
                 "Per-request timeout (default: the config's client.timeout_ms)");
  app.add_flag("--tls", global.tls, "Connect over TLS (the config's client.tls)");
  app.add_option("--tls-ca", global.tls_ca,
                 "PEM file of the authorities of the nodes' certificates (client.tls_ca; "
                 "default: the system's)");
  app.add_option("--tls-cert", global.tls_cert,
                 "PEM file of this client's certificate, for nodes that verify clients "
                 "(client.tls_cert)");
  app.add_option("--tls-key", global.tls_key, "PEM file of its private key (client.tls_key)");
  app.add_option("--tls-server-name", global.tls_server_name,
                 "The name the nodes' certificates must carry (client.tls_server_name; "
                 "default: each node's host)");
  app.add_flag("--json", global.json,
               "Print one JSON document per report on stdout (errors stay on stderr)");
  app.footer(
      "Exit status: 0 ok; 1 a problem found (a node down or disagreeing on the ring, a miss, a "
      "corrupt value, a write not stored, a flush not confirmed, a prefix not all cached); 2 bad "
      "usage or a bad config.");

  auto* ring = app.add_subcommand("ring",
                                  "The ring computed from the config, its fingerprint and each "
                                  "node's share of the key space");
  std::string locate_key;
  auto* locate = ring->add_subcommand(
      "locate",
      "The nodes of a key, whether they are up, and the stand-in while all its replicas are down");
  locate->add_option("key", locate_key, "Block key, 32 hex digits")->required();

  auto* status = app.add_subcommand(
      "status",
      "Per node: up/down, uptime, version, memory and spill use, blocks, hit ratio per tier, "
      "ring agreement");
  WatchOptions watch;
  auto* stats = app.add_subcommand("stats", "Cluster totals and every node's BLOCK.STATS");
  stats
      ->add_option("--watch", watch.interval_seconds,
                   "Sample every SECONDS and show per-second rates since the previous sample")
      ->check(CLI::PositiveNumber);
  stats->add_option("--count", watch.samples, "With --watch: stop after this many samples");

  std::string key_hex, out_file, value_file;
  auto* get = app.add_subcommand("get", "Fetch one block (checksum verified) and describe it");
  get->add_option("key", key_hex, "Block key, 32 hex digits")->required();
  get->add_option("-o,--out", out_file, "Write the payload to this file");

  std::uint32_t depth = 0;
  auto* put = app.add_subcommand("put", "Store one block read from a file (or stdin)");
  put->add_option("key", key_hex, "Block key, 32 hex digits")->required();
  put->add_option("-f,--file", value_file, "The value's bytes; - reads stdin")->required();
  put->add_option("--depth", depth, "The block's index in its chain (eviction hint)")
      ->capture_default_str();

  std::vector<std::string> keys_hex;
  auto* del = app.add_subcommand("del", "Remove blocks from every replica");
  del->add_option("keys", keys_hex, "Block keys, 32 hex digits each")->required();
  auto* exists = app.add_subcommand("exists",
                                    "Which of these keys are cached, and the "
                                    "leading cached run");
  exists->add_option("keys", keys_hex, "Block keys, 32 hex digits each")->required();

  std::string flush_node;
  bool yes = false;
  auto* flush = app.add_subcommand("flush", "Remove every block (FLUSHALL), after asking");
  flush->add_option("--node", flush_node,
                    "Only this node (its id in the config), and the copies of its blocks that "
                    "stand-ins took while it was down");
  flush->add_flag("-y,--yes", yes, "Do not ask for confirmation");

  std::string tokens_file, namespace_file;
  auto* prefix = app.add_subcommand(
      "prefix",
      "Hash a token file for a namespace: how many leading blocks are cached, on which nodes");
  prefix->add_option("--tokens", tokens_file, "Decimal token ids separated by whitespace")
      ->required();
  prefix
      ->add_option("--namespace", namespace_file,
                   "JSON object of the Namespace: model_id, model_revision, dtype, kv_layout, "
                   "block_size_tokens[, lora_adapter, tenant_salt]")
      ->required();

  std::string check_path;
  auto* config_check = app.add_subcommand("config-check", "Validate a config file");
  config_check->add_option("file", check_path, "The JSON config file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (*locate) return RingLocate(global, locate_key, std::cout, std::cerr);
  if (*ring) return Ring(global, std::cout, std::cerr);
  if (*status) return Status(global, std::cout, std::cerr);
  if (*stats) return Stats(global, watch, std::cout, std::cerr);
  if (*get) return Get(global, key_hex, out_file, std::cout, std::cerr);
  if (*put) return Put(global, key_hex, value_file, depth, std::cin, std::cout, std::cerr);
  if (*del) return Del(global, keys_hex, std::cout, std::cerr);
  if (*exists) return Exists(global, keys_hex, std::cout, std::cerr);
  if (*flush) return Flush(global, flush_node, yes, std::cin, std::cout, std::cerr);
  if (*prefix) return Prefix(global, tokens_file, namespace_file, std::cout, std::cerr);
  if (*config_check) return ConfigCheck(global, check_path, std::cout, std::cerr);
  return kExitUsage;
}
