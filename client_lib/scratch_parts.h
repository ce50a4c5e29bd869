// ScratchParts: destination parts for a payload nobody will read (a value too large for
// its destination, the rest of a reply whose request was given up on): one small reused
// buffer named again and again, so that any size is drained without allocating it.
// Not thread-safe: one per connection or reader.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

namespace prefixcache::client {

class ScratchParts {
 public:
  static constexpr std::size_t kScratchBytes = 64 * 1024;

  // Parts adding up to `size` bytes, all inside the scratch buffer; valid until the next
  // call.
  std::span<const std::span<std::byte>> Parts(std::size_t size) {
    if (scratch_.empty()) scratch_.resize(kScratchBytes);
    parts_.clear();
    for (std::size_t left = size; left != 0;) {
      const std::size_t n = std::min(left, scratch_.size());
      parts_.emplace_back(scratch_.data(), n);
      left -= n;
    }
    return parts_;
  }

 private:
  std::vector<std::byte> scratch_;
  std::vector<std::span<std::byte>> parts_;
};

}  // namespace prefixcache::client
