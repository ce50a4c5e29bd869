#include "daemon/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
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
// After a write of more reply bytes than this, the builder that held them is replaced
// rather than cleared, so an idle connection keeps no large arena or piece list.
constexpr std::size_t kKeepBuilderBytes = 4096;
constexpr std::size_t kKeepWriteBuffers = 64;
// Before it handles a request, a connection holds this much of the budget for the reply
// (what the command does not reserve itself is drawn from it). A connection whose unsent
// replies are larger takes it as a large reservation, leaving the budget's headroom to
// connections that are not behind, so clients that do not read wait, not the others.
constexpr std::uint64_t kReplyReserveBytes = 64 * 1024;

// A failed TLS handshake is logged at info level at most once per this interval (the rest at
// debug level): a port scanner or a plaintext client in a loop must not flood the log.
constexpr auto kHandshakeLogInterval = std::chrono::seconds(10);
std::atomic<std::int64_t> last_handshake_log_s{-1'000'000};

bool LogHandshakeAtInfo() {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t last = last_handshake_log_s.load(std::memory_order_relaxed);
  return now - last >= kHandshakeLogInterval.count() &&
         last_handshake_log_s.compare_exchange_strong(last, now, std::memory_order_relaxed);
}

// The end of the client's input: a TCP FIN, or in TLS one without close_notify first (how
// most clients close).
bool IsEndOfInput(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

}  // namespace

Connection::Connection(Socket socket, std::uint64_t id, const ConnectionOptions& options,
                       CommandHandler& handler, ServerStats& stats, std::function<void()> on_close,
                       asio::ssl::context* tls)
    : socket_(std::move(socket)),
      tls_(tls != nullptr ? std::make_unique<TlsStream>(socket_, *tls) : nullptr),
      timer_(socket_.get_executor()),
      options_(options),
      handler_(handler),
      stats_(stats),
      on_close_(std::move(on_close)),
      parser_(options.parser) {
  parser_.SetMemoryBudget(&stats_.inflight_memory);
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
  ArmTimer();  // the idle timeout also bounds a handshake that makes no progress
  if (tls_) {
    handshaking_ = true;
    tls_->async_handshake(TlsStream::server, [self = shared_from_this()](const error_code& ec) {
      self->OnHandshake(ec);
    });
    return;
  }
  MaybeRead();
}

void Connection::OnHandshake(const error_code& ec) {
  handshaking_ = false;
  if (closed_) return;
  if (ec) {
    stats_.tls_handshake_failures.Add(1);
    if (ec != asio::error::operation_aborted) {
      const auto level = LogHandshakeAtInfo() ? spdlog::level::info : spdlog::level::debug;
      spdlog::log(level, "client {} ({}): TLS handshake failed, closed: {}", session_.id,
                  session_.remote_address, ec.message());
    }
    Close();
    return;
  }
  Progress();
  MaybeRead();
  MaybeFinish();  // drained during the handshake
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
  // A streamed command's state (and its Completion, which holds this connection) goes now.
  stream_next_ = Continuation{};
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

void Connection::CompleteDeferred(ReplyWriter writer, protocol::MemoryCharge charge) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), writer = std::move(writer),
              charge = std::move(charge)]() mutable { self->OnDeferredDone(writer, charge); });
}

void Connection::ContinueDeferred(ReplyWriter part, protocol::MemoryCharge charge,
                                  Continuation next) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), part = std::move(part), charge = std::move(charge),
              next = std::move(next)]() mutable { self->OnDeferredPart(part, charge, next); });
}

void Connection::HoldUntilSent(protocol::MemoryCharge charge) {
  pending_charge_.Absorb(std::move(charge));
}

void Connection::ChargeReplies() {
  const std::uint64_t bytes = pending_.TotalBytes();
  if (bytes <= pending_charge_.bytes()) return;
  std::uint64_t uncharged = bytes - pending_charge_.bytes();
  protocol::MemoryCharge drawn = reply_reserve_.Split(uncharged);
  uncharged -= drawn.bytes();
  pending_charge_.Absorb(std::move(drawn));
  // A reply larger than the reserve (one a command did not reserve: INFO, a long list of
  // integers) is counted as it is.
  if (uncharged != 0) pending_charge_.Force(stats_.inflight_memory, uncharged);
}

bool Connection::ReserveForReply() {
  if (reply_reserve_.bytes() >= kReplyReserveBytes) return true;
  const bool behind = pending_.TotalBytes() + writing_.TotalBytes() > kReplyReserveBytes;
  return reply_reserve_.TryAdd(stats_.inflight_memory, kReplyReserveBytes - reply_reserve_.bytes(),
                               /*large=*/behind);
}

void Connection::AwaitMemory(std::uint64_t epoch, bool idle) {
  if (awaiting_memory_ || closed_) return;
  awaiting_memory_ = true;
  memory_wait_idle_ = idle;
  if (parser_.AwaitingMemory()) {
    StartRequestClock(Clock::now());
    ArmTimer();
  }
  stats_.memory_waits.Add(1);
  // Runs on the releasing thread: only posts, and only while the connection still exists.
  std::weak_ptr<Connection> weak = shared_from_this();
  stats_.inflight_memory.Wait(epoch, [weak] {
    if (auto self = weak.lock()) {
      asio::post(self->executor(), [self] { self->OnMemoryReleased(); });
    }
  });
}

