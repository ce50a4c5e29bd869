// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis's replies and errors.
// Commands after MULTI are queued, their arguments held against limits.inflight_memory;
// EXEC runs them on a worker as one exclusive step of the command gate, so no other
// client's command runs in between. WATCH records the write counts of the keys' slots
// (CommandEnv::KeyModified); EXEC answers a null array when one moved.
#include <boost/asio/post.hpp>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "command_env.h"
#include "key_mapping.h"
#include "prefixcache/check.h"

namespace prefixcache::daemon {
namespace {

// Budget bytes a queued command holds besides its small arguments' bytes (large ones are
// held by the request's own charge): the entry and each argument's Buffer.
constexpr std::uint64_t kQueuedEntryBytes = 64;
constexpr std::uint64_t kQueuedArgumentBytes = 32;
// A transaction's queue holds at most this share of the budget (limit / divisor), so that
// the requests still to come -- its own, whose payloads are reserved before they can be
// queued, and other clients' -- find room beside it.
constexpr std::uint64_t kQueueShareDivisor = 4;

struct QueuedCommand {
  const CommandSpec* spec;
  Args args;
};

struct WatchedSlot {
  std::size_t slot;
  std::uint64_t version;
};

// What EXEC runs: the queue and the watches, taken out of the session.
struct Transaction {
  std::vector<QueuedCommand> queue;
  protocol::MemoryCharge memory;  // what the queue holds of the budget
  std::vector<WatchedSlot> watched;
  std::uint64_t flush_epoch = 0;  // CommandEnv::flush_epoch at the first WATCH
};

struct TransactionState final : HandlerSessionState {
  bool multi = false;
  bool dirty = false;  // a command was refused while queueing: EXEC answers EXECABORT
  Transaction transaction;

  // Marks the transaction for EXECABORT and gives its queue's memory back at once.
  void Abort() {
    dirty = true;
    transaction.queue.clear();
    transaction.memory.Reset();
  }

  // Ends the transaction and forgets the watches (EXEC, DISCARD).
  void Reset() {
    multi = false;
    dirty = false;
    transaction = Transaction{};
  }
};

// The session's transaction state; StoreCommandHandler makes no other handler_state.
TransactionState* ExistingState(Session& session) {
  return static_cast<TransactionState*>(session.handler_state.get());
}

TransactionState& StateOf(Session& session) {
  if (session.handler_state == nullptr)
    session.handler_state = std::make_unique<TransactionState>();
  return *ExistingState(session);
}

bool RunsInsideMulti(CommandId id) {
  switch (id) {
    case CommandId::kExec:
    case CommandId::kDiscard:
    case CommandId::kMulti:
    case CommandId::kWatch:
    case CommandId::kQuit:
      return true;
    default:
      return false;
  }
}

// What a queued command sees while EXEC runs it: the session, the transaction's reply
// and the budget. Commands that would defer run their work at once inside EXEC
// (CommandEnv::in_transaction), so Defer() is never reached.
class TransactionContext final : public CommandContext {
 public:
  TransactionContext(Session& session, protocol::ReplyBuilder& reply,
                     protocol::MemoryBudget& memory, protocol::MemoryCharge& held)
      : session_(session), reply_(reply), memory_(memory), held_(held) {}

  Session& session() override { return session_; }
  protocol::ReplyBuilder& reply() override { return reply_; }
  Completion Defer() override {
    PC_CHECK(!"a command deferred inside EXEC");
    return Completion();
  }
  protocol::MemoryBudget& memory() override { return memory_; }
  void HoldUntilSent(protocol::MemoryCharge charge) override { held_.Absorb(std::move(charge)); }

