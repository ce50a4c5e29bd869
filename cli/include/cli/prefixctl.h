// prefixctl's commands, each a function that writes its report to `out` (errors to `err`,
// one line each, starting "prefixctl: ") and returns the process exit status:
//   0  success;
//   1  a problem found: a node down or not answering, a ring that differs, a miss (prefix:
//      a block not cached), a corrupt value, a write no node stored, a flush not confirmed;
//   2  bad usage or a bad config (unreadable, invalid, a malformed key or node id).
// With GlobalOptions::json the report is one JSON document on one line (`stats --watch`:
// one per sample), the same facts as the text, for scripts and jq; errors stay on `err`.
// Built on the client library, the config library and the ring. Each call opens its own
// Client; thread-compatible.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace prefixcache::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string config_path;       // the cluster's JSON config
  std::uint32_t timeout_ms = 0;  // 0: the config's client.timeout_ms
  bool json = false;             // print JSON instead of text
  // --tls, --tls-ca, ...: override the config's client.tls* (empty / false: the config's).
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
};

// The ring computed locally from the config: its JSON line, "fingerprint <16 hex>", then per
// node "share <id> <address> weight <w> <percent>%" (its exact share of the key space).
int Ring(const GlobalOptions& options, std::ostream& out, std::ostream& err);

// Where a key lives: its position, its replica set (owner first) with each node up or down
// (a PING), and when every replica is down the stand-in, the first live node clockwise past
// them (cluster::Ring::StandIn, where clients send the key meanwhile). 1 when a node of the
// replica set is down.
int RingLocate(const GlobalOptions& options, const std::string& key_hex, std::ostream& out,
               std::ostream& err);

// Per node: up/down with the PING round trip (or why it did not answer), uptime, version,
// memory and spill bytes against capacity, entries, hit ratio per tier and whether its ring
// (BLOCK.RING) equals the local one. 1 when a node is down or its ring differs.
int Status(const GlobalOptions& options, std::ostream& out, std::ostream& err);

struct WatchOptions {
  std::uint32_t interval_seconds = 0;  // 0: one sample
  std::uint32_t samples = 0;           // with an interval: stop after this many (0: never)
};

// BLOCK.STATS of every node and their totals; when watching, a sample every interval with
// the per-second rates of the counters since the previous one. 1 when a node did not answer
// (in the last sample).
int Stats(const GlobalOptions& options, const WatchOptions& watch, std::ostream& out,
          std::ostream& err);

// One block: its nodes, whether it is a hit (checksum verified), its size and first
// bytes; with `out_file` the payload is written there. A miss or a corrupt value says
// which (asking each replica directly) and returns 1.
int Get(const GlobalOptions& options, const std::string& key_hex, const std::string& out_file,
        std::ostream& out, std::ostream& err);

// Stores one block (the client adds the checksum trailer) read from `value_file` ("-": from
// `in`) at chain depth `depth`. 1 when no replica stored it.
int Put(const GlobalOptions& options, const std::string& key_hex, const std::string& value_file,
        std::uint32_t depth, std::istream& in, std::ostream& out, std::ostream& err);

// Removes the blocks from every replica: how many copies went, and 1 when a replica did not
// answer (copies may remain).
int Del(const GlobalOptions& options, const std::vector<std::string>& keys_hex, std::ostream& out,
        std::ostream& err);

// Per key "<hex> 1|0 <owner>", then the leading cached run of the keys as given.
int Exists(const GlobalOptions& options, const std::vector<std::string>& keys_hex,
           std::ostream& out, std::ostream& err);

// FLUSHALL on every node, or only on `node_id` when not empty; then, for one node, the copies
// of its blocks that other nodes took while it was down (stand-ins: a key whose replicas
// include `node_id` but not the node holding it) are deleted there too, so that no miss on
// the node is served from them afterwards (ClientOptions::handoff_window_ms). Unless `yes`,
// first asks on `err` and reads the answer from `in`: only "y" or "yes" goes on; anything
// else (or end of input) flushes nothing and returns 1. 1 as well when a node failed to
// flush or could not be cleared of its copies.
int Flush(const GlobalOptions& options, const std::string& node_id, bool yes, std::istream& in,
          std::ostream& out, std::ostream& err);

// The block keys of the tokens in `tokens_file` (decimal token ids separated by whitespace)
// hashed with the client's Hasher for the namespace in `namespace_file` (a JSON object of
// Namespace's fields: model_id, model_revision, dtype, kv_layout and block_size_tokens
// required, lora_adapter and tenant_salt empty when left out), and which of them the
// cluster holds: per full block its index, key, owner and cached yes/no, then the leading
// cached run in blocks and tokens and the nodes its blocks are on. 1 when a block is not
// cached (the prefix is not all cached); 2 for an unreadable file, a token that is not one,
// or a namespace with an unknown field, a missing one or a bad type (every error printed,
// each naming its field).
int Prefix(const GlobalOptions& options, const std::string& tokens_file,
           const std::string& namespace_file, std::ostream& out, std::ostream& err);

// Parses and validates a config file; prints what it describes, or every error of the file
// (one line each on `err`, each naming its JSON path; with json also listed on `out`).
// 0 when valid, 2 otherwise.
int ConfigCheck(const GlobalOptions& options, const std::string& path, std::ostream& out,
                std::ostream& err);

}  // namespace prefixcache::cli
