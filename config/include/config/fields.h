// ConfigFields: every key of the config file with its type and built-in default, as the
// parser reads them, for the reference in docs/config.md and the test that keeps it true.
// Thread-safe.
#pragma once

#include <string>
#include <vector>

namespace prefixcache::config {

struct Field {
  // The key's JSON path: "memory.capacity"; the keys of a cluster.nodes entry are
  // "cluster.nodes[].id" and so on.
  std::string path;
  // What the parser accepts: "string", "id" (1 to 64 letters, digits, '.', '_' or '-'),
  // "host:port", "boolean", "integer", "size" (a number of bytes or a string with a unit,
  // size.h), "array".
  std::string type;
  // The default as ToJson writes it, in JSON ("\"1GiB\"", "16", "true", "[]"); empty when
  // the key is required.
  std::string default_json;
  bool required = false;
};

// Every key the parser accepts, in the order of config.h (the order ToJson writes them;
// a cluster.nodes entry's keys right after cluster.nodes). Defaults are DefaultConfig()'s,
// i.e. ParseConfig("{}")'s, and a default-constructed ClusterNode's.
std::vector<Field> ConfigFields();

}  // namespace prefixcache::config
