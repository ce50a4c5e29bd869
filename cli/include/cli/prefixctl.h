// prefixctl's commands, each a function that writes its report to `out` (errors to `err`)
// and returns the process exit status: 0 success, 1 a node or block problem (unreachable,
// miss, corrupt, ring mismatch), 2 bad usage or a bad config. Built on the client library
// and the config library only. Each call opens its own Client; thread-compatible.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace prefixcache::cli {

struct GlobalOptions {
  std::string config_path;       // the cluster's JSON config
  std::uint32_t timeout_ms = 0;  // 0: the config's client.timeout_ms
};

// The ring computed locally from the config: its JSON line, then "fingerprint <16 hex>".
int Ring(const GlobalOptions& options, std::ostream& out, std::ostream& err);

// Per node: PING round trip, block count (BLOCK.STATS) and whether the node's own ring
// (BLOCK.RING) equals the local one. 1 when a node is down or its ring differs.
int Status(const GlobalOptions& options, std::ostream& out, std::ostream& err);

// Per node: "<id> <BLOCK.STATS JSON>" (one line each, for jq), or "<id> error: ...".
int Stats(const GlobalOptions& options, std::ostream& out, std::ostream& err);

// One block: its nodes, whether it is a hit (checksum verified), its size and first
// bytes; with `out_file` the payload is written there. A miss or a corrupt value says
// which (asking the owner directly) and returns 1.
int Get(const GlobalOptions& options, const std::string& key_hex, const std::string& out_file,
        std::ostream& out, std::ostream& err);

// Per key "<hex> 1|0 <owner>", then the leading cached run of the keys as given.
int Exists(const GlobalOptions& options, const std::vector<std::string>& keys_hex,
           std::ostream& out, std::ostream& err);

// Parses and validates a config file; prints what it describes or the error (naming the
// JSON path). 0 when valid, 2 otherwise.
int ConfigCheck(const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace prefixcache::cli
