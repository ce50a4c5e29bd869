#include "daemon/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <utility>

#include "listen.h"

namespace prefixcache::daemon {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

constexpr std::string_view kMaxClientsReply = "-ERR max number of clients reached\r\n";

// A connection refused over max_connections: send the error, close our side, wait up to a
// second for the client to close (so that its unread request does not turn our close into
// a reset that destroys the error), then close.
struct Rejection : std::enable_shared_from_this<Rejection> {
  explicit Rejection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

  void Start() {
    asio::async_write(socket, asio::buffer(kMaxClientsReply.data(), kMaxClientsReply.size()),
                      [self = shared_from_this()](const error_code& ec, std::size_t) {
                        if (ec) return self->Finish();
                        error_code ignored;
                        self->socket.shutdown(tcp::socket::shutdown_send, ignored);
                        self->timer.expires_after(std::chrono::seconds(1));
                        self->timer.async_wait([self](const error_code& e) {
                          if (!e) self->Finish();
                        });
                        self->Drain();
                      });
  }
  void Drain() {
    socket.async_read_some(asio::buffer(buffer),
                           [self = shared_from_this()](const error_code& ec, std::size_t) {
                             if (ec) return self->Finish();
                             self->Drain();
                           });
  }
  void Finish() {
    error_code ignored;
    timer.cancel();
    socket.close(ignored);
  }

  tcp::socket socket;
  asio::steady_timer timer;
  std::array<char, 512> buffer;
};

}  // namespace

Server::Server(ServerOptions options, CommandHandler& handler, ServerStats& stats)
    : options_(std::move(options)), handler_(handler), stats_(stats) {}

Server::~Server() {
  Join();
  // Pending handlers own connections; destroy them while this object is whole.
  acceptor_.reset();
  contexts_.clear();
}

Status Server::Start() {
  std::size_t threads = options_.io_threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
  }

  acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
  auto bound = Listen(*acceptor_, options_.host, options_.port, "listen");
  if (!bound.ok()) return bound.status();
  port_ = bound->port();
  address_ = FormatEndpoint(*bound);
  stats_.tcp_port.store(port_, std::memory_order_relaxed);
  stats_.tls.store(options_.tls != nullptr, std::memory_order_relaxed);

  accepting_ = true;
  asio::post(*contexts_[0], [this] { Accept(); });
  for (auto& context : contexts_) guards_.push_back(asio::make_work_guard(*context));
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, i] {
      for (;;) {
        try {
          contexts_[i]->run();
          return;
        } catch (const std::exception& e) {
          // Handlers do not throw by design; an escape (e.g. bad_alloc) is logged and the
          // thread keeps serving its other connections.
          spdlog::error("I/O thread {}: unexpected exception: {}", i, e.what());
        }
      }
    });
  }
  return Status::Ok();
}

void Server::Accept() {
  if (!accepting_) return;
  asio::io_context& target = *contexts_[next_context_];
  next_context_ = (next_context_ + 1) % contexts_.size();
  acceptor_->async_accept(target, [this](const error_code& ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::OnAccept(const error_code& ec, tcp::socket socket) {
  if (!accepting_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    spdlog::warn("accept failed: {}", ec.message());
    if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
        ec == asio::error::no_memory) {
      // Out of file descriptors: retry shortly rather than spin.
      auto timer = std::make_shared<asio::steady_timer>(*contexts_[0]);
      timer->expires_after(std::chrono::milliseconds(100));
      timer->async_wait([this, timer](const error_code&) { Accept(); });
      return;
    }
    Accept();
    return;
  }
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);

  stats_.total_connections_received.Add(1);
  std::int64_t connected = stats_.connected_clients.load(std::memory_order_relaxed);
  if (static_cast<std::uint64_t>(std::max<std::int64_t>(connected, 0)) >=
      options_.max_connections) {
    stats_.rejected_connections.Add(1);
    spdlog::debug("connection refused: max number of clients ({}) reached",
                  options_.max_connections);
    std::make_shared<Rejection>(std::move(socket))->Start();
    Accept();
    return;
  }
  stats_.connected_clients.fetch_add(1, std::memory_order_relaxed);

  std::uint64_t id = next_id_++;
  auto connection = std::make_shared<Connection>(
      std::move(socket), id, options_.connection, handler_, stats_, [this, id] { Unregister(id); },
      options_.tls.get());
  {
    std::lock_guard lock(mu_);
    connections_.emplace(id, connection);
  }
  asio::post(connection->executor(), [connection] { connection->Start(); });
  Accept();
}

void Server::Unregister(std::uint64_t id) {
  {
    std::lock_guard lock(mu_);
    connections_.erase(id);
  }
  stats_.connected_clients.fetch_sub(1, std::memory_order_relaxed);
  closed_cv_.notify_all();
}

std::size_t Server::connection_count() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

template <typename Fn>
void Server::ForEachConnection(Fn fn) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mu_);
    live.reserve(connections_.size());
    for (auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
  }
  for (auto& connection : live) {
    asio::post(connection->executor(), [connection, fn] { fn(*connection); });
  }
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  if (contexts_.empty() || threads_.empty()) return;
  std::promise<void> stopped;
  asio::post(*contexts_[0], [this, &stopped] {
    accepting_ = false;
    error_code ignored;
    if (acceptor_) acceptor_->close(ignored);
    stopped.set_value();
  });
  stopped.get_future().wait();

  ForEachConnection([](Connection& connection) { connection.Drain(); });
  std::unique_lock lock(mu_);
  if (!closed_cv_.wait_for(lock, grace, [this] { return connections_.empty(); })) {
    spdlog::warn("{} connection(s) still busy after {} ms; closing them", connections_.size(),
                 grace.count());
    lock.unlock();
    ForEachConnection([](Connection& connection) { connection.Close(); });
    lock.lock();
    closed_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return connections_.empty(); });
  }
}

void Server::Join() {
  if (threads_.empty()) return;
  guards_.clear();
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace prefixcache::daemon
