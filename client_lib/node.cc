#include "node.h"

namespace prefixcache::client {

Node::Node(boost::asio::io_context& io, std::shared_ptr<NodeContext> context,
           std::size_t connections)
    : context_(std::move(context)) {
  connections_.reserve(connections);
  for (std::size_t i = 0; i < connections; ++i) {
    connections_.push_back(std::make_shared<Connection>(io, context_));
  }
}

Node::~Node() {
  for (auto& connection : connections_) connection->Shutdown();
}

}  // namespace prefixcache::client
