#include "secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "prefixcache/check.h"

namespace prefixcache::daemon {

Secret::Secret(std::string_view value) : empty_(value.empty()), digest_(Hash(value)) {}

Secret::Digest Secret::Hash(std::string_view text) {
  Digest digest{};
  unsigned int size = 0;
  // EVP_Digest fails only when OpenSSL cannot allocate its context: a broken process.
  PC_CHECK(EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) == 1 &&
           size == digest.size());
  return digest;
}

bool Secret::Matches(std::string_view guess) const {
  const Digest got = Hash(guess);
  const bool same = CRYPTO_memcmp(got.data(), digest_.data(), digest_.size()) == 0;
  return same && !empty_;
}

}  // namespace prefixcache::daemon
