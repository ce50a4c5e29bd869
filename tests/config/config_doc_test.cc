// docs/config.md against the code: its tables list exactly the keys the parser accepts
// (ConfigFields, the table the parser checks keys against), in order, each with the type,
// the default (DefaultConfig's, as ToJson writes it) and the units the code gives it, and
// every example is a value the parser accepts for that key and stores under it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/fields.h"
#include "config/size.h"

namespace cfg = prefixcache::config;
using Json = nlohmann::json;

namespace {

struct DocRow {
  std::string path, type, default_text, units, example;
};

std::string Trim(std::string text) {
  const auto first = text.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

// `text` without its enclosing backticks, or "" when it has none.
std::string Code(const std::string& text) {
  if (text.size() < 2 || text.front() != '`' || text.back() != '`') return "";
  return text.substr(1, text.size() - 2);
}

// The rows of every table in the page whose first cell is a key in backticks.
std::vector<DocRow> ReadDoc() {
  std::ifstream in(std::string(PREFIXCACHE_SOURCE_DIR) + "/docs/config.md");
  REQUIRE(in);
  std::vector<DocRow> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("| `")) continue;
    std::vector<std::string> cells;
    std::stringstream split(line.substr(1));
    for (std::string cell; std::getline(split, cell, '|');) cells.push_back(Trim(cell));
    INFO(line);
    REQUIRE(cells.size() >= 6);
    rows.push_back({Code(cells[0]), cells[1], cells[2], cells[3], Code(cells[4])});
  }
  return rows;
}

// The path as it appears in error messages: the first entry of cluster.nodes.
std::string ErrorPath(const std::string& path) {
  std::string out = path;
  if (auto at = out.find("[]"); at != std::string::npos) out.replace(at, 2, "[0]");
  return out;
}

// A config whose only given key is `path`, set to `value` (a cluster.nodes entry also gets
// the required id and address), or with `value` null, the entry without that key.
Json Context(const std::string& path, const Json& value) {
  const auto dot = path.find('.');
  const std::string section = path.substr(0, dot);
  const std::string key = path.substr(dot + 1);
  Json config = Json::object();
  if (key.starts_with("nodes[].")) {
    Json entry = {{"id", "n1"}, {"address", "127.0.0.1:7000"}};
    const std::string node_key = key.substr(std::string("nodes[].").size());
    if (value.is_null()) {
      entry.erase(node_key);
    } else {
      entry[node_key] = value;
    }
    config["cluster"]["nodes"] = Json::array({entry});
  } else {
    config[section][key] = value;
    // Keys that are valid only with others (a certificate needs its key) get them.
    const std::vector<std::pair<std::string, std::string>> companions = {
        {"tls.cert", "tls.key"},
        {"tls.key", "tls.cert"},
        {"tls.verify_clients", "tls.ca"},
        {"tls.verify_clients", "tls.cert"},
        {"tls.verify_clients", "tls.key"},
        {"client.tls_cert", "client.tls_key"},
        {"client.tls_key", "client.tls_cert"}};
    for (const auto& [given, needed] : companions) {
      if (given != path || value.is_null()) continue;
      const std::string needed_key = needed.substr(needed.find('.') + 1);
      if (!config[section].contains(needed_key)) config[section][needed_key] = "x.pem";
    }
  }
  return config;
}

// The value ToJson writes at `path` (a cluster.nodes key: of the first entry).
Json Rendered(const cfg::Config& config, const std::string& path) {
  Json json = Json::parse(cfg::ToJson(config));
  const auto dot = path.find('.');
  const std::string section = path.substr(0, dot);
  std::string key = path.substr(dot + 1);
  if (key.starts_with("nodes[].")) {
    return json["cluster"]["nodes"][0].value(key.substr(8), Json());
  }
  return json[section][key];
}

