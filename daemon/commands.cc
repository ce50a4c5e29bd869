#include "daemon/commands.h"

#include <array>
#include <boost/asio/post.hpp>
#include <chrono>
#include <optional>
#include <utility>

#include "command_env.h"
#include "prefixcache/check.h"

namespace prefixcache::daemon {
namespace {

using CommandFns = std::array<CommandFn, kCommandCount>;

// The budget memory of the request being handled on this thread (set by Handle for the
// length of the call), which RunOnWorker keeps until the deferred work is done.
thread_local protocol::MemoryCharge* handled_request_memory = nullptr;

// The command CommandEnv::Run is running on this thread, if any (RunOnWorker charges its
// deferred part's time to it), and the error replies this thread has appended (Run's
// difference tells a failed call).
thread_local std::optional<CommandId> running_command;
thread_local std::uint64_t thread_error_replies = 0;

std::uint64_t NanosecondsSince(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
}

// Every command's function by CommandId, from the files' tables; each id bound once.
const CommandFns& AllCommandFns() {
  static const CommandFns fns = [] {
    CommandFns out{};
    for (auto file : {KeyCommands(), BlockCommands(), ServerCommands(), TransactionCommands(),
                      CompatCommands()}) {
      for (const CommandBinding& binding : file) {
        CommandFn& slot = out[static_cast<std::size_t>(binding.id)];
        PC_CHECK(slot == nullptr && "a command is bound twice");
        slot = binding.run;
      }
    }
    for (CommandFn fn : out) PC_CHECK(fn != nullptr && "a command of the table has no function");
    return out;
  }();
  return fns;
}

}  // namespace

thread_local bool CommandEnv::in_transaction = false;

CommandEnv::CommandEnv(storage::BlockStore& store_in, HandlerOptions options_in,
                       const ServerStats& server_stats_in)
    : store(store_in),
      options(std::move(options_in)),
      password(options.password),
      server_stats(server_stats_in),
      ring(std::make_shared<const RingView>()),
      workers(options.worker_threads == 0 ? 1 : options.worker_threads) {}

void CommandEnv::ErrorReply(CommandContext& ctx, std::string_view message) {
  stats.error_replies.Add(1);
  ++thread_error_replies;
  ctx.reply().Error(message);
}

void CommandEnv::Run(CommandId id, Args& args, CommandContext& ctx) {
  const auto i = static_cast<std::size_t>(id);
  stats.calls[i].Add(1);
  const std::optional<CommandId> outer = running_command;
  const std::uint64_t errors = thread_error_replies;
  running_command = id;
  const auto start = std::chrono::steady_clock::now();
  AllCommandFns()[i](*this, args, ctx);
  stats.nanoseconds[i].Add(NanosecondsSince(start));
  if (thread_error_replies != errors) stats.failed_calls[i].Add(1);
  // An EXEC does not fail because a command inside it did.
  thread_error_replies = errors;
  running_command = outer;
}

void CommandEnv::RunOnWorker(CommandContext& ctx, std::function<ReplyWriter()> work) {
  if (in_transaction) {
    // Inside EXEC, which already runs on a worker as one step.
    ReplyWriter writer = work();
    writer(ctx.reply());
    return;
  }
  if (shut_down.load(std::memory_order_relaxed)) {
    ErrorReply(ctx, "ERR server is shutting down");
    return;
  }
  stats.deferred_commands.Add(1);
  protocol::MemoryCharge memory;
  if (handled_request_memory != nullptr) memory = std::move(*handled_request_memory);
  boost::asio::post(workers, [this, work = std::move(work), done = ctx.Defer(),
                              memory = std::move(memory), command = running_command]() mutable {
    gate.Enter();
    const auto start = std::chrono::steady_clock::now();
    ReplyWriter writer = work();
    if (command) stats.nanoseconds[static_cast<std::size_t>(*command)].Add(NanosecondsSince(start));
    gate.Leave();
    memory.Reset();  // the request is done with; the connection charges the reply
    done(std::move(writer));
  });
}

void CommandEnv::CheckOwnership(std::span<const BlockKey> keys) {
  if (!clustered.load(std::memory_order_relaxed)) return;
  std::shared_ptr<const RingView> view = ring.load();
  if (!view->ring) return;
  std::uint64_t misrouted = 0;
  for (const BlockKey& key : keys) {
    if (!view->self || !view->ring->OwnsKey(*view->self, key)) ++misrouted;
  }
  if (misrouted) stats.misrouted_keys.Add(misrouted);
}

StoreCommandHandler::StoreCommandHandler(storage::BlockStore& store, HandlerOptions options,
                                         const ServerStats& server_stats)
    : env_(std::make_unique<CommandEnv>(store, std::move(options), server_stats)) {
  AllCommandFns();  // checks the tables at start-up rather than on the first request
}

StoreCommandHandler::~StoreCommandHandler() { Shutdown(); }

void StoreCommandHandler::Shutdown() {
  if (env_->shut_down.exchange(true)) return;
  env_->workers.join();
}

void StoreCommandHandler::SetRing(RingView view) {
  env_->clustered.store(view.clustered && view.ring != nullptr, std::memory_order_relaxed);
  env_->ring.store(std::make_shared<const RingView>(std::move(view)));
}

std::shared_ptr<const RingView> StoreCommandHandler::ring() const { return env_->ring.load(); }

const CommandStats& StoreCommandHandler::stats() const { return env_->stats; }

void StoreCommandHandler::OnConnect(Session& session) {
  session.authenticated = env_->options.password.empty();
}

void StoreCommandHandler::OnRejected(Session& session) { FlagTransaction(session); }

void StoreCommandHandler::Handle(protocol::Request& request, CommandContext& ctx) {
  Args& args = request.args;
  const std::string_view name = args[0].view();
  const CommandSpec* spec = FindCommand(name);
  // Redis's order of checks: unknown command, then arity, then authentication.
  if (spec == nullptr) {
    env_->stats.unknown_commands.Add(1);
    FlagTransaction(ctx.session());
    if (std::string refusal = RefusalOf(name); !refusal.empty()) {
      return env_->ErrorReply(ctx, refusal);
    }
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
    env_->ErrorReply(ctx, message);
    return;
  }
  ctx.session().last_command = spec->name;
  if (!ArityOk(*spec, args.size())) {
    env_->stats.rejected_calls[static_cast<std::size_t>(spec->id)].Add(1);
    FlagTransaction(ctx.session());
    env_->ErrorReply(ctx,
                     "ERR wrong number of arguments for '" + std::string(spec->name) + "' command");
    return;
  }
  if (!ctx.session().authenticated && !spec->no_auth) {
    env_->stats.rejected_calls[static_cast<std::size_t>(spec->id)].Add(1);
    FlagTransaction(ctx.session());
    env_->ErrorReply(ctx, "NOAUTH Authentication required.");
    return;
  }
  if (ctx.session().handler_state != nullptr && QueueInTransaction(*env_, *spec, request, ctx)) {
    return;
  }
  handled_request_memory = &request.memory;
  env_->gate.Enter();
  env_->Run(spec->id, args, ctx);
  env_->gate.Leave();
  handled_request_memory = nullptr;
}

}  // namespace prefixcache::daemon
