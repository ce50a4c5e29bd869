#include "daemon_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>

extern char** environ;

namespace prefixcache::testing {

namespace {
constexpr std::string_view kListening = "prefixcached listening on ";
}

std::string DaemonProcess::BinaryPath() {
#ifdef PREFIXCACHE_BIN_DIR
  return std::string(PREFIXCACHE_BIN_DIR) + "/prefixcached";
#else
  return "prefixcached";
#endif
}

bool DaemonProcess::BinaryExists() { return ::access(BinaryPath().c_str(), X_OK) == 0; }

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) Stop();
  JoinDrain();
}

bool DaemonProcess::Start(const std::string& spill_path, const std::vector<std::string>& extra,
                          const std::string& listen, std::chrono::milliseconds wait) {
  if (pid_ > 0) return false;
  JoinDrain();
  std::filesystem::create_directories(spill_path);
  log_path_ = spill_path + ".log";

  std::vector<std::string> args = {BinaryPath(),  "--listen",     listen,    "--metrics-listen",
                                   "127.0.0.1:0", "--spill-path", spill_path};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    std::cerr << "posix_spawn " << argv[0] << ": " << std::strerror(rc) << "\n";
    return false;
  }
  pid_ = pid;
  stdout_fd_ = out[0];

  // Read lines until the listening line, the deadline or EOF.
  std::string buffered;
  auto deadline = std::chrono::steady_clock::now() + wait;
  bool found = false;
  while (!found) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[512];
    ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n <= 0) break;
    buffered.append(chunk, static_cast<std::size_t>(n));
    std::size_t eol;
    while ((eol = buffered.find('\n')) != std::string::npos) {
      std::string line = buffered.substr(0, eol);
      buffered.erase(0, eol + 1);
      auto at = line.find(kListening);
      if (at == std::string::npos) continue;
      address_ = line.substr(at + kListening.size());
      while (!address_.empty() && (address_.back() == '\r' || address_.back() == ' ')) {
        address_.pop_back();
      }
      auto colon = address_.rfind(':');
      if (colon != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(address_.substr(colon + 1)));
        found = true;
      }
    }
  }
  if (!found) {
    std::cerr << "prefixcached did not report its address; stderr:\n";
    std::ifstream log(log_path_);
    std::cerr << log.rdbuf() << "\n";
    Kill9();
    return false;
  }
  // Keep draining stdout so the daemon never blocks on a full pipe.
  int fd = stdout_fd_;
  drain_ = std::thread([fd] {
    char chunk[4096];
    while (::read(fd, chunk, sizeof chunk) > 0) {
    }
    ::close(fd);
  });
  stdout_fd_ = -1;
  return true;
}

void DaemonProcess::Reap(int* status) {
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  if (status) *status = st;
  pid_ = -1;
}

int DaemonProcess::Stop(std::chrono::milliseconds bound) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + bound;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      JoinDrain();
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::cerr << "prefixcached " << pid_ << " ignored SIGTERM for " << bound.count()
            << " ms; SIGKILL\n";
  ::kill(pid_, SIGKILL);
  Reap(&status);
  JoinDrain();
  return status;
}

void DaemonProcess::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  Reap(nullptr);
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
  JoinDrain();
}

void DaemonProcess::JoinDrain() {
  if (drain_.joinable()) drain_.join();
}

std::uint16_t PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

SilentServer::SilentServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listen_fd_, 64);
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_fd_, O_CLOEXEC) != 0) return;
  thread_ = std::thread([this] {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents) break;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        clients_.push_back(c);
        accepted_.fetch_add(1);
      }
    }
    for (int c : clients_) ::close(c);
  });
}

SilentServer::~SilentServer() {
  if (thread_.joinable()) {
    char b = 0;
    (void)!::write(wake_fd_[1], &b, 1);
    thread_.join();
  }
  for (int fd : {listen_fd_, wake_fd_[0], wake_fd_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace prefixcache::testing
