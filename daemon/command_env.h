// CommandEnv: what every command of StoreCommandHandler runs against -- the store, the
// handler's options and counters, the ring, the worker pool -- and the steps commands
// share (error replies, deferral to the worker pool, ownership counting, reading and
// storing blocks). Commands are free functions over it, bound to their CommandId by the
// tables of commands_keys.cc, commands_block.cc and commands_server.cc. Thread-safe: any
// I/O thread and any worker may use it at once.
#pragma once

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
  // Stores one block (with an expiry and a name when given); the error reply text on
  // failure.
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
std::span<const CommandBinding> KeyCommands();     // commands_keys.cc
std::span<const CommandBinding> BlockCommands();   // commands_block.cc
std::span<const CommandBinding> ServerCommands();  // commands_server.cc

}  // namespace prefixcache::daemon
