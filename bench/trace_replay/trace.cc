#include "trace.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_set>

namespace prefixcache::bench {
namespace {

// splitmix64's finaliser: trace ids become uniform keys, as real chained hashes are (the
// memory tier picks shards by key bits, the ring places keys by their first bytes).
std::uint64_t Mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

BlockKey TraceKey(std::uint64_t hash_id) {
  return BlockKey::FromHalves(Mix(hash_id), Mix(hash_id ^ 0x5851F42D4C957F2Dull));
}

namespace {

Status BadLine(const std::string& name, std::size_t line, const std::string& why) {
  return Status::InvalidArgument(name + ":" + std::to_string(line) + ": " + why);
}

bool ReadUint(const nlohmann::json& object, const char* field, std::uint64_t* out) {
  auto it = object.find(field);
  if (it == object.end()) return true;
  if (!it->is_number_unsigned()) return false;
  *out = it->get<std::uint64_t>();
  return true;
}

}  // namespace

std::uint64_t Trace::BlockTokens(const TraceRequest& request, std::size_t index) {
  const std::uint64_t full = kTraceBlockTokens * index;
  if (index + 1 != request.hash_ids.size() || request.input_length <= full ||
      request.input_length - full > kTraceBlockTokens) {
    return kTraceBlockTokens;
  }
  return request.input_length - full;
}

Result<Trace> ParseTrace(const std::string& name, const std::string& text) {
  Trace trace;
  trace.name = std::filesystem::path(name).filename().string();
  std::unordered_set<std::uint64_t> distinct;
  std::istringstream in(text);
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) return BadLine(name, number, "expected a JSON object");
    TraceRequest request;
    if (!ReadUint(json, "timestamp", &request.timestamp_ms)) {
      return BadLine(name, number, "timestamp: expected a non-negative integer");
    }
    if (!ReadUint(json, "input_length", &request.input_length)) {
      return BadLine(name, number, "input_length: expected a non-negative integer");
    }
    auto ids = json.find("hash_ids");
    if (ids == json.end() || !ids->is_array()) {
      return BadLine(name, number, "hash_ids: expected an array of block ids");
    }
    request.hash_ids.reserve(ids->size());
    for (const auto& id : *ids) {
      if (!id.is_number_unsigned()) {
        return BadLine(name, number, "hash_ids: expected non-negative integers");
      }
      request.hash_ids.push_back(id.get<std::uint64_t>());
      distinct.insert(request.hash_ids.back());
    }
    trace.blocks += request.hash_ids.size();
    trace.requests.push_back(std::move(request));
  }
  trace.distinct_blocks = distinct.size();
  return trace;
}

Result<Trace> ReadTrace(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::IoError("cannot read trace " + path);
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Status::IoError("error reading trace " + path);
  return ParseTrace(path, text.str());
}

}  // namespace prefixcache::bench
