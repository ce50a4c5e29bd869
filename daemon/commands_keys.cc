// The Redis key commands: GET, SET, DEL (and UNLINK), EXISTS (and TOUCH), MGET, MSET, DBSIZE,
// FLUSHALL/FLUSHDB. Keys map to blocks through MapKey (key_mapping.h); values set here have depth
// 0.
#include <memory>
#include <utility>

#include "command_env.h"
#include "key_mapping.h"

namespace prefixcache::daemon {
namespace {

// The error reply for a store call that failed.
std::string StoreError(const Status& status) {
  if (status.code() == StatusCode::kRejected) return "ERR " + status.message();
  return "ERR " + status.ToString();
}

}  // namespace

std::optional<std::string> CommandEnv::PutBlock(const BlockKey& key, Buffer& value,
                                                std::uint32_t depth) {
  Result<Buffer> owned = OwnedValue(value);
  if (!owned.ok()) return StoreError(owned.status());
  if (Status status = store.Put(key, std::move(owned).value(), depth); !status.ok()) {
    return StoreError(status);
  }
  KeyModified(key);
  return std::nullopt;
}

Result<Buffer> CommandEnv::OwnedValue(Buffer& value) {
  // Small arguments are slices of the parser's shared 64 KiB staging chunk: storing the
  // slice would pin the whole chunk, so they are copied; large ones arrive in a buffer of
  // their own and are kept as they are.
  if (value.size() >= protocol::RequestParser::kDirectBulkBytes) return std::move(value);
  try {
    return Buffer::Copy(value.span());
  } catch (const std::bad_alloc&) {
    return Status::Rejected("no memory for a value of " + std::to_string(value.size()) + " bytes");
  }
}

namespace {

void Get(CommandEnv& env, Args& args, CommandContext& ctx) {
  const BlockKey key = MapKey(args[1].view());
  // The common case without allocating: a memory hit (its bytes reserved from the budget
  // until sent, as FetchBlocks does) or a plain miss.
  Result<Buffer> value = env.store.GetFromMemory(key);
  protocol::MemoryCharge charge;
  if (value.ok() &&
      charge.TryAdd(ctx.memory(), value->size(),
                    /*large=*/value->size() >= protocol::RequestParser::kDirectBulkBytes)) {
    env.CheckOwnership(key);
    env.stats.keyspace_hits.Add(1);
    ctx.reply().Bulk(*value);
    ctx.HoldUntilSent(std::move(charge));
    return;
  }
  if (!value.ok() && !env.store.Contains(key)) {
    env.CheckOwnership(key);
    env.stats.keyspace_misses.Add(1);
    ctx.reply().Nil();
    return;
  }
  env.FetchBlocks({key}, CommandEnv::FetchReply::kSingle, ctx);
}

void Mget(CommandEnv& env, Args& args, CommandContext& ctx) {
  std::vector<BlockKey> keys;
  keys.reserve(args.size() - 1);
  for (std::size_t i = 1; i < args.size(); ++i) keys.push_back(MapKey(args[i].view()));
  env.FetchBlocks(std::move(keys), CommandEnv::FetchReply::kArray, ctx);
}

void Set(CommandEnv& env, Args& args, CommandContext& ctx) {
  bool nx = false, xx = false, get = false;
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string_view option = args[i].view();
    if (EqualsIgnoreCase(option, "NX") && !xx) {
      nx = true;
    } else if (EqualsIgnoreCase(option, "XX") && !nx) {
      xx = true;
    } else if (EqualsIgnoreCase(option, "GET")) {
      get = true;
    } else if (EqualsIgnoreCase(option, "KEEPTTL")) {
      // Keys never expire here, so keeping "the" TTL is what always happens.
    } else if (EqualsIgnoreCase(option, "EX") || EqualsIgnoreCase(option, "PX") ||
               EqualsIgnoreCase(option, "EXAT") || EqualsIgnoreCase(option, "PXAT")) {
      if (i + 1 >= args.size()) return env.ErrorReply(ctx, "ERR syntax error");
      return env.ErrorReply(ctx,
                            "ERR SET EX/PX/EXAT/PXAT are not supported: prefixcache keys do not "
                            "expire (capacity eviction removes them)");
    } else {
      return env.ErrorReply(ctx, "ERR syntax error");
    }
  }
  const BlockKey key = MapKey(args[1].view());
  env.CheckOwnership(key);
  if (!nx && !xx && !get) {
    if (auto error = env.PutBlock(key, args[2], 0)) return env.ErrorReply(ctx, *error);
    return ctx.reply().SimpleString("OK");
  }
  // NX / XX / GET: the check, the store and the old value are one step in the store, as in
  // Redis, whatever other clients write to the key meanwhile.
  const auto condition = nx   ? storage::BlockStore::PutCondition::kIfAbsent
                         : xx ? storage::BlockStore::PutCondition::kIfPresent
                              : storage::BlockStore::PutCondition::kAlways;
  Result<Buffer> value = env.OwnedValue(args[2]);
  if (!value.ok()) return env.ErrorReply(ctx, "ERR " + value.status().message());
  auto outcome = env.store.PutIf(key, *value, 0, condition, get, /*may_read_disk=*/false);
  if (outcome.ok() && outcome->stored) env.KeyModified(key);
  auto reply = [get](const storage::BlockStore::PutIfOutcome& done, protocol::ReplyBuilder& out) {
    if (!get) {
      if (done.stored) {
        out.SimpleString("OK");
      } else {
        out.Nil();
      }
    } else if (done.had) {
      out.Bulk(done.previous);
    } else {
      out.Nil();
    }
  };
  if (outcome.ok() && !outcome->needs_disk) return reply(*outcome, ctx.reply());
  if (!outcome.ok()) return env.ErrorReply(ctx, StoreError(outcome.status()));
  // The old value is on disk: the step runs on a worker (an I/O thread never reads disk).
  env.RunOnWorker(ctx,
                  [&env, key, value = std::move(value).value(), condition, get,
                   reply]() mutable -> ReplyWriter {
                    auto done = env.store.PutIf(key, std::move(value), 0, condition, get,
                                                /*may_read_disk=*/true);
                    if (done.ok() && done->stored) env.KeyModified(key);
                    if (!done.ok()) {
                      env.stats.error_replies.Add(1);
                      return [error = StoreError(done.status())](protocol::ReplyBuilder& out) {
                        out.Error(error);
                      };
                    }
                    return [reply, done = std::move(done).value()](protocol::ReplyBuilder& out) {
                      reply(done, out);
                    };
                  });
}

void Exists(CommandEnv& env, Args& args, CommandContext& ctx) {
  std::int64_t count = 0;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const BlockKey key = MapKey(args[i].view());
    env.CheckOwnership(key);
    if (env.store.Contains(key)) ++count;
  }
  ctx.reply().Integer(count);
}

