// The table of commands prefixcached serves: name, Redis arity, flags and key positions,
// looked up case-insensitively without allocating, and rendered for COMMAND / COMMAND
// INFO in Redis 7's reply layout. Immutable static data; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/resp_writer.h"

namespace prefixcache::daemon {

enum class CommandId : std::uint8_t {
  kPing,
  kEcho,
  kAuth,
  kHello,
  kSelect,
  kQuit,
  kGet,
  kSet,
  kDel,
  kExists,
  kMget,
  kMset,
  kDbsize,
  kInfo,
  kFlushall,
  kFlushdb,
  kCommand,
  kClient,
  kConfig,
  kBlockExists,
  kBlockMget,
  kBlockMset,
  kBlockStats,
  kBlockRing,
  kBlockMgetPrefix,
  kExpire,
  kPexpire,
  kExpireat,
  kPexpireat,
  kTtl,
  kPttl,
  kExpiretime,
  kPexpiretime,
  kPersist,
  kSetex,
  kPsetex,
  kScan,
  kKeys,
  kMulti,
  kExec,
  kDiscard,
  kWatch,
  kUnwatch,
  kType,
  kStrlen,
  kTouch,
  kUnlink,
  kRandomkey,
  kTime,
  kMemory,
};
inline constexpr std::size_t kCommandCount = static_cast<std::size_t>(CommandId::kMemory) + 1;

struct CommandSpec {
  std::string_view name;  // lowercase, as COMMAND and error messages show it
  CommandId id;
  // Redis convention: N = exactly N arguments including the name, -N = at least N.
  int arity;
  // Allowed before AUTH (AUTH, HELLO, QUIT).
  bool no_auth;
  // Redis command flags, space separated ("readonly fast").
  std::string_view flags;
  // ACL categories, space separated ("@read @string @fast").
  std::string_view categories;
  int first_key;
  int last_key;
  int key_step;
};

// The command named `name` (any case), or nullptr.
const CommandSpec* FindCommand(std::string_view name);

// Every command, in table order.
std::span<const CommandSpec> AllCommands();

// True when `argc` (arguments including the name) satisfies `arity` (Redis convention:
// N = exactly N, -N = at least N).
inline bool ArityOk(int arity, std::size_t argc) {
  return arity > 0 ? argc == static_cast<std::size_t>(arity)
                   : argc >= static_cast<std::size_t>(-arity);
}
inline bool ArityOk(const CommandSpec& spec, std::size_t argc) { return ArityOk(spec.arity, argc); }

// ASCII case-insensitive equality (for command names and options).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Appends one COMMAND INFO entry (a 10-element array as Redis 7 sends it; its word lists
// are sets in RESP3).
void WriteCommandInfo(const CommandSpec& spec, protocol::ReplyBuilder& reply);

}  // namespace prefixcache::daemon
