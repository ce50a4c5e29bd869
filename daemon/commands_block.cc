// The BLOCK.* commands: batched existence checks, reads (all keys, or the leading run)
// and writes of raw 16-byte block keys, and the JSON views of the store's counters and of
// the ring.
#include <algorithm>
#include <limits>
#include <memory>
#include <string>

#include "arg_parse.h"
#include "daemon/commands.h"
#include "key_mapping.h"

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

// BLOCK.MGETPREFIX's values: the leading run found so far, in key order.
struct PrefixRun {
  std::vector<BlockKey> keys;
  std::vector<Buffer> values;

  void Write(protocol::ReplyBuilder& out) const {
    out.ArrayHeader(keys.size());
    for (const Buffer& value : values) out.Bulk(value);
    for (std::size_t i = values.size(); i < keys.size(); ++i) out.Nil();
  }
};

void AppendTier(std::string& out, const char* name, const storage::TierStats& t) {
  out += '"';
  out += name;
  out += "\":{";
  auto field = [&out](const char* key, std::uint64_t value, bool last = false) {
    out += '"';
    out += key;
    out += "\":";
    out += std::to_string(value);
    if (!last) out += ',';
  };
  field("hits", t.hits);
  field("misses", t.misses);
  field("bytes", t.bytes);
  field("entries", t.entries);
  field("capacity_bytes", t.capacity_bytes);
  field("evictions", t.evictions);
  field("demotions", t.demotions);
  field("promotions", t.promotions);
  field("checksum_failures", t.checksum_failures);
  field("demotion_drops", t.demotion_drops);
  field("io_errors", t.io_errors);
  field("queue_bytes", t.queue_bytes, true);
  out += '}';
}

}  // namespace

void StoreCommandHandler::BlockExists(Args& args, CommandContext& ctx) {
  // Scratch reused across requests of this I/O thread: no allocation per request.
  thread_local std::vector<BlockKey> keys;
  thread_local std::vector<std::uint8_t> held;
  if (auto error = ParseBlockKeys("BLOCK.EXISTS", args, keys)) return ErrorReply(ctx, *error);
  CheckOwnership(keys);
  held.resize(keys.size());
  store_.Contains(keys, held);
  protocol::ReplyBuilder& reply = ctx.reply();
  reply.ArrayHeader(keys.size());
  for (std::uint8_t h : held) reply.Integer(h ? 1 : 0);
}

void StoreCommandHandler::BlockMget(Args& args, CommandContext& ctx) {
  std::vector<BlockKey> keys;
  if (auto error = ParseBlockKeys("BLOCK.MGET", args, keys)) return ErrorReply(ctx, *error);
  FetchBlocks(std::move(keys), /*single=*/false, ctx);
}

void StoreCommandHandler::BlockMgetPrefix(Args& args, CommandContext& ctx) {
  auto run = std::make_shared<PrefixRun>();
  if (auto error = ParseBlockKeys("BLOCK.MGETPREFIX", args, run->keys)) {
    return ErrorReply(ctx, *error);
  }
  CheckOwnership(run->keys);
  const std::size_t n = run->keys.size();
  run->values.reserve(n);
  // Memory hits inline, up to the first key that is missing or on disk.
  while (run->values.size() < n) {
    Result<Buffer> value = store_.GetFromMemory(run->keys[run->values.size()]);
    if (!value.ok()) break;
    run->values.push_back(std::move(value).value());
  }
  const std::size_t at = run->values.size();
  if (at == n || !store_.Contains(run->keys[at])) {
    stats_.keyspace_hits.Add(at);
    stats_.keyspace_misses.Add(at < n ? 1 : 0);  // keys past the first miss are not looked up
    return run->Write(ctx.reply());
  }
  // keys[at] is spilled: the rest of the run is read on a worker (an I/O thread never reads
  // the disk), still stopping at the first miss.
  RunOnWorker(ctx, [this, run]() -> ReplyWriter {
    const std::size_t total = run->keys.size();
    while (run->values.size() < total) {
      Result<Buffer> value = store_.Get(run->keys[run->values.size()]);
      if (!value.ok()) break;
      run->values.push_back(std::move(value).value());
    }
    stats_.keyspace_hits.Add(run->values.size());
    stats_.keyspace_misses.Add(run->values.size() < total ? 1 : 0);
    return [run](protocol::ReplyBuilder& out) { run->Write(out); };
  });
}