void Mset(CommandEnv& env, Args& args, CommandContext& ctx) {
  if ((args.size() - 1) % 2 != 0) {
    return env.ErrorReply(ctx, "ERR wrong number of arguments for 'mset' command");
  }
  // Validation is all or nothing: a value too large to store refuses the whole request
  // before any pair is stored. The stores themselves are not one atomic step as in Redis:
  // the pairs are stored one after another, so another client may see some of them before
  // the rest, and a store that fails (no memory for a copy, the memory tier refusing it)
  // leaves the pairs before it stored and those after it not.
  const std::uint64_t max_value = env.store.LargestStorableValue();
  for (std::size_t i = 2; i < args.size(); i += 2) {
    if (args[i].size() > max_value) {
      return env.ErrorReply(ctx, "ERR value of " + std::to_string(args[i].size()) +
                                     " bytes exceeds the largest storable block (" +
                                     std::to_string(max_value) + " bytes)");
    }
  }
  for (std::size_t i = 1; i < args.size(); i += 2) {
    const BlockKey key = MapKey(args[i].view());
    env.CheckOwnership(key);
    if (auto error = env.PutBlock(key, args[i + 1], 0)) return env.ErrorReply(ctx, *error);
  }
  ctx.reply().SimpleString("OK");
}

void Del(CommandEnv& env, Args& args, CommandContext& ctx) {
  // Erase does no disk I/O (a spilled copy leaves the index at once), so DEL runs inline.
  std::int64_t removed = 0;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const BlockKey key = MapKey(args[i].view());
    env.CheckOwnership(key);
    if (!env.store.Contains(key)) continue;
    if (Status status = env.store.Erase(key); !status.ok()) {
      return env.ErrorReply(ctx, "ERR " + status.ToString());
    }
    env.KeyModified(key);
    ++removed;
  }
  ctx.reply().Integer(removed);
}

void Flush(CommandEnv& env, Args& args, CommandContext& ctx) {
  if (args.size() > 2 || (args.size() == 2 && !EqualsIgnoreCase(args[1].view(), "ASYNC") &&
                          !EqualsIgnoreCase(args[1].view(), "SYNC"))) {
    return env.ErrorReply(ctx, "ERR syntax error");
  }
  // ASYNC is served like SYNC: the reply waits until the blocks are gone, so a write sent
  // after the reply is never caught by the flush.
  env.RunOnWorker(ctx, [&env]() -> ReplyWriter {
    Status status = env.store.Clear();
    env.AllKeysModified();
    if (!status.ok()) {
      env.stats.error_replies.Add(1);
      return [message = "ERR " + status.ToString()](protocol::ReplyBuilder& out) {
        out.Error(message);
      };
    }
    return [](protocol::ReplyBuilder& out) { out.SimpleString("OK"); };
  });
}

void Dbsize(CommandEnv& env, Args&, CommandContext& ctx) {
  // Size() is O(1) and touches no disk: answered on the I/O thread.
  ctx.reply().Integer(static_cast<std::int64_t>(env.store.Size()));
}

constexpr CommandBinding kKeyCommands[] = {
    {CommandId::kGet, Get},       {CommandId::kSet, Set},        {CommandId::kDel, Del},
    {CommandId::kExists, Exists}, {CommandId::kMget, Mget},      {CommandId::kMset, Mset},
    {CommandId::kDbsize, Dbsize}, {CommandId::kFlushall, Flush}, {CommandId::kFlushdb, Flush},
    {CommandId::kUnlink, Del},    {CommandId::kTouch, Exists},
};

}  // namespace

std::span<const CommandBinding> KeyCommands() { return kKeyCommands; }

}  // namespace prefixcache::daemon
