#include "protocol/resp_parser.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "parser_input.h"
#include "prefixcache/check.h"
#include "prefixcache/hex.h"

namespace prefixcache::protocol {
namespace {

constexpr char kInvalidMultibulk[] = "Protocol error: invalid multibulk length";
constexpr char kInvalidBulk[] = "Protocol error: invalid bulk length";
constexpr char kTooBigMultibulk[] = "Protocol error: too big mbulk count string";
constexpr char kTooBigBulk[] = "Protocol error: too big bulk count string";
constexpr char kTooBigInline[] = "Protocol error: too big inline request";
constexpr char kUnbalancedQuotes[] = "Protocol error: unbalanced quotes in request";
// Redis skips the two bytes after a payload unchecked; we insist on CRLF so a client that
// miscounted fails at once instead of having its payload tail parsed as commands.
constexpr char kNoPayloadCrlf[] = "Protocol error: bulk payload not followed by CRLF";
constexpr char kUnauthenticatedMultibulk[] = "Protocol error: unauthenticated multibulk length";
constexpr char kUnauthenticatedBulk[] = "Protocol error: unauthenticated bulk length";

// What an argument list costs per element, charged to the budget before it is allocated.
constexpr std::uint64_t kArgBytes = sizeof(Buffer);

// An args vector grows past this by doubling, so a huge claimed count reserves little.
constexpr std::size_t kMaxReservedArgs = 1024;

// isspace() in the C locale, as sdssplitargs uses between arguments.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// One character of a quoted part of an inline command at `s` (`size` bytes left on the
// line, s[0] not the closing quote), as sdssplitargs reads it: writes the byte it stands
// for to *out, after reading every input byte it takes, and returns how many it took.
// Inside double quotes "\xHH" is a byte in hex and "\n", "\r", "\t", "\b", "\a" are
// control characters (any other escaped character stands for itself); inside single quotes
// only "\'" is an escape. A backslash that starts no escape is itself.
std::size_t UnquoteOne(char quote, const char* s, std::size_t size, char* out) {
  if (s[0] == '\\' && quote == '"' && size >= 2) {
    if (size >= 4 && s[1] == 'x' && HexDigitValue(s[2]) >= 0 && HexDigitValue(s[3]) >= 0) {
      *out = static_cast<char>(HexDigitValue(s[2]) * 16 + HexDigitValue(s[3]));
      return 4;
    }
    switch (s[1]) {
      case 'n':
        *out = '\n';
        break;
      case 'r':
        *out = '\r';
        break;
      case 't':
        *out = '\t';
        break;
      case 'b':
        *out = '\b';
        break;
      case 'a':
        *out = '\a';
        break;
      default:
        *out = s[1];
        break;
    }
    return 2;
  }
  if (s[0] == '\\' && quote == '\'' && size >= 2 && s[1] == '\'') {
    *out = '\'';
    return 2;
  }
  *out = s[0];
  return 1;
}

std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

std::string TooManyArgs(std::uint64_t count, std::uint64_t max) {
  return "ERR request has " + std::to_string(count) + " arguments, more than " +
         "max_request_elements (" + std::to_string(max) + ")";
}

}  // namespace

// The parse position is a phase plus the staging bytes not yet consumed. Invariants: in
// kDirect the staging buffer holds no unparsed bytes (they were copied into the direct
// buffer), so the next bytes on the wire belong to the direct buffer; while a request is
// rejected its args stay empty and nothing of its payload is kept.
struct RequestParser::State {
  enum class Phase : std::uint8_t {
    kStart,        // before a request: '*' starts a multibulk, anything else a line
    kBulkHeader,   // before "$<len>\r\n"
    kPayload,      // a small payload and its CRLF, sliced from staging once all there
    kDirect,       // a large payload, read straight into `direct`
    kDiscard,      // skipping the payload of a rejected request
    kCrlf,         // the CRLF after a direct or discarded payload
    kAwaitArgs,    // the budget refused the argument list of a multibulk just read
    kAwaitDirect,  // the budget refused a large payload's buffer (its header is read)
    kHeldDirect,   // a large payload's header is read; it is reserved once no request waits
    kFailed,       // a protocol error; `error` says which
  };
  enum class Step : std::uint8_t { kProgress, kNeedMore, kFailed };

