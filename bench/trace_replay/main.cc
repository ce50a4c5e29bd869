// trace_replay: replays Mooncake-format request traces (shared/data/README.md) to measure
// hit ratio. One mode today:
//
//   trace_replay --simulate --trace FILE --policy P[,P...] --capacity-fraction F[,F...]
//                [--shards N] [--spill-fraction S] [--block-bytes N] [--report-every N]
//
// runs every policy x capacity through the storage engine of one node (simulator.h) and
// prints one JSON line per run (report.h), preceded by its window lines with
// --report-every. Policies: lru, prefix, tiered, default (the daemon's), and the offline
// references belady and lru-dead-oracle. Exit 0, or 2 for bad arguments or an unreadable
// trace (the reason on stderr).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

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
  std::uint64_t block_bytes = 1024;
  std::uint64_t report_every = 0;
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
      options.block_bytes = args.block_bytes;
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
                 "memory capacity as fractions of the trace's distinct blocks")
      ->delimiter(',')
      ->required();
  app.add_option("--shards", args.shards, "memory-tier shards (the daemon runs 16)")
      ->check(CLI::PositiveNumber);
  app.add_option("--spill-fraction", args.spill_fraction,
                 "spill tier on, with this fraction of distinct blocks as its capacity");
  app.add_option("--block-bytes", args.block_bytes,
                 "bytes per block (the hit ratio does not depend on it)")
      ->check(CLI::PositiveNumber);
  app.add_option("--report-every", args.report_every,
                 "also print the hit ratio of each window of this many requests");
  CLI11_PARSE(app, argc, argv);
  if (!args.simulate) {
    std::fprintf(stderr, "trace_replay: give --simulate\n");
    return 2;
  }
  return Simulate(args);
}
