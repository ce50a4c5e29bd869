// Daemon: one prefixcached node in a process -- its BlockStore, the command handler over
// it, the RESP server and the metrics endpoint -- wired from DaemonOptions, started and
// stopped in the right order. Open, Start and Stop are called from one control thread
// (main, or a test); the parts run on their own threads meanwhile.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "daemon/commands.h"
#include "daemon/daemon_options.h"
#include "daemon/metrics.h"
#include "daemon/server.h"
#include "daemon/server_stats.h"
#include "prefixcache/status.h"
#include "storage/block_store.h"

namespace prefixcache::daemon {

class Daemon {
 public:
  // Builds the TLS context when options.tls is enabled, then opens the store (a spill tier
  // that cannot open is logged, and the store serves from memory only). MakeServerTlsContext's
  // InvalidArgument ("tls.key: ... does not match tls.cert ...") for a TLS file that cannot be
  // used; InvalidArgument "storage: ..." when the store refuses its options.
  static Result<std::unique_ptr<Daemon>> Open(DaemonOptions options);

  // Stop(kShutdownGrace) unless stopped already.
  ~Daemon();

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts serving RESP on options.server's address, sets the ring (an error building it is
  // logged, and every key is then served as owned) and, when options.metrics_enabled,
  // the metrics endpoint. Server::Start's error when RESP cannot listen (nothing then runs);
  // a metrics endpoint that cannot listen is logged and left off. Call once.
  Status Start();

  // The bound RESP address ("127.0.0.1:7379"), after Start.
  const std::string& address() const { return server_.address(); }
  // The bound metrics address, or "" when metrics are off.
  std::string metrics_address() const { return metrics_ ? metrics_->address() : std::string(); }

  // Stops accepting, lets connections finish the requests they sent for up to `grace`, then
  // stops the workers and the I/O threads and closes the store (which writes the memory
  // tier to the spill tier when spill.flush_on_close). Close's error. Idempotent: a second
  // call returns Ok.
  Status Stop(std::chrono::milliseconds grace);

  static constexpr std::chrono::milliseconds kShutdownGrace = std::chrono::seconds(5);

  // Why the node should not take traffic, or "" when it should: it listens (Start succeeded
  // and Stop has not begun), its spill tier is open and writing (or configured off) and its
  // ring is loaded with this node in it. What GET /readyz reports. Thread-safe.
  std::string NotReady() const;

  const DaemonOptions& options() const { return options_; }
  const ServerStats& server_stats() const { return server_stats_; }
  const CommandStats& command_stats() const { return handler_.stats(); }

 private:
  Daemon(DaemonOptions options, std::unique_ptr<storage::BlockStore> store);

  const DaemonOptions options_;
  std::unique_ptr<storage::BlockStore> store_;
  ServerStats server_stats_;
  StoreCommandHandler handler_;
  Server server_;
  std::unique_ptr<MetricsServer> metrics_;
  bool stopped_ = false;
  std::atomic<bool> serving_{false};
  // Why the ring is not usable ("" when it is); written in Start before the metrics thread
  // starts, read-only afterwards.
  std::string ring_problem_ = "not started";
};

}  // namespace prefixcache::daemon
