// LocalCluster: N real prefixcached daemons ("n1".."nN") on loopback ports picked up
// front, sharing one JSON config file (so every daemon knows the ring), each with its own
// spill folder under one temporary directory; nodes can be stopped, killed and restarted on
// the same port and spill folder. For integration tests; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon_process.h"
#include "prefixcache/client_options.h"
#include "temp_dir.h"

namespace prefixcache::testing {

struct LocalClusterOptions {
  int nodes = 3;
  std::uint32_t replicas = 1;
  std::uint32_t virtual_nodes = 256;
  // memory.capacity in the config ("64MiB"); empty keeps the default.
  std::string memory_capacity;
  std::string password;
};

class LocalCluster {
 public:
  explicit LocalCluster(LocalClusterOptions options = {});
  ~LocalCluster();

  // Starts every node; false if one did not come up.
  bool Start();
  bool StartNode(int i);
  // SIGTERM (the daemon writes its memory tier to spill), bounded, then SIGKILL.
  void StopNode(int i);
  void KillNode(int i);

  int size() const { return static_cast<int>(ports_.size()); }
  std::string id(int i) const { return "n" + std::to_string(i + 1); }
  std::string address(int i) const { return "127.0.0.1:" + std::to_string(ports_[i]); }
  DaemonProcess& daemon(int i) { return *daemons_[i]; }
  const std::string& config_path() const { return config_path_; }
  std::string spill_path(int i) const { return dir_.str() + "/spill-" + id(i); }

  // Client options for this cluster: short timeouts and backoff suited to tests.
  client::ClientOptions ClientOptions() const;
  std::vector<client::NodeAddress> Nodes() const;

 private:
  LocalClusterOptions options_;
  TempDir dir_;
  std::string config_path_;
  std::vector<std::uint16_t> ports_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
};

}  // namespace prefixcache::testing