  explicit State(const ParserLimits& l) : limits(l) {}

  Status Parse(std::deque<Request>& ready);
  Step ParseStart(std::deque<Request>& ready);
  Step ParseMultibulkHeader();
  Step ParseInline(std::deque<Request>& ready);
  Step ParseBulkHeader(const std::deque<Request>& ready);
  Step ReserveArgs();
  Step StartDirect();
  void FinishDirect();
  void DirectArrived() {}  // no sink: nothing to tell
  Step ParsePayload(std::deque<Request>& ready);
  Step Discard();
  Step ParseCrlf(std::deque<Request>& ready);
  Step ElementDone(std::deque<Request>& ready);
  void Reject(std::string message);
  Step Fail(std::string message);

  const ParserLimits limits;
  internal::StagingBuffer staging;
  MemoryBudget* budget = nullptr;  // see RequestParser::SetMemoryBudget
  Phase phase = Phase::kStart;
  bool guarded = false;             // see RequestParser::SetGuarded
  bool chunk_refused = false;       // the last ReadBuffer() was refused a chunk
  bool holds_large = false;         // `current` holds a large payload's reservation
  std::int64_t elements_left = 0;   // bulk strings still to come in this request
  std::uint64_t bulk_bytes = 0;     // length of the current bulk payload
  std::uint64_t discard_left = 0;   // payload bytes still to skip
  std::uint64_t request_bytes = 0;  // accepted argument bytes of this request
  std::uint64_t held_bytes = 0;     // bytes of completed args in `current`
  MutableBuffer direct;             // kDirect: the payload's own buffer
  internal::DirectRead reading;     // kDirect: filling `direct`
  Request current;
  Status error;
};

Status RequestParser::State::Parse(std::deque<Request>& ready) {
  for (;;) {
    Step step = Step::kNeedMore;
    switch (phase) {
      case Phase::kStart:
        // Guarded: one complete request at a time; Resume() goes on.
        if (guarded && !ready.empty()) return Status::Ok();
        if (budget != nullptr && ready.size() >= kMaxReadyRequests) return Status::Ok();
        step = ParseStart(ready);
        break;
      case Phase::kAwaitArgs:
        step = ReserveArgs();
        break;
      case Phase::kAwaitDirect:
        step = StartDirect();
        break;
      case Phase::kHeldDirect:
        if (!ready.empty()) return Status::Ok();
        step = StartDirect();
        break;
      case Phase::kBulkHeader:
        step = ParseBulkHeader(ready);
        break;
      case Phase::kPayload:
        step = ParsePayload(ready);
        break;
      case Phase::kDirect:
        return Status::Ok();
      case Phase::kDiscard:
        step = Discard();
        break;
      case Phase::kCrlf:
        step = ParseCrlf(ready);
        break;
      case Phase::kFailed:
        return error;
    }
    if (step == Step::kNeedMore) return Status::Ok();
    if (step == Step::kFailed) return error;
  }
}

RequestParser::State::Step RequestParser::State::ParseStart(std::deque<Request>& ready) {
  if (staging.size() == 0) return Step::kNeedMore;
  if (staging.data()[0] == '*') return ParseMultibulkHeader();
  return ParseInline(ready);
}

RequestParser::State::Step RequestParser::State::ParseMultibulkHeader() {
  const internal::HeaderLine header =
      internal::TakeHeaderLine(staging, kTooBigMultibulk, kInvalidMultibulk);
  if (!header.complete) return Step::kNeedMore;
  if (header.error != nullptr) return Fail(header.error);
  const std::int64_t count = header.value;
  if (count > std::numeric_limits<std::int32_t>::max()) return Fail(kInvalidMultibulk);
  if (guarded && count > 0 && static_cast<std::uint64_t>(count) > kGuardedMaxElements) {
    return Fail(kUnauthenticatedMultibulk);
  }
  // "*0\r\n" and negative counts ("*-1\r\n") are no command, as in Redis.
  if (count <= 0) return Step::kProgress;
  elements_left = count;
  request_bytes = 0;
  held_bytes = 0;
  const auto n = static_cast<std::uint64_t>(count);
  if (n > limits.max_elements) {
    Reject(TooManyArgs(n, limits.max_elements));
  } else if (budget != nullptr) {
    return ReserveArgs();
  } else {
    current.args.reserve(std::min<std::uint64_t>(n, kMaxReservedArgs));
  }
  phase = Phase::kBulkHeader;
  return Step::kProgress;
}

// With a budget, the argument list is reserved whole (it never grows past the count).
RequestParser::State::Step RequestParser::State::ReserveArgs() {
  const auto n = static_cast<std::uint64_t>(elements_left);
  if (budget->limit() != 0 && n * kArgBytes > budget->limit()) {
    // Could never fit: refused at once rather than waited for.
    Reject("OOM request of " + std::to_string(n) +
           " arguments needs more than limits.inflight_memory (" + std::to_string(budget->limit()) +
           " bytes)");
    phase = Phase::kBulkHeader;
    return Step::kProgress;
  }
  if (!current.memory.TryAdd(*budget, n * kArgBytes, /*large=*/false)) {
    phase = Phase::kAwaitArgs;
    return Step::kNeedMore;
  }
  current.args.reserve(static_cast<std::size_t>(n));
  phase = Phase::kBulkHeader;
  return Step::kProgress;
}

// An inline command: the line split like sdssplitargs() (Redis's inline and redis-cli
// syntax), unquoting in place so each argument is still a slice of the staging chunk.
RequestParser::State::Step RequestParser::State::ParseInline(std::deque<Request>& ready) {
  char* line = staging.mutable_data();
  const std::size_t size = staging.size();
  // The line may hold at most max_inline_bytes before its '\n', however it arrives.
  const std::size_t scan = static_cast<std::size_t>(
      std::min<std::uint64_t>(size, SaturatingAdd(limits.max_inline_bytes, 1)));
  const void* newline = std::memchr(line, '\n', scan);
  if (newline == nullptr) {
    if (size > limits.max_inline_bytes) return Fail(kTooBigInline);
    return Step::kNeedMore;
  }
  const std::size_t line_bytes = static_cast<std::size_t>(static_cast<const char*>(newline) - line);
  std::size_t end = line_bytes;
  if (end != 0 && line[end - 1] == '\r') --end;
  // Redis splits the line as a C string: a NUL ends it.
  if (const void* nul = std::memchr(line, '\0', end)) {
    end = static_cast<std::size_t>(static_cast<const char*>(nul) - line);
  }

  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  std::size_t i = 0;
  for (;;) {
    while (i < end && IsSpace(line[i])) ++i;
    if (i == end) break;
    // The unquoted argument is written from `start` on; w <= i always holds since no
    // input byte yields more than one output byte.
    const std::size_t start = i;
    std::size_t w = i;
    char quote = 0;  // '"' or '\'' while inside a quoted part
    for (bool done = false; !done;) {
      if (quote != 0) {
        if (i == end) return Fail(kUnbalancedQuotes);
        if (line[i] == quote) {
          // A closing quote must be followed by a space or the end of the line.
          if (i + 1 < end && !IsSpace(line[i + 1])) return Fail(kUnbalancedQuotes);
          ++i;
          done = true;
        } else {
          i += UnquoteOne(quote, line + i, end - i, &line[w++]);
        }
      } else if (i == end) {
        done = true;
      } else {
        const char c = line[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
          done = true;
        } else if (c == '"' || c == '\'') {
          quote = c;
          ++i;
        } else {
          line[w++] = c;
          ++i;
        }
      }
    }
    ++count;
    bytes += w - start;
    if (count <= limits.max_elements) current.args.push_back(staging.Slice(start, w - start));
  }
  staging.Consume(line_bytes + 1);
  // The line was at most max_inline_bytes: its list is counted once it exists.
  if (budget != nullptr) current.memory.Force(*budget, current.args.capacity() * kArgBytes);
  if (count == 0) {  // an empty line is no command, as in Redis
    current = Request{};
    return Step::kProgress;
  }
  if (count > limits.max_elements) {
    Reject(TooManyArgs(count, limits.max_elements));
  } else if (bytes > limits.max_request_bytes) {
    Reject("ERR request of " + std::to_string(bytes) + " bytes exceeds max_request_bytes (" +
           std::to_string(limits.max_request_bytes) + ")");
  }
  ready.push_back(std::move(current));
  current = Request{};
  return Step::kProgress;
}

RequestParser::State::Step RequestParser::State::ParseBulkHeader(const std::deque<Request>& ready) {
  if (staging.size() == 0) return Step::kNeedMore;
  const char* p = staging.data();
  if (p[0] != '$') return Fail("Protocol error: expected '$', got " + internal::QuotedByte(p[0]));
  const internal::HeaderLine header = internal::TakeHeaderLine(staging, kTooBigBulk, kInvalidBulk);
  if (!header.complete) return Step::kNeedMore;
  if (header.error != nullptr) return Fail(header.error);
  if (header.value < 0) return Fail(kInvalidBulk);
  bulk_bytes = static_cast<std::uint64_t>(header.value);
  if (guarded && bulk_bytes > kGuardedMaxBulkBytes) return Fail(kUnauthenticatedBulk);
  if (current.rejected.empty()) {
    if (bulk_bytes > limits.max_bulk_bytes) {
      Reject("ERR value of " + std::to_string(bulk_bytes) + " bytes exceeds max_value_bytes (" +
             std::to_string(limits.max_bulk_bytes) + ")");
    } else if (request_bytes > limits.max_request_bytes ||
               bulk_bytes > limits.max_request_bytes - request_bytes) {
      Reject("ERR request of at least " + std::to_string(SaturatingAdd(request_bytes, bulk_bytes)) +
             " bytes exceeds max_request_bytes (" + std::to_string(limits.max_request_bytes) + ")");
    } else {
      request_bytes += bulk_bytes;
    }
  }
  if (!current.rejected.empty()) {
    discard_left = bulk_bytes;
    phase = Phase::kDiscard;
    return Step::kProgress;
  }
  if (bulk_bytes >= kDirectBulkBytes) {
    // With a budget, a large payload behind requests not yet handled is reserved only
    // once they are (Resume): memory is never held for a request that cannot run yet, so
    // a connection cannot wait on memory its own queued requests hold.
    if (budget != nullptr && !ready.empty()) {
      phase = Phase::kHeldDirect;
      return Step::kNeedMore;
    }
    return StartDirect();
  }
  phase = Phase::kPayload;
  return Step::kProgress;
}

// A large payload gets a buffer of exactly its size. The few payload bytes that came in
// the same read as the header are copied; the rest is read into the buffer by the socket.
// With a budget the buffer is reserved first: the first large payload of a request waits
// until it fits; a later one that does not fit rejects the request, whose reservations go
// back at once (a request never waits while holding large payloads, so waits cannot
// deadlock).
RequestParser::State::Step RequestParser::State::StartDirect() {
  if (budget != nullptr) {
    if (!current.memory.TryAdd(*budget, bulk_bytes, /*large=*/!holds_large)) {
      if (!holds_large) {
        phase = Phase::kAwaitDirect;
        return Step::kNeedMore;
      }
      Reject("OOM request of at least " + std::to_string(request_bytes) +
             " bytes does not fit in limits.inflight_memory now (" +
             std::to_string(budget->used()) + " of " + std::to_string(budget->limit()) +
             " bytes in use); retry");
      discard_left = bulk_bytes;
      phase = Phase::kDiscard;
      return Step::kProgress;
    }
    holds_large = true;
  }
  try {
    direct = MutableBuffer(static_cast<std::size_t>(bulk_bytes));
  } catch (const std::bad_alloc&) {
    Reject("OOM cannot allocate " + std::to_string(bulk_bytes) + " bytes for a value");

    discard_left = bulk_bytes;
    phase = Phase::kDiscard;
    return Step::kProgress;
  }
  if (reading.Start(direct.span(), staging)) {
    FinishDirect();
  } else {
    phase = Phase::kDirect;
  }
  return Step::kProgress;
}

void RequestParser::State::FinishDirect() {
  held_bytes += direct.size();
  current.args.push_back(std::move(direct).Freeze());
  direct = MutableBuffer();
  reading.Reset();
  phase = Phase::kCrlf;
}

RequestParser::State::Step RequestParser::State::ParsePayload(std::deque<Request>& ready) {
  const auto length = static_cast<std::size_t>(bulk_bytes);
  if (staging.size() < length + 2) return Step::kNeedMore;
  const char* p = staging.data();
  if (p[length] != '\r' || p[length + 1] != '\n') return Fail(kNoPayloadCrlf);
  current.args.push_back(staging.Slice(0, length));
  held_bytes += length;
  staging.Consume(length + 2);
  return ElementDone(ready);
}

RequestParser::State::Step RequestParser::State::Discard() {
  const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(staging.size(), discard_left));
  staging.Consume(take);
  discard_left -= take;
  if (discard_left != 0) return Step::kNeedMore;
  phase = Phase::kCrlf;
  return Step::kProgress;
}

