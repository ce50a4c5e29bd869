// DaemonProcess: one real prefixcached child process for integration tests, started on an
// ephemeral (or given) loopback port with its own spill folder, its address parsed from
// the "prefixcached listening on HOST:PORT" line; stopped with SIGTERM, then SIGKILL
// after a bound. Also SilentServer, a socket that accepts and never answers. Not
// thread-safe; one test thread drives each object.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace prefixcache::testing {

class DaemonProcess {
 public:
  DaemonProcess() = default;
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // build/bin/prefixcached (from the PREFIXCACHE_BIN_DIR compile definition).
  static std::string BinaryPath();
  static bool BinaryExists();

  // Starts `BinaryPath() --listen LISTEN --metrics-listen 127.0.0.1:0 --spill-path SPILL
  // extra...` and waits (up to `wait`) for its listening line. Returns false (and prints
  // the daemon's stderr) if it exits or stays silent.
  bool Start(const std::string& spill_path, const std::vector<std::string>& extra = {},
             const std::string& listen = "127.0.0.1:0",
             std::chrono::milliseconds wait = std::chrono::seconds(20));

  // SIGTERM, wait up to `bound`, then SIGKILL. Returns the exit status (waitpid form) or -1.
  int Stop(std::chrono::milliseconds bound = std::chrono::seconds(15));
  // SIGKILL now and reap.
  void Kill9();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  // "127.0.0.1:PORT"
  const std::string& address() const { return address_; }
  const std::string& log_path() const { return log_path_; }

 private:
  void Reap(int* status);
  void JoinDrain();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::thread drain_;
  std::uint16_t port_ = 0;
  std::string address_;
  std::string log_path_;
};

// A free TCP port on 127.0.0.1 at the time of the call (bind to 0, read, close).
std::uint16_t PickFreePort();

// A listening socket on 127.0.0.1 that accepts connections and never writes a byte:
// what a hung node looks like to a client. Accepted sockets are kept open until
// destruction.
class SilentServer {
 public:
  SilentServer();
  ~SilentServer();
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }

 private:
  int listen_fd_ = -1;
  int wake_fd_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::vector<int> clients_;  // owned by thread_
  std::thread thread_;
};

}  // namespace prefixcache::testing
