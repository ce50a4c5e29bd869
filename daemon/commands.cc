#include "daemon/commands.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

namespace prefixcache::daemon {

StoreCommandHandler::StoreCommandHandler(storage::BlockStore& store, HandlerOptions options,
                                         const ServerStats& server_stats)
    : store_(store),
      options_(std::move(options)),
      server_stats_(server_stats),
      ring_(std::make_shared<const RingView>()),
      workers_(options_.worker_threads == 0 ? 1 : options_.worker_threads) {}

StoreCommandHandler::~StoreCommandHandler() { Shutdown(); }

void StoreCommandHandler::Shutdown() {
  if (shut_down_.exchange(true)) return;
  workers_.join();
}

void StoreCommandHandler::SetRing(RingView view) {
  clustered_.store(view.clustered && view.ring != nullptr, std::memory_order_relaxed);
  ring_.store(std::make_shared<const RingView>(std::move(view)));
}

void StoreCommandHandler::OnConnect(Session& session) {
  session.authenticated = options_.password.empty();
}

void StoreCommandHandler::ErrorReply(CommandContext& ctx, std::string_view message) {
  stats_.error_replies.Add(1);
  ctx.reply().Error(message);
}

void StoreCommandHandler::Handle(protocol::Request& request, CommandContext& ctx) {
  Args& args = request.args;
  const std::string_view name = args[0].view();
  const CommandSpec* spec = FindCommand(name);
  // Redis's order of checks: unknown command, then arity, then authentication.
  if (spec == nullptr) {
    stats_.unknown_commands.Add(1);
    // Redis 7's text: each argument quoted, the list cut after about 128 bytes.
    std::string quoted;
    for (std::size_t i = 1; i < args.size() && quoted.size() < 128; ++i) {
      quoted += '\'';
      quoted.append(args[i].view().substr(0, 128 - quoted.size()));
      quoted += "' ";
    }
    std::string message = "ERR unknown command '";
    message.append(name.substr(0, 128));
    message += "', with args beginning with: ";
    message += quoted;
    ErrorReply(ctx, message);
    return;
  }
  ctx.session().last_command = spec->name;
  stats_.calls[static_cast<std::size_t>(spec->id)].Add(1);
  if (!ArityOk(*spec, args.size())) {
    ErrorReply(ctx, "ERR wrong number of arguments for '" + std::string(spec->name) + "' command");
    return;
  }
  if (!ctx.session().authenticated && !spec->no_auth) {
    ErrorReply(ctx, "NOAUTH Authentication required.");
    return;
  }
  Dispatch(*spec, args, ctx);
}

void StoreCommandHandler::Dispatch(const CommandSpec& spec, Args& args, CommandContext& ctx) {
  switch (spec.id) {
    case CommandId::kGet:
      return Get(args, ctx);
    case CommandId::kSet:
      return Set(args, ctx);
    case CommandId::kExists:
      return Exists(args, ctx);
    case CommandId::kMget:
      return Mget(args, ctx);
    case CommandId::kMset:
      return Mset(args, ctx);
    case CommandId::kDel:
      return Del(args, ctx);
    case CommandId::kBlockExists:
      return BlockExists(args, ctx);
    case CommandId::kBlockMget:
      return BlockMget(args, ctx);
    case CommandId::kBlockMgetPrefix:
      return BlockMgetPrefix(args, ctx);
    case CommandId::kBlockMset:
      return BlockMset(args, ctx);
    case CommandId::kBlockStats:
      return BlockStats(ctx);
    case CommandId::kBlockRing:
      return BlockRing(ctx);
    case CommandId::kPing:
      return Ping(args, ctx);
    case CommandId::kEcho:
      return ctx.reply().Bulk(args[1]);
    case CommandId::kAuth:
      return Auth(args, ctx);
    case CommandId::kHello:
      return Hello(args, ctx);
    case CommandId::kSelect:
      return Select(args, ctx);
    case CommandId::kQuit:
      ctx.session().close_after_reply = true;
      return ctx.reply().SimpleString("OK");
    case CommandId::kDbsize:
      // Size() is O(1) and touches no disk: answered on the I/O thread.
      return ctx.reply().Integer(static_cast<std::int64_t>(store_.Size()));
    case CommandId::kInfo:
      return Info(args, ctx);
    case CommandId::kFlushall:
    case CommandId::kFlushdb:
      return Flush(args, ctx);
    case CommandId::kCommand:
      return Command(args, ctx);
    case CommandId::kClient:
      return Client(args, ctx);
    case CommandId::kConfig:
      return Config(args, ctx);
  }
}

void StoreCommandHandler::RunOnWorker(CommandContext& ctx, std::function<ReplyWriter()> work) {
  if (shut_down_.load(std::memory_order_relaxed)) {
    ErrorReply(ctx, "ERR server is shutting down");
    return;
  }
  stats_.deferred_commands.Add(1);
  boost::asio::post(workers_,
                    [work = std::move(work), done = ctx.Defer()]() mutable { done(work()); });
}

void StoreCommandHandler::CheckOwnership(std::span<const BlockKey> keys) {
  if (!clustered_.load(std::memory_order_relaxed)) return;
  std::shared_ptr<const RingView> view = ring_.load();
  if (!view->ring) return;
  std::uint64_t misrouted = 0;
  for (const BlockKey& key : keys) {
    if (!view->self || !view->ring->OwnsKey(*view->self, key)) ++misrouted;
  }
  if (misrouted) stats_.misrouted_keys.Add(misrouted);
}

}  // namespace prefixcache::daemon
