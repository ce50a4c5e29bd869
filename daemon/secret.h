// Secret: a password or token the daemon checks what clients send against, without the time
// a check takes telling anything about the secret: both sides are hashed with SHA-256 and
// the digests compared with OpenSSL's constant-time CRYPTO_memcmp, so neither how much of a
// guess was right nor the secret's length shows. Immutable after construction; thread-safe.
#pragma once

#include <array>
#include <string_view>

namespace prefixcache::daemon {

class Secret {
 public:
  // An empty `value` is "no secret set": Matches() is then always false.
  explicit Secret(std::string_view value);

  bool empty() const { return empty_; }
  bool Matches(std::string_view guess) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest Hash(std::string_view text);

  bool empty_;
  Digest digest_;
};

}  // namespace prefixcache::daemon
