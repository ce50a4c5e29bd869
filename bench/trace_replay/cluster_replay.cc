#include "cluster_replay.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <span>
#include <thread>
#include <vector>

#include "prefixcache/admin.h"
#include "prefixcache/client.h"
#include "storage/options.h"

namespace prefixcache::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Memory-tier bytes and capacities summed over the nodes that answer BLOCK.STATS.
struct ClusterMemory {
  std::uint64_t bytes = 0;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t nodes_up = 0;
};

ClusterMemory Memory(Client& client) {
  ClusterMemory out;
  const std::string_view stats[] = {"BLOCK.STATS"};
  for (const NodeAddress& node : admin::Nodes(client)) {
    auto reply = admin::Command(client, node.id, stats);
    if (!reply.ok()) continue;
    const nlohmann::json doc = nlohmann::json::parse(*reply, nullptr, false);
    if (!doc.is_object() || !doc.contains("memory")) continue;
    out.bytes += doc["memory"].value("bytes", std::uint64_t{0});
    out.capacity_bytes += doc["memory"].value("capacity_bytes", std::uint64_t{0});
    ++out.nodes_up;
  }
  return out;
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const std::size_t at =
      std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())));
  return sorted[at];
}

}  // namespace

Result<ClusterRunResult> ReplayOnCluster(
    const Trace& trace, const ClusterReplayOptions& options,
    const std::function<void(const ClusterWindow&)>& on_window) {
  if (options.block_bytes == 0) return Status::InvalidArgument("--block-bytes: must be > 0");
  if (!(options.speed >= 0)) return Status::InvalidArgument("--speed: must be >= 0");
  auto opened = Client::Open(options.client);
  if (!opened.ok()) return opened.status();
  Client& client = **opened;

  ClusterRunResult result;
  RunResult& run = result.run;
  run.trace = trace.name;
  run.policy = options.policy;
  run.resolved_policy = ResolvePolicy(options.policy);
  const ClusterMemory start_memory = Memory(client);
  run.capacity_blocks =
      start_memory.capacity_bytes / (options.block_bytes + storage::kMemoryEntryOverheadBytes);
  run.capacity_fraction =
      trace.distinct_blocks == 0
          ? 0
          : static_cast<double>(run.capacity_blocks) / static_cast<double>(trace.distinct_blocks);

  // Each block's value is its key's 16 bytes, then 0xAB bytes, so a hit with another
  // block's bytes shows (wrong_blocks); room for the longest request's fetch and put.
  std::size_t longest = 0;
  for (const TraceRequest& request : trace.requests) {
    longest = std::max(longest, request.hash_ids.size());
  }
  const std::vector<std::byte> value(options.block_bytes, std::byte{0xAB});
  std::vector<std::byte> pages(longest * options.block_bytes);
  std::vector<std::span<std::byte>> destinations(longest);
  for (std::size_t i = 0; i < longest; ++i) {
    destinations[i] = std::span(pages).subspan(i * options.block_bytes, options.block_bytes);
  }
  std::vector<std::byte> value_pages(longest * options.block_bytes, std::byte{0xAB});
  std::vector<std::span<const std::byte>> values(longest);
  for (std::size_t i = 0; i < longest; ++i) {
    values[i] = std::span(value_pages).subspan(i * options.block_bytes, options.block_bytes);
  }
  const std::size_t key_bytes = std::min<std::size_t>(BlockKey::kSize, options.block_bytes);
  std::vector<std::uint32_t> depths(longest);
  for (std::size_t i = 0; i < longest; ++i) depths[i] = static_cast<std::uint32_t>(i);
  std::vector<BlockRead> reads(longest);
  std::vector<BlockKey> keys;
  std::vector<double> fetch_us;
  fetch_us.reserve(trace.requests.size());

  ClusterWindow window;
  auto end_window = [&] {
    if (on_window && window.counts.requests > 0) {
      const ClusterMemory memory = Memory(client);
      window.memory_bytes = memory.bytes;
      window.nodes_up = memory.nodes_up;
      on_window(window);
    }
    window = ClusterWindow{};
    window.counts.window = run.requests / std::max<std::uint64_t>(1, options.report_every);
  };
  const Clock::time_point started = Clock::now();
  const std::uint64_t first_ms = trace.requests.empty() ? 0 : trace.requests[0].timestamp_ms;
  for (const TraceRequest& request : trace.requests) {
    if (options.speed > 0 && request.timestamp_ms > first_ms) {
      const double wait_ms = static_cast<double>(request.timestamp_ms - first_ms) / options.speed;
      std::this_thread::sleep_until(started +
                                    std::chrono::microseconds(std::llround(wait_ms * 1000)));
    }
    const std::size_t n = request.hash_ids.size();
    keys.resize(n);
    for (std::size_t i = 0; i < n; ++i) keys[i] = TraceKey(request.hash_ids[i]);
    std::uint64_t errors = 0;
    std::size_t hit = 0;
    const Clock::time_point fetch_start = Clock::now();
    Result<std::size_t> fetched =
        client.GetPrefix(keys, std::span(destinations).first(n), std::span(reads).first(n));
    fetch_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - fetch_start).count());
    if (fetched.ok()) {
      hit = *fetched;
      for (std::size_t i = 0; i < hit; ++i) {
        const std::byte* got = destinations[i].data();
        const bool same =
            reads[i].size == value.size() &&
            std::memcmp(got, keys[i].View().data(), key_bytes) == 0 &&
            std::memcmp(got + key_bytes, value.data() + key_bytes, value.size() - key_bytes) == 0;
        window.wrong_blocks += !same;
        result.wrong_blocks += !same;
      }
      for (std::size_t i = hit; i < n; ++i) {
        window.unavailable += reads[i].status == BlockStatus::kUnavailable;
        window.corrupt += reads[i].status == BlockStatus::kCorrupt;
        result.corrupt += reads[i].status == BlockStatus::kCorrupt;
      }
    } else {
      ++errors;
    }
    if (hit < n) {
      for (std::size_t i = hit; i < n; ++i) {
        std::memcpy(value_pages.data() + (i - hit) * options.block_bytes, keys[i].View().data(),
                    key_bytes);
      }
      auto put = client.Put(std::span(keys).subspan(hit), std::span(values).first(n - hit),
                            std::span(depths).subspan(hit, n - hit));
      if (put.ok()) {
        window.not_stored += put->not_stored;
      } else {
        ++errors;
      }
    }
    std::uint64_t tokens = 0;
    for (std::size_t i = 0; i < hit; ++i) tokens += Trace::BlockTokens(request, i);

    run.requests += 1;
    run.blocks += n;
    run.hit_blocks += hit;
    run.prefill_tokens_saved += tokens;
    run.errors += errors;
    window.counts.requests += 1;
    window.counts.blocks += n;
    window.counts.hit_blocks += hit;
    window.counts.errors += errors;
    if (options.report_every > 0 && window.counts.requests == options.report_every) end_window();
  }
  if (options.report_every > 0) end_window();

  std::sort(fetch_us.begin(), fetch_us.end());
  result.fetch_p50_us = Percentile(fetch_us, 0.50);
  result.fetch_p99_us = Percentile(fetch_us, 0.99);
  const ClientStats stats = client.Stats();
  result.bytes_read = stats.bytes_read;
  result.bytes_written = stats.bytes_written;
  result.stand_in_hits = stats.stand_in_hits;
  result.stand_in_writes = stats.stand_in_writes;
  result.memory_bytes = Memory(client).bytes;
  return result;
}

}  // namespace prefixcache::bench
