// ReplyParser: the client side's incremental RESP2 reply parser for one connection. It
// handles pipelined replies, nested arrays and input split at any byte. Large bulk payloads
// are read straight into their own buffer, or into caller memory in parts through a bulk
// sink (an engine's KV pages, the K and V halves of a page), so a block's bytes are not
// copied on the way in; a scatter read list lets one readv take the end of a payload and
// what follows it. Not thread-safe: one parser per connection, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/buffer.h"
#include "prefixcache/status.h"
#include "protocol/parser_feed.h"

namespace prefixcache::protocol {

// One reply as the server sent it.
struct Reply {
  enum class Type { kSimple, kError, kInteger, kBulk, kNil, kArray, kNilArray };
  Type type = Type::kNil;
  std::string text;             // kSimple, kError: the line without '+'/'-' and CRLF
  std::int64_t integer = 0;     // kInteger
  Buffer bulk;                  // kBulk, unless in_sink
  bool in_sink = false;         // kBulk whose payload was written to the bulk sink's span
  std::vector<Reply> elements;  // kArray

  // Same type and contents (bulk compared by bytes).
  friend bool operator==(const Reply& a, const Reply& b);
};

struct ReplyLimits {
  // A bulk reply longer than this is a fatal error (Redis's default proto-max-bulk-len).
  std::uint64_t max_bulk_bytes = 512ull << 20;
  // An array reply with more elements than this is a fatal error.
  std::uint64_t max_elements = 1ull << 20;
  // Arrays nested deeper than this are a fatal error (the top-level array is depth 1).
  std::size_t max_depth = 16;
  // A status or error line longer than this is a fatal error.
  std::size_t max_line_bytes = 64 * 1024;
};

// Where a ReplyParser puts bulk payloads instead of a Buffer of their own: caller memory
// such as an inference engine's KV pages, in one or several parts. Called on the parsing
// thread, from Commit()/Feed(); ReplyParser::CompletedReplies() tells which reply is being
// parsed.
class BulkSink {
 public:
  virtual ~BulkSink() = default;

  // Asked for the destination of one bulk payload of `size` bytes: element `index` of a
  // top-level array reply, or index 0 for a top-level bulk reply (bulks in nested arrays are
  // not offered), once per bulk, in wire order. Returns spans whose sizes add up to exactly
  // `size` (empty spans allowed), filled in order; or no span at all (or only empty ones)
  // to have the payload stored in a Buffer as usual. The spans, and the array holding them,
  // must stay valid and untouched until Arrived() reported `size` bytes, or the parser is
  // destroyed, reset by assignment, or fails.
  virtual std::span<const std::span<std::byte>> Parts(std::size_t index, std::size_t size) = 0;

  // The first `filled` bytes of the payload Parts() last placed have arrived in its parts
  // (counted across them in order); called each time the count grows, the last time with
  // filled == size, before the parser parses any later byte.
  virtual void Arrived(std::size_t filled) = 0;
};

class ReplyParser : public FeedByCopy<ReplyParser> {
 public:
  // Bulk payloads of at least this many bytes get a buffer of their own that the socket
  // reads into directly (when no sink takes them).
  static constexpr std::size_t kDirectBulkBytes = 16 * 1024;
  // Most spans ReadBuffers() returns.
  static constexpr std::size_t kMaxReadBuffers = 16;
  // Most staging bytes ReadBuffers() offers behind the end of a payload being received: room
  // for the payload's CRLF and the next headers, little of the next payload (which is copied
  // from there into its own destination).
  static constexpr std::size_t kScatterStagingBytes = 4096;

  explicit ReplyParser(ReplyLimits limits = {});
  ~ReplyParser();
  ReplyParser(ReplyParser&&) noexcept;
  ReplyParser& operator=(ReplyParser&&) noexcept;

  // Replaces the sink (nullptr removes it); not owned, it must outlive its use. Applies to
  // bulks whose header is parsed from now on.
  void SetBulkSink(BulkSink* sink);

  // Writable space for the next socket read: inside a large bulk payload, the rest of its
  // current part (or buffer); otherwise free space in the staging buffer. Never empty.
  std::span<std::byte> ReadBuffer();

  // The same as a scatter list for one vectored read (readv): inside a large bulk payload,
  // the rest of its current part, the parts after it and -- when the list reaches the
  // payload's end -- up to kScatterStagingBytes of staging space for what follows (its CRLF,
  // the next reply headers); otherwise one span of staging space. At most kMaxReadBuffers
  // spans, never empty; valid until the next call of ReadBuffer(s) or Commit().
  std::span<const std::span<std::byte>> ReadBuffers();

  // `n` bytes were written in order into the span(s) ReadBuffer() or ReadBuffers() last
  // returned. Parses what is complete. Malformed input returns InvalidArgument ("Protocol
  // error: ..."), a reply beyond the limits returns Rejected; either way the connection is
  // unusable and the parser must not be used after that.
  Status Commit(std::size_t n);

  // Feed(bytes) (FeedByCopy) copies bytes through ReadBuffer()/Commit().

  // Completed replies in arrival order.
  bool HasReply() const { return !ready_.empty(); }
  Reply PopReply();

  // Replies completed since construction, popped or not; while a sink is called this is
  // the 0-based number of the reply being parsed.
  std::uint64_t CompletedReplies() const { return completed_; }

 private:
  struct State;  // defined in resp_reply.cc
  std::deque<Reply> ready_;
  std::uint64_t completed_ = 0;
  std::unique_ptr<State> state_;
};

}  // namespace prefixcache::protocol
