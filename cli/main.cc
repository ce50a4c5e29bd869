// prefixctl: the admin tool of a prefixcache cluster. Parses the command line (CLI11) and
// runs one command of cli/prefixctl.h.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/prefixctl.h"

int main(int argc, char** argv) {
  using namespace prefixcache::cli;
  CLI::App app{"prefixctl: inspect a prefixcache cluster described by its JSON config.",
               "prefixctl"};
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_option("-c,--config", global.config_path, "The cluster's JSON config file");
  app.add_option("--timeout-ms", global.timeout_ms,
                 "Per-request timeout (default: the config's client.timeout_ms)");

  auto* ring = app.add_subcommand("ring",
                                  "Print the ring computed from the config, and its "
                                  "fingerprint");
  auto* status = app.add_subcommand(
      "status", "PING every node, show its block count and whether its ring matches");
  auto* stats = app.add_subcommand("stats", "Print every node's BLOCK.STATS JSON");
  std::string key_hex, out_file;
  auto* get = app.add_subcommand("get", "Fetch one block (checksum verified) and describe it");
  get->add_option("key", key_hex, "Block key, 32 hex digits")->required();
  get->add_option("-o,--out", out_file, "Write the payload to this file");
  std::vector<std::string> keys_hex;
  auto* exists = app.add_subcommand("exists",
                                    "Which of these keys are cached, and the "
                                    "leading cached run");
  exists->add_option("keys", keys_hex, "Block keys, 32 hex digits each")->required();
  std::string check_path;
  auto* config_check = app.add_subcommand("config-check", "Validate a config file");
  config_check->add_option("file", check_path, "The JSON config file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (*ring) return Ring(global, std::cout, std::cerr);
  if (*status) return Status(global, std::cout, std::cerr);
  if (*stats) return Stats(global, std::cout, std::cerr);
  if (*get) return Get(global, key_hex, out_file, std::cout, std::cerr);
  if (*exists) return Exists(global, keys_hex, std::cout, std::cerr);
  if (*config_check) return ConfigCheck(check_path, std::cout, std::cerr);
  return 2;
}
