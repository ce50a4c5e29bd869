// CommandEnv: what every command of StoreCommandHandler runs against -- the store, the
// handler's options and counters, the ring, the worker pool -- and the steps commands
// share (error replies, deferral to the worker pool, ownership counting, reading and
// storing blocks). Commands are free functions over it, bound to their CommandId by the
// tables of commands_keys.cc, commands_block.cc and commands_server.cc. Thread-safe: any
// I/O thread and any worker may use it at once.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command_gate.h"
#include "daemon/command_handler.h"
#include "daemon/command_table.h"
#include "daemon/commands.h"
#include "daemon/server_stats.h"
#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "prefixcache/status.h"
#include "secret.h"
#include "storage/block_store.h"

namespace prefixcache::daemon {

using Args = std::vector<Buffer>;

struct CommandEnv {
  CommandEnv(storage::BlockStore& store, HandlerOptions options, const ServerStats& server_stats);

  // Counts an error reply and appends it.
  void ErrorReply(CommandContext& ctx, std::string_view message);
  // Runs command `id` (arity and authentication already checked), counting the call, its
  // time and, when it replied an error, a failure under its id (CommandStats).
  void Run(CommandId id, Args& args, CommandContext& ctx);
  // Runs `work` on the worker pool; the ReplyWriter it returns finishes the command. The
  // request's budget memory (its arguments may be moved into `work`) stays held until then.
  // After Shutdown(), answers "-ERR server is shutting down" instead.
  void RunOnWorker(CommandContext& ctx, std::function<ReplyWriter()> work);
  // Counts keys this node does not own (no-op without a configured cluster).
  void CheckOwnership(std::span<const BlockKey> keys);
  void CheckOwnership(const BlockKey& key) { CheckOwnership(std::span(&key, 1)); }
  // How FetchBlocks answers.
  enum class FetchReply : std::uint8_t {
    kSingle,  // GET: one bulk (or nil)
    kArray,   // MGET, BLOCK.MGET: an array of every key's block or nil
    kPrefix,  // BLOCK.MGETPREFIX: an array of the leading run of hits, nil from the first
              // miss on (the keys after it are not looked up)
  };
  // Shared by GET, MGET, BLOCK.MGET and BLOCK.MGETPREFIX: replies the blocks under `keys`,
  // reading spilled ones on the worker pool (never on an I/O thread), in parts reserved
  // from the memory budget (fetch_blocks.cc).
  void FetchBlocks(std::vector<BlockKey> keys, FetchReply reply, CommandContext& ctx);
  // Records that the block under `key` was written or removed (after the change), so that
  // a transaction WATCHing it fails; FLUSHALL calls AllKeysModified.
  void KeyModified(const BlockKey& key) {
    key_versions[BlockKeyHash{}(key) % kKeyVersionSlots].fetch_add(1, std::memory_order_release);
  }
  void AllKeysModified() { flush_epoch.fetch_add(1, std::memory_order_release); }
  // Stores one block (with an expiry and a name when given); the error reply text
  // (without '-') on failure.
  std::optional<std::string> PutBlock(const BlockKey& key, Buffer& value, std::uint32_t depth,
                                      const storage::KeyOptions& key_options = {});
  // `value` as a buffer of its own, for keeping: a small argument copied out of the
  // parser's staging chunk. Rejected when the copy cannot be allocated.
  static Result<Buffer> OwnedValue(Buffer& value);

  storage::BlockStore& store;
  const HandlerOptions options;
  const Secret password;  // options.password, for AUTH
  const ServerStats& server_stats;
  CommandStats stats;
  std::atomic<std::shared_ptr<const RingView>> ring;
  std::atomic<bool> clustered{false};
  std::atomic<bool> shut_down{false};
  // EXEC runs as one exclusive step of this gate; every other command enters it.
  CommandGate gate;
  // Write counts of keys by hash slot, and of FLUSHALLs, for WATCH: a watched key counts
  // as modified when its slot's count moved (so a write to another key of the same slot
  // fails the transaction too).
  static constexpr std::size_t kKeyVersionSlots = 16384;
  std::array<std::atomic<std::uint64_t>, kKeyVersionSlots> key_versions{};
  std::atomic<std::uint64_t> flush_epoch{0};
  // True on the thread running a transaction's commands inside EXEC: RunOnWorker and
  // FetchBlocks then run their work at once on this thread, without deferring, and reply
  // memory is counted rather than waited for.
  static thread_local bool in_transaction;
  boost::asio::thread_pool workers;
};

// A command: args[0] is its name, the arity already checked and the client authenticated
// when the command needs it. It appends one reply to ctx.reply() or defers (see
// CommandHandler::Handle).
using CommandFn = void (*)(CommandEnv& env, Args& args, CommandContext& ctx);

struct CommandBinding {
  CommandId id;
  CommandFn run;
};

// The commands each file implements.
std::span<const CommandBinding> KeyCommands();          // commands_keys.cc
std::span<const CommandBinding> BlockCommands();        // commands_block.cc
std::span<const CommandBinding> ServerCommands();       // commands_server.cc
std::span<const CommandBinding> TransactionCommands();  // commands_transaction.cc
std::span<const CommandBinding> CompatCommands();       // commands_compat.cc

// Transactions (commands_transaction.cc), called by StoreCommandHandler::Handle.
// Queues the request when the session is inside MULTI and `spec` is not one of the
// commands that run at once there (EXEC, DISCARD, MULTI, WATCH, QUIT): answers +QUEUED or
// the error that aborts the transaction, and returns true. False otherwise.
bool QueueInTransaction(CommandEnv& env, const CommandSpec& spec, protocol::Request& request,
                        CommandContext& ctx);
// CLIENT INFO's view of the session's transaction: `queued` commands (-1 outside MULTI)
// and the budget `bytes` they hold.
struct TransactionInfo {
  std::int64_t queued = -1;
  std::uint64_t bytes = 0;
};
TransactionInfo TransactionInfoOf(Session& session);
// A request refused before it ran (unknown command, wrong arity, not authenticated): inside
// MULTI, EXEC then answers EXECABORT.
void FlagTransaction(Session& session);

// Commands prefixcache refuses on purpose (commands_compat.cc): the one-line error saying
// why, for a command name (any case) FindCommand does not know; empty when `name` is no
// Redis command prefixcache knows to refuse.
std::string RefusalOf(std::string_view name);

}  // namespace prefixcache::daemon
