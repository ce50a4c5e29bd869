#include "simulator.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "eviction_policy.h"
#include "oracle_policies.h"
#include "prefixcache/buffer.h"
#include "prefixcache/defaults.h"
#include "storage/block_store.h"

namespace prefixcache::bench {
namespace {

std::uint64_t Blocks(double fraction, std::uint64_t distinct) {
  return static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(distinct)));
}

// For each block access of the trace, in order, the position of the next access of the
// same block (NextUseOracle::kNever if none).
std::vector<std::uint64_t> NextUses(const Trace& trace) {
  std::vector<std::uint64_t> next(trace.blocks, NextUseOracle::kNever);
  std::unordered_map<std::uint64_t, std::uint64_t> later;
  std::uint64_t position = trace.blocks;
  for (auto request = trace.requests.rbegin(); request != trace.requests.rend(); ++request) {
    for (auto id = request->hash_ids.rbegin(); id != request->hash_ids.rend(); ++id) {
      --position;
      auto [it, fresh] = later.try_emplace(*id, position);
      if (!fresh) {
        next[position] = it->second;
        it->second = position;
      }
    }
  }
  return next;
}

// A fresh folder for one replay's spill tier, removed with this object.
class SpillFolder {
 public:
  static Result<std::unique_ptr<SpillFolder>> Make(const std::string& parent) {
    static std::atomic<std::uint64_t> counter{0};
    std::error_code error;
    std::filesystem::path base = parent.empty() ? std::filesystem::temp_directory_path(error)
                                                : std::filesystem::path(parent);
    if (error) return Status::IoError("no temporary folder: " + error.message());
    auto path = base / ("trace_replay-" + std::to_string(::getpid()) + "-" +
                        std::to_string(counter.fetch_add(1)));
    if (!std::filesystem::create_directories(path, error)) {
      return Status::IoError("cannot create " + path.string() + ": " +
                             (error ? error.message() : "it exists"));
    }
    return std::unique_ptr<SpillFolder>(new SpillFolder(path));
  }
  ~SpillFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit SpillFolder(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

Status CheckOptions(const SimulateOptions& options) {
  if (!(options.capacity_fraction > 0)) {
    return Status::InvalidArgument("capacity fraction must be > 0");
  }
  if (options.spill_fraction && !(*options.spill_fraction > 0)) {
    return Status::InvalidArgument("spill fraction must be > 0");
  }
  if (options.shards == 0) return Status::InvalidArgument("shards must be >= 1");
  if (options.block_bytes == 0) return Status::InvalidArgument("block bytes must be >= 1");
  return Status::Ok();
}

}  // namespace

std::string ResolvePolicy(const std::string& name) {
  return name == "default" ? std::string(defaults::kEvictionPolicy) : name;
}

Result<RunResult> Simulate(const Trace& trace, const SimulateOptions& options,
                           const std::function<void(const WindowResult&)>& on_window) {
  if (Status valid = CheckOptions(options); !valid.ok()) return valid;
  RunResult run;
  run.trace = trace.name;
  run.policy = options.policy;
  run.resolved_policy = ResolvePolicy(options.policy);
  run.capacity_fraction = options.capacity_fraction;
  run.capacity_blocks = Blocks(options.capacity_fraction, trace.distinct_blocks);

  storage::StoreOptions store_options;
  store_options.memory.capacity_bytes = std::max<std::uint64_t>(run.capacity_blocks, 1) *
                                        (options.block_bytes + storage::kMemoryEntryOverheadBytes);
  store_options.memory.shards = options.shards;
  store_options.memory.eviction_policy = run.resolved_policy;
  store_options.max_value_bytes = options.block_bytes;

  NextUseOracle oracle;
  std::vector<std::uint64_t> next_uses;
  const bool offline = run.resolved_policy == "belady" || run.resolved_policy == "lru-dead-oracle";
  if (offline) {
    next_uses = NextUses(trace);
    const auto rule = run.resolved_policy == "belady" ? OraclePolicy::Rule::kBelady
                                                      : OraclePolicy::Rule::kDeadBlockLru;
    store_options.memory.make_policy = [&oracle, rule] {
      return std::unique_ptr<storage::EvictionPolicy>(
          std::make_unique<OraclePolicy>(&oracle, rule));
    };
  } else if (auto known = storage::MakeEvictionPolicy(run.resolved_policy); !known.ok()) {
    return Status::InvalidArgument(known.status().message() +
                                   "; or \"default\", \"belady\", \"lru-dead-oracle\"");
  }

  std::unique_ptr<SpillFolder> folder;
  store_options.spill.enabled = options.spill_fraction.has_value();
  if (options.spill_fraction) {
    auto made = SpillFolder::Make(options.spill_parent);
    if (!made.ok()) return made.status();
    folder = std::move(made).value();
    store_options.spill.path = folder->path().string();
    store_options.spill.capacity_bytes =
        std::max<std::uint64_t>(Blocks(*options.spill_fraction, trace.distinct_blocks), 1) *
        options.block_bytes;
    store_options.spill.flush_on_close = false;
  }
  auto opened = storage::BlockStore::Open(store_options);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<storage::BlockStore> store = std::move(opened).value();
  if (Status spill = store->SpillStatus(); !spill.ok()) return spill;

  MutableBuffer bytes(options.block_bytes);
  std::memset(bytes.data(), 0xAB, options.block_bytes);
  const Buffer value = std::move(bytes).Freeze();

  WindowResult window;
  auto end_window = [&] {
    if (on_window && window.requests > 0) on_window(window);
    window = WindowResult{window.window + 1};
  };
  std::uint64_t position = 0;  // of the request's first block in the trace's accesses
  for (const TraceRequest& request : trace.requests) {
    const std::vector<std::uint64_t>& ids = request.hash_ids;
    std::uint64_t errors = 0;
    std::size_t hit = 0;
    for (; hit < ids.size(); ++hit) {
      const BlockKey key = TraceKey(ids[hit]);
      if (offline) oracle.Set(key, next_uses[position + hit]);
      Result<Buffer> got = store->Get(key);
      if (got.ok()) continue;
      if (got.status().code() != StatusCode::kNotFound) ++errors;
      break;
    }
    std::uint64_t tokens = 0;
    for (std::size_t i = 0; i < hit; ++i) tokens += Trace::BlockTokens(request, i);
    for (std::size_t i = hit; i < ids.size(); ++i) {
      const BlockKey key = TraceKey(ids[i]);
      if (offline) oracle.Set(key, next_uses[position + i]);
      if (!store->Put(key, value, static_cast<std::uint32_t>(i)).ok()) ++errors;
    }
    position += ids.size();
    // The spill writer keeps up with a daemon's request rate, not with a replay's: wait for
    // it, so the spill tier holds what it would (its queue would otherwise hold everything).
    if (options.spill_fraction && !store->Drain().ok()) ++errors;

    run.requests += 1;
    run.blocks += ids.size();
    run.hit_blocks += hit;
    run.prefill_tokens_saved += tokens;
    run.errors += errors;
    window.requests += 1;
    window.blocks += ids.size();
    window.hit_blocks += hit;
    window.errors += errors;
    if (options.report_every > 0 && window.requests == options.report_every) end_window();
  }
  if (options.report_every > 0) end_window();
  if (Status closed = store->Close(); !closed.ok()) ++run.errors;
  return run;
}

}  // namespace prefixcache::bench
