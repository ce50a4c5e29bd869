// ClientOptions from the cluster's JSON config file (the one the daemons and prefixctl
// read), so that the client computes the same ring. Lives in the separate
// prefixcache_client_config library: link it only if you read that file. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "prefixcache/client_options.h"
#include "prefixcache/status.h"

namespace prefixcache {

// Reads the config at `path` and maps cluster.nodes (id, address, weight),
// cluster.virtual_nodes, cluster.replicas, security.password and client.* into
// ClientOptions (other ClientOptions fields keep their defaults). A config without
// cluster.nodes describes one node: node.id at node.listen. Returns IoError when the file
// cannot be read and InvalidArgument "<path>: <JSON path>: <what was expected>" when it is
// not a valid config.
Result<ClientOptions> ClientOptionsFromConfigFile(const std::string& path);

// The same from the file's text.
Result<ClientOptions> ClientOptionsFromConfigText(std::string_view json_text);

}  // namespace prefixcache
