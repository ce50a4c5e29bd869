// trace_replay: replays Mooncake-format request traces (shared/data/README.md) to measure
// hit ratio. Two modes:
//
//   trace_replay --simulate --trace FILE --policy P[,P...] --capacity-fraction F[,F...]
//                [--shards N] [--spill-fraction S] [--block-bytes N] [--report-every N]
//
// runs every policy x capacity through the storage engine of one node (simulator.h) and
// prints one JSON line per run (report.h), preceded by its window lines with
// --report-every. Policies: lru, prefix, tiered, default (the daemon's), and the offline
// references belady and lru-dead-oracle.
//
//   trace_replay --config FILE --trace FILE [--policy P] [--block-bytes N] [--speed X]
//                [--report-every N]
//
// replays once through the client library against the running cluster FILE describes
// (cluster_replay.h); --policy only names what the nodes run, for the report. The run line
// adds fetch_p50_us, fetch_p99_us, bytes_read, bytes_written, memory_bytes, the stand-in
// counts, corrupt (reads that failed verification) and wrong_blocks (hits with another
// block's bytes: must be 0); window lines add memory_bytes, nodes_up, unavailable,
// not_stored, corrupt and wrong_blocks.
// Exit 0, or 2 for bad arguments, an unreadable trace or config (the reason on stderr).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cluster_replay.h"
#include "prefixcache/client_config.h"
#include "report.h"
#include "simulator.h"
#include "trace.h"

namespace {

using prefixcache::bench::PrintLine;

struct Args {
  bool simulate = false;
  std::string trace;
  std::vector<std::string> policies{"default"};
  std::vector<double> capacity_fractions;
  std::size_t shards = 1;
  std::optional<double> spill_fraction;
  std::optional<std::uint64_t> block_bytes;
  std::uint64_t report_every = 0;
  std::string config;
  double speed = 0;
};

int Simulate(const Args& args) {
  auto trace = prefixcache::bench::ReadTrace(args.trace);
  if (!trace.ok()) {
    std::fprintf(stderr, "trace_replay: %s\n", trace.status().ToString().c_str());
    return 2;
  }
  for (const std::string& policy : args.policies) {
    for (double fraction : args.capacity_fractions) {
      prefixcache::bench::SimulateOptions options;
      options.policy = policy;
      options.capacity_fraction = fraction;
      options.shards = args.shards;
      options.spill_fraction = args.spill_fraction;
      options.block_bytes = args.block_bytes.value_or(1024);
      options.report_every = args.report_every;
      auto run = prefixcache::bench::Simulate(
          trace.value(), options, [](const prefixcache::bench::WindowResult& window) {
            PrintLine(stdout, prefixcache::bench::WindowJson(window));
          });
      if (!run.ok()) {
        std::fprintf(stderr, "trace_replay: %s\n", run.status().ToString().c_str());
        return 2;
      }
      if (run.value().errors > 0) {
        std::fprintf(stderr, "trace_replay: %s at %g: %llu failed reads or writes\n",
                     policy.c_str(), fraction, static_cast<unsigned long long>(run.value().errors));
      }
      PrintLine(stdout, prefixcache::bench::RunJson(run.value()));
    }
  }
  return 0;
}

int Replay(const Args& args) {
  auto trace = prefixcache::bench::ReadTrace(args.trace);
  if (!trace.ok()) {
    std::fprintf(stderr, "trace_replay: %s\n", trace.status().ToString().c_str());
    return 2;
  }
  auto client = prefixcache::ClientOptionsFromConfigFile(args.config);
  if (!client.ok()) {
    std::fprintf(stderr, "trace_replay: %s\n", client.status().ToString().c_str());
    return 2;
  }
  prefixcache::bench::ClusterReplayOptions options;
  options.client = std::move(client).value();
  options.policy = args.policies.empty() ? "default" : args.policies.front();
  options.block_bytes = args.block_bytes.value_or(16 * 1024);
  options.speed = args.speed;
  options.report_every = args.report_every;
  auto run = prefixcache::bench::ReplayOnCluster(
      trace.value(), options, [](const prefixcache::bench::ClusterWindow& window) {
        auto line = prefixcache::bench::WindowJson(window.counts);
        line["memory_bytes"] = window.memory_bytes;
        line["nodes_up"] = window.nodes_up;
        line["unavailable"] = window.unavailable;
        line["not_stored"] = window.not_stored;
        line["corrupt"] = window.corrupt;
        line["wrong_blocks"] = window.wrong_blocks;
        PrintLine(stdout, line);
      });
  if (!run.ok()) {
    std::fprintf(stderr, "trace_replay: %s\n", run.status().ToString().c_str());
    return 2;
  }
  const prefixcache::bench::ClusterRunResult& r = run.value();
  auto line = prefixcache::bench::RunJson(r.run);
  line["errors"] = r.run.errors;
  line["fetch_p50_us"] = r.fetch_p50_us;
  line["fetch_p99_us"] = r.fetch_p99_us;
  line["bytes_read"] = r.bytes_read;
  line["bytes_written"] = r.bytes_written;
  line["memory_bytes"] = r.memory_bytes;
  line["stand_in_hits"] = r.stand_in_hits;
  line["stand_in_writes"] = r.stand_in_writes;
  line["corrupt"] = r.corrupt;
  line["wrong_blocks"] = r.wrong_blocks;
  PrintLine(stdout, line);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"trace_replay: hit ratio of request traces through prefixcache's storage engine."};
  app.add_flag("--simulate", args.simulate,
               "replay through one node's storage engine in this process");
  app.add_option("--trace", args.trace, "Mooncake-format JSONL trace")->required();
  app.add_option("--policy", args.policies,
                 "eviction policies: lru, prefix, tiered, default, belady, lru-dead-oracle")
      ->delimiter(',');
  app.add_option("--capacity-fraction", args.capacity_fractions,
                 "memory capacity as fractions of the trace's distinct blocks (--simulate)")
      ->delimiter(',');
  app.add_option("--config", args.config,
                 "replay against the running cluster this JSON config describes");
  app.add_option("--speed", args.speed,
                 "--config: timestamps compressed by this factor; 0 as fast as possible")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--shards", args.shards, "memory-tier shards (the daemon runs 16)")
      ->check(CLI::PositiveNumber);
  app.add_option("--spill-fraction", args.spill_fraction,
                 "spill tier on, with this fraction of distinct blocks as its capacity");
  app.add_option("--block-bytes", args.block_bytes,
                 "bytes per block (the hit ratio does not depend on it); default 1024 for "
                 "--simulate, 16384 for --config")
      ->check(CLI::PositiveNumber);
  app.add_option("--report-every", args.report_every,
                 "also print the hit ratio of each window of this many requests");
  CLI11_PARSE(app, argc, argv);
  if (args.simulate == !args.config.empty()) {
    std::fprintf(stderr, "trace_replay: give either --simulate or --config FILE\n");
    return 2;
  }
  if (!args.config.empty()) return Replay(args);
  if (args.capacity_fractions.empty()) {
    std::fprintf(stderr, "trace_replay: --simulate needs --capacity-fraction\n");
    return 2;
  }
  return Simulate(args);
}
