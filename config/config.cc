#include "config/config.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "keys.h"

namespace prefixcache::config {
namespace {

#define PC_RETURN_IF_ERROR(expr)       \
  do {                                 \
    Status status_ = (expr);           \
    if (!status_.ok()) return status_; \
  } while (false)

// ordered_json keeps the file's key order, so the first bad key reported is the first one
// in the file.
using Json = nlohmann::ordered_json;

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kMaxConfigFileBytes = 16 * kMiB;
constexpr std::string_view kNodeIdPlaceholder = "{node_id}";
constexpr std::string_view kIdExpected =
    "expected 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit";
constexpr std::string_view kPemFileExpected = "expected the path of a PEM file";
constexpr std::string_view kSizeExpected = "expected a size like \"4GiB\" or a number of bytes";

// A JSON value for an error message: its JSON text, shortened.
std::string Describe(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 64) {
    std::size_t cut = 60;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + " ...";  // cut between UTF-8 characters
  }
  return text;
}

// Text in JSON quotes, in full (file paths, node ids).
std::string Quote(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool IsValidId(std::string_view id) {
  auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  if (id.empty() || id.size() > 64 || !alnum(id.front())) return false;
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// A JSON number that is a whole number of 0..2^64-1, including 1e9 written as a float.
std::optional<std::uint64_t> AsUint(const Json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_float()) {
    const double d = value.get<double>();
    // 2^64 is exactly representable; anything below it converts without overflow.
    if (d >= 0 && d < 18446744073709551616.0 &&
        d == static_cast<double>(static_cast<std::uint64_t>(d))) {
      return static_cast<std::uint64_t>(d);
    }
  }
  return std::nullopt;
}

std::string RangeText(std::uint64_t min, std::uint64_t max) {
  if (max == kMaxU64) {
    return min == 0 ? "a non-negative integer" : "an integer >= " + std::to_string(min);
  }
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The errors of one parse, in the order they are met: parsing goes on after an error so
// that every bad field is reported, and the first is what ParseConfig returns.
class Errors {
 public:
  // Records `status` unless it is Ok; returns whether it was Ok.
  bool Add(Status status) {
    if (status.ok()) return true;
    list_.push_back(std::move(status));
    return false;
  }
  std::size_t size() const { return list_.size(); }
  const std::vector<Status>& list() const { return list_; }

 private:
  std::vector<Status> list_;
};

// One JSON object of the file at a JSON path ("" for the top level), read key by key.
// Each Read* leaves *out unchanged when the key is absent.
class Object {
 public:
  Object(const Json& json, std::string path) : json_(json), path_(std::move(path)) {}

  std::string PathOf(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // Checks that this is an object (false, with the error recorded, if not) and records an
  // error for each key outside `known` (KeysOf its section).
  bool CheckKeys(const std::vector<std::string_view>& known, Errors& errors) const {
    if (!json_.is_object()) {
      errors.Add(Status::InvalidArgument((path_.empty() ? "top level" : path_) +
                                         ": expected an object, got " + Describe(json_)));
      return false;
    }
    for (const auto& [key, value] : json_.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string message = PathOf(key) + ": unknown key";
      std::string_view guess;
      std::size_t guess_distance = 3;  // suggest only close misspellings
      for (std::string_view candidate : known) {
        std::size_t distance = EditDistance(key, candidate);
        if (key == std::string(candidate) + "_bytes") distance = 0;
        if (distance < guess_distance) {
          guess = candidate;
          guess_distance = distance;
        }
      }
      if (!guess.empty()) message += " (did you mean \"" + std::string(guess) + "\"?)";
      errors.Add(Status::InvalidArgument(message));
    }
    return true;
  }

  const Json* Find(std::string_view key) const {
    auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }

  Status Error(std::string_view key, std::string_view expected, const Json& got) const {
    return Status::InvalidArgument(PathOf(key) + ": " + std::string(expected) + ", got " +
                                   Describe(got));
  }

  template <typename T>
  Status ReadUint(std::string_view key, std::uint64_t min, std::uint64_t max, T* out) const {
    PC_CHECK(max <= std::numeric_limits<T>::max());
    const Json* value = Find(key);
    if (value == nullptr) return Status::Ok();
    std::optional<std::uint64_t> number = AsUint(*value);
    if (!number || *number < min || *number > max) {
      return Error(key, "expected " + RangeText(min, max), *value);
    }
    *out = static_cast<T>(*number);
    return Status::Ok();
  }

  Status ReadSize(std::string_view key, std::uint64_t min, std::uint64_t max,
                  std::uint64_t* out) const {
    const Json* value = Find(key);
    if (value == nullptr) return Status::Ok();
    std::optional<std::uint64_t> bytes = AsUint(*value);
    if (!bytes && value->is_string()) {
      Result<std::uint64_t> parsed = ParseSize(value->get_ref<const std::string&>());
      if (!parsed.ok()) {
        return Status::InvalidArgument(PathOf(key) + ": " + std::string(kSizeExpected) + ", got " +
                                       Describe(*value) + " (" + parsed.status().message() + ")");
      }
      bytes = *parsed;
    }
    if (!bytes) return Error(key, kSizeExpected, *value);
    if (*bytes < min || *bytes > max) {
      std::string expected =
          max == kMaxU64 ? "expected a size of at least " + FormatSize(min)
                         : "expected a size from " + FormatSize(min) + " to " + FormatSize(max);
      return Error(key, expected, *value);
    }
    *out = *bytes;
    return Status::Ok();
  }

  Status ReadBool(std::string_view key, bool* out) const {
    const Json* value = Find(key);
    if (value == nullptr) return Status::Ok();
    if (!value->is_boolean()) return Error(key, "expected true or false", *value);
    *out = value->get<bool>();
    return Status::Ok();
  }

  // Any string; `expected` names what the field holds, for the message on a non-string.
  Status ReadString(std::string_view key, std::string_view expected, std::string* out) const {
    const Json* value = Find(key);
    if (value == nullptr) return Status::Ok();
    if (!value->is_string()) return Error(key, expected, *value);
    *out = value->get<std::string>();
    return Status::Ok();
  }

  Status ReadId(std::string_view key, std::string* out) const {
    PC_RETURN_IF_ERROR(ReadString(key, kIdExpected, out));
    if (Find(key) != nullptr && !IsValidId(*out)) return Error(key, kIdExpected, *Find(key));
    return Status::Ok();
  }

  // A host:port string; a port of 0 only where `allow_port_zero`.
  Status ReadHostPort(std::string_view key, bool allow_port_zero, std::string* out) const {
    constexpr std::string_view kExpected = "expected host:port";
    const Json* value = Find(key);
    if (value == nullptr) return Status::Ok();
    if (!value->is_string()) return Error(key, kExpected, *value);
    auto parsed = ParseHostPort(value->get_ref<const std::string&>());
    std::string why;
    if (!parsed.ok()) {
      why = parsed.status().message();
    } else if (!allow_port_zero && parsed->second == 0) {
      why = "the port must be from 1 to 65535";
    }
    if (!why.empty()) {
      return Status::InvalidArgument(PathOf(key) + ": " + std::string(kExpected) + ", got " +
                                     Describe(*value) + " (" + why + ")");
    }
    *out = value->get<std::string>();
    return Status::Ok();
  }

 private:
  const Json& json_;
  std::string path_;
};

// Which keys the file gave explicitly, where an absent key gets a derived default.
struct Given {
  bool node_listen = false;
  bool metrics_listen = false;
};

// Each Parse* below records every error of its section in `e` and goes on reading; a check
// across fields runs only when the fields it compares were read without error (else it
// would report a consequence of an error already recorded).
void ParseNode(const Json& json, NodeConfig* node, Given* given, Errors& e) {
  Object o(json, "node");
  if (!o.CheckKeys(KeysOf("node"), e)) return;
  e.Add(o.ReadId("id", &node->id));
  e.Add(o.ReadHostPort("listen", true, &node->listen));
  given->node_listen = o.Find("listen") != nullptr;
  e.Add(o.ReadUint("io_threads", 0, 1024, &node->io_threads));
  e.Add(o.ReadSize("send_lowat", 0, 64 * kMiB, &node->send_lowat_bytes));
}

void ParseMemory(const Json& json, MemoryConfig* memory, Errors& e) {
  Object o(json, "memory");
  if (!o.CheckKeys(KeysOf("memory"), e)) return;
  e.Add(o.ReadSize("capacity", 1, kMaxU64, &memory->capacity_bytes));
  const std::string expected = "expected " + std::string(defaults::kEvictionPoliciesText);
  if (e.Add(o.ReadString("eviction_policy", expected, &memory->eviction_policy)) &&
      std::find(defaults::kEvictionPolicies.begin(), defaults::kEvictionPolicies.end(),
                memory->eviction_policy) == defaults::kEvictionPolicies.end()) {
    e.Add(o.Error("eviction_policy", expected, Json(memory->eviction_policy)));
  }
  e.Add(o.ReadUint("shards", 1, 1024, &memory->shards));
}

void ParseSpill(const Json& json, SpillConfig* spill, Errors& e) {
  Object o(json, "spill");
  if (!o.CheckKeys(KeysOf("spill"), e)) return;
  const bool enabled_ok = e.Add(o.ReadBool("enabled", &spill->enabled));
  const bool path_ok = e.Add(o.ReadString("path", "expected a folder path", &spill->path));
  if (enabled_ok && path_ok && spill->enabled && spill->path.empty()) {
    e.Add(o.Error("path", "expected a folder path (spill.enabled is true)", Json(spill->path)));
  }
  e.Add(o.ReadSize("capacity", 1, kMaxU64, &spill->capacity_bytes));
  e.Add(o.ReadSize("queue", 1, kMaxU64, &spill->queue_bytes));
  e.Add(o.ReadBool("flush_on_shutdown", &spill->flush_on_shutdown));
  const bool min_ok = e.Add(o.ReadUint("retry_min_ms", 1, kMaxU32, &spill->retry_min_ms));
  const bool max_ok = e.Add(o.ReadUint("retry_max_ms", 1, kMaxU32, &spill->retry_max_ms));
  if (min_ok && max_ok && spill->retry_max_ms < spill->retry_min_ms) {
    e.Add(o.Error(
        "retry_max_ms",
        "expected " + RangeText(spill->retry_min_ms, kMaxU32) + " (at least spill.retry_min_ms)",
        Json(spill->retry_max_ms)));
  }
}

void ParseLimits(const Json& json, LimitsConfig* limits, Errors& e) {
  Object o(json, "limits");
  if (!o.CheckKeys(KeysOf("limits"), e)) return;
  e.Add(o.ReadSize("max_value", 1, 4 * kGiB, &limits->max_value_bytes));
  e.Add(o.ReadUint("max_request_elements", 1, kMaxU64, &limits->max_request_elements));
  const bool request_ok = e.Add(o.ReadSize("max_request", 1, kMaxU64, &limits->max_request_bytes));
  e.Add(o.ReadUint("max_connections", 1, 1000000, &limits->max_connections));
  e.Add(o.ReadUint("idle_timeout_ms", 0, kMaxU64, &limits->idle_timeout_ms));
  e.Add(o.ReadSize("client_output_buffer", 1, kMaxU64, &limits->client_output_buffer_bytes));
  const bool inflight_ok =
      e.Add(o.ReadSize("inflight_memory", 1, kMaxU64, &limits->inflight_memory_bytes));
  e.Add(o.ReadUint("request_timeout_ms", 0, kMaxU64, &limits->request_timeout_ms));
  if (request_ok && inflight_ok && limits->inflight_memory_bytes < limits->max_request_bytes) {
    // A request as large as max_request must be able to fit in the budget.
    e.Add(Status::InvalidArgument(o.PathOf("inflight_memory") +
                                  ": expected a size of at least limits.max_request (" +
                                  FormatSize(limits->max_request_bytes) + "), got " +
                                  Describe(Json(FormatSize(limits->inflight_memory_bytes)))));
  }
}

void ParseSecurity(const Json& json, SecurityConfig* security, Errors& e) {
  Object o(json, "security");
  if (!o.CheckKeys(KeysOf("security"), e)) return;
  if (const Json* password = o.Find("password")) {
    // The value is never quoted back, whatever its type: it is a secret.
    if (!password->is_string()) {
      e.Add(Status::InvalidArgument(o.PathOf("password") + ": expected a string"));
    } else {
      security->password = password->get<std::string>();
    }
  }
  e.Add(o.ReadBool("allow_remote_without_password", &security->allow_remote_without_password));
}

// A certificate and its key are given together: the error names the one missing.
Status CheckPair(const Object& o, std::string_view cert_key, const std::string& cert,
                 std::string_view key_key, const std::string& key) {
  if (cert.empty() == key.empty()) return Status::Ok();
  const std::string_view missing = cert.empty() ? cert_key : key_key;
  const std::string_view given = cert.empty() ? key_key : cert_key;
  return Status::InvalidArgument(o.PathOf(missing) + ": missing (required with " + o.PathOf(given) +
                                 ")");
}

void ParseTls(const Json& json, TlsConfig* tls, Errors& e) {
  Object o(json, "tls");
  if (!o.CheckKeys(KeysOf("tls"), e)) return;
  const bool cert_ok = e.Add(o.ReadString("cert", kPemFileExpected, &tls->cert));
  const bool key_ok = e.Add(o.ReadString("key", kPemFileExpected, &tls->key));
  if (cert_ok && key_ok) e.Add(CheckPair(o, "cert", tls->cert, "key", tls->key));
  const bool ca_ok = e.Add(o.ReadString("ca", kPemFileExpected, &tls->ca));
  const bool verify_ok = e.Add(o.ReadBool("verify_clients", &tls->verify_clients));
  if (ca_ok && verify_ok && tls->verify_clients && tls->ca.empty()) {
    e.Add(Status::InvalidArgument(o.PathOf("ca") +
                                  ": missing (tls.verify_clients needs the authorities that "
                                  "sign client certificates)"));
  }
  if (cert_ok && verify_ok && tls->verify_clients && tls->cert.empty()) {
    e.Add(Status::InvalidArgument(o.PathOf("cert") + ": missing (required by " +
                                  o.PathOf("verify_clients") + ")"));
  }
}

// False when the entry had an error (all of them recorded).
bool ParseClusterNode(const Json& json, const std::string& path, ClusterNode* node, Errors& e) {
  Object o(json, path);
  const std::size_t before = e.size();
  if (!o.CheckKeys(KeysOf("cluster.nodes[]"), e)) return false;
  if (o.Find("id") == nullptr) {
    e.Add(Status::InvalidArgument(o.PathOf("id") + ": missing"));
  } else {
    e.Add(o.ReadId("id", &node->id));
  }
  if (o.Find("address") == nullptr) {
    e.Add(Status::InvalidArgument(o.PathOf("address") + ": missing"));
  } else {
    e.Add(o.ReadHostPort("address", false, &node->address));
  }
  e.Add(o.ReadUint("weight", 1, 1000, &node->weight));
  e.Add(o.ReadHostPort("metrics_address", false, &node->metrics_address));
  return e.size() == before;
}

void ParseCluster(const Json& json, ClusterConfig* cluster, Errors& e) {
  Object o(json, "cluster");
  if (!o.CheckKeys(KeysOf("cluster"), e)) return;
  bool nodes_ok = true;
  if (const Json* nodes = o.Find("nodes")) {
    if (!nodes->is_array()) {
      nodes_ok = e.Add(o.Error("nodes", "expected an array of nodes", *nodes));
    } else {
      std::map<std::string, std::size_t> index_of_id;
      std::map<std::string, std::size_t> index_of_address;
      for (std::size_t i = 0; i < nodes->size(); ++i) {
        const std::string path = "cluster.nodes[" + std::to_string(i) + "]";
        ClusterNode node;
        if (!ParseClusterNode((*nodes)[i], path, &node, e)) {
          nodes_ok = false;
          continue;
        }
        if (auto [it, fresh] = index_of_id.emplace(node.id, i); !fresh) {
          nodes_ok = e.Add(Status::InvalidArgument(path + ".id: duplicate node id " +
                                                   Quote(node.id) + " (also cluster.nodes[" +
                                                   std::to_string(it->second) + "])"));
        }
        if (auto [it, fresh] = index_of_address.emplace(node.address, i); !fresh) {
          nodes_ok = e.Add(Status::InvalidArgument(path + ".address: duplicate address " +
                                                   Quote(node.address) + " (also cluster.nodes[" +
                                                   std::to_string(it->second) + "])"));
        }
        cluster->nodes.push_back(std::move(node));
      }
    }
  }
  e.Add(o.ReadUint("virtual_nodes", 1, 10000, &cluster->virtual_nodes));
  const bool replicas_ok = e.Add(o.ReadUint("replicas", 1, kMaxU32, &cluster->replicas));
  if (nodes_ok && replicas_ok && !cluster->nodes.empty() &&
      cluster->replicas > cluster->nodes.size()) {
    e.Add(o.Error(
        "replicas",
        "expected " + RangeText(1, cluster->nodes.size()) + " (the number of cluster.nodes)",
        Json(cluster->replicas)));
  }
}

void ParseMetrics(const Json& json, MetricsConfig* metrics, Given* given, Errors& e) {
  Object o(json, "metrics");
  if (!o.CheckKeys(KeysOf("metrics"), e)) return;
  e.Add(o.ReadBool("enabled", &metrics->enabled));
  e.Add(o.ReadHostPort("listen", true, &metrics->listen));
  if (const Json* token = o.Find("bearer_token")) {
    // The value itself is never quoted back: it is a secret.
    const bool valid =
        token->is_string() && std::all_of(token->get_ref<const std::string&>().begin(),
                                          token->get_ref<const std::string&>().end(),
                                          [](char c) { return c > ' ' && c <= '~'; });
    if (!valid) {
      e.Add(Status::InvalidArgument(o.PathOf("bearer_token") +
                                    ": expected a string of printable ASCII without spaces"));
    } else {
      metrics->bearer_token = token->get<std::string>();
    }
  }
  given->metrics_listen = o.Find("listen") != nullptr;
}

void ParseClient(const Json& json, ClientConfig* client, Errors& e) {
  Object o(json, "client");
  if (!o.CheckKeys(KeysOf("client"), e)) return;
  e.Add(o.ReadUint("timeout_ms", 1, kMaxU32, &client->timeout_ms));
  e.Add(o.ReadUint("connect_timeout_ms", 1, kMaxU32, &client->connect_timeout_ms));
  e.Add(o.ReadUint("connections_per_node", 1, 1024, &client->connections_per_node));
  const bool initial_ok =
      e.Add(o.ReadUint("backoff_initial_ms", 1, kMaxU32, &client->backoff_initial_ms));
  const bool max_ok = e.Add(o.ReadUint("backoff_max_ms", 1, kMaxU32, &client->backoff_max_ms));
  if (initial_ok && max_ok && client->backoff_max_ms < client->backoff_initial_ms) {
    e.Add(o.Error("backoff_max_ms",
                  "expected " + RangeText(client->backoff_initial_ms, kMaxU32) +
                      " (at least client.backoff_initial_ms)",
                  Json(client->backoff_max_ms)));
  }
  e.Add(o.ReadUint("handoff_window_ms", 0, kMaxU32, &client->handoff_window_ms));
  e.Add(o.ReadBool("tls", &client->tls));
  e.Add(o.ReadString("tls_ca", kPemFileExpected, &client->tls_ca));
  const bool cert_ok = e.Add(o.ReadString("tls_cert", kPemFileExpected, &client->tls_cert));
  const bool key_ok = e.Add(o.ReadString("tls_key", kPemFileExpected, &client->tls_key));
  if (cert_ok && key_ok)
    e.Add(CheckPair(o, "tls_cert", client->tls_cert, "tls_key", client->tls_key));
  e.Add(o.ReadString("tls_server_name", "expected a host name or IP address",
                     &client->tls_server_name));
}

// nlohmann's parser keeps the last of two equal keys; this callback records every
// duplicate with its JSON path so that ParseConfig can refuse them.
class DuplicateKeyFinder {
 public:
  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    using Event = Json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        CountElement();
        stack_.push_back(Frame{event == Event::object_start, {}, {}, 0});
        break;
      case Event::object_end:
      case Event::array_end:
        if (!stack_.empty()) stack_.pop_back();
        break;
      case Event::key:
        if (!stack_.empty() && parsed.is_string()) {
          Frame& frame = stack_.back();
          frame.key = parsed.get<std::string>();
          if (!frame.keys.insert(frame.key).second) paths_.push_back(Path());
        }
        break;
      case Event::value:
        CountElement();
        break;
    }
    return true;
  }

  // The paths of the repeated keys, in file order.
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;    // of the member being read (objects)
    std::size_t count;  // elements started so far (arrays)
  };

  void CountElement() {
    if (!stack_.empty() && !stack_.back().object) ++stack_.back().count;
  }

  std::string Path() const {
    std::string path;
    for (const Frame& frame : stack_) {
      if (frame.object) {
        path += (path.empty() ? "" : ".") + frame.key;
      } else {
        path += "[" + std::to_string(frame.count - 1) + "]";
      }
    }
    return path;
  }

  std::vector<Frame> stack_;
  std::vector<std::string> paths_;
};

// nlohmann's "[json.exception.parse_error.101] parse error at line 3, column 5: ..." as
// "invalid JSON at line 3, column 5: ...".
std::string SyntaxErrorMessage(const Json::parse_error& error) {
  std::string_view text = error.what();
  if (auto end = text.find("] ");
      text.starts_with("[json.exception") && end != std::string_view::npos) {
    text.remove_prefix(end + 2);
  }
  if (text.starts_with("parse error")) text.remove_prefix(std::string_view("parse error").size());
  return "invalid JSON" + std::string(text);
}

void ParseRoot(const Json& json, Config* config, Errors& e) {
  Object root(json, "");
  if (!root.CheckKeys(KeysOf(""), e)) return;
  Given given;
  if (const Json* j = root.Find("node")) ParseNode(*j, &config->node, &given, e);
  if (const Json* j = root.Find("memory")) ParseMemory(*j, &config->memory, e);
  if (const Json* j = root.Find("spill")) ParseSpill(*j, &config->spill, e);
  if (const Json* j = root.Find("limits")) ParseLimits(*j, &config->limits, e);
  if (const Json* j = root.Find("security")) ParseSecurity(*j, &config->security, e);
  if (const Json* j = root.Find("tls")) ParseTls(*j, &config->tls, e);
  if (const Json* j = root.Find("cluster")) ParseCluster(*j, &config->cluster, e);
  if (const Json* j = root.Find("metrics")) ParseMetrics(*j, &config->metrics, &given, e);
  if (const Json* j = root.Find("client")) ParseClient(*j, &config->client, e);

  for (const ClusterNode& node : config->cluster.nodes) {
    if (node.id != config->node.id) continue;
    if (!given.node_listen) config->node.listen = node.address;
    if (!given.metrics_listen && !node.metrics_address.empty()) {
      config->metrics.listen = node.metrics_address;
    }
  }
  SpillConfig& spill = config->spill;
  spill.path_template.clear();
  if (spill.path.find(kNodeIdPlaceholder) != std::string::npos) {
    spill.path_template = spill.path;
    spill.path = ExpandNodeId(spill.path_template, config->node.id);
  }
}

}  // namespace

