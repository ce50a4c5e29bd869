#include "daemon/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <span>
#include <utility>

#include "listen.h"
#include "prefixcache/check.h"

namespace prefixcache::daemon {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Writes at least this large stream through options_.send_lowat_bytes of unsent data;
// smaller ones go to the kernel in one call. Measured in bench/RESULTS.md: a fixed low
// watermark makes 8 MiB replies faster but costs 256 KiB replies extra system calls.
constexpr std::size_t kStreamingWriteBytes = 1u << 20;
// Largest write handed to one sendmsg call (Asio's default is 64 KiB, which would cut a
// multi-MiB block reply into hundreds of system calls).
constexpr std::size_t kMaxWriteChunkBytes = 8u << 20;
// How long a connection closing after a final reply (QUIT, protocol error) waits for the
// client to close its side, so that unread input does not turn the close into a reset that
// could destroy the reply in flight.
constexpr auto kLingerTime = std::chrono::seconds(1);

}  // namespace

Connection::Connection(Socket socket, std::uint64_t id, const ConnectionOptions& options,
                       CommandHandler& handler, ServerStats& stats, std::function<void()> on_close)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      options_(options),
      handler_(handler),
      stats_(stats),
      on_close_(std::move(on_close)),
      parser_(options.parser) {
  session_.id = id;
  error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) session_.remote_address = FormatEndpoint(remote);
  auto local = socket_.local_endpoint(ec);
  if (!ec) session_.local_address = FormatEndpoint(local);
  session_.fd = static_cast<int>(socket_.native_handle());
  session_.connected_at = session_.last_command_at = Clock::now();
}

Connection::~Connection() { Close(); }

void Connection::Start() {
  handler_.OnConnect(session_);
  parser_.SetGuarded(!session_.authenticated);
  Progress();
  ArmTimer();
  MaybeRead();
}

void Connection::Drain() {
  if (closed_) return;
  draining_ = true;
  StopInputIfIdle();
  MaybeFinish();
}

void Connection::StopInputIfIdle() {
  // A request partly received is in flight: keep reading until it is complete.
  if (!draining_ || input_closed_ || parser_.PendingBytes() != 0) return;
  input_closed_ = true;
  // Wakes a pending read with end-of-file; requests already received are still answered.
  error_code ignored;
  if (reading_) socket_.shutdown(Socket::shutdown_receive, ignored);
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  timer_.cancel();
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  handler_.OnDisconnect(session_);
  if (auto on_close = std::exchange(on_close_, nullptr)) on_close();
}

Completion Connection::Defer() {
  PC_CHECK(!deferred_);
  deferred_ = true;
  return Completion(shared_from_this());
}

void Connection::CompleteDeferred(ReplyWriter writer) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), writer = std::move(writer)]() mutable {
               self->OnDeferredDone(writer);
             });
}

