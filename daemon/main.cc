// prefixcached: parses the command line, loads the config, wires the store, the command
// handler, the RESP server and the metrics endpoint together, and waits for SIGTERM/SIGINT.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "config/config.h"
#include "daemon/commands.h"
#include "daemon/daemon_options.h"
#include "daemon/metrics.h"
#include "daemon/server.h"
#include "storage/allocator_tuning.h"
#include "storage/block_store.h"

namespace {

using namespace prefixcache;

constexpr int kExitBadConfig = 2;
constexpr int kExitRuntimeError = 1;
constexpr auto kShutdownGrace = std::chrono::seconds(5);

struct CommandLine {
  std::string config_file;
  std::string node_id;
  std::string listen;
  std::string metrics_listen;
  std::string spill_path;
  std::string memory_capacity;
  std::string log_level = "info";
};

int ConfigError(const std::string& message) {
  std::fprintf(stderr, "prefixcached: %s\n", message.c_str());
  return kExitBadConfig;
}

// The config after the file, --node-id and the overrides; the error text otherwise.
Result<config::Config> BuildConfig(const CommandLine& cl) {
  config::Config config;
  if (cl.config_file.empty()) {
    config = config::DefaultConfig();
  } else {
    auto loaded = config::LoadConfig(cl.config_file);
    if (!loaded.ok()) {
      // A read error names the file already; a parse error names only the JSON path.
      if (loaded.status().code() == StatusCode::kIoError) return loaded.status();
      return Status::InvalidArgument(cl.config_file + ": " + loaded.status().message());
    }
    config = std::move(loaded).value();
  }
  if (!cl.node_id.empty()) {
    if (Status s = config::SelectNode(config, cl.node_id); !s.ok()) {
      return Status::InvalidArgument("--node-id: " + s.message());
    }
  }
  if (!cl.listen.empty()) {
    if (auto hp = config::ParseHostPort(cl.listen); !hp.ok()) {
      return Status::InvalidArgument("--listen: " + hp.status().message());
    }
    config.node.listen = cl.listen;
  }
  if (!cl.metrics_listen.empty()) {
    if (auto hp = config::ParseHostPort(cl.metrics_listen); !hp.ok()) {
      return Status::InvalidArgument("--metrics-listen: " + hp.status().message());
    }
    config.metrics.listen = cl.metrics_listen;
    config.metrics.enabled = true;
  }
  if (!cl.spill_path.empty()) {
    config.spill.path = config::ExpandNodeId(cl.spill_path, config.node.id);
    config.spill.path_template.clear();
  }
  if (!cl.memory_capacity.empty()) {
    auto size = config::ParseSize(cl.memory_capacity);
    if (!size.ok()) return Status::InvalidArgument("--memory-capacity: " + size.status().message());
    if (*size == 0) return Status::InvalidArgument("--memory-capacity: must be more than 0");
    config.memory.capacity_bytes = *size;
  }
  return config;
}

void SetUpLogging(spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_color_mt("prefixcached");
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

int Run(const CommandLine& cl) {
  auto built = BuildConfig(cl);
  if (!built.ok()) return ConfigError(built.status().message());
  const config::Config config = std::move(built).value();
  if (Status s = daemon::CheckListenSecurity(config); !s.ok()) return ConfigError(s.message());
  auto made = daemon::MakeDaemonOptions(config, cl.config_file);
  if (!made.ok()) return ConfigError(made.status().message());
  const daemon::DaemonOptions options = std::move(made).value();

  // Signals are caught from here on (before any thread starts), and handled by main.
  boost::asio::io_context signal_context(1);
  boost::asio::signal_set signals(signal_context, SIGINT, SIGTERM);
  std::signal(SIGPIPE, SIG_IGN);

  spdlog::info("prefixcached {} starting: node {}, memory {} ({}), spill {}", PREFIXCACHE_VERSION,
               config.node.id, config::FormatSize(config.memory.capacity_bytes),
               config.memory.eviction_policy,
               config.spill.enabled ? config.spill.path : std::string("disabled"));
  if (Status s = storage::TuneAllocatorForBlocks(); !s.ok()) {
    spdlog::warn("malloc tuning for large blocks not applied: {}", s.message());
  }
  auto opened = storage::BlockStore::Open(options.store);
  if (!opened.ok()) return ConfigError("storage: " + opened.status().message());
  std::unique_ptr<storage::BlockStore> store = std::move(opened).value();
  if (config.spill.enabled) {
    if (Status s = store->SpillStatus(); !s.ok()) {
      spdlog::error("spill tier at {} is unavailable, serving from memory only: {}",
                    config.spill.path, s.ToString());
    }
  }

  daemon::ServerStats server_stats;
  daemon::StoreCommandHandler handler(*store, options.handler, server_stats);
  daemon::Server server(options.server, handler, server_stats);
  if (Status s = server.Start(); !s.ok()) {
    spdlog::error("{}", s.message());
    handler.Shutdown();
    (void)store->Close();  // the start failure is what is reported
    return s.code() == StatusCode::kInvalidArgument ? kExitBadConfig : kExitRuntimeError;
  }
  auto ring = daemon::BuildRingView(options, server.address());
  if (!ring.ok()) {
    spdlog::error("ring: {}", ring.status().message());
  } else {
    if (ring->clustered && !ring->self) {
      spdlog::warn("node {} is not in cluster.nodes: every key counts as misrouted",
                   config.node.id);
    }
    handler.SetRing(std::move(ring).value());
  }
  std::printf("prefixcached listening on %s\n", server.address().c_str());
  std::fflush(stdout);
  spdlog::info("prefixcached listening on {}", server.address());

  std::optional<daemon::MetricsServer> metrics;
  if (options.metrics_enabled) {
    metrics.emplace(daemon::MetricsSources{server_stats, handler.stats(), *store, config.node.id});
    if (Status s = metrics->Start(options.metrics_host, options.metrics_port); !s.ok()) {
      spdlog::error("metrics disabled: {}", s.message());
      metrics.reset();
    } else {
      std::printf("metrics on %s\n", metrics->address().c_str());
      std::fflush(stdout);
      spdlog::info("metrics on {} (GET /metrics)", metrics->address());
    }
  }

  signals.async_wait([](const boost::system::error_code& ec, int signal) {
    if (!ec) spdlog::info("received {}, shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  signal_context.run();

  // Stop accepting, let in-flight requests finish, then stop the workers, the I/O threads
  // and the store (which writes the memory tier to the spill tier if configured).
  server.Shutdown(kShutdownGrace);
  if (metrics) metrics->Stop();
  handler.Shutdown();
  server.Join();
  if (config.spill.enabled && config.spill.flush_on_shutdown) {
    spdlog::info("writing the memory tier to the spill tier");
  }
  Status closed = store->Close();
  if (!closed.ok()) {
    spdlog::error("closing the store: {}", closed.ToString());
  }
  spdlog::info("prefixcached stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "prefixcached: a cache node for LLM prompt-prefix KV blocks, speaking the Redis protocol "
      "(RESP2).\nWith no options it runs on built-in defaults: RESP on 127.0.0.1:7379, 1GiB of "
      "memory, spill tier in ./prefixcache-spill/node-1, metrics on 127.0.0.1:9379.\nOn start "
      "it prints \"prefixcached listening on HOST:PORT\" and \"metrics on HOST:PORT\" to "
      "stdout. SIGTERM or SIGINT shut it down cleanly.",
      "prefixcached"};
  CommandLine cl;
  app.add_option("-c,--config", cl.config_file,
                 "JSON config file (see config/examples/); without it, built-in defaults");
  app.add_option("--node-id", cl.node_id,
                 "Which entry of cluster.nodes this daemon is (takes its address, metrics "
                 "address and spill path from it)");
  app.add_option("--listen", cl.listen,
                 "host:port to serve RESP on, overriding the config; port 0 picks a free port");
  app.add_option("--metrics-listen", cl.metrics_listen,
                 "host:port of the Prometheus endpoint (GET /metrics), overriding the config; "
                 "port 0 picks a free port");
  app.add_option("--spill-path", cl.spill_path,
                 "Folder of the RocksDB spill tier, overriding the config ({node_id} is "
                 "replaced)");
  app.add_option("--memory-capacity", cl.memory_capacity,
                 "Bytes of block data held in memory, e.g. 512MiB or 4GiB");
  app.add_option("--log-level", cl.log_level, "Log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.footer(
      "Exit status: 0 after a clean shutdown, 2 for a bad command line or config (including "
      "a non-loopback listen address without security.password), 1 for other start-up "
      "failures (e.g. the port is taken).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadConfig;
  }
  SetUpLogging(spdlog::level::from_str(cl.log_level));
  return Run(cl);
}
