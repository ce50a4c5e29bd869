// The commands a Redis user types by habit beyond the key commands: TYPE, STRLEN,
// RANDOMKEY, TIME, MEMORY (UNLINK is DEL and TOUCH is EXISTS, in commands_keys.cc: TOUCH
// does not refresh recency, a read is what makes a block recent); and the table of Redis
// commands prefixcache refuses on purpose, each with the reason in its one-line error.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <string>

#include "command_env.h"
#include "key_mapping.h"
#include "protocol/resp_integer.h"

namespace prefixcache::daemon {
namespace {

// MEMORY USAGE: what a block costs besides its value (the key, the entry, the buffer's
// header), a fixed estimate.
constexpr std::int64_t kBlockOverheadBytes = 64;

using SizeReply = void (*)(std::optional<std::uint64_t> size, protocol::ReplyBuilder& out);

// Replies `reply(size of the value under args[1], or nullopt)`: from memory on the I/O
// thread, a spilled block's size read on a worker.
void WithValueSize(CommandEnv& env, const Buffer& name, CommandContext& ctx, SizeReply reply) {
  const BlockKey key = MapKey(name.view());
  env.CheckOwnership(key);
  if (Result<Buffer> value = env.store.GetFromMemory(key); value.ok()) {
    return reply(value->size(), ctx.reply());
  }
  if (!env.store.Contains(key)) return reply(std::nullopt, ctx.reply());
  env.RunOnWorker(ctx, [&env, key, reply]() -> ReplyWriter {
    Result<Buffer> value = env.store.Get(key);
    std::optional<std::uint64_t> size;
    if (value.ok()) size = value->size();
    return [reply, size](protocol::ReplyBuilder& out) { reply(size, out); };
  });
}

void Type(CommandEnv& env, Args& args, CommandContext& ctx) {
  const BlockKey key = MapKey(args[1].view());
  env.CheckOwnership(key);
  ctx.reply().SimpleString(env.store.Contains(key) ? "string" : "none");
}

void Strlen(CommandEnv& env, Args& args, CommandContext& ctx) {
  WithValueSize(env, args[1], ctx,
                [](std::optional<std::uint64_t> size, protocol::ReplyBuilder& out) {
                  out.Integer(static_cast<std::int64_t>(size.value_or(0)));
                });
}

void Randomkey(CommandEnv& env, Args&, CommandContext& ctx) {
  env.ErrorReply(ctx,
                 "ERR RANDOMKEY is not supported: prefixcache's tiers keep no index of keys to "
                 "sample from (SCAN walks them all)");
}

void Time(CommandEnv&, Args&, CommandContext& ctx) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  protocol::ReplyBuilder& reply = ctx.reply();
  reply.ArrayHeader(2);
  reply.Bulk(std::string_view(std::to_string(micros / 1000000)));
  reply.Bulk(std::string_view(std::to_string(micros % 1000000)));
}

void MemoryUsage(CommandEnv& env, Args& args, CommandContext& ctx) {
  if (args.size() != 3 && args.size() != 5) return env.ErrorReply(ctx, "ERR syntax error");
  if (args.size() == 5) {
    if (!EqualsIgnoreCase(args[3].view(), "SAMPLES")) {
      return env.ErrorReply(ctx, "ERR syntax error");
    }
    if (!protocol::ParseInteger(args[4].view())) {
      return env.ErrorReply(ctx, "ERR value is not an integer or out of range");
    }
  }
  WithValueSize(env, args[2], ctx,
                [](std::optional<std::uint64_t> size, protocol::ReplyBuilder& out) {
                  if (!size) return out.Nil();
                  out.Integer(static_cast<std::int64_t>(*size) + kBlockOverheadBytes);
                });
}

void Memory(CommandEnv& env, Args& args, CommandContext& ctx) {
  const std::string_view sub = args[1].view();
  if (EqualsIgnoreCase(sub, "HELP")) {
    protocol::ReplyBuilder& reply = ctx.reply();
    reply.ArrayHeader(5);
    reply.SimpleString("MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    reply.SimpleString("USAGE <key> [SAMPLES <count>]");
    reply.SimpleString("    Return memory in bytes used by <key> and its value.");
    reply.SimpleString("HELP");
    reply.SimpleString("    Prints this help.");
    return;
  }
  if (EqualsIgnoreCase(sub, "USAGE")) {
    if (args.size() < 3) {
      return env.ErrorReply(ctx, "ERR wrong number of arguments for 'memory|usage' command");
    }
    return MemoryUsage(env, args, ctx);
  }
  for (std::string_view refused : {"STATS", "DOCTOR", "MALLOC-STATS", "PURGE"}) {
    if (EqualsIgnoreCase(sub, refused)) {
      return env.ErrorReply(ctx, "ERR MEMORY " + std::string(refused) +
                                     " is not supported: prefixcache reports its memory in "
                                     "INFO memory, memory_tier and BLOCK.STATS");
    }
  }
  env.ErrorReply(
      ctx, "ERR unknown subcommand '" + std::string(sub.substr(0, 128)) + "'. Try MEMORY HELP.");
}

constexpr CommandBinding kCompatCommands[] = {
    {CommandId::kType, Type}, {CommandId::kStrlen, Strlen}, {CommandId::kRandomkey, Randomkey},
    {CommandId::kTime, Time}, {CommandId::kMemory, Memory},
};

// Redis command families prefixcache does not serve, and why. Each name maps to its
// family's reason; a name not listed (and not served) gets Redis's "unknown command".
struct Refusal {
  std::string_view names;  // space separated, lowercase
  std::string_view reason;
};

constexpr Refusal kRefusals[] = {
    {"incr incrby incrbyfloat decr decrby append setrange getrange substr lcs",
     "values are opaque KV blocks, stored and returned whole (GET, SET, MGET, MSET)"},
    {"setnx getset getdel msetnx",
     "use the forms prefixcache serves: SET key value NX, SET key value GET, GET then DEL"},
    {"getex", "use the forms prefixcache serves: GET, then EXPIRE, PEXPIRE or PERSIST"},
    {"lpush rpush lpushx rpushx lpop rpop llen lrange lindex lset linsert lrem ltrim lpos lmove "
     "lmpop rpoplpush blpop brpop blmove blmpop brpoplpush",
     "prefixcache stores only string values (KV blocks), no lists"},
    {"hset hsetnx hget hmset hmget hdel hlen hexists hkeys hvals hgetall hincrby hincrbyfloat "
     "hstrlen hscan hrandfield",
     "prefixcache stores only string values (KV blocks), no hashes"},
    {"sadd srem smembers sismember smismember scard spop srandmember smove sinter sintercard "
     "sinterstore sunion sunionstore sdiff sdiffstore sscan",
     "prefixcache stores only string values (KV blocks), no sets"},
    {"zadd zrem zrange zrangestore zrangebyscore zrevrangebyscore zrangebylex zrevrangebylex "
     "zrevrange zcard zscore zmscore zincrby zrank zrevrank zcount zlexcount zpopmin zpopmax "
     "bzpopmin bzpopmax zmpop bzmpop zunion zunionstore zinter zinterstore zintercard zdiff "
     "zdiffstore zremrangebyscore zremrangebyrank zremrangebylex zrandmember zscan",
     "prefixcache stores only string values (KV blocks), no sorted sets"},
    {"xadd xrange xrevrange xlen xread xreadgroup xgroup xack xclaim xautoclaim xpending xtrim "
     "xdel xinfo xsetid",
     "prefixcache stores only string values (KV blocks), no streams"},
    {"pfadd pfcount pfmerge setbit getbit bitcount bitpos bitop bitfield bitfield_ro geoadd "
     "geodist geohash geopos georadius georadiusbymember geosearch geosearchstore",
     "values are opaque KV blocks, not bitmaps, HyperLogLogs or geo sets"},
    {"subscribe unsubscribe psubscribe punsubscribe ssubscribe sunsubscribe publish spublish "
     "pubsub",
     "prefixcache has no publish/subscribe"},
    {"eval evalsha eval_ro evalsha_ro script fcall fcall_ro function",
     "prefixcache runs no scripts or functions (MULTI/EXEC groups commands)"},
    {"save bgsave bgrewriteaof lastsave shutdown slaveof replicaof sync psync failover "
     "replconf",
     "persistence and replication are the spill tier's and the cluster's (spilled blocks "
     "survive a restart; the client places replicas)"},
    {"cluster readonly readwrite asking",
     "prefixcache is not a Redis Cluster: clients place keys with the consistent-hash ring "
     "(BLOCK.RING)"},
    {"rename renamenx copy move dump restore migrate object sort sort_ro swapdb",
     "blocks are content-addressed and immutable under their key"},
    {"wait waitaof", "prefixcache has no replicas to wait for (the client places copies)"},
    {"reset", "prefixcache does not reset a connection's state; reconnect instead"},
    {"acl", "prefixcache has one user, 'default', with the configured password"},
    {"slowlog latency monitor debug lolwut module",
     "prefixcache reports through INFO, BLOCK.STATS and its Prometheus metrics"},
};

}  // namespace

std::span<const CommandBinding> CompatCommands() { return kCompatCommands; }

std::string RefusalOf(std::string_view name) {
  std::string lower(name.substr(0, 64));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Refusal& refusal : kRefusals) {
    for (std::size_t at = 0; at < refusal.names.size();) {
      std::size_t end = refusal.names.find(' ', at);
      if (end == std::string_view::npos) end = refusal.names.size();
      if (refusal.names.substr(at, end - at) == lower) {
        std::string upper = lower;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return "ERR " + upper + " is not supported: " + std::string(refusal.reason);
      }
      at = end + 1;
    }
  }
  return {};
}

}  // namespace prefixcache::daemon
