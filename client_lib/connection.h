// Connection: one persistent TCP connection of the client to one node. Requests are queued
// from any thread and written in order, pipelined (several commands per write, no wait for
// earlier replies); replies are parsed as they arrive and matched to requests in order,
// bulk payloads landing where each request's sink says, by vectored reads that take the
// end of a payload and what follows it in one system call. It connects on demand (with a
// connect timeout, TCP_NODELAY, AUTH, and on first contact the ring check), fails every
// queued request when a request outlives a deadline that fails the node or the socket
// breaks, reports node failures to NodeContext and reconnects on the next request. A
// request may be cancelled (or outlive a deadline of its caller's alone) without failing
// the others. All state lives on the connection's strand.
#pragma once

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
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
#include "scratch_parts.h"

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

  // The ring check: whether a connection should send BLOCK.RING ahead of the next request
  // (true once per contact: again after a check failed or the expected ring changed).
  bool ClaimRingCheck() {
    return check_ring.load(std::memory_order_relaxed) &&
           !ring_checked.exchange(true, std::memory_order_acq_rel);
  }
  // The ring the client routes on changed (or the check did not get an answer): check again.
  void ExpectRing(std::uint64_t fingerprint) {
    if (expected_fingerprint.exchange(fingerprint, std::memory_order_relaxed) != fingerprint) {
      ring_checked.store(false, std::memory_order_release);
    }
  }
  // The node's BLOCK.RING reply: counts and logs a fingerprint that differs from ours. An
  // error reply (no ring configured, not a prefixcached) is not a mismatch.
  void OnRingReply(const protocol::Reply& reply);

  const std::string id;
  const std::string address;
  const std::string password;
  const std::chrono::milliseconds connect_timeout;
  // TLS: every connection handshakes with this context (nullptr: plaintext) and expects
  // the node's certificate to name tls_server_name. Set before the context is shared.
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string tls_server_name;
  NodeHealth health;
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> error_replies{0};
  std::atomic<std::uint64_t> ring_mismatches{0};
  std::atomic<bool> ring_mismatch{false};
  // Off for servers that are not prefixcached (ClientInternals::UseRedisCommands).
  std::atomic<bool> check_ring{true};
  std::atomic<bool> ring_checked{false};
  std::atomic<std::uint64_t> expected_fingerprint{0};
};

class Connection : public std::enable_shared_from_this<Connection>, private protocol::BulkSink {
 public:
  Connection(boost::asio::io_context& io, std::shared_ptr<NodeContext> node);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues `request` (from any thread). Its `done` runs later on the strand, exactly once.
  void Submit(RequestPtr request);
  // Gives up on `request` (from any thread): unless it finished meanwhile, its `done` runs
  // on the strand with `why`, after which no byte lands in its sink's memory. A request not
  // yet written is dropped; one whose reply is arriving or due next (after replies only
  // given-up requests wait for) cuts the connection (the requests behind it are sent again
  // on a new one, the node is not marked down); one further back is left to be answered
  // and its reply dropped.
  void Cancel(RequestPtr request, Status why);
  // Closes the socket and fails the queued requests with Unavailable; later Submits fail
  // at once. From any thread; returns before that has happened.
  void Shutdown();

 private:
  enum class State { kIdle, kConnecting, kReady, kShutdown };
  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

  // Calls `fn(stream, keep)` with the stream the connection speaks -- the TLS stream of the
  // current socket, or the socket -- and what a handler must hold to keep that stream alive
  // until it runs (a new connection makes a new TLS stream; null for the socket).
  template <typename Fn>
  void WithStream(Fn&& fn) {
    if (tls_) {
      fn(*tls_, std::shared_ptr<void>(tls_));
    } else {
      fn(socket_, std::shared_ptr<void>());
    }
  }

  void DoSubmit(RequestPtr request);
  void Connect();
  void OnConnected(std::uint64_t epoch, const boost::system::error_code& ec);
  void OnHandshake(std::uint64_t epoch, const boost::system::error_code& ec);
  // The connection is up (TCP connected, TLS handshake done): AUTH, then the queue.
  void OnReady(std::uint64_t epoch);
  void MaybeWrite();
  void OnWrite(std::uint64_t epoch, const boost::system::error_code& ec);
  void Read();
  void OnRead(std::uint64_t epoch, const boost::system::error_code& ec, std::size_t n);
  void ArmTimer();
  void OnTimer(std::uint64_t generation, const boost::system::error_code& ec);
  // Closes the socket, resets the parser and fails every queued request with `status`.
  // `node_failure` marks the node down (a quiet close of an idle connection is not one).
  void Fail(const Status& status, bool node_failure);
  // Closes the socket (handlers of it see a stale epoch) and resets the parser and the
  // write/read state; the queue is the caller's to settle.
  void CloseSocket();
  void DoCancel(const RequestPtr& request, const Status& why);
  // Closes the socket with `cancelled`'s reply half read: finishes it with `why`, keeps the
  // other callers' requests to send again on a new connection.
  void Restart(const RequestPtr& cancelled, const Status& why);
  RequestPtr MakeRingCheck(const Request& before) const;
  void ResetParser();

  // protocol::BulkSink: forwards to the sink of the request whose reply is being parsed.
  std::span<const std::span<std::byte>> Parts(std::size_t index, std::size_t size) override;
  void Arrived(std::size_t filled) override;

  std::shared_ptr<NodeContext> node_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::socket socket_;
  std::shared_ptr<TlsStream> tls_;  // over socket_, made afresh for each connection
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
  std::vector<boost::asio::mutable_buffer> read_buffers_;  // where the read in flight writes

  protocol::ReplyParser parser_;
  // Replies of the current parser already matched to requests (popped).
  std::uint64_t matched_ = 0;
  // The sink that took the payload being received (nullptr: none, or scratch).
  protocol::BulkSink* receiving_ = nullptr;
  // Drains replies of abandoned requests.
  ScratchParts scratch_;
};

}  // namespace prefixcache::client