void Connection::OnMemoryReleased() {
  awaiting_memory_ = false;
  if (closed_) return;
  now_ = Clock::now();
  StopRequestClock(now_);
  if (stream_next_.run && stream_next_.after_memory_release) {
    Continuation next = std::exchange(stream_next_, Continuation{});
    next.run();
  }
  if (parser_.AwaitingMemory()) {
    const std::uint64_t epoch = stats_.inflight_memory.epoch();
    OnParsed(parser_.Resume());
    if (parser_.AwaitingMemory()) AwaitMemory(epoch);
  }
  ProcessRequests();
  Flush();
  MaybeRead();
  MaybeFinish();
}

void Connection::MaybeRead() {
  if (reading_ || handshaking_ || input_closed_ || closed_ || deferred_ || parser_.HasRequest()) {
    return;
  }
  if (awaiting_memory_ || OverOutputLimit()) return;
  // Between requests: give back the staging memory no reply refers to any more.
  const bool partial = parser_.PendingBytes() != 0;
  if (!partial) {
    parser_.Trim();
    reply_reserve_.Reset();
    partial_time_ = {};
  }
  const std::uint64_t epoch = stats_.inflight_memory.epoch();
  std::span<std::byte> space = parser_.ReadBuffer();
  if (space.empty()) {
    AwaitMemory(epoch);
    return;
  }
  reading_ = true;
  if (partial) {
    StartRequestClock(now_);
    ArmTimer();
  }
  WithStream([&](auto& stream) {
    stream.async_read_some(
        asio::buffer(space.data(), space.size()),
        [self = shared_from_this()](const error_code& ec, std::size_t n) { self->OnRead(ec, n); });
  });
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
    if (!IsEndOfInput(ec)) {
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
    StopRequestClock(now_);
    const std::uint64_t epoch = stats_.inflight_memory.epoch();
    OnParsed(parser_.Commit(n));
    if (parser_.AwaitingMemory()) AwaitMemory(epoch);
    // A request completed in this read: a partial one left over started in it.
    if (parser_.HasRequest()) partial_time_ = {};
    if (options_.request_timeout_ms != 0 && parser_.PendingBytes() != 0 &&
        partial_time_ >= std::chrono::milliseconds(options_.request_timeout_ms)) {
      stats_.request_timeouts.Add(1);
      spdlog::info("client {} ({}): closed, request still incomplete after {} ms", session_.id,
                   session_.remote_address, options_.request_timeout_ms);
      Close();
      return;
    }
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
  // The parser holds back input after kMaxReadyRequests requests and, until the client
  // authenticates, after each request (see RequestParser::SetGuarded): parse it once the
  // requests before it are handled, under the caps that hold after them.
  if (parse_failed_ || parser_.HasRequest()) return;
  if (parser_.guarded()) parser_.SetGuarded(!session_.authenticated);
  const std::uint64_t epoch = stats_.inflight_memory.epoch();
  OnParsed(parser_.Resume());
  if (parser_.AwaitingMemory()) AwaitMemory(epoch);
}

void Connection::ProcessRequests() {
  ResumeParsing();
  while (!closed_ && !deferred_ && !session_.close_after_reply && parser_.HasRequest()) {
    if (OverOutputLimit()) break;
    // The budget must cover the reply first; if it cannot, this connection waits.
    const std::uint64_t epoch = stats_.inflight_memory.epoch();
    if (!ReserveForReply()) {
      AwaitMemory(epoch, /*idle=*/true);
      break;
    }
    {
      protocol::Request request = parser_.PopRequest();
      HandleOne(request);
    }  // the request's memory goes back here, after its reply was charged
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
    handler_.OnRejected(session_);
    pending_.Error(request.rejected);
    return;
  }
  if (request.args.empty()) return;
  // One clock read per request: a request's time runs from the end of the previous one
  // (or from the read that brought it) to its reply being queued.
  const Clock::time_point start = now_;
  session_.last_command_at = start;
  pending_.SetResp3(session_.protocol == 3);
  handler_.Handle(request, *this);
  ChargeReplies();
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

void Connection::OnDeferredDone(ReplyWriter& writer, protocol::MemoryCharge& charge) {
  deferred_ = false;
  stream_next_ = Continuation{};
  if (closed_) return;
  pending_.SetResp3(session_.protocol == 3);
  writer(pending_);
  pending_charge_.Absorb(std::move(charge));
  ChargeReplies();
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

void Connection::OnDeferredPart(ReplyWriter& part, protocol::MemoryCharge& charge,
                                Continuation& next) {
  if (closed_) return;  // `next` and with it the command's state go here
  pending_.SetResp3(session_.protocol == 3);
  if (part) part(pending_);
  pending_charge_.Absorb(std::move(charge));
  ChargeReplies();
  now_ = Clock::now();
  stream_next_ = std::move(next);
  if (stream_next_.after_memory_release) AwaitMemory(stream_next_.epoch);
  Flush();
  MaybeContinueStream();
}

void Connection::MaybeContinueStream() {
  if (closed_ || !stream_next_.run || stream_next_.after_memory_release || !pending_.empty()) {
    return;
  }
  Continuation next = std::exchange(stream_next_, Continuation{});
  next.run();
}

void Connection::Flush() {
  if (write_active_ || closed_ || lingering_ || pending_.empty()) return;
  std::swap(pending_, writing_);
  std::swap(pending_charge_, writing_charge_);
  write_buffers_.clear();
  for (const auto& segment : writing_.Segments()) {
    write_buffers_.emplace_back(segment.data, segment.size);
  }
  write_active_ = true;
  SetSendLowat(writing_.TotalBytes() >= kStreamingWriteBytes);
  // A span, so that the write operation does not copy the buffer vector.
  std::span<const asio::const_buffer> buffers(write_buffers_);
  WithStream([&](auto& stream) {
    asio::async_write(
        stream, buffers,
        // Called before and after each partial write: every call past the first means the
        // client is taking bytes, which keeps a slow reader from counting as stalled.
        [this](const error_code& ec, std::size_t written) -> std::size_t {
          if (ec) return 0;
          if (written != 0) Progress();
          return kMaxWriteChunkBytes;
        },
        [self = shared_from_this()](const error_code& ec, std::size_t n) { self->OnWrite(ec, n); });
  });
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
  if (writing_.TotalBytes() > kKeepBuilderBytes) {
    writing_ = protocol::ReplyBuilder();
  } else {
    writing_.Clear();
  }
  if (write_buffers_.capacity() > kKeepWriteBuffers) {
    std::vector<asio::const_buffer>().swap(write_buffers_);
  }
  writing_charge_.Reset();
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
  MaybeContinueStream();
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
  StartTimer(Clock::now() + kLingerTime);
  if (!reading_) ReadToDiscard();
}

void Connection::ReadToDiscard() {
  if (!discard_buffer_) discard_buffer_ = std::make_unique<std::array<char, 4096>>();
  reading_ = true;
  WithStream([&](auto& stream) {
    stream.async_read_some(asio::buffer(*discard_buffer_),
                           [self = shared_from_this()](const error_code& ec, std::size_t) {
                             self->reading_ = false;
                             if (self->closed_) return;
                             if (ec) {
                               self->Close();
                             } else {
                               self->ReadToDiscard();
                             }
                           });
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

void Connection::StartRequestClock(Clock::time_point now) {
  if (clock_running_) return;
  clock_running_ = true;
  clock_since_ = now;
}

void Connection::StopRequestClock(Clock::time_point now) {
  if (!clock_running_) return;
  clock_running_ = false;
  partial_time_ += now - clock_since_;
}

Connection::Clock::duration Connection::PartialRequestTime(Clock::time_point now) const {
  return clock_running_ ? partial_time_ + (now - clock_since_) : partial_time_;
}

void Connection::ArmTimer() {
  if (closed_ || lingering_) return;
  Clock::time_point deadline = Clock::time_point::max();
  if (options_.idle_timeout_ms != 0) {
    deadline = last_progress_ + std::chrono::milliseconds(options_.idle_timeout_ms);
  }
  if (options_.request_timeout_ms != 0 && clock_running_) {
    const auto timeout = std::chrono::milliseconds(options_.request_timeout_ms);
    deadline = std::min(
        deadline, clock_since_ + (timeout - std::min<Clock::duration>(partial_time_, timeout)));
  }
  if (deadline == Clock::time_point::max()) return;
  if (timer_armed_ && timer_deadline_ <= deadline) return;
  StartTimer(deadline);
}

void Connection::StartTimer(Clock::time_point deadline) {
  // expires_at cancels a wait in flight; its handler then carries a stale generation.
  timer_armed_ = true;
  timer_deadline_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this(), generation = ++timer_generation_](
                        const error_code& ec) { self->OnTimer(ec, generation); });
}

void Connection::OnTimer(const error_code& ec, std::uint64_t generation) {
  if (generation != timer_generation_) return;
  timer_armed_ = false;
  if (closed_) return;
  if (lingering_) {
    if (!ec) Close();
    return;
  }
  if (ec) return;
  auto now = Clock::now();
  if (options_.request_timeout_ms != 0 &&
      PartialRequestTime(now) >= std::chrono::milliseconds(options_.request_timeout_ms)) {
    stats_.request_timeouts.Add(1);
    spdlog::info("client {} ({}): closed, request still incomplete after {} ms", session_.id,
                 session_.remote_address, options_.request_timeout_ms);
    Close();
    return;
  }
  auto timeout = std::chrono::milliseconds(options_.idle_timeout_ms);
  if (timeout.count() == 0) {
    // Only the request clock armed the timer.
  } else if (deferred_ || (awaiting_memory_ && !memory_wait_idle_)) {
    // The server is working for this client, or its request waits for memory (the request
    // clock runs then): not idle.
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