TEST_CASE("docs/config.md lists every config key with the code's type and default", "[unit]") {
  const std::vector<DocRow> rows = ReadDoc();
  const std::vector<cfg::Field> fields = cfg::ConfigFields();
  std::vector<std::string> doc_paths, code_paths;
  for (const DocRow& row : rows) doc_paths.push_back(row.path);
  for (const cfg::Field& field : fields) code_paths.push_back(field.path);
  CHECK(doc_paths == code_paths);

  for (std::size_t i = 0; i < std::min(rows.size(), fields.size()); ++i) {
    const DocRow& row = rows[i];
    const cfg::Field& field = fields[i];
    if (row.path != field.path) continue;
    INFO(row.path);
    CHECK(row.type == field.type);
    if (field.required) {
      CHECK(row.default_text == "required");
    } else {
      const Json documented = Json::parse(Code(row.default_text), nullptr, false);
      CHECK(documented == Json::parse(field.default_json));
    }
    const bool is_ms = row.path.ends_with("_ms");
    CHECK(row.units == (field.type == "size" ? "bytes" : is_ms ? "ms" : "-"));
  }
}

TEST_CASE("ConfigFields covers every key ToJson writes", "[unit]") {
  cfg::Config config = cfg::DefaultConfig();
  config.cluster.nodes.push_back({"n1", "127.0.0.1:7000", 1, "127.0.0.1:9000"});
  const Json rendered = Json::parse(cfg::ToJson(config));
  std::vector<std::string> paths;
  for (const cfg::Field& field : cfg::ConfigFields()) paths.push_back(field.path);
  for (const auto& [section, keys] : rendered.items()) {
    for (const auto& [key, value] : keys.items()) {
      const std::string path = section + "." + key;
      CHECK(std::find(paths.begin(), paths.end(), path) != paths.end());
      if (path == "cluster.nodes") {
        for (const auto& [node_key, node_value] : value[0].items()) {
          const std::string node_path = "cluster.nodes[]." + node_key;
          CHECK(std::find(paths.begin(), paths.end(), node_path) != paths.end());
        }
      }
    }
  }
}

TEST_CASE("docs/config.md: every example is accepted and read into its key", "[unit]") {
  for (const DocRow& row : ReadDoc()) {
    INFO(row.path << " example " << row.example);
    const Json example = Json::parse(row.example, nullptr, false);
    REQUIRE_FALSE(example.is_discarded());
    const std::string text = Context(row.path, example).dump();
    INFO(text);
    const std::vector<prefixcache::Status> errors = cfg::CheckConfig(text);
    for (const auto& error : errors) FAIL_CHECK(error.ToString());
    if (!errors.empty()) continue;
    auto parsed = cfg::ParseConfig(text);
    REQUIRE(parsed.ok());
    if (!example.is_array()) CHECK(Rendered(*parsed, row.path) == example);
  }
}

TEST_CASE("the parser reads every key with the type ConfigFields gives it", "[unit]") {
  for (const cfg::Field& field : cfg::ConfigFields()) {
    INFO(field.path << " (" << field.type << ")");
    // A value of another type is an error naming the key.
    const Json wrong = field.type == "boolean" ? Json(1)
                       : field.type == "array" ? Json::object()
                                               : Json(true);
    const std::vector<prefixcache::Status> errors =
        cfg::CheckConfig(Context(field.path, wrong).dump());
    REQUIRE_FALSE(errors.empty());
    CHECK(errors.front().message().starts_with(ErrorPath(field.path) + ": expected"));
    if (field.type == "size") {
      // A size is a string with a unit or a number of bytes: the default, both ways.
      const Json given = Json::parse(field.default_json);
      REQUIRE(given.is_string());
      auto bytes = cfg::ParseSize(given.get<std::string>());
      REQUIRE(bytes.ok());
      CHECK(cfg::CheckConfig(Context(field.path, given).dump()).empty());
      CHECK(cfg::CheckConfig(Context(field.path, *bytes).dump()).empty());
    }
    if (field.required) {
      const auto missing = cfg::CheckConfig(Context(field.path, Json()).dump());
      REQUIRE(missing.size() == 1);
      CHECK(missing.front().message() == ErrorPath(field.path) + ": missing");
    }
  }
}

}  // namespace
