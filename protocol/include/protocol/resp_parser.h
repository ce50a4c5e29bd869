// RequestParser: an incremental RESP2 request parser for one connection (arrays of bulk
// strings, and inline commands as redis-cli and telnet send them). It handles pipelining
// and input split at any byte. Large bulk payloads are read straight into the argument's
// own buffer (ReadBuffer() hands that buffer to the socket), so a block's bytes are never
// copied on the way in; small arguments are slices of a shared staging buffer. With a
// MemoryBudget (SetMemoryBudget) the parser reserves what it allocates before allocating it,
// and waits (AwaitingMemory) when the budget refuses.
// Not thread-safe: one parser per connection, used by one thread at a time.
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
#include "prefixcache/defaults.h"
#include "prefixcache/status.h"
#include "protocol/memory_budget.h"
#include "protocol/parser_feed.h"

namespace prefixcache::protocol {

struct ParserLimits {
  // A bulk string longer than this is not stored: its payload is read and discarded and
  // the request comes out Rejected. Redis's proto-max-bulk-len plays this role.
  std::uint64_t max_bulk_bytes = defaults::kMaxValueBytes;
  // A request with more arguments than this comes out Rejected (its arguments discarded).
  std::uint64_t max_elements = defaults::kMaxRequestElements;
  // Sum of the argument sizes of one request; past it the request comes out Rejected.
  std::uint64_t max_request_bytes = defaults::kMaxRequestBytes;
  // An inline command line longer than this is a protocol error (connection closes).
  std::uint64_t max_inline_bytes = 64 * kKiB;
};

// One command as the client sent it.
struct Request {
  // args[0] is the command name, as sent (any case). An argument under kDirectBulkBytes is
  // a slice of a staging chunk (64 KiB) and keeps the whole chunk alive: copy it
  // (Buffer::Copy) before keeping it long-term, e.g. as a stored value.
  std::vector<Buffer> args;
  // Set when the request broke a limit and was skipped without storing its payload: the
  // error to reply, without the leading '-' (e.g. "ERR value of 200000000 bytes exceeds
  // max_value_bytes (134217728)"). args is then empty.
  std::string rejected;
  // With a budget: the bytes of it that this request's argument list and large payloads
  // hold, given back when the request is destroyed. A handler that keeps the arguments
  // past Handle() may move this along with them. (Small arguments are charged with the
  // staging chunk they are slices of.)
  MemoryCharge memory;
};

class RequestParser : public FeedByCopy<RequestParser> {
 public:
  // Bulk payloads of at least this many bytes get a buffer of their own that the socket
  // reads into directly.
  static constexpr std::size_t kDirectBulkBytes = 16 * 1024;
  // Caps while guarded (a client that has not authenticated yet), Redis's own: a request
  // of more arguments, or a bulk string longer, is a protocol error -- "Protocol error:
  // unauthenticated multibulk length" / "... bulk length" -- so an unauthenticated peer
  // cannot make the daemon allocate more than a small request.
  static constexpr std::uint64_t kGuardedMaxElements = 10;
  static constexpr std::uint64_t kGuardedMaxBulkBytes = 16 * 1024;
  // With a budget, at most this many parsed requests wait in the parser; input after them
  // stays unparsed until Resume() (so what one read brings cannot become an unbounded
  // request queue).
  static constexpr std::size_t kMaxReadyRequests = 1024;

  explicit RequestParser(ParserLimits limits = {});
  // Not copyable (a copy would share the parse state); movable.
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;
  RequestParser(RequestParser&&) = default;
  RequestParser& operator=(RequestParser&&) = default;

  // Reserves from `budget` (which must outlive the parser) every chunk, argument list and
  // large payload buffer before allocating it; see AwaitingMemory(). Call before the first
  // ReadBuffer(). A request whose first large payload does not fit waits; one that already
  // holds large payloads and is refused another comes out Rejected ("OOM ..."), so that
  // requests waiting for memory never hold any of it. A large payload behind parsed
  // requests is reserved only once they have been popped (Resume() goes on).
  void SetMemoryBudget(MemoryBudget* budget);

  // Writable space for the next socket read: inside a large bulk payload, the rest of that
  // argument's buffer; otherwise free space in the staging buffer. Empty only when the
  // budget refused a fresh chunk (AwaitingMemory() is then true).
  std::span<std::byte> ReadBuffer();

  // `n` bytes were written at the start of the span ReadBuffer() last returned. Parses what
  // is complete. On malformed input returns InvalidArgument whose message is the Redis
  // error to send before closing, e.g. "Protocol error: invalid bulk length"; the parser
  // must not be used after that.
  Status Commit(std::size_t n);

  // Feed(bytes) (FeedByCopy) copies bytes through ReadBuffer()/Commit().

  // Completed requests in arrival order.
  bool HasRequest() const { return !ready_.empty(); }
  Request PopRequest();

  // Bytes of input held for a request not yet complete (for idle/limit accounting).
  std::size_t PendingBytes() const;

  // True when parsing stopped because the budget refused memory: the last ReadBuffer() was
  // empty, or a large payload's buffer could not be reserved. Wait for a release (read
  // MemoryBudget::epoch() before the call that was refused), then call Resume(), which
  // retries the payload's reservation; ReadBuffer() retries the chunk.
  bool AwaitingMemory() const;

  // Gives back the staging memory no request refers to any more (see StagingBuffer::Trim);
  // call when the connection is idle.
  void Trim();
  // Bytes of the budget the parser holds now, its requests' charges not included.
  std::uint64_t ChargedBytes() const;

  // Guarded mode (off by default) applies the kGuarded* caps and holds back input after
  // the first complete request until Resume(): the caller handles that request first
  // (say, an AUTH that ends the guard), so the requests pipelined behind it are parsed
  // under the caps that hold once it has run, as Redis parses one command at a time.
  void SetGuarded(bool guarded);
  bool guarded() const;
  // Parses input held back by guarded mode or kMaxReadyRequests, and retries a reservation
  // the budget refused; the same contract as Commit(). A no-op when nothing is held back.
  Status Resume();

 private:
  struct State;  // defined in resp_parser.cc
  ParserLimits limits_;
  std::deque<Request> ready_;
  std::shared_ptr<State> state_;
};

}  // namespace prefixcache::protocol