 private:
  Session& session_;
  protocol::ReplyBuilder& reply_;
  protocol::MemoryBudget& memory_;
  protocol::MemoryCharge& held_;
};

bool WatchedKeyModified(const CommandEnv& env, const Transaction& transaction) {
  if (transaction.watched.empty()) return false;
  if (env.flush_epoch.load(std::memory_order_acquire) != transaction.flush_epoch) return true;
  for (const WatchedSlot& watched : transaction.watched) {
    if (env.key_versions[watched.slot].load(std::memory_order_acquire) != watched.version) {
      return true;
    }
  }
  return false;
}

void Multi(CommandEnv& env, Args&, CommandContext& ctx) {
  TransactionState& state = StateOf(ctx.session());
  if (state.multi) return env.ErrorReply(ctx, "ERR MULTI calls can not be nested");
  state.multi = true;
  ctx.reply().SimpleString("OK");
}

void Discard(CommandEnv& env, Args&, CommandContext& ctx) {
  TransactionState* state = ExistingState(ctx.session());
  if (state == nullptr || !state->multi) return env.ErrorReply(ctx, "ERR DISCARD without MULTI");
  state->Reset();
  ctx.reply().SimpleString("OK");
}

void Watch(CommandEnv& env, Args& args, CommandContext& ctx) {
  TransactionState& state = StateOf(ctx.session());
  if (state.multi) return env.ErrorReply(ctx, "ERR WATCH inside MULTI is not allowed");
  Transaction& transaction = state.transaction;
  if (transaction.watched.empty()) {
    transaction.flush_epoch = env.flush_epoch.load(std::memory_order_acquire);
  }
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::size_t slot = BlockKeyHash{}(MapKey(args[i].view())) % CommandEnv::kKeyVersionSlots;
    transaction.watched.push_back(
        WatchedSlot{slot, env.key_versions[slot].load(std::memory_order_acquire)});
  }
  ctx.reply().SimpleString("OK");
}

void Unwatch(CommandEnv&, Args&, CommandContext& ctx) {
  if (TransactionState* state = ExistingState(ctx.session())) {
    state->transaction.watched.clear();
  }
  ctx.reply().SimpleString("OK");
}

// Runs `transaction` as one step: on a worker (its commands may read disk), holding the
// gate exclusively. The session stays valid meanwhile: the Completion keeps the connection
// alive, and the connection touches the session only once the reply is in.
void RunTransaction(CommandEnv& env, const std::shared_ptr<Transaction>& transaction,
                    Session& session, protocol::MemoryBudget& memory, Completion done) {
  auto out = std::make_shared<protocol::ReplyBuilder>();
  protocol::MemoryCharge held;
  env.gate.LockExclusive();
  out->SetResp3(session.protocol == 3);
  if (WatchedKeyModified(env, *transaction)) {
    out->NilArray();
  } else {
    out->ArrayHeader(transaction->queue.size());
    CommandEnv::in_transaction = true;
    for (QueuedCommand& command : transaction->queue) {
      TransactionContext context(session, *out, memory, held);
      env.Run(command.spec->id, command.args, context);
      // A HELLO inside the transaction changes the protocol of the replies after it.
      out->SetResp3(session.protocol == 3);
    }
    CommandEnv::in_transaction = false;
  }
  env.gate.UnlockExclusive();
  // The queue's arguments are done with; the connection charges the reply.
  transaction->queue.clear();
  transaction->memory.Reset();
  done([out](protocol::ReplyBuilder& reply) { reply.Append(std::move(*out)); }, std::move(held));
}

void Exec(CommandEnv& env, Args&, CommandContext& ctx) {
  TransactionState* state = ExistingState(ctx.session());
  if (state == nullptr || !state->multi) return env.ErrorReply(ctx, "ERR EXEC without MULTI");
  if (state->dirty) {
    state->Reset();
    return env.ErrorReply(ctx, "EXECABORT Transaction discarded because of previous errors.");
  }
  auto transaction = std::make_shared<Transaction>(std::move(state->transaction));
  state->Reset();
  if (env.shut_down.load(std::memory_order_relaxed)) {
    return env.ErrorReply(ctx, "ERR server is shutting down");
  }
  env.stats.deferred_commands.Add(1);
  boost::asio::post(env.workers, [&env, transaction, &session = ctx.session(),
                                  &memory = ctx.memory(), done = ctx.Defer()]() mutable {
    RunTransaction(env, transaction, session, memory, std::move(done));
  });
}

constexpr CommandBinding kTransactionCommands[] = {
    {CommandId::kMulti, Multi}, {CommandId::kExec, Exec},       {CommandId::kDiscard, Discard},
    {CommandId::kWatch, Watch}, {CommandId::kUnwatch, Unwatch},
};

}  // namespace

bool QueueInTransaction(CommandEnv& env, const CommandSpec& spec, protocol::Request& request,
                        CommandContext& ctx) {
  TransactionState* state = ExistingState(ctx.session());
  if (state == nullptr || !state->multi || RunsInsideMulti(spec.id)) return false;
  if (state->dirty) {
    // EXEC will answer EXECABORT: nothing more is kept (the queue was dropped).
    ctx.reply().SimpleString("QUEUED");
    return true;
  }
  Args& args = request.args;
  // Small arguments are slices of the parser's staging chunk: each is copied so that the
  // queue pins no chunk, and its bytes are charged with the entry. Large ones have buffers
  // of their own, held by the request's charge, which the queue takes over. A queue the
  // budget cannot hold aborts the transaction, as Redis does past maxmemory; it reserves
  // as a large buffer does, so it never takes the budget's headroom from other clients.
  std::uint64_t bytes = kQueuedEntryBytes + kQueuedArgumentBytes * args.size();
  for (const Buffer& arg : args) {
    if (arg.size() < protocol::RequestParser::kDirectBulkBytes) bytes += arg.size();
  }
  protocol::MemoryCharge charge = std::move(request.memory);
  const std::uint64_t limit = ctx.memory().limit();
  const bool admitted = (limit == 0 || state->transaction.memory.bytes() + charge.bytes() + bytes <=
                                           limit / kQueueShareDivisor) &&
                        charge.TryAdd(ctx.memory(), bytes, /*large=*/true);
  if (admitted) {
    try {
      for (Buffer& arg : args) {
        if (arg.size() < protocol::RequestParser::kDirectBulkBytes) arg = Buffer::Copy(arg.span());
      }
      state->transaction.queue.push_back(QueuedCommand{&spec, std::move(args)});
    } catch (const std::bad_alloc&) {
      state->Abort();
      env.ErrorReply(ctx, "OOM command not allowed: no memory to queue it");
      return true;
    }
  } else {
    state->Abort();
    env.ErrorReply(ctx,
                   "OOM command not allowed: the transaction's queued commands would exceed "
                   "their share of limits.inflight_memory");
    return true;
  }
  state->transaction.memory.Absorb(std::move(charge));
  ctx.reply().SimpleString("QUEUED");
  return true;
}

void FlagTransaction(Session& session) {
  if (TransactionState* state = ExistingState(session); state != nullptr && state->multi) {
    state->Abort();
  }
}

TransactionInfo TransactionInfoOf(Session& session) {
  TransactionState* state = ExistingState(session);
  if (state == nullptr || !state->multi) return {};
  return {static_cast<std::int64_t>(state->transaction.queue.size()),
          state->transaction.memory.bytes()};
}

std::span<const CommandBinding> TransactionCommands() { return kTransactionCommands; }

}  // namespace prefixcache::daemon
