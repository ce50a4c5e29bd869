#include "daemon/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "prefixcache/check.h"

namespace prefixcache::daemon {
namespace {

namespace ssl = boost::asio::ssl;

std::string Quoted(const std::string& path) { return "\"" + path + "\""; }

// OpenSSL's reason for the last failure ("no start line", "key values mismatch"), and
// clears its error queue.
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  std::string reason = code != 0 && ERR_reason_error_string(code) != nullptr
                           ? ERR_reason_error_string(code)
                           : "unknown error";
  ERR_clear_error();
  return reason;
}

// Ok when `path` can be opened for reading; else "<field>: cannot read "<path>": <why>".
Status CheckReadable(const char* field, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::InvalidArgument(std::string(field) + ": cannot read " + Quoted(path) + ": " +
                                   std::strerror(errno));
  }
  std::fclose(file);
  return Status::Ok();
}

Status FileError(const char* field, const std::string& path, const char* what) {
  return Status::InvalidArgument(std::string(field) + ": " + Quoted(path) + " " + what + " (" +
                                 OpenSslReason() + ")");
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(const TlsFiles& files) {
  PC_CHECK(files.enabled());
  for (const auto& [field, path] :
       {std::pair{"tls.cert", &files.cert}, std::pair{"tls.key", &files.key},
        std::pair{"tls.ca", &files.ca}}) {
    if (path->empty()) continue;
    if (Status s = CheckReadable(field, *path); !s.ok()) return s;
  }
  if (files.key.empty())
    return Status::InvalidArgument("tls.key: missing (required with tls.cert)");
  if (files.verify_clients && files.ca.empty()) {
    return Status::InvalidArgument("tls.ca: missing (required by tls.verify_clients)");
  }

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // No renegotiation (a client could make the server do handshakes at will), no compression.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle connections give back their record buffers (about 34 KiB each).
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(native, files.cert.c_str()) != 1) {
    return FileError("tls.cert", files.cert, "is not a PEM certificate");
  }
  // Loading the key checks it against the certificate already loaded.
  if (SSL_CTX_use_PrivateKey_file(native, files.key.c_str(), SSL_FILETYPE_PEM) != 1 &&
      ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
    return FileError("tls.key", files.key, "is not an unencrypted PEM private key");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status::InvalidArgument("tls.key: " + Quoted(files.key) + " does not match tls.cert " +
                                   Quoted(files.cert) + " (" + OpenSslReason() + ")");
  }
  if (!files.ca.empty()) {
    if (SSL_CTX_load_verify_locations(native, files.ca.c_str(), nullptr) != 1) {
      return FileError("tls.ca", files.ca, "holds no PEM certificate");
    }
    // The authorities the server names in its certificate request.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    ERR_clear_error();
  }
  if (files.verify_clients) {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return context;
}

}  // namespace prefixcache::daemon
