// ClusterReplay: replays a trace (trace.h) against a running cluster through the client
// library, as inference workers use it: per request one GetPrefix of its blocks (the
// leading cached run is its hit, fetched, so each hit refreshes recency on its node), then
// one Put of every block from the first miss on with its depth. A node that is down yields
// misses, as for a worker; only calls that return an error Status count as errors. One
// replay at a time per thread; the trace is only read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "prefixcache/client_options.h"
#include "prefixcache/status.h"
#include "simulator.h"
#include "trace.h"

namespace prefixcache::bench {

struct ClusterReplayOptions {
  ClientOptions client;
  // The policy the nodes run, as named by the caller ("default": the daemon's default);
  // echoed in the report, never sent to the cluster.
  std::string policy = "default";
  std::uint64_t block_bytes = 16 * 1024;
  // Timestamps compressed by this factor (request i waits until (t_i - t_0) / speed after
  // the start); 0: as fast as possible.
  double speed = 0;
  // When > 0, on_window is called after every this many requests (and a last, shorter one).
  std::uint64_t report_every = 0;
};

// A window's figures plus what the cluster held when it ended.
struct ClusterWindow {
  WindowResult counts;
  std::uint64_t memory_bytes = 0;  // memory-tier bytes summed over the nodes that answered
  std::uint64_t nodes_up = 0;      // nodes that answered BLOCK.STATS
  std::uint64_t unavailable = 0;   // keys of GetPrefix calls whose nodes were down (misses)
  std::uint64_t not_stored = 0;    // blocks no node acknowledged (misses for the next one)
  std::uint64_t corrupt = 0;       // reads that failed verification (kCorrupt): not used
  std::uint64_t wrong_blocks = 0;  // hits whose bytes differ from what was stored: must be 0
};

struct ClusterRunResult {
  RunResult run;
  double fetch_p50_us = 0;  // GetPrefix call latency
  double fetch_p99_us = 0;
  std::uint64_t bytes_read = 0;  // payload bytes fetched, and acknowledged by puts
  std::uint64_t bytes_written = 0;
  std::uint64_t memory_bytes = 0;  // as in ClusterWindow, at the end
  std::uint64_t stand_in_hits = 0;
  std::uint64_t stand_in_writes = 0;
  std::uint64_t corrupt = 0;  // as in ClusterWindow, over the run
  std::uint64_t wrong_blocks = 0;
};

// Runs one replay. InvalidArgument for zero block_bytes or a negative speed, the client's
// Open error when it cannot start; otherwise the figures.
Result<ClusterRunResult> ReplayOnCluster(
    const Trace& trace, const ClusterReplayOptions& options,
    const std::function<void(const ClusterWindow&)>& on_window = {});

}  // namespace prefixcache::bench
