// What prefixctl's commands share: opening the Client, asking a node for its BLOCK.STATS
// as JSON, reading numbers out of it without exceptions, and formatting. Private to cli/;
// thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/prefixctl.h"
#include "prefixcache/block_key.h"
#include "prefixcache/client.h"
#include "prefixcache/status.h"

namespace prefixcache::cli {

using Json = nlohmann::ordered_json;

// Writes "prefixctl: <message>" on one line to `err` and returns `code`.
int Fail(std::ostream& err, int code, const std::string& message);

// The client for the config (each node asked once per call: no backoff, one connection),
// or nullptr after printing why.
std::unique_ptr<Client> OpenClient(const GlobalOptions& options, std::ostream& err);

// The key, or nullopt after printing that `hex` is not one.
std::optional<BlockKey> ParseKey(const std::string& hex, std::ostream& err);

std::string Hex64(std::uint64_t v);

// One command's reply from `node_id` parsed as JSON (BLOCK.STATS, BLOCK.RING); Corruption
// when the reply is not JSON.
Result<Json> JsonCommand(Client& client, std::string_view node_id, std::string_view command);

// The unsigned number at json[a] (or json[a][b]); 0 when absent or not an unsigned number.
std::uint64_t U64(const Json& json, std::string_view a, std::string_view b = {});

// The size in the largest binary unit under 1024 of it, one decimal: "1.5GiB", "730B".
std::string Size(std::uint64_t bytes);

// hits / (hits + misses) as "97.3%", or "-" without lookups; the JSON form is the ratio or
// null.
std::string Ratio(std::uint64_t hits, std::uint64_t misses);
Json RatioJson(std::uint64_t hits, std::uint64_t misses);

// Prints `json` on one line (invalid UTF-8 replaced) and a newline.
void PrintJson(std::ostream& out, const Json& json);

}  // namespace prefixcache::cli
