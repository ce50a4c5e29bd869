// ReplyParser: the client side's incremental RESP2 reply parser for one connection. It
// handles pipelined replies, nested arrays and input split at any byte. Large bulk payloads
// are read straight into their own buffer, or into caller memory through a bulk sink (e.g.
// pinned staging memory for a GPU copy), so a block's bytes are not copied on the way in.
// Not thread-safe: one parser per connection, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
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

class ReplyParser : public FeedByCopy<ReplyParser> {
 public:
  // Bulk payloads of at least this many bytes get a buffer of their own that the socket
  // reads into directly (when no sink takes them).
  static constexpr std::size_t kDirectBulkBytes = 16 * 1024;

  // Asked for a destination for one bulk payload of `size` bytes: element `index` of a
  // top-level array reply, or index 0 for a top-level bulk reply (bulks in nested arrays
  // are not offered). Returns a span of exactly `size` bytes to receive the payload, or an
  // empty span to have it stored in a Buffer as usual. Called from Commit()/Feed() on the
  // parsing thread, once per bulk, in wire order; CompletedReplies() tells which reply is
  // being parsed. The span must stay valid and untouched until that reply is complete
  // (HasReply()) or the parser is destroyed or fails.
  using BulkSink = std::function<std::span<std::byte>(std::size_t index, std::size_t size)>;

  explicit ReplyParser(ReplyLimits limits = {});
  ~ReplyParser();
  ReplyParser(ReplyParser&&) noexcept;
  ReplyParser& operator=(ReplyParser&&) noexcept;

  // Replaces the sink (an empty function removes it). Applies to bulks whose header is
  // parsed from now on.
  void SetBulkSink(BulkSink sink);

  // Writable space for the next socket read: inside a large bulk payload, the rest of its
  // buffer (or of the sink's span); otherwise free space in the staging buffer. Never empty.
  std::span<std::byte> ReadBuffer();

  // `n` bytes were written at the start of the span ReadBuffer() last returned. Parses what
  // is complete. Malformed input returns InvalidArgument ("Protocol error: ..."), a reply
  // beyond the limits returns Rejected; either way the connection is unusable and the
  // parser must not be used after that.
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
