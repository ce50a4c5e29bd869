// RespClient: a tiny blocking RESP2 client over one loopback TCP socket for the daemon's
// integration tests. It sends raw bytes or encoded commands and reads replies with
// protocol::ReplyParser. Every wait is bounded (a bound is a guard against hangs, never a
// timing assertion). Not thread-safe: one thread drives each object.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/resp_reply.h"

namespace prefixcache::testing {

using protocol::Reply;

// A wait long enough that only a hang exceeds it.
inline constexpr std::chrono::milliseconds kGenerousBound = std::chrono::seconds(30);

// The RESP2 multibulk encoding of one command.
std::string Cmd(std::initializer_list<std::string_view> args);
std::string Cmd(const std::vector<std::string>& args);

// A reply as a short string that reads like the wire: +OK, -ERR x, :42, "bulk", nil,
// nil*, [a, b]. Bulks longer than 64 bytes are shown by size.
std::string Describe(const Reply& reply);

// The reply as its RESP2 wire bytes (for byte-exact comparisons of whole replies).
std::string Wire(const Reply& reply);

class RespClient {
 public:
  // Connects to 127.0.0.1:port (with TCP_NODELAY when `no_delay`, and SO_RCVBUF set
  // before connecting when `receive_buffer_bytes` > 0); connected() tells.
  explicit RespClient(std::uint16_t port, bool no_delay = true, int receive_buffer_bytes = 0);
  ~RespClient();
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Writes every byte (blocking). False when the peer is gone.
  bool Send(std::string_view bytes);
  bool Send(const void* data, std::size_t size) {
    return Send(std::string_view(static_cast<const char*>(data), size));
  }

  // The next reply; nullopt on EOF, a parse error or when `bound` passes (error() says
  // which).
  std::optional<Reply> Read(std::chrono::milliseconds bound = kGenerousBound);

  // Send(Cmd(args)) then Read(); a failed read gives a kError reply with text
  // "<client: ...>" so comparisons fail readably.
  Reply Call(const std::vector<std::string>& args);
  Reply Call(std::initializer_list<std::string_view> args);

  // Raw bytes until the peer closes (true) or `bound` passes (false); bytes already
  // buffered by the parser are not returned, so use this on a fresh client.
  bool ReadRawUntilEof(std::string& out, std::chrono::milliseconds bound = kGenerousBound);

  // Waits for the peer to close, discarding what arrives. True on EOF or reset.
  bool WaitForEof(std::chrono::milliseconds bound = kGenerousBound);

  void ShutdownWrite();
  void Close();

  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  protocol::ReplyParser parser_;
  bool parser_failed_ = false;
  std::string error_;
};

}  // namespace prefixcache::testing