RequestParser::State::Step RequestParser::State::ParseCrlf(std::deque<Request>& ready) {
  if (staging.size() < 2) return Step::kNeedMore;
  const char* p = staging.data();
  if (p[0] != '\r' || p[1] != '\n') return Fail(kNoPayloadCrlf);
  staging.Consume(2);
  return ElementDone(ready);
}

RequestParser::State::Step RequestParser::State::ElementDone(std::deque<Request>& ready) {
  if (--elements_left > 0) {
    phase = Phase::kBulkHeader;
    return Step::kProgress;
  }
  ready.push_back(std::move(current));
  current = Request{};
  held_bytes = 0;
  request_bytes = 0;
  holds_large = false;
  phase = Phase::kStart;
  return Step::kProgress;
}

void RequestParser::State::Reject(std::string message) {
  current.args = {};
  current.memory.Reset();
  held_bytes = 0;
  holds_large = false;
  current.rejected = std::move(message);
}

RequestParser::State::Step RequestParser::State::Fail(std::string message) {
  phase = Phase::kFailed;
  error = Status::InvalidArgument(std::move(message));
  current = Request{};
  direct = MutableBuffer();
  reading.Reset();
  held_bytes = 0;
  holds_large = false;
  return Step::kFailed;
}

RequestParser::RequestParser(ParserLimits limits)
    : limits_(limits), state_(std::make_shared<State>(limits)) {}