namespace {

// ParseConfig, recording every error in `e`.
Config Parse(std::string_view json_text, Errors& e) {
  Config config;
  try {
    DuplicateKeyFinder duplicates;
    const Json json = Json::parse(json_text.begin(), json_text.end(), std::ref(duplicates),
                                  /*allow_exceptions=*/true, /*ignore_comments=*/true);
    for (const std::string& path : duplicates.paths()) {
      e.Add(Status::InvalidArgument(path + ": duplicate key"));
    }
    ParseRoot(json, &config, e);
  } catch (const Json::parse_error& error) {
    e.Add(Status::InvalidArgument(SyntaxErrorMessage(error)));
  } catch (const Json::exception& error) {
    // Not expected: every access above checks the type first.
    e.Add(Status::InvalidArgument(std::string("invalid config: ") + error.what()));
  }
  return config;
}

Result<std::string> ReadConfigFile(const std::string& path) {
  auto io_error = [&](int error) {
    return Status::IoError("cannot read " + Quote(path) + ": " +
                           std::generic_category().message(error));
  };
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return io_error(errno);
  std::string text;
  char buffer[64 * 1024];
  int error = 0;
  while (true) {
    const std::size_t n = std::fread(buffer, 1, sizeof(buffer), file);
    text.append(buffer, n);
    if (n < sizeof(buffer)) {
      if (std::ferror(file)) error = errno != 0 ? errno : EIO;
      break;
    }
    if (text.size() > kMaxConfigFileBytes) {
      error = EFBIG;
      break;
    }
  }
  std::fclose(file);
  if (error != 0) return io_error(error);
  return text;
}

}  // namespace

