#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace prefixcache::client {
namespace {

namespace ssl = boost::asio::ssl;

std::string Quoted(const std::string& path) { return "\"" + path + "\""; }

// OpenSSL's reason for the last failure, and clears its error queue.
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

Status CheckReadable(const char* option, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::InvalidArgument(std::string(option) + ": cannot read " + Quoted(path) + ": " +
                                   std::strerror(errno));
  }
  std::fclose(file);
  return Status::Ok();
}

Status FileError(const char* option, const std::string& path, const char* what) {
  return Status::InvalidArgument(std::string(option) + ": " + Quoted(path) + " " + what + " (" +
                                 OpenSslReason() + ")");
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeClientTlsContext(const ClientOptions& options) {
  for (const auto& [option, path] :
       {std::pair{"tls_ca", &options.tls_ca}, std::pair{"tls_cert", &options.tls_cert},
        std::pair{"tls_key", &options.tls_key}}) {
    if (path->empty()) continue;
    if (Status s = CheckReadable(option, *path); !s.ok()) return s;
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return Status::InvalidArgument(options.tls_cert.empty()
                                       ? "tls_cert: missing (required with tls_key)"
                                       : "tls_key: missing (required with tls_cert)");
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  if (options.tls_ca.empty()) {
    if (SSL_CTX_set_default_verify_paths(native) != 1) {
      return Status::InvalidArgument("tls_ca: the system's trusted authorities cannot be loaded (" +
                                     OpenSslReason() + "); give tls_ca");
    }
  } else if (SSL_CTX_load_verify_locations(native, options.tls_ca.c_str(), nullptr) != 1) {
    return FileError("tls_ca", options.tls_ca, "holds no PEM certificate");
  }
  if (!options.tls_cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, options.tls_cert.c_str()) != 1) {
      return FileError("tls_cert", options.tls_cert, "is not a PEM certificate");
    }
    // Loading the key checks it against the certificate already loaded.
    if (SSL_CTX_use_PrivateKey_file(native, options.tls_key.c_str(), SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
      return FileError("tls_key", options.tls_key, "is not an unencrypted PEM private key");
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      return Status::InvalidArgument("tls_key: " + Quoted(options.tls_key) +
                                     " does not match tls_cert " + Quoted(options.tls_cert) + " (" +
                                     OpenSslReason() + ")");
    }
  }
  return context;
}

bool ExpectServerName(ssl::stream<boost::asio::ip::tcp::socket&>& stream,
                      const std::string& server_name) {
  SSL* native = stream.native_handle();
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(server_name, ec);
  if (!ec) {
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), server_name.c_str()) == 1;
  }
  return SSL_set_tlsext_host_name(native, server_name.c_str()) == 1 &&
         SSL_set1_host(native, server_name.c_str()) == 1;
}

std::string HandshakeError(ssl::stream<boost::asio::ip::tcp::socket&>& stream,
                           const boost::system::error_code& ec) {
  std::string message = ec.message();
  const long verify = SSL_get_verify_result(stream.native_handle());
  if (verify != X509_V_OK) {
    message += " (";
    message += X509_verify_cert_error_string(verify);
    message += ")";
  }
  return message;
}

}  // namespace prefixcache::client