void Connection::MaybeRead() {
  if (reading_ || input_closed_ || closed_ || deferred_ || parser_.HasRequest()) return;
  if (OverOutputLimit()) return;
  reading_ = true;
  std::span<std::byte> space = parser_.ReadBuffer();
  socket_.async_read_some(
      asio::buffer(space.data(), space.size()),
      [self = shared_from_this()](const error_code& ec, std::size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(const error_code& ec, std::size_t n) {
  reading_ = false;
  if (closed_) return;
  if (lingering_) {
    // Discarding input until the client closes its side.
    if (ec) {
      Close();
    } else {
      ReadToDiscard();
    }
    return;
  }
  if (ec) {
    input_closed_ = true;
    if (ec != asio::error::eof) {
      if (ec != asio::error::operation_aborted && ec != asio::error::connection_reset) {
        spdlog::debug("client {} ({}): read failed: {}", session_.id, session_.remote_address,
                      ec.message());
      }
      Close();
      return;
    }
  } else {
    Progress();  // also starts the clock of the requests this read completes
    stats_.net_input_bytes.Add(n);
    OnParsed(parser_.Commit(n));
    StopInputIfIdle();
  }
  ProcessRequests();
  Flush();
  MaybeRead();
  MaybeFinish();
}

void Connection::OnParsed(const Status& status) {
  if (status.ok() || parse_failed_) return;
  parse_failed_ = true;
  protocol_error_ = status.message();
  if (protocol_error_.empty()) protocol_error_ = "Protocol error";
  input_closed_ = true;
  close_gracefully_ = true;
  stats_.protocol_errors.Add(1);
  spdlog::debug("client {} ({}): {}", session_.id, session_.remote_address, protocol_error_);
}

void Connection::ResumeParsing() {
  // Until the client authenticates, the parser holds back what follows each request (see
  // RequestParser::SetGuarded): parse it now, under the caps that hold after that request.
  if (parse_failed_ || !parser_.guarded()) return;
  parser_.SetGuarded(!session_.authenticated);
  if (!parser_.HasRequest()) OnParsed(parser_.Resume());
}

void Connection::ProcessRequests() {
  ResumeParsing();
  while (!closed_ && !deferred_ && !session_.close_after_reply && parser_.HasRequest()) {
    if (OverOutputLimit()) break;
    protocol::Request request = parser_.PopRequest();
    HandleOne(request);
    if (!deferred_) ResumeParsing();
  }
  // The protocol error is the last reply, after those of the requests before it; a QUIT
  // among those ends the connection first.
  if (!protocol_error_.empty() && !deferred_) {
    if (session_.close_after_reply) {
      protocol_error_.clear();
    } else if (!parser_.HasRequest()) {
      pending_.Error("ERR " + protocol_error_);
      protocol_error_.clear();
    }
  }
}

void Connection::HandleOne(protocol::Request& request) {
  stats_.total_commands_processed.Add(1);
  if (!request.rejected.empty()) {
    stats_.rejected_requests.Add(1);
    pending_.Error(request.rejected);
    return;
  }
  if (request.args.empty()) return;
  // One clock read per request: a request's time runs from the end of the previous one
  // (or from the read that brought it) to its reply being queued.
  const Clock::time_point start = now_;
  session_.last_command_at = start;
  handler_.Handle(request, *this);
  if (deferred_) {
    deferred_started_ = start;
  } else {
    now_ = Clock::now();
    stats_.latency.Record(now_ - start);
  }
  if (session_.close_after_reply) {
    input_closed_ = true;
    close_gracefully_ = true;
  }
}

void Connection::OnDeferredDone(ReplyWriter& writer) {
  deferred_ = false;
  if (closed_) return;
  writer(pending_);
  now_ = Clock::now();
  stats_.latency.Record(now_ - deferred_started_);
  if (session_.close_after_reply) {
    input_closed_ = true;
    close_gracefully_ = true;
  }
  ProcessRequests();
  Flush();
  MaybeRead();
  MaybeFinish();
}

void Connection::Flush() {
  if (write_active_ || closed_ || lingering_ || pending_.empty()) return;
  std::swap(pending_, writing_);
  write_buffers_.clear();
  for (const auto& segment : writing_.Segments()) {
    write_buffers_.emplace_back(segment.data, segment.size);
  }
  write_active_ = true;
  SetSendLowat(writing_.TotalBytes() >= kStreamingWriteBytes);
  // A span, so that the write operation does not copy the buffer vector.
  std::span<const asio::const_buffer> buffers(write_buffers_);
  asio::async_write(
      socket_, buffers,
      // Called before and after each partial write: every call past the first means the
      // client is taking bytes, which keeps a slow reader from counting as stalled.
      [this](const error_code& ec, std::size_t written) -> std::size_t {
        if (ec) return 0;
        if (written != 0) Progress();
        return kMaxWriteChunkBytes;
      },
      [self = shared_from_this()](const error_code& ec, std::size_t n) { self->OnWrite(ec, n); });
}

void Connection::SetSendLowat(bool streaming) {
  if (options_.send_lowat_bytes == 0 || streaming == send_lowat_set_) return;
  // 0 restores the system default (net.ipv4.tcp_notsent_lowat, unlimited unless tuned).
  const int lowat = streaming ? static_cast<int>(options_.send_lowat_bytes) : 0;
  if (::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat) !=
      0) {
    spdlog::debug("client {} ({}): setsockopt TCP_NOTSENT_LOWAT {}: {}", session_.id,
                  session_.remote_address, lowat, std::strerror(errno));
    return;
  }
  send_lowat_set_ = streaming;
}

void Connection::OnWrite(const error_code& ec, std::size_t n) {
  write_active_ = false;
  writing_.Clear();
  if (closed_) return;
  if (ec) {
    if (ec != asio::error::operation_aborted && ec != asio::error::broken_pipe &&
        ec != asio::error::connection_reset) {
      spdlog::debug("client {} ({}): write failed: {}", session_.id, session_.remote_address,
                    ec.message());
    }
    Close();
    return;
  }
  stats_.net_output_bytes.Add(n);
  Progress();
  ProcessRequests();
  Flush();
  MaybeRead();
  MaybeFinish();
}

void Connection::MaybeFinish() {
  if (closed_ || lingering_ || !input_closed_ || deferred_ || write_active_ || !pending_.empty() ||
      !protocol_error_.empty()) {
    return;
  }
  if (!session_.close_after_reply && parser_.HasRequest()) return;
  if (!close_gracefully_) {
    Close();
    return;
  }
  // Final reply sent (QUIT, protocol error): send FIN, then discard input until the client
  // closes or kLingerTime passes.
  lingering_ = true;
  error_code ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);
  timer_.cancel();
  timer_armed_ = true;
  timer_.expires_after(kLingerTime);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->OnTimer(ec); });
  if (!reading_) ReadToDiscard();
}

