#include "connection.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <optional>
#include <string_view>

#include "tls_context.h"

namespace prefixcache::client {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Requests gathered into one write at most; bounds the gather list of a pipelined burst.
constexpr std::size_t kMaxRequestsPerWrite = 64;

// Splits "host:port" / "[v6]:port".
bool SplitAddress(std::string_view address, std::string* host, std::string* port) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == address.size()) return false;
  std::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  *host = std::string(h);
  *port = std::string(address.substr(colon + 1));
  return !host->empty();
}

// The 16 hex digits after "\"fingerprint\":\"" in a BLOCK.RING reply, or nullopt.
std::optional<std::uint64_t> FingerprintOf(std::string_view json) {
  constexpr std::string_view kField = "\"fingerprint\":\"";
  const std::size_t at = json.find(kField);
  if (at == std::string_view::npos || json.size() < at + kField.size() + 16) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : json.substr(at + kField.size(), 16)) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    value = value << 4 | static_cast<std::uint64_t>(digit);
  }
  return value;
}

}  // namespace

void NodeContext::OnRingReply(const protocol::Reply& reply) {
  if (reply.type != protocol::Reply::Type::kBulk) return;
  const std::optional<std::uint64_t> theirs = FingerprintOf(reply.bulk.view());
  const std::uint64_t ours = expected_fingerprint.load(std::memory_order_relaxed);
  if (theirs && *theirs == ours) {
    ring_mismatch.store(false, std::memory_order_relaxed);
    return;
  }
  ring_mismatches.fetch_add(1, std::memory_order_relaxed);
  ring_mismatch.store(true, std::memory_order_relaxed);
  std::fprintf(stderr,
               "prefixcache client: node %s (%s) routes on ring %016llx, this client on "
               "%016llx: keys may go to nodes that do not hold them (compare the configs; "
               "`prefixctl status` shows every node)\n",
               id.c_str(), address.c_str(), static_cast<unsigned long long>(theirs.value_or(0)),
               static_cast<unsigned long long>(ours));
}

Connection::Connection(asio::io_context& io, std::shared_ptr<NodeContext> node)
    : node_(std::move(node)),
      strand_(asio::make_strand(io)),
      socket_(strand_),
      resolver_(strand_),
      timer_(strand_) {
  ResetParser();
}

Connection::~Connection() = default;

void Connection::ResetParser() {
  parser_ = protocol::ReplyParser();
  matched_ = 0;
  receiving_ = nullptr;
  parser_.SetBulkSink(this);
}

std::span<const std::span<std::byte>> Connection::Parts(std::size_t index, std::size_t size) {
  receiving_ = nullptr;
  // The reply being parsed answers the request at this position of the queue.
  const std::uint64_t at = parser_.CompletedReplies() - matched_;
  if (at >= written_) return {};  // a reply nobody asked for; OnRead fails the connection
  const RequestPtr& request = queue_[static_cast<std::size_t>(at)];
  if (request->abandoned) return scratch_.Parts(size);
  if (!request->sink) return {};
  receiving_ = request->sink.get();
  return receiving_->Parts(index, size);
}

void Connection::Arrived(std::size_t filled) {
  if (receiving_ != nullptr) receiving_->Arrived(filled);
}

void Connection::Submit(RequestPtr request) {
  node_->requests.fetch_add(1, std::memory_order_relaxed);
  asio::post(strand_, [self = shared_from_this(), request = std::move(request)]() mutable {
    self->DoSubmit(std::move(request));
  });
}

void Connection::Cancel(RequestPtr request, Status why) {
  asio::post(strand_, [self = shared_from_this(), request = std::move(request),
                       why = std::move(why)] { self->DoCancel(request, why); });
}

void Connection::Shutdown() {
  asio::post(strand_, [self = shared_from_this()] {
    self->Fail(Status::Unavailable("client closed"), false);
    self->state_ = State::kShutdown;
  });
}

void Connection::DoSubmit(RequestPtr request) {
  if (state_ == State::kShutdown) {
    request->Finish(Status::Unavailable("client closed"), nullptr);
    return;
  }
  if (node_->ClaimRingCheck()) queue_.push_back(MakeRingCheck(*request));
  queue_.push_back(std::move(request));
  switch (state_) {
    case State::kIdle:
      Connect();
      break;
    case State::kReady:
      MaybeWrite();
      break;
    default:
      break;
  }
  ArmTimer();
}

RequestPtr Connection::MakeRingCheck(const Request& before) const {
  auto check = std::make_shared<Request>();
  const std::string_view args[] = {"BLOCK.RING"};
  check->command.Command(args);
  check->deadline = before.deadline;
  check->deadline_fails_node = before.deadline_fails_node;
  check->setup = true;
  check->done = [node = node_](const Status& status, protocol::Reply* reply) {
    if (status.ok()) {
      node->OnRingReply(*reply);
    } else {
      node->ring_checked.store(false, std::memory_order_release);  // ask again next time
    }
  };
  return check;
}