Result<Config> ParseConfig(std::string_view json_text) {
  Errors errors;
  Config config = Parse(json_text, errors);
  if (errors.size() != 0) return errors.list().front();
  return config;
}

std::vector<Status> CheckConfig(std::string_view json_text) {
  Errors errors;
  (void)Parse(json_text, errors);
  return errors.list();
}

std::vector<Status> CheckConfigFile(const std::string& path) {
  Result<std::string> text = ReadConfigFile(path);
  if (!text.ok()) return {text.status()};
  return CheckConfig(*text);
}

Result<Config> LoadConfig(const std::string& path) {
  Result<std::string> text = ReadConfigFile(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text);
}

Config DefaultConfig() {
  Result<Config> config = ParseConfig("{}");
  PC_CHECK(config.ok());
  return std::move(config).value();
}

Status SelectNode(Config& config, std::string_view node_id) {
  auto& nodes = config.cluster.nodes;
  auto it = std::find_if(nodes.begin(), nodes.end(),
                         [&](const ClusterNode& node) { return node.id == node_id; });
  if (it == nodes.end()) {
    std::string known;
    for (const ClusterNode& node : nodes) known += (known.empty() ? "" : ", ") + node.id;
    return Status::InvalidArgument(
        "node " + Quote(node_id) + " is not in cluster.nodes" +
        (known.empty() ? std::string(" (cluster.nodes is empty)") : " (ids: " + known + ")"));
  }
  SpillConfig& spill = config.spill;
  std::string path_template = spill.path_template;
  if (spill.path.find(kNodeIdPlaceholder) != std::string::npos) {
    path_template = spill.path;
  } else if (!path_template.empty() && ExpandNodeId(path_template, config.node.id) != spill.path) {
    path_template.clear();  // the caller set spill.path since parsing; keep theirs
  }
  config.node.id = it->id;
  config.node.listen = it->address;
  if (!it->metrics_address.empty()) config.metrics.listen = it->metrics_address;
  spill.path_template = path_template;
  if (!path_template.empty()) spill.path = ExpandNodeId(path_template, config.node.id);
  return Status::Ok();
}

std::string ExpandNodeId(std::string_view text, std::string_view node_id) {
  std::string out;
  while (true) {
    const std::size_t at = text.find(kNodeIdPlaceholder);
    out += text.substr(0, at);
    if (at == std::string_view::npos) return out;
    out += node_id;
    text.remove_prefix(at + kNodeIdPlaceholder.size());
  }
}

#undef PC_RETURN_IF_ERROR

}  // namespace prefixcache::config
