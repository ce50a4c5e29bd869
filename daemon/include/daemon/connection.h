// Connection: one RESP client session -- parser reads (large bulks into their own buffer),
// in-order handling of pipelined requests, batched scatter/gather replies, backpressure,
// the daemon-wide memory budget, idle/stall/request timeouts. Runs on its io_context's one
// thread; only CompleteDeferred and ContinueDeferred are called from others.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/command_handler.h"
#include "daemon/server_stats.h"
#include "prefixcache/defaults.h"
#include "protocol/resp_parser.h"
#include "protocol/resp_writer.h"

namespace prefixcache::daemon {

struct ConnectionOptions {
  protocol::ParserLimits parser;
  // Close a connection that made no read or write progress for this long (0 = never): a
  // client that sent nothing, or one whose pending write makes no progress. A command
  // still running for it on a worker does not count as idleness.
  std::uint64_t idle_timeout_ms = defaults::kIdleTimeoutMs;
  // Close a connection whose request is still partial after this long of waiting for the
  // client's bytes or for the memory the request needs (0 = never): a client that sends a
  // byte a second, or a request the budget cannot take in time. Time the connection spends
  // on other things (its replies draining, a command running) does not count.
  std::uint64_t request_timeout_ms = defaults::kRequestTimeoutMs;
  // While more reply bytes than this are unsent, the connection reads and handles no
  // further request (0 = unlimited).
  std::uint64_t output_buffer_bytes = defaults::kClientOutputBufferBytes;
  // While a write of at least kStreamingWriteBytes is in flight, the socket's
  // TCP_NOTSENT_LOWAT: the kernel holds at most this many unsent reply bytes, so a
  // multi-MiB reply is copied into the socket as the client takes it (from cache-warm
  // bytes) rather than all at once. 0 = never set. See config::NodeConfig::send_lowat_bytes.
  std::uint64_t send_lowat_bytes = defaults::kSendLowatBytes;
};

class Connection final : public std::enable_shared_from_this<Connection>,
                         public CommandContext,
                         public DeferredReplySink {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using TlsStream = boost::asio::ssl::stream<Socket&>;

  // `options`, `handler` and `stats` must outlive the connection. `on_close` runs once,
  // on the I/O thread, when the connection closes. With `tls` (which must outlive the
  // connection too) the connection speaks TLS: Start begins with the server handshake, and
  // a failed one closes the connection (counted in stats.tls_handshake_failures).
  Connection(Socket socket, std::uint64_t id, const ConnectionOptions& options,
             CommandHandler& handler, ServerStats& stats, std::function<void()> on_close,
             boost::asio::ssl::context* tls = nullptr);
  ~Connection() override;

  // Starts reading. Call once, on the socket's executor, with the object in a shared_ptr.
  void Start();

  // Stops reading new input once no request is partly received; requests already received
  // are answered, then the connection closes. Call on the I/O thread (post it).
  void Drain();
  // Closes the socket now. Call on the I/O thread (post it).
  void Close();

  std::uint64_t id() const { return session_.id; }
  Socket::executor_type executor() { return socket_.get_executor(); }

  // CommandContext.
  Session& session() override { return session_; }
  protocol::ReplyBuilder& reply() override { return pending_; }
  Completion Defer() override;

  protocol::MemoryBudget& memory() override { return stats_.inflight_memory; }
  void HoldUntilSent(protocol::MemoryCharge charge) override;

  // DeferredReplySink: from any thread.
  void CompleteDeferred(ReplyWriter writer, protocol::MemoryCharge charge) override;
  void ContinueDeferred(ReplyWriter part, protocol::MemoryCharge charge,
                        Continuation next) override;

 private:
  using Clock = std::chrono::steady_clock;

  // Calls `fn` with the stream the connection speaks: the TLS stream, or the socket itself
  // (one branch per I/O call; the plaintext path is the socket's own).
  template <typename Fn>
  void WithStream(Fn&& fn) {
    if (tls_) {
      fn(*tls_);
    } else {
      fn(socket_);
    }
  }
  void OnHandshake(const boost::system::error_code& ec);
  void MaybeRead();
  void OnRead(const boost::system::error_code& ec, std::size_t n);
  void ProcessRequests();
  void HandleOne(protocol::Request& request);
  // Records a parse failure: the protocol error becomes the last reply.
  void OnParsed(const Status& status);
  void ResumeParsing();
  // TCP_NOTSENT_LOWAT on (send_lowat_bytes) for a streaming write, off otherwise.
  void SetSendLowat(bool streaming);
  void OnDeferredDone(ReplyWriter& writer, protocol::MemoryCharge& charge);
  void OnDeferredPart(ReplyWriter& part, protocol::MemoryCharge& charge, Continuation& next);
  // Runs the stream's continuation once its parts have been handed to the socket.
  void MaybeContinueStream();
  // Charges the reply bytes appended since the last call that no command charged, from the
  // reply reserve first.
  void ChargeReplies();
  // Tops the reply reserve up to kReplyReserveBytes; false when the budget refused.
  bool ReserveForReply();
  // Waits for the budget to release memory (after `epoch`), then OnMemoryReleased. A wait
  // of the parser runs the request clock; one at the reply reserve (`idle`) lets the idle
  // timeout run.
  void AwaitMemory(std::uint64_t epoch, bool idle = false);
  void OnMemoryReleased();
  void Flush();
  void OnWrite(const boost::system::error_code& ec, std::size_t n);
  void MaybeFinish();
  // Whether unsent replies exceed the output limit (and counts the pauses).
  bool OverOutputLimit();
  // Records read/write progress now (and refreshes now_).
  void Progress();
  // Arms the timer for the earliest of the idle and request deadlines, unless it is armed
  // for an earlier time already.
  void ArmTimer();
  void StartTimer(Clock::time_point deadline);
  void OnTimer(const boost::system::error_code& ec, std::uint64_t generation);
  // The request clock of a partial request: it runs while the connection waits for the
  // client's bytes or for the memory the request needs (a wait that ends only by the
  // timeout cannot then hold memory for ever).
  void StartRequestClock(Clock::time_point now);
  void StopRequestClock(Clock::time_point now);
  Clock::duration PartialRequestTime(Clock::time_point now) const;
  void ReadToDiscard();
  // While draining: stops reading once no request is partly received.
  void StopInputIfIdle();

  Socket socket_;
  std::unique_ptr<TlsStream> tls_;  // over socket_, when the port speaks TLS
  boost::asio::steady_timer timer_;
  const ConnectionOptions& options_;
  CommandHandler& handler_;
  ServerStats& stats_;
  std::function<void()> on_close_;

  protocol::RequestParser parser_;
  protocol::ReplyBuilder pending_;         // replies not yet handed to the socket
  protocol::ReplyBuilder writing_;         // replies of the write in flight
  protocol::MemoryCharge pending_charge_;  // budget held by pending_'s bytes
  protocol::MemoryCharge writing_charge_;  // budget held by writing_'s bytes
  protocol::MemoryCharge reply_reserve_;   // taken before a request, for its reply
  Continuation stream_next_;               // a streamed command's continuation, if any
  std::vector<boost::asio::const_buffer> write_buffers_;
  Session session_;

  std::string protocol_error_;       // malformed input: sent once the earlier replies are queued
  Clock::time_point now_;            // the last clock reading (one per request, not two)
  Clock::time_point last_progress_;  // last read or write progress, for the idle timer
  Clock::time_point deferred_started_;
  Clock::time_point clock_since_;       // when the running request clock started
  Clock::duration partial_time_{};      // request clock of the partial request, so far
  Clock::time_point timer_deadline_;    // what the armed timer waits for
  std::uint64_t timer_generation_ = 0;  // a wait that is not the latest is stale
  bool reading_ = false;
  bool handshaking_ = false;  // the TLS handshake is in flight: nothing is read yet
  bool write_active_ = false;
  bool deferred_ = false;      // a command waits for its Completion
  bool input_closed_ = false;  // EOF, read error, QUIT, protocol error or Drain
  bool paused_ = false;        // over the output limit (for the pause counter)
  bool draining_ = false;      // server shutdown: finish the requests in flight, then close
  bool timer_armed_ = false;
  bool awaiting_memory_ = false;   // a budget wait is registered
  bool memory_wait_idle_ = false;  // that wait is at the reply reserve
  bool clock_running_ = false;     // the request clock runs since clock_since_
  bool close_gracefully_ = false;  // after QUIT or a protocol error: linger before closing
  bool parse_failed_ = false;      // the parser failed; protocol_error_ was set once
  bool send_lowat_set_ = false;    // TCP_NOTSENT_LOWAT is send_lowat_bytes (else the default)
  bool lingering_ = false;         // final reply sent, discarding input until EOF
  bool closed_ = false;
  std::unique_ptr<std::array<char, 4096>> discard_buffer_;  // only while lingering
};

}  // namespace prefixcache::daemon
