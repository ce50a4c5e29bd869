// TLS on the daemon's RESP port: the files it is configured from (tls.* in the config) and
// the server-side SSL context built from them. Plain functions; thread-safe. The context
// is built once at start-up and then shared read-only by every connection.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "prefixcache/status.h"

namespace prefixcache::daemon {

// config::TlsConfig as the daemon uses it: PEM file paths (relative to the working folder).
struct TlsFiles {
  std::string cert;  // empty: the port speaks plaintext
  std::string key;
  std::string ca;  // authorities of client certificates
  bool verify_clients = false;

  bool enabled() const { return !cert.empty(); }
};

// A TLS 1.2+ server context with `files`' certificate chain and key, and with
// verify_clients, a required client certificate verified against `files.ca`.
// InvalidArgument naming the config field and the file on failure: "tls.cert: cannot read
// \"x.pem\": No such file or directory", "tls.key: \"k.pem\" does not match tls.cert
// \"c.pem\"", "tls.ca: ...". `files.enabled()` must be true.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const TlsFiles& files);

}  // namespace prefixcache::daemon
