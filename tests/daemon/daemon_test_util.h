// Helpers of the prefixcached integration tests: running a program with stdin fed and
// stdout/stderr captured (redis-cli), a daemon whose metrics port is known, config files,
// INFO fields and a process's resident memory. Not thread-safe unless said otherwise.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "resp_client.h"
#include "temp_dir.h"

namespace prefixcache::testing {

struct CapturedRun {
  int exit_code = -1;  // -1: killed by a signal or the bound
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] (a path or a name looked up in PATH) with `stdin_data` on its stdin and
// waits for it to exit, killing it after `bound`. Thread-safe.
CapturedRun RunCaptured(const std::vector<std::string>& argv, const std::string& stdin_data = {},
                        std::chrono::milliseconds bound = std::chrono::seconds(60));

// redis-cli -p PORT args... (stdin empty unless given).
CapturedRun RedisCli(std::uint16_t port, const std::vector<std::string>& args,
                     const std::string& stdin_data = {});

// The bytes of a string literal, NULs included (without the terminating NUL).
template <std::size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// True when a program of that name is in PATH.
bool HaveProgram(const std::string& name);

// Writes `text` to `path`, replacing it.
void WriteFile(const std::filesystem::path& path, const std::string& text);

// The value of `field` in INFO [section] ("" when absent).
std::string InfoField(RespClient& client, const std::string& section, const std::string& field);

// VmRSS of a process in bytes, or 0 when it cannot be read.
std::uint64_t VmRssBytes(pid_t pid);

// Polls `condition` every few ms until it holds (true) or `bound` passes (false).
template <typename Fn>
bool Eventually(Fn condition, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A prefixcached child started with exactly the given arguments (after the binary), whose
// RESP and metrics addresses are read from its stdout. DaemonProcess always passes
// --metrics-listen 127.0.0.1:0 and drops the "metrics on" line, so tests of the metrics
// endpoint use this. Stopped with SIGTERM (then SIGKILL after a bound) on destruction.
class MetricsDaemon {
 public:
  MetricsDaemon() = default;
  ~MetricsDaemon();
  MetricsDaemon(const MetricsDaemon&) = delete;
  MetricsDaemon& operator=(const MetricsDaemon&) = delete;

  // False (stderr printed) when it exits or does not print both lines within `wait`.
  bool Start(const std::vector<std::string>& args,
             std::chrono::milliseconds wait = std::chrono::seconds(20));
  // SIGTERM, wait up to `bound`, then SIGKILL. The waitpid status or -1.
  int Stop(std::chrono::milliseconds bound = std::chrono::seconds(15));

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  std::uint16_t metrics_port() const { return metrics_port_; }
  // The file its stderr (the log) goes to.
  const std::string& err_path() const { return err_path_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string err_path_;
  std::uint16_t port_ = 0;
  std::uint16_t metrics_port_ = 0;
};

// One daemon in a temporary folder of its own: its spill tier in <dir>/spill, its config
// files beside it. The daemon stops (SIGTERM) before the folder is removed.
class TestNode {
 public:
  explicit TestNode(const std::string& tag) : dir_(tag) {}

  // Writes <dir>/<name> with `json` and returns {"--config", path}.
  std::vector<std::string> Config(const std::string& json, const std::string& name = "config.json");
  // DaemonProcess::Start(<dir>/spill, extra).
  bool Start(const std::vector<std::string>& extra = {});
  // SIGTERM; the waitpid status.
  int Stop() { return daemon_.Stop(); }

  DaemonProcess& daemon() { return daemon_; }
  std::uint16_t port() const { return daemon_.port(); }
  pid_t pid() const { return daemon_.pid(); }
  std::string spill() const { return (dir_.path() / "spill").string(); }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  DaemonProcess daemon_;
};

// True when a waitpid status says "exited with code 0".
bool ExitedCleanly(int status);

// The body of an HTTP/1.1 GET of `path` on 127.0.0.1:port ("" on failure); the status line
// goes to *status_line. `headers`: extra header lines, each ending in "\r\n".
std::string HttpGet(std::uint16_t port, const std::string& path, std::string* status_line,
                    const std::string& headers = "");

}  // namespace prefixcache::testing
