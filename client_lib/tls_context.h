// The client's TLS context (ClientOptions::tls*): built once by Client::Open and shared
// read-only by every connection; and the per-connection setup of the name the node's
// certificate must carry. Plain functions; thread-safe.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <string>

#include "prefixcache/client_options.h"
#include "prefixcache/status.h"

namespace prefixcache::client {

// A TLS 1.2+ client context that verifies the server's certificate against options.tls_ca
// (the system's default authorities when empty) and presents options.tls_cert/tls_key when
// given. InvalidArgument naming the option and the file when one cannot be used:
// "tls_ca: cannot read \"ca.pem\": No such file or directory", "tls_key: \"k.pem\" does not
// match tls_cert \"c.pem\"". Call only when options.tls.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const ClientOptions& options);

// Makes `stream`'s handshake check that the server's certificate names `server_name` (an
// IP address is matched against the certificate's IP addresses, a name against its DNS
// names, and sent as SNI). False when OpenSSL refused the setting.
bool ExpectServerName(boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>& stream,
                      const std::string& server_name);

// Why a handshake failed: Asio's message, with the certificate check's reason when there
// is one ("certificate verify failed (hostname mismatch)").
std::string HandshakeError(boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>& stream,
                           const boost::system::error_code& ec);

}  // namespace prefixcache::client
