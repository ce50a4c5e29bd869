// StoreCommandHandler: the Redis subset and the BLOCK.* commands over a BlockStore. Any I/O
// thread may call it at once; memory hits are served inline, disk reads and other blocking
// store calls run on its own worker pool and finish through the connection's Completion.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/ring.h"
#include "daemon/command_handler.h"
#include "daemon/command_table.h"
#include "daemon/server_stats.h"
#include "daemon/sharded_counter.h"
#include "prefixcache/defaults.h"

namespace prefixcache::storage {
class BlockStore;
}  // namespace prefixcache::storage

namespace prefixcache::daemon {

struct HandlerOptions {
  // AUTH password of the "default" user; empty = no authentication.
  std::string password;
  // This node's id (BLOCK.STATS, INFO).
  std::string node_id = defaults::kNodeId;
  // Threads running disk reads and other blocking store calls.
  std::size_t worker_threads = 2;
  // Settings CONFIG GET reports, as (name, value) pairs with lowercase names.
  std::vector<std::pair<std::string, std::string>> config_values;
  // Path of the config file, for INFO (empty: built-in defaults).
  std::string config_file;
  // limits.max_connections, for INFO.
  std::uint64_t max_clients = 0;
};

// Counters of the command layer (sharded relaxed atomics; read by INFO and /metrics).
struct CommandStats {
  using Counter = ShardedCounter;
  // By CommandId, as Redis's INFO commandstats counts them: `calls` ran (a command inside
  // EXEC counts when EXEC runs it); `rejected_calls` were refused before running (arity,
  // authentication); `failed_calls` ran and replied an error from the command itself (not
  // counted for errors a deferred part writes from the worker pool); `nanoseconds` running,
  // on the connection's thread and, for a deferred part, on the worker.
  std::array<Counter, kCommandCount> calls{};
  std::array<Counter, kCommandCount> rejected_calls{};
  std::array<Counter, kCommandCount> failed_calls{};
  std::array<Counter, kCommandCount> nanoseconds{};
  Counter unknown_commands;
  Counter error_replies;  // to known commands: arity, syntax, auth, argument, store errors
  Counter auth_failures;
  Counter keyspace_hits;  // keys found by GET/MGET/BLOCK.MGET
  Counter keyspace_misses;
  Counter deferred_commands;  // commands sent to the worker pool
  Counter misrouted_keys;     // keys of requests this node does not own (cluster only)
};

// The ring this node checks ownership against; `self` is its index in ring->nodes(), or
// nullopt when this node is not a member (then every key counts as misrouted).
struct RingView {
  std::shared_ptr<const cluster::Ring> ring;
  std::optional<std::size_t> self;
  // True when the ring came from a configured cluster (ownership is then checked).
  bool clustered = false;
};

struct CommandEnv;

class StoreCommandHandler final : public CommandHandler {
 public:
  // `store` and `server_stats` must outlive the handler.
  StoreCommandHandler(storage::BlockStore& store, HandlerOptions options,
                      const ServerStats& server_stats);
  ~StoreCommandHandler() override;

  StoreCommandHandler(const StoreCommandHandler&) = delete;
  StoreCommandHandler& operator=(const StoreCommandHandler&) = delete;

  // Replaces the ring (at start-up, or when membership changes); requests in flight finish
  // on the ring they started with. Any thread.
  void SetRing(RingView view);
  std::shared_ptr<const RingView> ring() const;

  // Waits for the worker pool to finish its queued work and stops it; deferred commands
  // arriving later are answered with an error. Call before the I/O threads stop.
  void Shutdown();

  const CommandStats& stats() const;

  void OnConnect(Session& session) override;
  void OnRejected(Session& session) override;
  void Handle(protocol::Request& request, CommandContext& ctx) override;

 private:
  // The commands themselves are free functions over the environment (command_env.h).
  std::unique_ptr<CommandEnv> env_;
};

}  // namespace prefixcache::daemon
