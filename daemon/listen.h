// Listening sockets of the daemon (the RESP acceptor and the metrics endpoint) and the
// "host:port" text of an endpoint. Plain functions; Listen runs on the thread that owns the
// acceptor (before its io_context runs).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "prefixcache/status.h"

namespace prefixcache::daemon {

// "127.0.0.1:7379", or "[::1]:7379" for IPv6.
std::string FormatEndpoint(const boost::asio::ip::tcp::endpoint& endpoint);

// Resolves host:port (an IP literal, else a name through the system resolver), opens
// `acceptor` there with SO_REUSEADDR and listens; port 0 picks a free port. The bound
// endpoint on success. InvalidArgument "cannot resolve <kind> address host:port: ..." when
// the host does not resolve; IoError "cannot listen on host:port: ..." when opening,
// binding or listening fails.
Result<boost::asio::ip::tcp::endpoint> Listen(boost::asio::ip::tcp::acceptor& acceptor,
                                              const std::string& host, std::uint16_t port,
                                              std::string_view kind);

}  // namespace prefixcache::daemon
