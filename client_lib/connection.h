// Connection: one persistent TCP connection of the client to one node. Requests are queued
// from any thread and written in order, pipelined (several commands per write, no wait for
// earlier replies); replies are parsed as they arrive and matched to requests in order,
// bulk payloads landing where each request's sink says. It connects on demand (with a
// connect timeout, TCP_NODELAY and AUTH), fails every queued request when a request
// outlives its deadline or the socket breaks, reports node failures to NodeContext and
// reconnects on the next request. All state lives on the connection's strand.
#pragma once

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "node_health.h"
#include "protocol/resp_reply.h"
#include "request.h"

namespace prefixcache::client {

// What the connections to one node share: where it is, how to log in, its health and
// counters. Thread-safe (immutable fields, NodeHealth's mutex, atomics).
struct NodeContext {
  NodeContext(std::string id_in, std::string address_in, std::string password_in,
              std::chrono::milliseconds connect_timeout_in,
              std::chrono::milliseconds backoff_initial, std::chrono::milliseconds backoff_max)
      : id(std::move(id_in)),
        address(std::move(address_in)),
        password(std::move(password_in)),
        connect_timeout(connect_timeout_in),
        health(backoff_initial, backoff_max) {}

  const std::string id;
  const std::string address;
  const std::string password;
  const std::chrono::milliseconds connect_timeout;
  NodeHealth health;
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> error_replies{0};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::io_context& io, std::shared_ptr<NodeContext> node);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues `request` (from any thread). Its `done` runs later on the strand, exactly once.
  void Submit(RequestPtr request);
  // Closes the socket and fails the queued requests with Unavailable; later Submits fail
  // at once. From any thread; returns before that has happened.
  void Shutdown();

 private:
  enum class State { kIdle, kConnecting, kReady, kShutdown };

  void DoSubmit(RequestPtr request);
  void Connect();
  void OnConnected(std::uint64_t epoch, const boost::system::error_code& ec);
  void MaybeWrite();
  void OnWrite(std::uint64_t epoch, const boost::system::error_code& ec);
  void Read();
  void OnRead(std::uint64_t epoch, const boost::system::error_code& ec, std::size_t n);
  void ArmTimer();
  void OnTimer(std::uint64_t generation, const boost::system::error_code& ec);
  // Closes the socket, resets the parser and fails every queued request with `status`.
  // `node_failure` marks the node down (a quiet close of an idle connection is not one).
  void Fail(const Status& status, bool node_failure);
  std::span<std::byte> Sink(std::size_t index, std::size_t size);
  void ResetParser();

  std::shared_ptr<NodeContext> node_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer timer_;

  State state_ = State::kIdle;
  // Bumped whenever the socket is closed; handlers of an older socket see a stale epoch.
  std::uint64_t epoch_ = 0;
  std::uint64_t timer_generation_ = 0;
  Clock::time_point timer_deadline_ = Clock::time_point::max();
  Clock::time_point connect_deadline_ = Clock::time_point::max();

  // Requests in order; the first written_ have been handed to the socket and are owed a
  // reply, in order.
  std::deque<RequestPtr> queue_;
  std::size_t written_ = 0;
  bool writing_ = false;
  bool reading_ = false;
  std::vector<boost::asio::const_buffer> write_buffers_;
  std::span<std::byte> read_span_;  // where the read in flight writes

  protocol::ReplyParser parser_;
  // Replies of the current parser already matched to requests (popped).
  std::uint64_t matched_ = 0;
};

}  // namespace prefixcache::client
