// Trace: a request trace in the Mooncake JSONL format (shared/data/README.md): one request
// a line, {"timestamp": ms, "input_length": tokens, "hash_ids": [...], ...}, where
// hash_ids are the prompt's chained 512-token blocks (the last one may be partial). Read
// once, then shared read-only by every replay (thread-safe to read).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/status.h"

namespace prefixcache::bench {

// Tokens in one block of the traces.
inline constexpr std::uint64_t kTraceBlockTokens = 512;

struct TraceRequest {
  std::uint64_t timestamp_ms = 0;
  std::uint64_t input_length = 0;       // prompt tokens
  std::vector<std::uint64_t> hash_ids;  // the prompt's blocks, in chain order
};

struct Trace {
  std::string name;  // the file's name without its folders
  std::vector<TraceRequest> requests;
  std::uint64_t blocks = 0;           // hash_ids summed over the requests
  std::uint64_t distinct_blocks = 0;  // distinct hash_ids

  // Tokens of block `index` of `request`: 512, less for a partial last block (the prompt's
  // input_length decides; a length that does not fit the block count counts 512).
  static std::uint64_t BlockTokens(const TraceRequest& request, std::size_t index);
};

// The block key standing for trace block `hash_id`: uniform over the key space, as chained
// hashes are. Every replay mode uses it.
BlockKey TraceKey(std::uint64_t hash_id);

// Reads a trace. InvalidArgument naming the file and line for a line that is not a JSON
// object with a "hash_ids" array of non-negative integers (timestamp and input_length
// default to 0); IoError when the file cannot be read. Blank lines are skipped.
Result<Trace> ReadTrace(const std::string& path);

// The same from text already in memory (for tests); `name` stands in for the path.
Result<Trace> ParseTrace(const std::string& name, const std::string& text);

}  // namespace prefixcache::bench
