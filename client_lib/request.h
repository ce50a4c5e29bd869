// Request: one command for one connection -- the bytes to write (framing in an arena,
// large values referenced), an optional bulk sink that places the reply's payloads, and
// the completion. WireBuilder frames commands, including a bulk argument made of several
// pieces (a payload in caller memory followed by its trailer). Owned by one thread until
// submitted, then by the connection's strand.
#pragma once

#include <boost/asio/buffer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/buffer.h"
#include "prefixcache/status.h"
#include "protocol/resp_reply.h"

namespace prefixcache::client {

using Clock = std::chrono::steady_clock;

// Frames RESP commands: small arguments copied into an arena, large ones referenced.
class WireBuilder {
 public:
  static constexpr std::size_t kReferenceBytes = 4096;

  // "*argc\r\n"
  void Begin(std::size_t argc);
  // One bulk argument, copied.
  void Arg(std::string_view bytes);
  // One bulk argument whose payload is the concatenation of `pieces` (each referenced when
  // large, copied otherwise). Referenced bytes must outlive the write.
  void ArgPieces(std::initializer_list<std::span<const std::byte>> pieces);
  // The framed bytes as a gather list; the builder must outlive the write and not change.
  std::vector<boost::asio::const_buffer> Finish();
  std::size_t total_bytes() const { return total_bytes_; }

 private:
  void Copy(std::string_view bytes);
  void Reference(std::span<const std::byte> bytes);

  struct Piece {
    const std::byte* external;  // nullptr: arena_[offset, offset + size)
    std::size_t offset;
    std::size_t size;
  };
  std::string arena_;
  std::vector<Piece> pieces_;
  std::size_t total_bytes_ = 0;
};

struct Request {
  // Bytes to write, in order, and the storage they point into (beside caller memory that
  // the caller keeps alive until `done` ran).
  std::vector<boost::asio::const_buffer> wire;
  WireBuilder builder;
  std::vector<Buffer> keep;
  // Places the payloads of the reply's top-level bulks; optional. Runs on the strand.
  protocol::ReplyParser::BulkSink sink;
  // Told about every socket read made while this request's reply is being parsed, before
  // the parser sees the bytes (they may lie in a span the sink returned); optional.
  std::function<void(std::span<const std::byte>)> on_read;
  // Runs exactly once on the connection's strand: with Ok and the reply, or with the
  // failure (IoError, Timeout, Unavailable, Rejected) and nullptr.
  std::function<void(const Status&, protocol::Reply*)> done;
  Clock::time_point deadline = Clock::time_point::max();

  // Builds `wire` from `builder`.
  void Seal() { wire = builder.Finish(); }
};

using RequestPtr = std::shared_ptr<Request>;

}  // namespace prefixcache::client
