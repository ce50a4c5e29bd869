// prefixcached: parses the command line, builds the config and the daemon from it, prints
// the bound addresses, waits for SIGTERM/SIGINT and shuts the daemon down.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>

#include "config/config.h"
#include "config/size.h"
#include "daemon/daemon.h"
#include "daemon/daemon_options.h"
#include "storage/allocator_tuning.h"

namespace {

using namespace prefixcache;

constexpr int kExitBadConfig = 2;
constexpr int kExitRuntimeError = 1;

int ConfigError(const std::string& message) {
  std::fprintf(stderr, "prefixcached: %s\n", message.c_str());
  return kExitBadConfig;
}

void SetUpLogging(spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_color_mt("prefixcached");
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void Announce(const char* what, const std::string& address) {
  std::printf("%s %s\n", what, address.c_str());
  std::fflush(stdout);
  spdlog::info("{} {}", what, address);
}

int Run(const std::string& config_file, const daemon::ConfigOverrides& overrides) {
  auto built = daemon::BuildConfig(config_file, overrides);
  if (!built.ok()) return ConfigError(built.status().message());
  const config::Config config = std::move(built).value();
  if (Status s = daemon::CheckListenSecurity(config); !s.ok()) return ConfigError(s.message());
  auto options = daemon::MakeDaemonOptions(config, config_file);
  if (!options.ok()) return ConfigError(options.status().message());

  // Signals are caught from here on (before any thread starts), and handled by main.
  boost::asio::io_context signal_context(1);
  boost::asio::signal_set signals(signal_context, SIGINT, SIGTERM);
  std::signal(SIGPIPE, SIG_IGN);
  // Past a file size limit (RLIMIT_FSIZE) a write fails with EFBIG, which the spill tier
  // handles as a full disk, instead of the signal ending the process.
  std::signal(SIGXFSZ, SIG_IGN);

  spdlog::info("prefixcached {} starting: node {}, memory {} ({}), spill {}", PREFIXCACHE_VERSION,
               config.node.id, config::FormatSize(config.memory.capacity_bytes),
               config.memory.eviction_policy,
               config.spill.enabled ? config.spill.path : std::string("disabled"));
  if (Status s = storage::TuneAllocatorForBlocks(); !s.ok()) {
    spdlog::warn("malloc tuning for large blocks not applied: {}", s.message());
  }
  auto opened = daemon::Daemon::Open(std::move(options).value());
  if (!opened.ok()) return ConfigError(opened.status().message());
  std::unique_ptr<daemon::Daemon> node = std::move(opened).value();
  if (Status s = node->Start(); !s.ok()) {
    spdlog::error("{}", s.message());
    return s.code() == StatusCode::kInvalidArgument ? kExitBadConfig : kExitRuntimeError;
  }
  Announce("prefixcached listening on", node->address());
  if (!node->metrics_address().empty()) Announce("metrics on", node->metrics_address());

  signals.async_wait([](const boost::system::error_code& ec, int signal) {
    if (!ec) spdlog::info("received {}, shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  signal_context.run();

  if (Status closed = node->Stop(daemon::Daemon::kShutdownGrace); !closed.ok()) {
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
  std::string config_file;
  daemon::ConfigOverrides overrides;
  std::string log_level = "info";
  app.add_option("-c,--config", config_file,
                 "JSON config file (see config/examples/); without it, built-in defaults");
  for (const daemon::OverrideFlag& flag : daemon::OverrideFlags()) {
    app.add_option(flag.name, overrides.*flag.field, flag.help);
  }
  app.set_version_flag("--version", "prefixcached " PREFIXCACHE_VERSION,
                       "Print \"prefixcached VERSION\" and exit");
  app.add_option("--log-level", log_level, "Log level on stderr")
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
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadConfig;
  }
  SetUpLogging(spdlog::level::from_str(log_level));
  return Run(config_file, overrides);
}
