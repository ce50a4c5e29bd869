// Destination and Source: one block's payload in the caller's memory, as one span or as
// several parts in order -- the K and V halves of an engine's KV page (SGLang's page_first
// layout), or the 2 x layers regions of per-layer caches (vLLM). Plain views that borrow
// the spans they name; thread-compatible.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <utility>

namespace prefixcache {

// Where a read puts one block's payload: parts[0] first, then parts[1], and so on, straight
// from the socket. The parts' sizes add up to the room for the payload: exactly its size
// for an engine's own pages (nothing else is written), or more (the payload fills the
// first bytes, in part order; the rest is left untouched). Parts must not overlap; empty
// parts are skipped.
struct Destination {
  std::span<const std::span<std::byte>> parts;

  // The room: the parts' sizes added up.
  std::size_t size() const {
    std::size_t total = 0;
    for (const auto& part : parts) total += part.size();
    return total;
  }
};

// The destinations of a read, one per key, as the read calls take them: Destination views
// (each block in parts) or one plain span per block. Converts implicitly from a span or a
// contiguous container of either; borrows what it views (not the parts the views name).
class Destinations {
 public:
  template <typename R>
  requires std::convertible_to<R&&, std::span<const Destination>> Destinations(R&& views)
      : views_(std::forward<R>(views)) {}  // NOLINT: implicit on purpose

  template <typename R>
  requires std::convertible_to<R&&, std::span<const std::span<std::byte>>> Destinations(
      R&& spans)  // NOLINT: implicit on purpose
      : spans_(std::forward<R>(spans)), single_spans_(true) {}

  std::size_t size() const { return single_spans_ ? spans_.size() : views_.size(); }
  // Whether these are plain spans (spans()) rather than Destination views (views()).
  bool single_spans() const { return single_spans_; }
  std::span<const Destination> views() const { return views_; }
  std::span<const std::span<std::byte>> spans() const { return spans_; }

 private:
  std::span<const Destination> views_;
  std::span<const std::span<std::byte>> spans_;
  bool single_spans_ = false;
};

// What a write stores as one block's payload: the concatenation of parts, in order, sent
// from the caller's memory (gathered by one vectored write). Empty parts are allowed.
struct Source {
  std::span<const std::span<const std::byte>> parts;

  // The payload's size: the parts' sizes added up.
  std::size_t size() const {
    std::size_t total = 0;
    for (const auto& part : parts) total += part.size();
    return total;
  }
};

}  // namespace prefixcache
