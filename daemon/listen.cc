#include "listen.h"

#include <boost/asio/ip/address.hpp>

#include "asio_status.h"

namespace prefixcache::daemon {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

// Built by appending: GCC 12 at -O3 reports a false -Wrestrict on `"literal" + std::string`
// (GCC bug 105329).
std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string text;
  if (address.is_v6()) {
    text.append(1, '[').append(address.to_string()).append(1, ']');
  } else {
    text.append(address.to_string());
  }
  text.append(1, ':').append(std::to_string(endpoint.port()));
  return text;
}

Result<tcp::endpoint> Listen(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port,
                             std::string_view kind) {
  const std::string where = host + ":" + std::to_string(port);
  error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(acceptor.get_executor());
    const auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument("cannot resolve " + std::string(kind) + " address " + where +
                                     ": " + (ec ? ec.message() : std::string("no address")));
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return FromErrorCode(ec, "cannot listen on " + where);
  const tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return FromErrorCode(ec, "cannot read the bound address of " + where);
  return bound;
}

}  // namespace prefixcache::daemon
