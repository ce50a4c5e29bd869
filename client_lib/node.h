// Node: the client's handle on one member -- its shared context (address, health,
// counters) and its pool of persistent connections. Calls pick connections round-robin so
// concurrent calls and the chunks of one large call spread over the pool. Thread-safe.
// Destroying a Node shuts its connections down (requests in flight fail as Unavailable).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <vector>

#include "connection.h"

namespace prefixcache::client {

class Node {
 public:
  Node(boost::asio::io_context& io, std::shared_ptr<NodeContext> context, std::size_t connections);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  NodeContext& context() { return *context_; }
  const NodeContext& context() const { return *context_; }
  std::size_t connection_count() const { return connections_.size(); }

  // A starting point for one call's requests: chunk i goes to Pick(base + i).
  std::size_t NextBase() { return next_.fetch_add(1, std::memory_order_relaxed); }
  Connection& Pick(std::size_t n) { return *connections_[n % connections_.size()]; }

 private:
  std::shared_ptr<NodeContext> context_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace prefixcache::client
