#include "local_cluster.h"

#include <fstream>

namespace prefixcache::testing {

LocalCluster::LocalCluster(LocalClusterOptions options)
    : options_(std::move(options)), dir_("cluster") {
  for (int i = 0; i < options_.nodes; ++i) {
    ports_.push_back(PickFreePort());
    daemons_.push_back(std::make_unique<DaemonProcess>());
  }
  std::string json = "{\n  \"cluster\": {\n    \"nodes\": [\n";
  for (int i = 0; i < options_.nodes; ++i) {
    json += "      {\"id\": \"" + id(i) + "\", \"address\": \"" + address(i) + "\"}";
    json += i + 1 < options_.nodes ? ",\n" : "\n";
  }
  json += "    ],\n    \"virtual_nodes\": " + std::to_string(options_.virtual_nodes) +
          ",\n    \"replicas\": " + std::to_string(options_.replicas) + "\n  },\n";
  if (!options_.memory_capacity.empty()) {
    json += "  \"memory\": {\"capacity\": \"" + options_.memory_capacity + "\"},\n";
  }
  json += "  \"security\": {\"password\": \"" + options_.password + "\"},\n";
  json += "  \"client\": {\"timeout_ms\": 2000, \"connect_timeout_ms\": 500}\n}\n";
  config_path_ = dir_.str() + "/cluster.json";
  std::ofstream(config_path_) << json;
}

LocalCluster::~LocalCluster() {
  for (auto& d : daemons_) d->Stop();
}

bool LocalCluster::Start() {
  for (int i = 0; i < size(); ++i) {
    if (!StartNode(i)) return false;
  }
  return true;
}

bool LocalCluster::StartNode(int i) {
  return daemons_[i]->Start(spill_path(i), {"--config", config_path_, "--node-id", id(i)},
                            address(i));
}

void LocalCluster::StopNode(int i) { daemons_[i]->Stop(); }
void LocalCluster::KillNode(int i) { daemons_[i]->Kill9(); }

std::vector<client::NodeAddress> LocalCluster::Nodes() const {
  std::vector<client::NodeAddress> nodes;
  for (int i = 0; i < size(); ++i) nodes.push_back({id(i), address(i), 1});
  return nodes;
}

client::ClientOptions LocalCluster::ClientOptions() const {
  client::ClientOptions o;
  o.nodes = Nodes();
  o.virtual_nodes = options_.virtual_nodes;
  o.replicas = options_.replicas;
  o.password = options_.password;
  o.timeout_ms = 2000;
  o.connect_timeout_ms = 500;
  o.backoff_initial_ms = 50;
  o.backoff_max_ms = 400;
  return o;
}

}  // namespace prefixcache::testing