void StoreCommandHandler::BlockMset(Args& args, CommandContext& ctx) {
  if ((args.size() - 1) % 3 != 0) {
    return ErrorReply(ctx, "ERR wrong number of arguments for 'block.mset' command");
  }
  const std::size_t count = (args.size() - 1) / 3;
  const std::uint64_t max_value = store_.LargestStorableValue();
  thread_local std::vector<BlockKey> keys;
  thread_local std::vector<std::uint32_t> depths;
  keys.clear();
  depths.clear();
  // Validate every triple before storing any, so a bad request stores nothing.
  for (std::size_t t = 0; t < count; ++t) {
    const Buffer& depth_arg = args[1 + 3 * t];
    const Buffer& key_arg = args[2 + 3 * t];
    const Buffer& value = args[3 + 3 * t];
    const std::string where = "ERR BLOCK.MSET triple " + std::to_string(t) + ": ";
    std::optional<std::int64_t> depth = ParseInt64(depth_arg.view());
    if (!depth || *depth < 0 || *depth > std::numeric_limits<std::uint32_t>::max()) {
      return ErrorReply(ctx, where + "depth must be an integer from 0 to 4294967295, got '" +
                                 std::string(depth_arg.view().substr(0, 32)) + "'");
    }
    std::optional<BlockKey> key = RawBlockKey(key_arg.view());
    if (!key) {
      return ErrorReply(ctx, where + "a block key must be exactly 16 bytes, got " +
                                 std::to_string(key_arg.size()));
    }
    if (value.size() > max_value) {
      return ErrorReply(ctx, where + "value of " + std::to_string(value.size()) +
                                 " bytes exceeds the largest storable block (" +
                                 std::to_string(max_value) + " bytes)");
    }
    keys.push_back(*key);
    depths.push_back(static_cast<std::uint32_t>(*depth));
  }
  CheckOwnership(keys);
  for (std::size_t t = 0; t < count; ++t) {
    if (auto error = PutBlock(keys[t], args[3 + 3 * t], depths[t])) {
      return ErrorReply(ctx,
                        "ERR BLOCK.MSET triple " + std::to_string(t) + ": " + error->substr(4));
    }
  }
  ctx.reply().SimpleString("OK");
}

void StoreCommandHandler::BlockStats(CommandContext& ctx) {
  // Counters only, no disk I/O: answered on the I/O thread.
  const std::string json = StatsJson();
  ctx.reply().Bulk(std::string_view(json));
}

std::string StoreCommandHandler::StatsJson() const {
  const storage::StoreStats s = store_.Stats();
  std::string json = "{\"node_id\":";
  AppendJsonString(json, options_.node_id);
  json += ",\"blocks\":" + std::to_string(store_.Size()) + ",";
  AppendTier(json, "memory", s.memory);
  json += ',';
  AppendTier(json, "spill", s.spill);
  json += ",\"spill_enabled\":";
  json += s.spill_enabled ? "true" : "false";
  json += ",\"spill_healthy\":";
  json += s.spill_healthy ? "true" : "false";
  json += ",\"spill_error\":";
  AppendJsonString(json, s.spill_error);
  json += ",\"keyspace_hits\":" + std::to_string(stats_.keyspace_hits.Load());
  json += ",\"keyspace_misses\":" + std::to_string(stats_.keyspace_misses.Load());
  json += ",\"misrouted_keys\":" + std::to_string(stats_.misrouted_keys.Load());
  json += '}';
  return json;
}

void StoreCommandHandler::BlockRing(CommandContext& ctx) {
  std::shared_ptr<const RingView> view = ring_.load();
  if (!view->ring) return ErrorReply(ctx, "ERR the ring is not configured yet");
  const std::string json = view->ring->ToJson();
  ctx.reply().Bulk(std::string_view(json));
}

}  // namespace prefixcache::daemon