void Connection::DoCancel(const RequestPtr& request, const Status& why) {
  const auto it = std::find(queue_.begin(), queue_.end(), request);
  if (it == queue_.end() || request->abandoned) return;  // finished meanwhile
  const auto position = static_cast<std::size_t>(it - queue_.begin());
  if (position >= written_) {
    queue_.erase(it);
    request->Finish(why, nullptr);
  } else if (std::all_of(queue_.begin(), it, [](const RequestPtr& r) { return r->abandoned; })) {
    // Its reply is the one arriving (a read in flight may be writing into the request's
    // destinations) or due next, behind none a live caller waits for, from a node that may
    // never send it: only closing the socket stops both.
    Restart(request, why);
    return;
  } else {
    // Its reply comes after another one: it is read then and dropped.
    request->abandoned = true;
    request->Finish(why, nullptr);
  }
  ArmTimer();
}

void Connection::CloseSocket() {
  ++epoch_;
  error_code ignored;
  resolver_.cancel();
  socket_.close(ignored);
  tls_.reset();  // the handlers still queued hold it until they run
  if (state_ != State::kShutdown) state_ = State::kIdle;
  writing_ = false;
  reading_ = false;
  written_ = 0;
  connect_deadline_ = Clock::time_point::max();
  ResetParser();
}

void Connection::Restart(const RequestPtr& cancelled, const Status& why) {
  CloseSocket();
  // Every request behind the cancelled one has had no byte of its reply parsed, so it can
  // be sent again (reads and writes of content-addressed blocks are idempotent). The
  // connection's own setup requests are made afresh on the new connection.
  std::deque<RequestPtr> kept, setup;
  for (RequestPtr& request : queue_) {
    if (request == cancelled || request->abandoned) continue;
    (request->setup ? setup : kept).push_back(std::move(request));
  }
  queue_.swap(kept);
  cancelled->abandoned = true;
  cancelled->Finish(why, nullptr);
  for (RequestPtr& request : setup) request->Finish(Status::Unavailable("reconnecting"), nullptr);
  if (!queue_.empty() && state_ == State::kIdle) Connect();
  ArmTimer();
}

void Connection::Connect() {
  state_ = State::kConnecting;
  connect_deadline_ = Clock::now() + node_->connect_timeout;
  std::string host, port;
  if (!SplitAddress(node_->address, &host, &port)) {
    Fail(Status::InvalidArgument("bad node address \"" + node_->address + "\""), true);
    return;
  }
  const std::uint64_t epoch = epoch_;
  resolver_.async_resolve(
      host, port, asio::ip::resolver_base::numeric_service,
      [self = shared_from_this(), epoch](const error_code& ec,
                                         asio::ip::tcp::resolver::results_type results) {
        if (epoch != self->epoch_) return;
        if (ec) {
          self->Fail(Status::Unavailable("resolve " + self->node_->address + ": " + ec.message()),
                     true);
          return;
        }
        asio::async_connect(self->socket_, results,
                            [self, epoch](const error_code& ec, const asio::ip::tcp::endpoint&) {
                              self->OnConnected(epoch, ec);
                            });
      });
}

void Connection::OnConnected(std::uint64_t epoch, const error_code& ec) {
  if (epoch != epoch_) return;
  if (ec) {
    Fail(Status::Unavailable("connect " + node_->address + ": " + ec.message()), true);
    return;
  }
  error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  if (!node_->tls) {
    OnReady(epoch);
    return;
  }
  // The handshake runs under the connect deadline (the state stays kConnecting).
  tls_ = std::make_shared<TlsStream>(socket_, *node_->tls);
  if (!ExpectServerName(*tls_, node_->tls_server_name)) {
    Fail(Status::InvalidArgument("TLS: cannot expect the server name \"" + node_->tls_server_name +
                                 "\""),
         true);
    return;
  }
  tls_->async_handshake(TlsStream::client,
                        [self = shared_from_this(), epoch, keep = tls_](const error_code& ec) {
                          self->OnHandshake(epoch, ec);
                        });
}

void Connection::OnHandshake(std::uint64_t epoch, const error_code& ec) {
  if (epoch != epoch_) return;
  if (ec) {
    Fail(Status::Unavailable("TLS handshake with " + node_->address +
                             " failed: " + HandshakeError(*tls_, ec)),
         true);
    return;
  }
  OnReady(epoch);
}

void Connection::OnReady(std::uint64_t epoch) {
  state_ = State::kReady;
  connect_deadline_ = Clock::time_point::max();
  if (!node_->password.empty()) {
    auto auth = std::make_shared<Request>();
    const std::string_view args[] = {"AUTH", node_->password};
    auth->command.Command(args);
    auth->deadline = Clock::now() + node_->connect_timeout;
    auth->setup = true;
    auth->done = [this, epoch](const Status& status, protocol::Reply* reply) {
      if (!status.ok() || epoch != epoch_) return;
      if (reply->type == protocol::Reply::Type::kError) {
        Fail(Status::Rejected("AUTH on " + node_->address + ": " + reply->text), true);
      }
    };
    queue_.push_front(std::move(auth));
  }
  ArmTimer();
  MaybeWrite();
  Read();
}

