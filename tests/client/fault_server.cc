#include "fault_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <span>
#include <utility>

#include "daemon_process.h"
#include "protocol/resp_parser.h"

namespace prefixcache::testing {
namespace {

std::string BulkOf(const std::string& bytes) {
  return "$" + std::to_string(bytes.size()) + "\r\n" + bytes + "\r\n";
}

bool SendAll(int fd, const char* data, std::size_t n) {
  while (n != 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool Upper(const std::string& arg, const char* name) {
  if (arg.size() != std::strlen(name)) return false;
  for (std::size_t i = 0; i < arg.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(arg[i])) != name[i]) return false;
  }
  return true;
}

}  // namespace

struct FaultServer::Connection {
  int fd = -1;
  bool stalled = false;  // input is read and dropped
  protocol::RequestParser parser;
};

FaultServer::FaultServer() {
  listen_fd_ = ListenOnLoopback(&port_);
  if (listen_fd_ < 0 || ::pipe2(wake_fd_, O_CLOEXEC) != 0) return;
  thread_ = std::thread([this] { Run(); });
}

FaultServer::~FaultServer() {
  if (thread_.joinable()) {
    char b = 0;
    (void)!::write(wake_fd_[1], &b, 1);  // a full pipe still wakes the poll
    thread_.join();
  }
  for (int fd : {listen_fd_, wake_fd_[0], wake_fd_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

void FaultServer::Store(const BlockKey& key, std::string stored) {
  std::lock_guard lock(mu_);
  blocks_[std::string(key.View())] = std::move(stored);
}

void FaultServer::CutNextValueReply(std::size_t bytes, bool stall) {
  std::lock_guard lock(mu_);
  cut_after_ = bytes;
  stall_ = stall;
}

void FaultServer::SetRingJson(std::optional<std::string> json) {
  std::lock_guard lock(mu_);
  ring_json_ = std::move(json);
}

std::vector<std::vector<std::string>> FaultServer::commands() const {
  std::lock_guard lock(mu_);
  return commands_;
}

void FaultServer::ClearCommands() {
  std::lock_guard lock(mu_);
  commands_.clear();
}

std::vector<std::string> FaultServer::KeysAskedFor() const {
  std::vector<std::string> keys;
  for (const auto& args : commands()) {
    if (Upper(args[0], "BLOCK.MGET") || Upper(args[0], "BLOCK.MGETPREFIX")) {
      keys.insert(keys.end(), args.begin() + 1, args.end());
    }
  }
  return keys;
}

std::string FaultServer::Answer(const std::vector<std::string>& args, bool* values) {
  std::lock_guard lock(mu_);
  commands_.push_back(args);
  *values = false;
  const std::string& name = args[0];
  if (Upper(name, "PING")) return "+PONG\r\n";
  if (Upper(name, "BLOCK.RING")) {
    return ring_json_ ? BulkOf(*ring_json_) : "-ERR the ring is not configured yet\r\n";
  }
  if (Upper(name, "BLOCK.EXISTS")) {
    std::string out = "*" + std::to_string(args.size() - 1) + "\r\n";
    for (std::size_t i = 1; i < args.size(); ++i)
      out += blocks_.count(args[i]) ? ":1\r\n" : ":0\r\n";
    return out;
  }
  const bool prefix = Upper(name, "BLOCK.MGETPREFIX");
  if (prefix || Upper(name, "BLOCK.MGET")) {
    *values = true;
    std::string out = "*" + std::to_string(args.size() - 1) + "\r\n";
    bool missed = false;
    for (std::size_t i = 1; i < args.size(); ++i) {
      const auto it = blocks_.find(args[i]);
      missed = missed || (prefix && it == blocks_.end());
      out += it == blocks_.end() || missed ? "$-1\r\n" : BulkOf(it->second);
    }
    return out;
  }
  if (Upper(name, "BLOCK.MSET")) {
    for (std::size_t i = 1; i + 2 < args.size(); i += 3) {
      blocks_[args[i + 1]] = args[i + 2];
    }
    return "+OK\r\n";
  }
  if (Upper(name, "DEL")) {
    std::int64_t removed = 0;
    for (std::size_t i = 1; i < args.size(); ++i)
      removed += static_cast<std::int64_t>(blocks_.erase(args[i]));
    return ":" + std::to_string(removed) + "\r\n";
  }
  return "-ERR unknown command '" + name + "'\r\n";
}

void FaultServer::Run() {
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<char> buffer(1 << 16);
  for (;;) {
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}, {wake_fd_[0], POLLIN, 0}};
    for (const auto& c : connections) fds.push_back({c->fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[1].revents) break;
    if (fds[0].revents) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        auto c = std::make_unique<Connection>();
        c->fd = fd;
        connections.push_back(std::move(c));
        accepted_.fetch_add(1);
      }
    }
    for (std::size_t k = 2; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      Connection& c = *connections[k - 2];
      bool open = true;
      if (c.stalled) {
        if (::recv(c.fd, buffer.data(), buffer.size(), 0) <= 0) {
          ::close(c.fd);
          c.fd = -1;
        }
        continue;
      }
      const std::span<std::byte> into = c.parser.ReadBuffer();
      const ssize_t n = ::recv(c.fd, into.data(), into.size(), 0);
      if (n <= 0 || !c.parser.Commit(static_cast<std::size_t>(n)).ok()) open = false;
      while (open && c.parser.HasRequest()) {
        protocol::Request request = c.parser.PopRequest();
        std::vector<std::string> args;
        for (const Buffer& arg : request.args) args.emplace_back(arg.view());
        if (args.empty()) continue;
        bool values = false;
        const std::string reply = Answer(args, &values);
        std::optional<std::size_t> cut;
        bool stall = false;
        if (values) {
          std::lock_guard lock(mu_);
          cut = std::exchange(cut_after_, std::nullopt);
          stall = stall_;
        }
        if (cut) {
          SendAll(c.fd, reply.data(), std::min(*cut, reply.size()));
          if (stall) {
            c.stalled = true;
            break;
          }
          open = false;  // dies in the middle of the reply
        } else if (!SendAll(c.fd, reply.data(), reply.size())) {
          open = false;
        }
      }
      if (!open) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(connections, [](const auto& c) { return c->fd < 0; });
  }
  for (const auto& c : connections) ::close(c->fd);
}

}  // namespace prefixcache::testing
