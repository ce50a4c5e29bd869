// ClientInternals: access to a Client's machinery for the library's own files (admin.cc,
// the reads) and hooks for this repository's benchmarks and tests; not an installed header
// and not a stable API. Call the hooks right after Client::Open, before the client is used
// from any thread.
#pragma once

#include <memory>

#include "prefixcache/client.h"
#include "prefixcache/pending_read.h"

namespace prefixcache::client {

class ClientImpl;
class ReadCall;

struct ClientInternals {
  // Reads with plain MGET and writes with plain MSET key value... (no depth), and skips
  // the ring check, so the same transport can fetch the same stored values from a
  // redis-server. Match is not supported in this mode (Redis has no per-key batched
  // EXISTS): every key is a miss.
  static void UseRedisCommands(Client& client);

  static ClientImpl& Impl(Client& client) { return *client.impl_; }
  static const ClientImpl& Impl(const Client& client) { return *client.impl_; }
  static std::unique_ptr<PendingRead> Pending(std::shared_ptr<ReadCall> call) {
    return std::unique_ptr<PendingRead>(new PendingRead(std::move(call)));
  }
};

}  // namespace prefixcache::client
