#include "resp_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace prefixcache::testing {

namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

void AppendArg(std::string& out, std::string_view arg) {
  out += '$';
  out += std::to_string(arg.size());
  out += "\r\n";
  out.append(arg.data(), arg.size());
  out += "\r\n";
}

}  // namespace

std::string Cmd(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) AppendArg(out, a);
  return out;
}

std::string Cmd(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) AppendArg(out, a);
  return out;
}

std::string Describe(const Reply& reply) {
  switch (reply.type) {
    case Reply::Type::kSimple:
      return "+" + reply.text;
    case Reply::Type::kError:
      return "-" + reply.text;
    case Reply::Type::kInteger:
      return ":" + std::to_string(reply.integer);
    case Reply::Type::kBulk:
      if (reply.bulk.size() > 64) return "<bulk of " + std::to_string(reply.bulk.size()) + ">";
      return "\"" + std::string(reply.bulk.view()) + "\"";
    case Reply::Type::kNil:
      return "nil";
    case Reply::Type::kNilArray:
      return "nil*";
    case Reply::Type::kArray: {
      std::string out = "[";
      for (std::size_t i = 0; i < reply.elements.size(); ++i) {
        if (i) out += ", ";
        out += Describe(reply.elements[i]);
      }
      return out + "]";
    }
  }
  return "?";
}

std::string Wire(const Reply& reply) {
  switch (reply.type) {
    case Reply::Type::kSimple:
      return "+" + reply.text + "\r\n";
    case Reply::Type::kError:
      return "-" + reply.text + "\r\n";
    case Reply::Type::kInteger:
      return ":" + std::to_string(reply.integer) + "\r\n";
    case Reply::Type::kBulk:
      return "$" + std::to_string(reply.bulk.size()) + "\r\n" + std::string(reply.bulk.view()) +
             "\r\n";
    case Reply::Type::kNil:
      return "$-1\r\n";
    case Reply::Type::kNilArray:
      return "*-1\r\n";
    case Reply::Type::kArray: {
      std::string out = "*" + std::to_string(reply.elements.size()) + "\r\n";
      for (const Reply& e : reply.elements) out += Wire(e);
      return out;
    }
  }
  return "?";
}

RespClient::RespClient(std::uint16_t port, bool no_delay, int receive_buffer_bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error_ = std::strerror(errno);
    return;
  }
  if (receive_buffer_bytes > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return;
  }
  if (no_delay) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  fd_ = fd;
}

RespClient::~RespClient() { Close(); }

void RespClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RespClient::ShutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool RespClient::Send(std::string_view bytes) {
  if (fd_ < 0) return false;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<Reply> RespClient::Read(std::chrono::milliseconds bound) {
  if (parser_.HasReply()) return parser_.PopReply();
  if (fd_ < 0 || parser_failed_) {
    if (error_.empty()) error_ = "not connected";
    return std::nullopt;
  }
  const auto deadline = Clock::now() + bound;
  while (!parser_.HasReply()) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, MillisLeft(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      error_ = "no reply within " + std::to_string(bound.count()) + " ms";
      return std::nullopt;
    }
    std::span<std::byte> space = parser_.ReadBuffer();
    ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n == 0 ? "connection closed" : std::string("recv: ") + std::strerror(errno);
      return std::nullopt;
    }
    Status status = parser_.Commit(static_cast<std::size_t>(n));
    if (!status.ok()) {
      parser_failed_ = true;
      error_ = "reply parse: " + status.ToString();
      return std::nullopt;
    }
  }
  return parser_.PopReply();
}

Reply RespClient::Call(const std::vector<std::string>& args) {
  Reply failed;
  failed.type = Reply::Type::kError;
  if (!Send(Cmd(args))) {
    failed.text = "<client: " + error_ + ">";
    return failed;
  }
  std::optional<Reply> reply = Read();
  if (!reply) {
    failed.text = "<client: " + error_ + ">";
    return failed;
  }
  return std::move(*reply);
}

Reply RespClient::Call(std::initializer_list<std::string_view> args) {
  std::vector<std::string> copy;
  for (std::string_view a : args) copy.emplace_back(a);
  return Call(copy);
}

bool RespClient::ReadRawUntilEof(std::string& out, std::chrono::milliseconds bound) {
  if (fd_ < 0) return false;
  const auto deadline = Clock::now() + bound;
  char chunk[65536];
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, MillisLeft(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == ECONNRESET;
    if (n == 0) return true;
    out.append(chunk, static_cast<std::size_t>(n));
  }
}

bool RespClient::WaitForEof(std::chrono::milliseconds bound) {
  std::string ignored;
  return ReadRawUntilEof(ignored, bound);
}

}  // namespace prefixcache::testing
