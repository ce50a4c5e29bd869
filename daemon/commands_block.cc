// The BLOCK.* commands: batched existence checks, reads (all keys, or the leading run) and
// writes of raw 16-byte block keys, and the JSON views of the store's counters and of the
// ring.
#include <algorithm>
#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "command_env.h"
#include "key_mapping.h"
#include "protocol/resp_integer.h"
#include "stats_fields.h"

namespace prefixcache::daemon {
namespace {

std::string BadKey(std::string_view command, std::size_t arg, std::size_t size) {
  return "ERR " + std::string(command) + " argument " + std::to_string(arg) +
         ": a block key must be exactly 16 bytes, got " + std::to_string(size);
}

// Parses the keys args[1..] of a BLOCK command into `keys`; the error text otherwise.
std::optional<std::string> ParseBlockKeys(std::string_view command, const std::vector<Buffer>& args,
                                          std::vector<BlockKey>& keys) {
  keys.clear();
  keys.reserve(args.size() - 1);
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::optional<BlockKey> key = RawBlockKey(args[i].view());
    if (!key) return BadKey(command, i, args[i].size());
    keys.push_back(*key);
  }
  return std::nullopt;
}

void BlockExists(CommandEnv& env, Args& args, CommandContext& ctx) {
  // Scratch reused across requests of this I/O thread: no allocation per request.
  thread_local std::vector<BlockKey> keys;
  thread_local std::vector<std::uint8_t> held;
  if (auto error = ParseBlockKeys("BLOCK.EXISTS", args, keys)) return env.ErrorReply(ctx, *error);
  env.CheckOwnership(keys);
  held.resize(keys.size());
  env.store.Contains(keys, held);
  protocol::ReplyBuilder& reply = ctx.reply();
  reply.ArrayHeader(keys.size());
  for (std::uint8_t h : held) reply.Integer(h ? 1 : 0);
}

void BlockMget(CommandEnv& env, Args& args, CommandContext& ctx) {
  std::vector<BlockKey> keys;
  if (auto error = ParseBlockKeys("BLOCK.MGET", args, keys)) return env.ErrorReply(ctx, *error);
  env.FetchBlocks(std::move(keys), CommandEnv::FetchReply::kArray, ctx);
}

// BLOCK.MGETPREFIX key [key ...]: the leading run of the keys' blocks, in order, and nil
// for every key from the first miss on (those are not looked up). A spilled block moves
// the rest of the run to the worker pool; no disk read happens past the first miss.
void BlockMgetPrefix(CommandEnv& env, Args& args, CommandContext& ctx) {
  std::vector<BlockKey> keys;
  if (auto error = ParseBlockKeys("BLOCK.MGETPREFIX", args, keys)) {
    return env.ErrorReply(ctx, *error);
  }
  env.FetchBlocks(std::move(keys), CommandEnv::FetchReply::kPrefix, ctx);
}

void BlockMset(CommandEnv& env, Args& args, CommandContext& ctx) {
  if ((args.size() - 1) % 3 != 0) {
    return env.ErrorReply(ctx, "ERR wrong number of arguments for 'block.mset' command");
  }
  const std::size_t count = (args.size() - 1) / 3;
  const std::uint64_t max_value = env.store.LargestStorableValue();
  thread_local std::vector<BlockKey> keys;
  thread_local std::vector<std::uint32_t> depths;
  keys.clear();
  depths.clear();
  // Validation is all or nothing: a bad triple refuses the whole request before any block
  // is stored. The stores are not one atomic step: the blocks are stored one after
  // another, and a store that fails leaves the blocks before it stored.
  for (std::size_t t = 0; t < count; ++t) {
    const Buffer& depth_arg = args[1 + 3 * t];
    const Buffer& key_arg = args[2 + 3 * t];
    const Buffer& value = args[3 + 3 * t];
    const std::string where = "ERR BLOCK.MSET triple " + std::to_string(t) + ": ";
    std::optional<std::int64_t> depth = protocol::ParseInteger(depth_arg.view());
    if (!depth || *depth < 0 || *depth > std::numeric_limits<std::uint32_t>::max()) {
      return env.ErrorReply(ctx, where + "depth must be an integer from 0 to 4294967295, got '" +
                                     std::string(depth_arg.view().substr(0, 32)) + "'");
    }
    std::optional<BlockKey> key = RawBlockKey(key_arg.view());
    if (!key) {
      return env.ErrorReply(ctx, where + "a block key must be exactly 16 bytes, got " +
                                     std::to_string(key_arg.size()));
    }
    if (value.size() > max_value) {
      return env.ErrorReply(ctx, where + "value of " + std::to_string(value.size()) +
                                     " bytes exceeds the largest storable block (" +
                                     std::to_string(max_value) + " bytes)");
    }
    keys.push_back(*key);
    depths.push_back(static_cast<std::uint32_t>(*depth));
  }
  env.CheckOwnership(keys);
  for (std::size_t t = 0; t < count; ++t) {
    if (auto error = env.PutBlock(keys[t], args[3 + 3 * t], depths[t])) {
      return env.ErrorReply(ctx,
                            "ERR BLOCK.MSET triple " + std::to_string(t) + ": " + error->substr(4));
    }
  }
  ctx.reply().SimpleString("OK");
}

// Counters only, no disk I/O: answered on the I/O thread.
void BlockStats(CommandEnv& env, Args&, CommandContext& ctx) {
  const storage::StoreStats stats = env.store.Stats();
  nlohmann::ordered_json json = {{"node_id", env.options.node_id}, {"blocks", env.store.Size()}};
  for (auto [name, tier] : {std::pair{"memory", &stats.memory}, std::pair{"spill", &stats.spill}}) {
    nlohmann::ordered_json& fields = json[name];
    for (const TierField& field : TierFields())
      fields[std::string(field.name)] = tier->*field.member;
  }
  json["spill_enabled"] = stats.spill_enabled;
  json["spill_healthy"] = stats.spill_healthy;
  json["spill_error"] = stats.spill_error;
  const CounterSources sources{env.server_stats, env.stats, stats};
  for (const CounterField& field : CounterFields()) {
    if (field.in_block_stats) json[std::string(field.info)] = field.read(sources);
  }
  json["version"] = PREFIXCACHE_VERSION;
  json["uptime_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now() - env.server_stats.started_at)
                               .count();
  const std::string text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  ctx.reply().Bulk(std::string_view(text));
}

void BlockRing(CommandEnv& env, Args&, CommandContext& ctx) {
  std::shared_ptr<const RingView> view = env.ring.load();
  if (!view->ring) return env.ErrorReply(ctx, "ERR the ring is not configured yet");
  const std::string json = view->ring->ToJson();
  ctx.reply().Bulk(std::string_view(json));
}

constexpr CommandBinding kBlockCommands[] = {
    {CommandId::kBlockExists, BlockExists}, {CommandId::kBlockMget, BlockMget},
    {CommandId::kBlockMset, BlockMset},     {CommandId::kBlockStats, BlockStats},
    {CommandId::kBlockRing, BlockRing},     {CommandId::kBlockMgetPrefix, BlockMgetPrefix},
};

}  // namespace

std::span<const CommandBinding> BlockCommands() { return kBlockCommands; }

}  // namespace prefixcache::daemon
