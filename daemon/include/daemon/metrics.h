// Metrics: the Prometheus text page of the daemon's counters (RenderMetrics, thread-safe)
// and the small Boost.Beast HTTP server serving it at GET /metrics on its own thread, behind
// a bearer token when one is configured, with the probes of supervisors beside it:
// GET /healthz (the process serves) and GET /readyz (ready to take traffic), both open.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "daemon/commands.h"
#include "daemon/server_stats.h"
#include "prefixcache/status.h"
#include "storage/block_store.h"

namespace prefixcache::daemon {

class Secret;

struct MetricsSources {
  const ServerStats& server;
  const CommandStats& commands;
  const storage::BlockStore& store;
  std::string node_id;
  // Why the node should not take traffic ("" when it should), for GET /readyz. Called on
  // the metrics thread; empty function: always ready.
  std::function<std::string()> not_ready;
};

// The text format 0.0.4 page, every metric prefixed "prefixcache_".
std::string RenderMetrics(const MetricsSources& sources);

class MetricsServer {
 public:
  // `sources` must stay valid until Stop() or destruction. With a non-empty `bearer_token`
  // every request but /healthz and /readyz must carry "Authorization: Bearer <token>";
  // others get 401. /healthz answers 200 "ok"; /readyz 200 "ready", or 503 with
  // sources.not_ready()'s reason on one line.
  explicit MetricsServer(MetricsSources sources, std::string_view bearer_token = {});
  ~MetricsServer();

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds host:port (port 0: ephemeral) and starts serving on a new thread. InvalidArgument
  // when the host does not resolve, IoError naming the address when binding fails.
  Status Start(const std::string& host, std::uint16_t port);
  // The bound "host:port" after Start.
  const std::string& address() const { return address_; }
  // Stops serving and joins the thread. Idempotent.
  void Stop();

 private:
  void Accept();

  MetricsSources sources_;
  std::unique_ptr<const Secret> token_;
  boost::asio::io_context context_{1};
  boost::asio::ip::tcp::acceptor acceptor_{context_};
  std::thread thread_;
  std::string address_;
};

}  // namespace prefixcache::daemon
