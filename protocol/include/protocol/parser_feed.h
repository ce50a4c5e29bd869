// FeedByCopy: Feed() for the incremental parsers (RequestParser, ReplyParser), which read
// by handing out ReadBuffer() and being told Commit(n). Feed copies given bytes through
// those two calls, for tests, fuzzing and small inputs; a socket reads into ReadBuffer()
// directly. Same thread-safety as the parser.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>

#include "prefixcache/status.h"

namespace prefixcache::protocol {

template <typename Parser>
class FeedByCopy {
 public:
  // Copies `bytes` through ReadBuffer()/Commit(); returns the first error Commit() returns
  // (the rest of `bytes` is then not fed), Ok otherwise. Unavailable, with the rest not fed,
  // when ReadBuffer() has no space (a parser waiting for its memory budget).
  Status Feed(std::span<const std::byte> bytes) {
    Parser& parser = static_cast<Parser&>(*this);
    while (!bytes.empty()) {
      const std::span<std::byte> into = parser.ReadBuffer();
      if (into.empty()) return Status::Unavailable("the parser is waiting for memory");
      const std::size_t n = std::min(into.size(), bytes.size());
      std::memcpy(into.data(), bytes.data(), n);
      bytes = bytes.subspan(n);
      if (Status status = parser.Commit(n); !status.ok()) return status;
    }
    return Status::Ok();
  }
  Status Feed(std::string_view text) {
    return Feed(std::as_bytes(std::span(text.data(), text.size())));
  }
};

}  // namespace prefixcache::protocol
