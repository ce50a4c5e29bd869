// Report: the replayer's JSON lines, one object per line (the format): a run's
// totals, and a window's figures when --report-every is given. The objects are returned
// unserialised so a mode can add its own fields (the cluster mode's latencies) before
// printing. Stateless; thread-safe.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>

#include "simulator.h"

namespace prefixcache::bench {

// {"trace", "policy", "resolved_policy", "capacity_fraction", "capacity_blocks",
//  "requests", "blocks", "hit_blocks", "hit_ratio", "prefill_tokens_saved"}
nlohmann::ordered_json RunJson(const RunResult& run);

// {"window", "requests", "hit_ratio", "errors"}
nlohmann::ordered_json WindowJson(const WindowResult& window);

// Writes `line` and a newline to `out` and flushes it, so a reader sees each line as it ends.
void PrintLine(std::FILE* out, const nlohmann::ordered_json& line);

}  // namespace prefixcache::bench