void RequestParser::SetMemoryBudget(MemoryBudget* budget) {
  state_->budget = budget;
  state_->staging.SetBudget(budget);
}

std::span<std::byte> RequestParser::ReadBuffer() {
  std::span<std::byte> space = internal::NextReadBuffer(*state_);
  state_->chunk_refused = space.empty();
  return space;
}

bool RequestParser::AwaitingMemory() const {
  const State& s = *state_;
  return s.chunk_refused || s.phase == State::Phase::kAwaitArgs ||
         s.phase == State::Phase::kAwaitDirect;
}

void RequestParser::Trim() { state_->staging.Trim(); }

std::uint64_t RequestParser::ChargedBytes() const {
  const State& s = *state_;
  return s.staging.charged_bytes() + s.current.memory.bytes();
}

Status RequestParser::Commit(std::size_t n) {
  return internal::CommitRead(*state_, n, 0, [this] { return state_->Parse(ready_); });
}

Request RequestParser::PopRequest() {
  PC_CHECK(!ready_.empty());
  Request request = std::move(ready_.front());
  ready_.pop_front();
  return request;
}

void RequestParser::SetGuarded(bool guarded) { state_->guarded = guarded; }

bool RequestParser::guarded() const { return state_->guarded; }

Status RequestParser::Resume() {
  State& s = *state_;
  if (s.phase == State::Phase::kFailed) return s.error;
  return s.Parse(ready_);
}

std::size_t RequestParser::PendingBytes() const {
  const State& s = *state_;
  return s.staging.size() + s.reading.filled() + static_cast<std::size_t>(s.held_bytes);
}

}  // namespace prefixcache::protocol
