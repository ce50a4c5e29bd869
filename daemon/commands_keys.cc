// The Redis key commands: GET, SET (with its expiry options), SETEX, PSETEX, DEL (and
// UNLINK), EXISTS (and TOUCH), MGET, MSET, DBSIZE, FLUSHALL/FLUSHDB, the EXPIRE family, TTL, PTTL,
// EXPIRETIME, PEXPIRETIME, PERSIST, SCAN and KEYS. Keys map to blocks through MapKey
// (key_mapping.h) and keep their names (KeyName); values set here have depth 0.
#include <limits>
#include <memory>
#include <unordered_set>
#include <utility>

#include "command_env.h"
#include "key_mapping.h"
#include "protocol/resp_integer.h"

namespace prefixcache::daemon {
namespace {

// The error reply for a store call that failed.
std::string StoreError(const Status& status) {
  if (status.code() == StatusCode::kRejected) return "ERR " + status.message();
  return "ERR " + status.ToString();
}

}  // namespace

std::optional<std::string> CommandEnv::PutBlock(const BlockKey& key, Buffer& value,
                                                std::uint32_t depth,
                                                const storage::KeyOptions& key_options) {
  Result<Buffer> owned = OwnedValue(value);
  if (!owned.ok()) return StoreError(owned.status());
  if (Status status = store.Put(key, std::move(owned).value(), depth, key_options); !status.ok()) {
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

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";

// A command's name as Redis's errors show it.
std::string LowerName(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return out;
}

std::string InvalidExpireTime(std::string_view command) {
  return "ERR invalid expire time in '" + std::string(command) + "' command";
}

// An expiry argument of SET / SETEX / PSETEX turned into Unix ms, as Redis's
// getExpireMillisecondsOrReply does: a positive integer (seconds or ms, relative to now
// or absolute). The error reply otherwise.
Result<std::int64_t> SetExpiryMs(const CommandEnv& env, std::string_view arg, bool seconds,
                                 bool relative, std::string_view command) {
  std::optional<std::int64_t> value = protocol::ParseInteger(arg);
  if (!value) return Status::InvalidArgument(std::string(kNotInteger));
  std::int64_t ms = *value;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  if (ms <= 0 || (seconds && ms > kMax / 1000)) {
    return Status::InvalidArgument(InvalidExpireTime(command));
  }
  if (seconds) ms *= 1000;
  if (relative) {
    const std::int64_t now = env.store.NowMs();
    if (ms > kMax - now) return Status::InvalidArgument(InvalidExpireTime(command));
    ms += now;
  }
  return ms;
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], with Redis's rules for
// which options may be combined (anything else is a syntax error).
void Set(CommandEnv& env, Args& args, CommandContext& ctx) {
  bool nx = false, xx = false, get = false, keep_ttl = false;
  std::string_view expiry_unit;  // "EX", "PX", "EXAT" or "PXAT" once given
  std::string_view expiry_arg;
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string_view option = args[i].view();
    const bool has_next = i + 1 < args.size();
    if (EqualsIgnoreCase(option, "NX") && !xx) {
      nx = true;
    } else if (EqualsIgnoreCase(option, "XX") && !nx) {
      xx = true;
    } else if (EqualsIgnoreCase(option, "GET")) {
      get = true;
    } else if (EqualsIgnoreCase(option, "KEEPTTL") && expiry_unit.empty()) {
      keep_ttl = true;
    } else if ((EqualsIgnoreCase(option, "EX") || EqualsIgnoreCase(option, "PX") ||
                EqualsIgnoreCase(option, "EXAT") || EqualsIgnoreCase(option, "PXAT")) &&
               !keep_ttl && has_next &&
               (expiry_unit.empty() || EqualsIgnoreCase(expiry_unit, option))) {
      expiry_unit = option;
      expiry_arg = args[++i].view();
    } else {
      return env.ErrorReply(ctx, "ERR syntax error");
    }
  }
  storage::KeyOptions key_options;
  key_options.keep_ttl = keep_ttl;
  key_options.name = KeyName(args[1].view());
  if (!expiry_unit.empty()) {
    const bool seconds = expiry_unit.size() == 2 ? EqualsIgnoreCase(expiry_unit, "EX")
                                                 : EqualsIgnoreCase(expiry_unit, "EXAT");
    Result<std::int64_t> at =
        SetExpiryMs(env, expiry_arg, seconds, /*relative=*/expiry_unit.size() == 2, "set");
    if (!at.ok()) return env.ErrorReply(ctx, at.status().message());
    key_options.expire_at_ms = *at;
  }
  const BlockKey key = MapKey(args[1].view());
  env.CheckOwnership(key);
  if (!nx && !xx && !get) {
    if (auto error = env.PutBlock(key, args[2], 0, key_options)) {
      return env.ErrorReply(ctx, *error);
    }
    return ctx.reply().SimpleString("OK");
  }
  // NX / XX / GET: the check, the store and the old value are one step in the store, as in
  // Redis, whatever other clients write to the key meanwhile.
  const auto condition = nx   ? storage::BlockStore::PutCondition::kIfAbsent
                         : xx ? storage::BlockStore::PutCondition::kIfPresent
                              : storage::BlockStore::PutCondition::kAlways;
  Result<Buffer> value = env.OwnedValue(args[2]);
  if (!value.ok()) return env.ErrorReply(ctx, "ERR " + value.status().message());
  auto outcome =
      env.store.PutIf(key, *value, 0, condition, get, /*may_read_disk=*/false, key_options);
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
  env.RunOnWorker(
      ctx,
      [&env, key, value = std::move(value).value(), condition, get, reply,
       name = std::optional<std::string>(key_options.name), key_options]() mutable -> ReplyWriter {
        key_options.name = name;
        auto done = env.store.PutIf(key, std::move(value), 0, condition, get,
                                    /*may_read_disk=*/true, key_options);
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

// SETEX key seconds value / PSETEX key milliseconds value.
template <bool seconds>
void SetWithExpiry(CommandEnv& env, Args& args, CommandContext& ctx) {
  Result<std::int64_t> at =
      SetExpiryMs(env, args[2].view(), seconds, true, LowerName(args[0].view()));
  if (!at.ok()) return env.ErrorReply(ctx, at.status().message());
  storage::KeyOptions key_options;
  key_options.expire_at_ms = *at;
  key_options.name = KeyName(args[1].view());
  const BlockKey key = MapKey(args[1].view());
  env.CheckOwnership(key);
  if (auto error = env.PutBlock(key, args[3], 0, key_options)) return env.ErrorReply(ctx, *error);
  ctx.reply().SimpleString("OK");
}

// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT], as Redis 7 answers them:
// the options are checked first, then the time; 1 when set (or when a time in the past
// deleted the key), 0 when the key is missing or the condition did not hold.
template <bool seconds, bool relative>
void ExpireGeneric(CommandEnv& env, Args& args, CommandContext& ctx) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string_view option = args[i].view();
    if (EqualsIgnoreCase(option, "NX")) {
      nx = true;
    } else if (EqualsIgnoreCase(option, "XX")) {
      xx = true;
    } else if (EqualsIgnoreCase(option, "GT")) {
      gt = true;
    } else if (EqualsIgnoreCase(option, "LT")) {
      lt = true;
    } else {
      return env.ErrorReply(ctx, "ERR Unsupported option " + std::string(option));
    }
  }
  if (nx && (xx || gt || lt)) {
    return env.ErrorReply(ctx,
                          "ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) {
    return env.ErrorReply(ctx, "ERR GT and LT options at the same time are not compatible");
  }
  std::optional<std::int64_t> when = protocol::ParseInteger(args[2].view());
  if (!when) return env.ErrorReply(ctx, kNotInteger);
  const std::string command = LowerName(args[0].view());
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  std::int64_t ms = *when;
  if (seconds) {
    if (ms > kMax / 1000 || ms < kMin / 1000)
      return env.ErrorReply(ctx, InvalidExpireTime(command));
    ms *= 1000;
  }
  if (relative) {
    const std::int64_t now = env.store.NowMs();
    if (ms > kMax - now) return env.ErrorReply(ctx, InvalidExpireTime(command));
    ms += now;
  }
  using C = storage::BlockStore::ExpireCondition;
  const C condition = nx         ? C::kIfNone
                      : gt       ? C::kIfLater
                      : lt && xx ? C::kIfSomeSooner
                      : lt       ? C::kIfSooner
                      : xx       ? C::kIfSome
                                 : C::kAlways;
  const BlockKey key = MapKey(args[1].view());
  env.CheckOwnership(key);
  // An expiry at or before the epoch is in the past: the key goes (0 would mean "none").
  Result<bool> set = env.store.SetExpiry(key, std::max<std::int64_t>(ms, 1), condition);
  if (!set.ok() && set.status().code() != StatusCode::kNotFound) {
    return env.ErrorReply(ctx, StoreError(set.status()));
  }
  if (set.ok() && *set) env.KeyModified(key);  // Redis counts an expiry change as a write
  ctx.reply().Integer(set.ok() && *set ? 1 : 0);
}

// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 for a missing key, -1 for one without expiry,
// else the time left (TTL rounds to the nearest second, as Redis does) or the expiry.
template <bool ms, bool absolute>
void TtlGeneric(CommandEnv& env, Args& args, CommandContext& ctx) {
  const BlockKey key = MapKey(args[1].view());
  env.CheckOwnership(key);
  Result<std::int64_t> at = env.store.ExpiryOf(key);
  if (!at.ok()) return ctx.reply().Integer(-2);
  if (*at == 0) return ctx.reply().Integer(-1);
  if (absolute) return ctx.reply().Integer(ms ? *at : *at / 1000);
  const std::int64_t left = std::max<std::int64_t>(0, *at - env.store.NowMs());
  ctx.reply().Integer(ms ? left : (left + 500) / 1000);
}

void Persist(CommandEnv& env, Args& args, CommandContext& ctx) {
  const BlockKey key = MapKey(args[1].view());
  env.CheckOwnership(key);
  Result<bool> removed = env.store.Persist(key);
  if (!removed.ok() && removed.status().code() != StatusCode::kNotFound) {
    return env.ErrorReply(ctx, StoreError(removed.status()));
  }
  if (removed.ok() && *removed) env.KeyModified(key);
  ctx.reply().Integer(removed.ok() && *removed ? 1 : 0);
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: one page of BlockStore::Scan
// (bounded work, no disk I/O: answered on the I/O thread). Every key is a string; a key
// stored without a name (a raw 16-byte key) is returned as its 16 bytes.
void Scan(CommandEnv& env, Args& args, CommandContext& ctx) {
  std::optional<std::int64_t> cursor;
  {
    // Redis reads the cursor as an unsigned 64-bit decimal.
    const std::string_view text = args[1].view();
    std::uint64_t value = 0;
    bool ok = !text.empty();
    for (char c : text) {
      if (c < '0' || c > '9' ||
          value > (std::numeric_limits<std::uint64_t>::max() - (c - '0')) / 10) {
        ok = false;
        break;
      }
      value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok) return env.ErrorReply(ctx, "ERR invalid cursor");
    cursor = static_cast<std::int64_t>(value);
  }
  std::size_t count = 10;
  std::optional<std::string_view> pattern;
  bool strings = true;  // TYPE names the one type every key has, or none was given
  for (std::size_t i = 2; i < args.size(); i += 2) {
    const std::string_view option = args[i].view();
    if (i + 1 >= args.size()) return env.ErrorReply(ctx, "ERR syntax error");
    const std::string_view value = args[i + 1].view();
    if (EqualsIgnoreCase(option, "COUNT")) {
      std::optional<std::int64_t> n = protocol::ParseInteger(value);
      if (!n) return env.ErrorReply(ctx, kNotInteger);
      if (*n < 1) return env.ErrorReply(ctx, "ERR syntax error");
      count = static_cast<std::size_t>(std::min<std::int64_t>(*n, 100000));
    } else if (EqualsIgnoreCase(option, "MATCH")) {
      pattern = value;
    } else if (EqualsIgnoreCase(option, "TYPE")) {
      strings = EqualsIgnoreCase(value, "string");
    } else {
      return env.ErrorReply(ctx, "ERR syntax error");
    }
  }
  storage::BlockStore::ScanPage page = env.store.Scan(static_cast<std::uint64_t>(*cursor), count);
  std::vector<std::string_view> keys;
  keys.reserve(page.entries.size());
  for (const auto& entry : page.entries) {
    const std::string_view name = ScanName(entry.key, entry.name);
    if (strings && (!pattern || (*pattern == "*" || GlobMatch(*pattern, name)))) {
      keys.push_back(name);
    }
  }
  protocol::ReplyBuilder& out = ctx.reply();
  out.ArrayHeader(2);
  out.Bulk(std::to_string(page.next_cursor));
  out.ArrayHeader(keys.size());
  for (std::string_view name : keys) out.Bulk(name);
}

// KEYS pattern: every matching key, from a whole scan on a worker, for stores of at most
// kKeysLimit keys; larger ones are refused with a pointer to SCAN (a reply of millions of
// keys is not what a cache should build in one piece).
constexpr std::uint64_t kKeysLimit = 100000;

void Keys(CommandEnv& env, Args& args, CommandContext& ctx) {
  if (env.store.Size() > kKeysLimit) {
    return env.ErrorReply(ctx, "ERR KEYS is refused on more than " + std::to_string(kKeysLimit) +
                                   " keys (this node holds " + std::to_string(env.store.Size()) +
                                   "); use SCAN with MATCH (redis-cli --scan --pattern)");
  }
  env.RunOnWorker(ctx, [&env, pattern = std::string(args[1].view())]() -> ReplyWriter {
    std::unordered_set<BlockKey, BlockKeyHash> seen;
    auto names = std::make_shared<std::vector<std::string>>();
    std::uint64_t cursor = 0;
    do {
      storage::BlockStore::ScanPage page = env.store.Scan(cursor, 1000);
      for (const auto& entry : page.entries) {
        if (!seen.insert(entry.key).second) continue;
        const std::string_view name = ScanName(entry.key, entry.name);
        if (pattern == "*" || GlobMatch(pattern, name)) names->emplace_back(name);
      }
      cursor = page.next_cursor;
    } while (cursor != 0 && seen.size() <= 2 * kKeysLimit);
    return [names](protocol::ReplyBuilder& out) {
      out.ArrayHeader(names->size());
      for (const std::string& name : *names) out.Bulk(name);
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
    storage::KeyOptions key_options;
    key_options.name = KeyName(args[i].view());
    if (auto error = env.PutBlock(key, args[i + 1], 0, key_options)) {
      return env.ErrorReply(ctx, *error);
    }
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
    {CommandId::kGet, Get},
    {CommandId::kSet, Set},
    {CommandId::kDel, Del},
    {CommandId::kExists, Exists},
    {CommandId::kMget, Mget},
    {CommandId::kMset, Mset},
    {CommandId::kDbsize, Dbsize},
    {CommandId::kFlushall, Flush},
    {CommandId::kFlushdb, Flush},
    {CommandId::kSetex, &SetWithExpiry<true>},
    {CommandId::kPsetex, &SetWithExpiry<false>},
    {CommandId::kExpire, &ExpireGeneric<true, true>},
    {CommandId::kPexpire, &ExpireGeneric<false, true>},
    {CommandId::kExpireat, &ExpireGeneric<true, false>},
    {CommandId::kPexpireat, &ExpireGeneric<false, false>},
    {CommandId::kTtl, &TtlGeneric<false, false>},
    {CommandId::kPttl, &TtlGeneric<true, false>},
    {CommandId::kExpiretime, &TtlGeneric<false, true>},
    {CommandId::kPexpiretime, &TtlGeneric<true, true>},
    {CommandId::kPersist, Persist},
    {CommandId::kScan, Scan},
    {CommandId::kKeys, Keys},
    {CommandId::kUnlink, Del},
    {CommandId::kTouch, Exists},
};

}  // namespace

std::span<const CommandBinding> KeyCommands() { return kKeyCommands; }

}  // namespace prefixcache::daemon
