// prefix: a token file hashed into block keys for a namespace given as JSON, and which of
// those blocks the cluster holds.
#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>

#include "cli/prefixctl.h"
#include "cli_util.h"
#include "prefixcache/admin.h"
#include "prefixcache/hasher.h"

namespace prefixcache::cli {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::IoError("cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return Status::IoError("cannot read " + path);
  return text;
}

// The JSON value for an error message, shortened.
std::string Describe(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() > 40 ? text.substr(0, 36) + " ..." : text;
}

// The namespace file: a JSON object of Namespace's fields, with model_id, model_revision,
// dtype, kv_layout and block_size_tokens required (as in Python's Namespace) and
// lora_adapter and tenant_salt empty when left out. Every error of the file, each
// "<file>: <field>: <why>"; none when `ns` was filled.
std::vector<std::string> ParseNamespace(const std::string& path, Namespace* ns) {
  auto text = ReadFile(path);
  if (!text.ok()) return {text.status().message()};
  const Json json = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return {path + ": not JSON"};
  if (!json.is_object()) return {path + ": expected a JSON object, got " + Describe(json)};

  struct StringField {
    const char* name;
    std::string* out;
    bool required;
  };
  const StringField strings[] = {
      {"model_id", &ns->model_id, true},
      {"model_revision", &ns->model_revision, true},
      {"dtype", &ns->dtype, true},
      {"kv_layout", &ns->kv_layout, true},
      {"lora_adapter", &ns->lora_adapter, false},
      {"tenant_salt", &ns->tenant_salt, false},
  };
  std::vector<std::string> errors;
  auto error = [&](const std::string& field, const std::string& why) {
    errors.push_back(path + ": " + field + ": " + why);
  };
  for (const auto& [key, value] : json.items()) {
    bool known = key == "block_size_tokens";
    for (const StringField& field : strings) known = known || key == field.name;
    if (!known) error(key, "unknown field");
  }
  for (const StringField& field : strings) {
    auto it = json.find(field.name);
    if (it == json.end()) {
      if (field.required) error(field.name, "missing");
    } else if (!it->is_string()) {
      error(field.name, "expected a string, got " + Describe(*it));
    } else {
      *field.out = it->get<std::string>();
    }
  }
  auto size = json.find("block_size_tokens");
  if (size == json.end()) {
    error("block_size_tokens", "missing");
  } else if (!size->is_number_unsigned() || size->get<std::uint64_t>() == 0 ||
             size->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
    error("block_size_tokens", "expected an integer from 1 to 4294967295, got " + Describe(*size));
  } else {
    ns->block_size_tokens = size->get<std::uint32_t>();
  }
  return errors;
}

// The token file: decimal token ids separated by whitespace (spaces, tabs, newlines).
Result<std::vector<std::uint32_t>> ParseTokens(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<std::uint32_t> tokens;
  std::size_t line = 1;
  std::size_t at = 0;
  const std::string& s = *text;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (at < s.size()) {
    if (space(s[at])) {
      line += s[at] == '\n';
      ++at;
      continue;
    }
    std::size_t end = at;
    while (end < s.size() && !space(s[end])) ++end;
    std::uint32_t token = 0;
    const auto [ptr, ec] = std::from_chars(s.data() + at, s.data() + end, token);
    if (ec != std::errc() || ptr != s.data() + end) {
      return Status::InvalidArgument(
          path + ": line " + std::to_string(line) + ": \"" +
          s.substr(at, std::min<std::size_t>(end - at, 24)) +
          "\" is not a token id (a decimal integer from 0 to 4294967295)");
    }
    tokens.push_back(token);
    at = end;
  }
  return tokens;
}

}  // namespace

int Prefix(const GlobalOptions& options, const std::string& tokens_file,
           const std::string& namespace_file, std::ostream& out, std::ostream& err) {
  Namespace ns;
  const std::vector<std::string> errors = ParseNamespace(namespace_file, &ns);
  for (const std::string& error : errors) Fail(err, kExitUsage, error);
  if (!errors.empty()) return kExitUsage;
  auto hasher = Hasher::Create(ns);
  if (!hasher.ok()) return Fail(err, kExitUsage, namespace_file + ": " + hasher.status().message());
  auto tokens = ParseTokens(tokens_file);
  if (!tokens.ok()) return Fail(err, kExitUsage, tokens.status().message());
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;

  const std::vector<BlockKey> keys = hasher->Keys(*tokens);
  const std::uint32_t block_size = hasher->block_size();
  Json blocks = Json::array();
  std::size_t leading = 0;
  std::size_t cached_count = 0;
  bool run_unbroken = true;
  std::map<std::string, std::size_t> run_nodes;  // owner -> blocks of the leading run
  std::ostringstream table;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const BlockKey one[] = {keys[i]};
    // Match routes as a worker's read does (a down owner's keys to its stand-in).
    const bool cached = client->Match(one) == 1;
    const std::vector<std::string> nodes = admin::NodesFor(*client, keys[i]);
    cached_count += cached;
    run_unbroken = run_unbroken && cached;
    if (run_unbroken) {
      ++leading;
      ++run_nodes[nodes.front()];
    }
    Json node_list = Json::array();
    for (const auto& id : nodes) node_list.push_back(id);
    blocks.push_back({{"index", i},
                      {"key", keys[i].ToHex()},
                      {"owner", nodes.front()},
                      {"nodes", std::move(node_list)},
                      {"cached", cached}});
    table << i << " " << keys[i].ToHex() << " " << nodes.front() << " " << (cached ? "yes" : "no")
          << "\n";
  }
  const std::size_t trailing = tokens->size() - keys.size() * block_size;
  if (options.json) {
    Json by_node = Json::object();
    for (const auto& [id, count] : run_nodes) by_node[id] = count;
    PrintJson(out, {{"seed", hasher->seed().ToHex()},
                    {"block_size_tokens", block_size},
                    {"tokens", tokens->size()},
                    {"full_blocks", keys.size()},
                    {"trailing_tokens", trailing},
                    {"leading_cached_blocks", leading},
                    {"leading_cached_tokens", leading * block_size},
                    {"cached_blocks", cached_count},
                    {"leading_run_nodes", std::move(by_node)},
                    {"blocks", std::move(blocks)}});
  } else {
    out << tokens->size() << " tokens, " << keys.size() << " full blocks of " << block_size << " ("
        << trailing << " trailing tokens not hashed), namespace seed " << hasher->seed().ToHex()
        << "\n";
    out << "block key owner cached\n" << table.str();
    out << "leading cached run: " << leading << " of " << keys.size() << " blocks ("
        << leading * block_size << " tokens); " << cached_count << " blocks cached in all\n";
    if (!run_nodes.empty()) {
      out << "leading run on:";
      for (const auto& [id, count] : run_nodes) out << " " << id << " " << count;
      out << "\n";
    }
  }
  return leading == keys.size() ? kExitOk : kExitProblem;
}

}  // namespace prefixcache::cli