void Connection::MaybeWrite() {
  if (state_ != State::kReady || writing_ || written_ == queue_.size()) return;
  write_buffers_.clear();
  std::size_t n = 0;
  while (written_ < queue_.size() && n < kMaxRequestsPerWrite) {
    for (const auto& segment : queue_[written_]->command.Segments()) {
      write_buffers_.emplace_back(segment.data, segment.size);
    }
    ++written_;
    ++n;
  }
  writing_ = true;
  const std::uint64_t epoch = epoch_;
  WithStream([&](auto& stream, std::shared_ptr<void> keep) {
    asio::async_write(stream, write_buffers_,
                      [self = shared_from_this(), epoch, keep = std::move(keep)](
                          const error_code& ec, std::size_t) { self->OnWrite(epoch, ec); });
  });
}

void Connection::OnWrite(std::uint64_t epoch, const error_code& ec) {
  if (epoch != epoch_) return;
  writing_ = false;
  if (ec) {
    Fail(Status::IoError("write to " + node_->address + ": " + ec.message()), true);
    return;
  }
  MaybeWrite();
}

void Connection::Read() {
  if (state_ != State::kReady || reading_) return;
  reading_ = true;
  const std::uint64_t epoch = epoch_;
  read_buffers_.clear();
  for (const std::span<std::byte> span : parser_.ReadBuffers()) {
    read_buffers_.emplace_back(span.data(), span.size());
  }
  // Over TLS a read fills the first of the buffers only (a record is decrypted into it).
  WithStream([&](auto& stream, std::shared_ptr<void> keep) {
    stream.async_read_some(
        read_buffers_, [self = shared_from_this(), epoch, keep = std::move(keep)](
                           const error_code& ec, std::size_t n) { self->OnRead(epoch, ec, n); });
  });
}

void Connection::OnRead(std::uint64_t epoch, const error_code& ec, std::size_t n) {
  if (epoch != epoch_) return;
  reading_ = false;
  if (ec) {
    // A server closing an idle connection is not a failure of the node.
    const bool owed = !queue_.empty();
    Fail(Status::IoError("connection to " + node_->address + " lost: " + ec.message()), owed);
    return;
  }
  // The sinks see their payloads' bytes as the parser takes them (hashing while hot).
  if (Status status = parser_.Commit(n); !status.ok()) {
    Fail(Status::IoError("bad reply from " + node_->address + ": " + status.message()), true);
    return;
  }
  bool answered = false;
  while (parser_.HasReply()) {
    if (written_ == 0) {
      Fail(Status::IoError("unsolicited reply from " + node_->address), true);
      return;
    }
    protocol::Reply reply = parser_.PopReply();
    ++matched_;
    RequestPtr request = std::move(queue_.front());
    queue_.pop_front();
    --written_;
    answered = true;
    if (reply.type == protocol::Reply::Type::kError) {
      node_->error_replies.fetch_add(1, std::memory_order_relaxed);
    }
    request->Finish(Status::Ok(), &reply);
    if (epoch != epoch_) return;  // `done` failed the connection (AUTH refused)
  }
  if (answered) {
    node_->health.OnSuccess();
    ArmTimer();
    MaybeWrite();
  }
  Read();
}

void Connection::ArmTimer() {
  Clock::time_point deadline = connect_deadline_;
  for (const RequestPtr& request : queue_) {
    if (!request->abandoned) deadline = std::min(deadline, request->deadline);
  }
  if (deadline == timer_deadline_) return;
  timer_deadline_ = deadline;
  const std::uint64_t generation = ++timer_generation_;
  if (deadline == Clock::time_point::max()) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this(), generation](const error_code& ec) {
    self->OnTimer(generation, ec);
  });
}

void Connection::OnTimer(std::uint64_t generation, const error_code& ec) {
  if (ec == asio::error::operation_aborted || generation != timer_generation_) return;
  timer_deadline_ = Clock::time_point::max();
  const Clock::time_point now = Clock::now();
  if (state_ == State::kConnecting && now >= connect_deadline_) {
    node_->timeouts.fetch_add(1, std::memory_order_relaxed);
    Fail(Status::Timeout("connect to " + node_->address + " timed out"), true);
    return;
  }
  std::vector<RequestPtr> expired;
  for (const RequestPtr& request : queue_) {
    if (request->abandoned || now < request->deadline) continue;
    if (request->deadline_fails_node) {
      node_->timeouts.fetch_add(1, std::memory_order_relaxed);
      Fail(Status::Timeout("no reply from " + node_->address + " in time"), true);
      return;
    }
    expired.push_back(request);
  }
  for (const RequestPtr& request : expired) {
    DoCancel(request,
             Status::Timeout("the call's deadline passed before " + node_->address + " answered"));
  }
  ArmTimer();
}

void Connection::Fail(const Status& status, bool node_failure) {
  CloseSocket();
  if (node_failure) {
    node_->errors.fetch_add(1, std::memory_order_relaxed);
    node_->health.OnFailure(Clock::now());
  }
  std::deque<RequestPtr> failed;
  failed.swap(queue_);
  ArmTimer();
  for (RequestPtr& request : failed) request->Finish(status, nullptr);
}

}  // namespace prefixcache::client