void Connection::ReadToDiscard() {
  if (!discard_buffer_) discard_buffer_ = std::make_unique<std::array<char, 4096>>();
  reading_ = true;
  socket_.async_read_some(asio::buffer(*discard_buffer_),
                          [self = shared_from_this()](const error_code& ec, std::size_t) {
                            self->reading_ = false;
                            if (self->closed_) return;
                            if (ec) {
                              self->Close();
                            } else {
                              self->ReadToDiscard();
                            }
                          });
}

bool Connection::OverOutputLimit() {
  const bool over = options_.output_buffer_bytes != 0 &&
                    pending_.TotalBytes() + writing_.TotalBytes() > options_.output_buffer_bytes;
  if (over != paused_) {
    paused_ = over;
    if (over) stats_.backpressure_pauses.Add(1);
  }
  return over;
}

void Connection::Progress() { last_progress_ = now_ = Clock::now(); }

void Connection::ArmTimer() {
  if (options_.idle_timeout_ms == 0 || timer_armed_ || closed_ || lingering_) return;
  timer_armed_ = true;
  timer_.expires_at(last_progress_ + std::chrono::milliseconds(options_.idle_timeout_ms));
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->OnTimer(ec); });
}

void Connection::OnTimer(const error_code& ec) {
  timer_armed_ = false;
  if (closed_) return;
  if (lingering_) {
    if (!ec) Close();
    return;
  }
  if (ec) return;
  auto timeout = std::chrono::milliseconds(options_.idle_timeout_ms);
  auto now = Clock::now();
  if (deferred_) {
    // The server is working for this client: not idle.
    last_progress_ = std::max(last_progress_, now - timeout / 2);
  } else if (now - last_progress_ >= timeout) {
    if (write_active_) {
      stats_.output_stalls.Add(1);
      spdlog::info("client {} ({}): closed, no write progress for {} ms", session_.id,
                   session_.remote_address, options_.idle_timeout_ms);
    } else {
      stats_.idle_timeouts.Add(1);
      spdlog::debug("client {} ({}): closed, idle for {} ms", session_.id, session_.remote_address,
                    options_.idle_timeout_ms);
    }
    Close();
    return;
  }
  ArmTimer();
}

}  // namespace prefixcache::daemon
