// ClientInternals: hooks into a Client for this repository's benchmarks and tests; not an
// installed header and not a stable API. Call them right after Client::Open, before the
// client is used from any thread.
#pragma once

#include "prefixcache/client.h"

namespace prefixcache::client {

struct ClientInternals {
  // Reads with plain MGET and writes with plain MSET key value... (no depth), so the same
  // transport can fetch the same stored values from a redis-server. Match is not
  // supported in this mode (Redis has no per-key batched EXISTS): every key is a miss.
  static void UseRedisCommands(Client& client);
};

}  // namespace prefixcache::client
