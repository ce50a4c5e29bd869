// StoreCommandHandler: the Redis subset and the BLOCK.* commands over a BlockStore. Any I/O
// thread may call it at once; memory hits are served inline, disk reads and other blocking
// store calls run on its own worker pool and finish through the connection's Completion.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
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
#include "prefixcache/block_key.h"
#include "prefixcache/defaults.h"
#include "storage/block_store.h"

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
  std::array<Counter, kCommandCount> calls{};  // by CommandId
  Counter unknown_commands;
  Counter error_replies;  // arity, syntax, auth and argument errors
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
  std::shared_ptr<const RingView> ring() const { return ring_.load(); }

  // Waits for the worker pool to finish its queued work and stops it; deferred commands
  // arriving later are answered with an error. Call before the I/O threads stop.
  void Shutdown();

  const CommandStats& stats() const { return stats_; }

  void OnConnect(Session& session) override;
  void Handle(protocol::Request& request, CommandContext& ctx) override;

 private:
  using Args = std::vector<Buffer>;
  // Runs `work` on the worker pool; the ReplyWriter it returns finishes the command.
  void RunOnWorker(CommandContext& ctx, std::function<ReplyWriter()> work);
  void Dispatch(const CommandSpec& spec, Args& args, CommandContext& ctx);
  void ErrorReply(CommandContext& ctx, std::string_view message);

  // commands_server.cc: connection and server commands.
  void Ping(Args& args, CommandContext& ctx);
  void Auth(Args& args, CommandContext& ctx);
  void Hello(Args& args, CommandContext& ctx);
  void Select(Args& args, CommandContext& ctx);
  void Info(Args& args, CommandContext& ctx);
  void Command(Args& args, CommandContext& ctx);
  void Client(Args& args, CommandContext& ctx);
  void Config(Args& args, CommandContext& ctx);
  bool PasswordMatches(std::string_view password) const;

  // commands_keys.cc: the Redis key commands.
  void Get(Args& args, CommandContext& ctx);
  void Set(Args& args, CommandContext& ctx);
  void Del(Args& args, CommandContext& ctx);
  void Exists(Args& args, CommandContext& ctx);
  void Mget(Args& args, CommandContext& ctx);
  void Mset(Args& args, CommandContext& ctx);
  void Flush(Args& args, CommandContext& ctx);

  // commands_block.cc: BLOCK.*.
  void BlockExists(Args& args, CommandContext& ctx);
  void BlockMget(Args& args, CommandContext& ctx);
  void BlockMgetPrefix(Args& args, CommandContext& ctx);
  void BlockMset(Args& args, CommandContext& ctx);
  void BlockStats(CommandContext& ctx);
  std::string StatsJson() const;
  void BlockRing(CommandContext& ctx);

  // Shared by GET, MGET and BLOCK.MGET: replies an array (or a single bulk when `single`)
  // of the blocks under `keys`, reading spilled ones on the worker pool.
  void FetchBlocks(std::vector<BlockKey> keys, bool single, CommandContext& ctx);
  // Stores one block; the error reply text (without '-') on failure.
  std::optional<std::string> PutBlock(const BlockKey& key, Buffer& value, std::uint32_t depth);
  // `value` as a buffer of its own, for keeping: a small argument copied out of the
  // parser's staging chunk. Rejected when the copy cannot be allocated.
  static Result<Buffer> OwnedValue(Buffer& value);
  // Counts keys this node does not own (no-op without a configured cluster).
  void CheckOwnership(std::span<const BlockKey> keys);
  void CheckOwnership(const BlockKey& key) { CheckOwnership(std::span(&key, 1)); }

  storage::BlockStore& store_;
  const HandlerOptions options_;
  const ServerStats& server_stats_;
  CommandStats stats_;
  std::atomic<std::shared_ptr<const RingView>> ring_;
  std::atomic<bool> clustered_{false};
  std::atomic<bool> shut_down_{false};
  boost::asio::thread_pool workers_;
};

}  // namespace prefixcache::daemon
