#include "daemon/command_table.h"

#include <array>

namespace prefixcache::daemon {
namespace {

constexpr std::array<CommandSpec, kCommandCount> kCommands = {{
    {"ping", CommandId::kPing, -1, false, "fast", "@fast @connection", 0, 0, 0},
    {"echo", CommandId::kEcho, 2, false, "fast", "@fast @connection", 0, 0, 0},
    {"auth", CommandId::kAuth, -2, true, "noscript loading stale fast no_auth allow_busy",
     "@fast @connection", 0, 0, 0},
    {"hello", CommandId::kHello, -1, true, "noscript loading stale fast no_auth allow_busy",
     "@fast @connection", 0, 0, 0},
    {"select", CommandId::kSelect, 2, false, "loading stale fast", "@keyspace @fast", 0, 0, 0},
    {"quit", CommandId::kQuit, -1, true, "allow_busy noscript loading stale fast no_auth",
     "@fast @connection", 0, 0, 0},
    {"get", CommandId::kGet, 2, false, "readonly fast", "@read @string @fast", 1, 1, 1},
    {"set", CommandId::kSet, -3, false, "write denyoom", "@write @string @slow", 1, 1, 1},
    {"del", CommandId::kDel, -2, false, "write", "@keyspace @write @slow", 1, -1, 1},
    {"exists", CommandId::kExists, -2, false, "readonly fast", "@keyspace @read @fast", 1, -1, 1},
    {"mget", CommandId::kMget, -2, false, "readonly fast", "@read @string @fast", 1, -1, 1},
    {"mset", CommandId::kMset, -3, false, "write denyoom", "@write @string @slow", 1, -1, 2},
    {"dbsize", CommandId::kDbsize, 1, false, "readonly fast", "@keyspace @read @fast", 0, 0, 0},
    {"info", CommandId::kInfo, -1, false, "loading stale", "@slow @dangerous", 0, 0, 0},
    {"flushall", CommandId::kFlushall, -1, false, "write", "@keyspace @write @slow @dangerous", 0,
     0, 0},
    {"flushdb", CommandId::kFlushdb, -1, false, "write", "@keyspace @write @slow @dangerous", 0, 0,
     0},
    {"command", CommandId::kCommand, -1, false, "loading stale", "@slow @connection", 0, 0, 0},
    {"client", CommandId::kClient, -2, false, "noscript loading stale", "@slow @connection", 0, 0,
     0},
    {"config", CommandId::kConfig, -2, false, "admin noscript loading stale",
     "@admin @slow @dangerous", 0, 0, 0},
    {"block.exists", CommandId::kBlockExists, -2, false, "readonly fast", "@read @fast", 1, -1, 1},
    {"block.mget", CommandId::kBlockMget, -2, false, "readonly", "@read", 1, -1, 1},
    {"block.mset", CommandId::kBlockMset, -4, false, "write denyoom", "@write", 2, -1, 3},
    {"block.stats", CommandId::kBlockStats, 1, false, "loading stale", "@slow", 0, 0, 0},
    {"block.ring", CommandId::kBlockRing, 1, false, "loading stale", "@slow", 0, 0, 0},
    {"block.mgetprefix", CommandId::kBlockMgetPrefix, -2, false, "readonly", "@read", 1, -1, 1},
    {"expire", CommandId::kExpire, -3, false, "write fast", "@keyspace @write @fast", 1, 1, 1},
    {"pexpire", CommandId::kPexpire, -3, false, "write fast", "@keyspace @write @fast", 1, 1, 1},
    {"expireat", CommandId::kExpireat, -3, false, "write fast", "@keyspace @write @fast", 1, 1, 1},
    {"pexpireat", CommandId::kPexpireat, -3, false, "write fast", "@keyspace @write @fast", 1, 1,
     1},
    {"ttl", CommandId::kTtl, 2, false, "readonly fast", "@keyspace @read @fast", 1, 1, 1},
    {"pttl", CommandId::kPttl, 2, false, "readonly fast", "@keyspace @read @fast", 1, 1, 1},
    {"expiretime", CommandId::kExpiretime, 2, false, "readonly fast", "@keyspace @read @fast", 1, 1,
     1},
    {"pexpiretime", CommandId::kPexpiretime, 2, false, "readonly fast", "@keyspace @read @fast", 1,
     1, 1},
    {"persist", CommandId::kPersist, 2, false, "write fast", "@keyspace @write @fast", 1, 1, 1},
    {"setex", CommandId::kSetex, 4, false, "write denyoom", "@write @string @slow", 1, 1, 1},
    {"psetex", CommandId::kPsetex, 4, false, "write denyoom", "@write @string @slow", 1, 1, 1},
    {"scan", CommandId::kScan, -2, false, "readonly", "@keyspace @read @slow", 0, 0, 0},
    {"keys", CommandId::kKeys, 2, false, "readonly", "@keyspace @read @slow @dangerous", 0, 0, 0},
    {"multi", CommandId::kMulti, 1, false, "noscript loading stale fast allow_busy",
     "@fast @transaction", 0, 0, 0},
    {"exec", CommandId::kExec, 1, false, "noscript loading stale skip_slowlog",
     "@slow @transaction", 0, 0, 0},
    {"discard", CommandId::kDiscard, 1, false, "noscript loading stale fast allow_busy",
     "@fast @transaction", 0, 0, 0},
    {"watch", CommandId::kWatch, -2, false, "noscript loading stale fast allow_busy",
     "@fast @transaction", 1, -1, 1},
    {"unwatch", CommandId::kUnwatch, 1, false, "noscript loading stale fast allow_busy",
     "@fast @transaction", 0, 0, 0},
    {"type", CommandId::kType, 2, false, "readonly fast", "@keyspace @read @fast", 1, 1, 1},
    {"strlen", CommandId::kStrlen, 2, false, "readonly fast", "@read @string @fast", 1, 1, 1},
    {"touch", CommandId::kTouch, -2, false, "readonly fast", "@keyspace @read @fast", 1, -1, 1},
    {"unlink", CommandId::kUnlink, -2, false, "write fast", "@keyspace @write @fast", 1, -1, 1},
    {"randomkey", CommandId::kRandomkey, 1, false, "readonly", "@keyspace @read @slow", 0, 0, 0},
    {"time", CommandId::kTime, 1, false, "loading stale fast", "@fast", 0, 0, 0},
    {"memory", CommandId::kMemory, -2, false, "", "@slow", 0, 0, 0},
}};

constexpr char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

constexpr bool TableMatchesIds() {
  for (std::size_t i = 0; i < kCommands.size(); ++i) {
    if (static_cast<std::size_t>(kCommands[i].id) != i) return false;
  }
  return true;
}
static_assert(TableMatchesIds(), "kCommands must be in CommandId order");

// Appends the space-separated words of `list` as status strings in a set.
void WriteWordArray(std::string_view list, protocol::ReplyBuilder& reply) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < list.size();) {
    std::size_t end = list.find(' ', i);
    if (end == std::string_view::npos) end = list.size();
    if (end > i) ++count;
    i = end + 1;
  }
  reply.SetHeader(count);
  for (std::size_t i = 0; i < list.size();) {
    std::size_t end = list.find(' ', i);
    if (end == std::string_view::npos) end = list.size();
    if (end > i) reply.SimpleString(list.substr(i, end - i));
    i = end + 1;
  }
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

const CommandSpec* FindCommand(std::string_view name) {
  // A linear scan comparing the length and the first letter before the name: three dozen
  // entries, no hashing, no allocation.
  for (const CommandSpec& spec : kCommands) {
    if (spec.name.size() == name.size() && Lower(name[0]) == spec.name[0] &&
        EqualsIgnoreCase(spec.name, name)) {
      return &spec;
    }
  }
  return nullptr;
}

std::span<const CommandSpec> AllCommands() { return kCommands; }

void WriteCommandInfo(const CommandSpec& spec, protocol::ReplyBuilder& reply) {
  reply.ArrayHeader(10);
  reply.Bulk(spec.name);
  reply.Integer(spec.arity);
  WriteWordArray(spec.flags, reply);
  reply.Integer(spec.first_key);
  reply.Integer(spec.last_key);
  reply.Integer(spec.key_step);
  WriteWordArray(spec.categories, reply);
  reply.SetHeader(0);  // tips
  reply.SetHeader(0);  // key specs
  reply.SetHeader(0);  // subcommands
}

}  // namespace prefixcache::daemon
