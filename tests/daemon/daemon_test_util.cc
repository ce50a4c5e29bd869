#include "daemon_test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

extern char** environ;

namespace prefixcache::testing {

namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

CapturedRun RunCaptured(const std::vector<std::string>& argv_in, const std::string& stdin_data,
                        std::chrono::milliseconds bound) {
  CapturedRun result;
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv = Argv(args);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return result;
  if (::pipe2(out, O_CLOEXEC) != 0) return result;
  if (::pipe2(err, O_CLOEXEC) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    result.err = "cannot start " + args[0] + ": " + std::strerror(rc);
    return result;
  }
  // Feed stdin and drain stdout/stderr together, so that neither side blocks on a pipe.
  int in_fd = in[1];
  ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  std::size_t fed = 0;
  if (stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  int out_fd = out[0], err_fd = err[0];
  const auto deadline = Clock::now() + bound;
  bool killed = false;
  while (out_fd >= 0 || err_fd >= 0) {
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_fd >= 0) {
      out_i = n;
      p[n++] = {out_fd, POLLIN, 0};
    }
    if (err_fd >= 0) {
      err_i = n;
      p[n++] = {err_fd, POLLIN, 0};
    }
    if (in_fd >= 0) {
      in_i = n;
      p[n++] = {in_fd, POLLOUT, 0};
    }
    if (::poll(p, static_cast<nfds_t>(n), MillisLeft(deadline)) <= 0) continue;
    char chunk[65536];
    auto drain = [&](int index, int& fd, std::string& into) {
      if (index < 0 || p[index].revents == 0) return;
      ssize_t got = ::read(fd, chunk, sizeof chunk);
      if (got > 0) {
        into.append(chunk, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fd);
        fd = -1;
      }
    };
    drain(out_i, out_fd, result.out);
    drain(err_i, err_fd, result.err);
    if (in_i >= 0 && p[in_i].revents != 0) {
      ssize_t put = ::write(in_fd, stdin_data.data() + fed, stdin_data.size() - fed);
      if (put > 0) fed += static_cast<std::size_t>(put);
      if ((put < 0 && errno != EAGAIN && errno != EINTR) || fed == stdin_data.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd}) {
    if (fd >= 0) ::close(fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!killed && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

CapturedRun RedisCli(std::uint16_t port, const std::vector<std::string>& args,
                     const std::string& stdin_data) {
  std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCaptured(argv, stdin_data);
}

bool HaveProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
}

std::string InfoField(RespClient& client, const std::string& section, const std::string& field) {
  Reply reply = client.Call({"INFO", section});
  if (reply.type != Reply::Type::kBulk) return "";
  std::string_view text = reply.bulk.view();
  const std::string needle = field + ":";
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find("\r\n", at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.substr(0, needle.size()) == needle) return std::string(line.substr(needle.size()));
    at = end + 2;
  }
  return "";
}

std::uint64_t VmRssBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::uint64_t kib = std::strtoull(line.c_str() + 6, nullptr, 10);
      return kib * 1024;
    }
  }
  return 0;
}

MetricsDaemon::~MetricsDaemon() {
  if (pid_ > 0) Stop();
}

bool MetricsDaemon::Start(const std::vector<std::string>& extra, std::chrono::milliseconds wait) {
  std::vector<std::string> args = {DaemonProcess::BinaryPath()};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv = Argv(args);
  char err_template[] = "/tmp/prefixcache-metrics-daemon-XXXXXX";
  int err_fd = ::mkstemp(err_template);
  if (err_fd < 0) return false;
  err_path_ = err_template;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(err_fd);
    ::unlink(err_path_.c_str());
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err_fd);
  if (rc != 0) {
    pid_ = -1;
    ::close(out[0]);
    ::unlink(err_path_.c_str());
    return false;
  }
  stdout_fd_ = out[0];
  std::string text;
  const auto deadline = Clock::now() + wait;
  auto parse_port = [&text](std::string_view prefix) -> std::uint16_t {
    std::size_t at = text.find(prefix);
    if (at == std::string::npos) return 0;
    std::size_t eol = text.find('\n', at);
    if (eol == std::string::npos) return 0;
    std::string address = text.substr(at + prefix.size(), eol - at - prefix.size());
    std::size_t colon = address.rfind(':');
    if (colon == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
  };
  while (port_ == 0 || metrics_port_ == 0) {
    pollfd p{stdout_fd_, POLLIN, 0};
    if (Clock::now() >= deadline) break;
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) continue;
    char chunk[512];
    ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n <= 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
    port_ = parse_port("prefixcached listening on ");
    metrics_port_ = parse_port("metrics on ");
  }
  if (port_ == 0 || metrics_port_ == 0) {
    std::ifstream err(err_path_);
    std::cerr << "prefixcached did not report both addresses; stdout:\n"
              << text << "\nstderr:\n"
              << err.rdbuf() << "\n";
    Stop(std::chrono::milliseconds(0));
    return false;
  }
  return true;
}

int MetricsDaemon::Stop(std::chrono::milliseconds bound) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + bound;
  int status = 0;
  pid_t got = 0;
  while ((got = ::waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (got != pid_) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  stdout_fd_ = -1;
  if (!err_path_.empty()) ::unlink(err_path_.c_str());
  err_path_.clear();
  return status;
}

std::vector<std::string> TestNode::Config(const std::string& json, const std::string& name) {
  const std::filesystem::path path = dir_.path() / name;
  WriteFile(path, json);
  return {"--config", path.string()};
}

bool TestNode::Start(const std::vector<std::string>& extra) {
  return daemon_.Start(spill(), extra);
}

bool ExitedCleanly(int status) {
  return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string HttpGet(std::uint16_t port, const std::string& path, std::string* status_line,
                    const std::string& headers) {
  RespClient conn(port);  // a plain TCP connection; only its socket is used
  if (!conn.connected()) return "";
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + "\r\n";
  if (!conn.Send(request)) return "";
  std::string response;
  conn.ReadRawUntilEof(response, kGenerousBound);
  const std::size_t eol = response.find("\r\n");
  if (status_line != nullptr) *status_line = response.substr(0, eol);
  const std::size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return "";
  return response.substr(body + 4);
}

}  // namespace prefixcache::testing
