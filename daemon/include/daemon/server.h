// Server: the RESP acceptor and a pool of io_context threads, one thread each; a connection
// stays on one thread and needs no locks. Over max_connections it answers like Redis.
// Start/Shutdown/Join are called from one control thread (daemon::Daemon's owner, or a test).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "daemon/command_handler.h"
#include "daemon/connection.h"
#include "daemon/server_stats.h"
#include "prefixcache/status.h"

namespace prefixcache::daemon {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7379;  // 0: an ephemeral port, see Server::port()
  // I/O threads (one io_context each); 0 = one per core.
  std::size_t io_threads = 0;
  // Connections beyond this are answered "-ERR max number of clients reached" and closed.
  std::uint64_t max_connections = 10000;
  ConnectionOptions connection;
  // When set, every connection speaks TLS with this context (MakeServerTlsContext), and a
  // client that fails the handshake is disconnected; nullptr = plaintext.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class Server {
 public:
  // `handler` and `stats` must outlive the server.
  Server(ServerOptions options, CommandHandler& handler, ServerStats& stats);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the I/O threads. IoError naming the address when the bind
  // or listen fails (e.g. the port is taken); InvalidArgument for a bad host.
  Status Start();

  // The bound endpoint, valid after a successful Start(): "127.0.0.1:7379" ("[::1]:7379").
  const std::string& address() const { return address_; }
  std::uint16_t port() const { return port_; }

  // Stops accepting, lets every connection answer the requests it already received and
  // close, waiting at most `grace`; then closes the rest. Blocks the calling thread (not an
  // I/O thread). The I/O threads keep running (for deferred completions) until Join().
  void Shutdown(std::chrono::milliseconds grace);

  // Stops the I/O threads and waits for them. Idempotent; the destructor calls it.
  void Join();

  std::size_t connection_count() const;

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  void Accept();
  void OnAccept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
  void Reject(boost::asio::ip::tcp::socket socket);
  void Unregister(std::uint64_t id);
  // Posts `fn(connection)` to every live connection's thread.
  template <typename Fn>
  void ForEachConnection(Fn fn);

  ServerOptions options_;
  CommandHandler& handler_;
  ServerStats& stats_;
  std::uint16_t port_ = 0;
  std::string address_;

  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;  // runs on contexts_[0]
  std::size_t next_context_ = 0;                              // acceptor thread only
  std::uint64_t next_id_ = 1;                                 // acceptor thread only
  bool accepting_ = false;                                    // acceptor thread only

  mutable std::mutex mu_;
  std::condition_variable closed_cv_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;  // under mu_
};

}  // namespace prefixcache::daemon
