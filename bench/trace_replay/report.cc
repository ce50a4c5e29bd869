#include "report.h"

#include <string>

namespace prefixcache::bench {

nlohmann::ordered_json RunJson(const RunResult& run) {
  nlohmann::ordered_json line;
  line["trace"] = run.trace;
  line["policy"] = run.policy;
  line["resolved_policy"] = run.resolved_policy;
  line["capacity_fraction"] = run.capacity_fraction;
  line["capacity_blocks"] = run.capacity_blocks;
  line["requests"] = run.requests;
  line["blocks"] = run.blocks;
  line["hit_blocks"] = run.hit_blocks;
  line["hit_ratio"] = run.hit_ratio();
  line["prefill_tokens_saved"] = run.prefill_tokens_saved;
  return line;
}

nlohmann::ordered_json WindowJson(const WindowResult& window) {
  nlohmann::ordered_json line;
  line["window"] = window.window;
  line["requests"] = window.requests;
  line["hit_ratio"] = window.hit_ratio();
  line["errors"] = window.errors;
  return line;
}

void PrintLine(std::FILE* out, const nlohmann::ordered_json& line) {
  const std::string text = line.dump();
  std::fputs(text.c_str(), out);
  std::fputc('\n', out);
  std::fflush(out);
}

}  // namespace prefixcache::bench
