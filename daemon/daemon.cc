#include "daemon/daemon.h"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

namespace prefixcache::daemon {

Result<std::unique_ptr<Daemon>> Daemon::Open(DaemonOptions options) {
  // Before anything opens: a TLS file that cannot be used stops the start.
  if (options.tls.enabled()) {
    auto context = MakeServerTlsContext(options.tls);
    if (!context.ok()) return context.status();
    options.server.tls = std::move(context).value();
  }
  // The spill tier's lines (a discarded folder, a failed write and its recovery, blocks
  // that failed verification) go to the daemon's log.
  if (!options.store.spill.notice) {
    options.store.spill.notice = [](const std::string& line) { spdlog::warn("{}", line); };
  }
  auto opened = storage::BlockStore::Open(options.store);
  if (!opened.ok()) return Status::InvalidArgument("storage: " + opened.status().message());
  std::unique_ptr<storage::BlockStore> store = std::move(opened).value();
  if (options.store.spill.enabled) {
    if (Status s = store->SpillStatus(); !s.ok()) {
      spdlog::error("spill tier at {} is unavailable, serving from memory only: {}",
                    options.store.spill.path, s.ToString());
    }
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(options), std::move(store)));
}

Daemon::Daemon(DaemonOptions options, std::unique_ptr<storage::BlockStore> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      server_stats_(options_.inflight_memory_bytes),
      handler_(*store_, options_.handler, server_stats_),
      server_(options_.server, handler_, server_stats_) {}

Daemon::~Daemon() { (void)Stop(kShutdownGrace); }  // no one to report to; Stop() callers get it

Status Daemon::Start() {
  if (Status s = server_.Start(); !s.ok()) {
    stopped_ = true;
    handler_.Shutdown();
    (void)store_->Close();  // the start failure is what is reported
    return s;
  }
  auto ring = BuildRingView(options_, server_.address());
  if (!ring.ok()) {
    spdlog::error("ring: {}", ring.status().message());
    ring_problem_ = "ring not loaded: " + ring.status().message();
  } else {
    ring_problem_.clear();
    if (ring->clustered && !ring->self) {
      spdlog::warn("node {} is not in cluster.nodes: every key counts as misrouted",
                   options_.handler.node_id);
      ring_problem_ = "node " + options_.handler.node_id + " is not in cluster.nodes";
    }
    handler_.SetRing(std::move(ring).value());
  }
  serving_ = true;
  if (options_.metrics_enabled) {
    metrics_ = std::make_unique<MetricsServer>(
        MetricsSources{server_stats_, handler_.stats(), *store_, options_.handler.node_id,
                       [this] { return NotReady(); }},
        options_.metrics_bearer_token);
    if (Status s = metrics_->Start(options_.metrics_host, options_.metrics_port); !s.ok()) {
      spdlog::error("metrics disabled: {}", s.message());
      metrics_.reset();
    }
  }
  return Status::Ok();
}

std::string Daemon::NotReady() const {
  if (!serving_) return "not listening (starting or shutting down)";
  std::string reason = ring_problem_;
  if (options_.store.spill.enabled) {
    if (Status s = store_->SpillStatus(); !s.ok())
      reason = "spill tier unavailable: " + s.ToString();
  }
  for (char& c : reason) {  // one line
    if (c == '\n' || c == '\r') c = ' ';
  }
  return reason;
}

Status Daemon::Stop(std::chrono::milliseconds grace) {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  serving_ = false;
  server_.Shutdown(grace);
  if (metrics_) metrics_->Stop();
  handler_.Shutdown();
  server_.Join();
  if (options_.store.spill.enabled && options_.store.spill.flush_on_close) {
    spdlog::info("writing the memory tier to the spill tier");
  }
  return store_->Close();
}

}  // namespace prefixcache::daemon
