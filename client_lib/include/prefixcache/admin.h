// Tools' calls on a Client (prefixctl, dashboards, tests): raw commands to one node and
// views of the ring the client routes on. Not needed by an inference worker. Thread-safe
// like the Client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/client.h"
#include "prefixcache/client_options.h"
#include "prefixcache/status.h"

namespace prefixcache::admin {

// Sends one command to the node named `node_id` (bypassing down-marking) and renders the
// reply: a bulk string's raw bytes, a status line's text, an integer in decimal, an array
// as redis-cli prints it. Returns NotFound for a nil reply or an unknown node, Rejected
// with the server's message for an error reply, InvalidArgument for an empty command, and
// Unavailable / Timeout when the node cannot be reached within ClientOptions::timeout_ms.
Result<std::string> Command(Client& client, std::string_view node_id,
                            std::span<const std::string_view> args);

// One page of SCAN on the node named `node_id`: its keys, raw bytes (a block stored without
// a name is its 16-byte key), and the cursor to pass next, "0" once the walk is done.
// `count` is SCAN's COUNT hint. Errors as Command's.
struct ScanPage {
  std::string cursor;
  std::vector<std::string> keys;
};
Result<ScanPage> Scan(Client& client, std::string_view node_id, std::string_view cursor,
                      std::size_t count);

// The client's current ring as cluster::Ring::ToJson() prints it, and its fingerprint.
std::string RingJson(const Client& client);
std::uint64_t RingFingerprint(const Client& client);

// The current members, sorted by id.
std::vector<NodeAddress> Nodes(const Client& client);

// Ids of the nodes that hold `key` on the current ring, owner first (replicas of them).
std::vector<std::string> NodesFor(const Client& client, const BlockKey& key);

}  // namespace prefixcache::admin
