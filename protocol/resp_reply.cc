#include "protocol/resp_reply.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <utility>

#include "parser_input.h"
#include "prefixcache/check.h"

namespace prefixcache::protocol {
namespace {

using internal::LineScan;

// An array's elements vector grows past this by doubling, so a huge claimed count
// reserves little.
constexpr std::size_t kMaxReservedElements = 1024;

}  // namespace

bool operator==(const Reply& a, const Reply& b) {
  return a.type == b.type && a.text == b.text && a.integer == b.integer &&
         a.bulk.view() == b.bulk.view() && a.in_sink == b.in_sink && a.elements == b.elements;
}

// Arrays under construction form a stack of frames; a completed value is appended to the
// innermost one, and an array that receives its last element completes in turn. In
// kDirect, the staging buffer holds no unparsed bytes: the next bytes on the wire belong to
// the target `reading` fills (a buffer of our own, or the sink's span).
struct ReplyParser::State {
  enum class Phase : std::uint8_t {
    kValue,    // before a type byte
    kPayload,  // a small bulk payload and its CRLF, sliced from staging once all there
    kDirect,   // a large or sunk payload, read straight into its target
    kCrlf,     // the CRLF after a direct payload; `pending` is then complete
    kFailed,
  };
  enum class Step : std::uint8_t { kProgress, kNeedMore, kFailed };
  struct Frame {
    Reply reply;
    std::int64_t remaining;  // elements still to come
  };

  explicit State(const ReplyLimits& l) : limits(l) {}

  Status Parse(ReplyParser& parser);
  Step ParseValue(ReplyParser& parser);
  Step ParseLength(char type, std::int64_t* value);
  Step StartBulk(std::size_t size);
  void FinishDirect();
  void DirectArrived() {
    if (dest_is_sink) sink->Arrived(reading.filled());
  }
  Step ParsePayload(ReplyParser& parser);
  Step ParseCrlf(ReplyParser& parser);
  Step Complete(Reply value, ReplyParser& parser);
  Step Fail(Status status);

  const ReplyLimits limits;
  internal::StagingBuffer staging;
  Phase phase = Phase::kValue;
  std::size_t bulk_bytes = 0;
  MutableBuffer direct;          // kDirect without a sink: the payload's own buffer
  internal::DirectRead reading;  // kDirect: filling `direct` or the sink's parts
  bool dest_is_sink = false;
  Reply pending;
  std::vector<Frame> stack;
  BulkSink* sink = nullptr;
  // The scatter list ReadBuffers() returned, and how much staging space it ended with.
  std::array<std::span<std::byte>, kMaxReadBuffers> scatter;
  std::size_t staged_room = 0;
  Status error;
};

Status ReplyParser::State::Parse(ReplyParser& parser) {
  for (;;) {
    Step step = Step::kNeedMore;
    switch (phase) {
      case Phase::kValue:
        step = ParseValue(parser);
        break;
      case Phase::kPayload:
        step = ParsePayload(parser);
        break;
      case Phase::kDirect:
        return Status::Ok();
      case Phase::kCrlf:
        step = ParseCrlf(parser);
        break;
      case Phase::kFailed:
        return error;
    }
    if (step == Step::kNeedMore) return Status::Ok();
    if (step == Step::kFailed) return error;
  }
}

// Parses the "<type><integer>\r\n" line at the front of staging into *value and consumes it.
ReplyParser::State::Step ReplyParser::State::ParseLength(char type, std::int64_t* value) {
  const char* too_big = type == '*'   ? "Protocol error: too big mbulk count string"
                        : type == '$' ? "Protocol error: too big bulk count string"
                                      : "Protocol error: too big integer reply";
  const char* invalid = type == '*'   ? "Protocol error: invalid multibulk length"
                        : type == '$' ? "Protocol error: invalid bulk length"
                                      : "Protocol error: invalid integer reply";
  const internal::HeaderLine header = internal::TakeHeaderLine(staging, too_big, invalid);
  if (!header.complete) return Step::kNeedMore;
  if (header.error != nullptr) return Fail(Status::InvalidArgument(header.error));
  if (type != ':' && header.value < -1) return Fail(Status::InvalidArgument(invalid));
  *value = header.value;
  return Step::kProgress;
}

ReplyParser::State::Step ReplyParser::State::ParseValue(ReplyParser& parser) {
  if (staging.size() == 0) return Step::kNeedMore;
  const char type = staging.data()[0];
  switch (type) {
    case '+':
    case '-': {
      const char* p = staging.data();
      const LineScan line = internal::ScanLine(p, staging.size(), limits.max_line_bytes + 1);
      switch (line.kind) {
        case LineScan::Kind::kNeedMore:
          return Step::kNeedMore;
        case LineScan::Kind::kTooLong:
          return Fail(Status::Rejected("Protocol error: reply line longer than max_line_bytes (" +
                                       std::to_string(limits.max_line_bytes) + ")"));
        case LineScan::Kind::kBadTerminator:
          return Fail(Status::InvalidArgument("Protocol error: CR without LF in a reply line"));
        case LineScan::Kind::kFound:
          break;
      }
      Reply reply;
      reply.type = type == '+' ? Reply::Type::kSimple : Reply::Type::kError;
      reply.text.assign(p + 1, line.length - 1);
      staging.Consume(line.length + 2);
      return Complete(std::move(reply), parser);
    }
    case ':': {
      std::int64_t value = 0;
      if (Step step = ParseLength(type, &value); step != Step::kProgress) return step;
      Reply reply;
      reply.type = Reply::Type::kInteger;
      reply.integer = value;
      return Complete(std::move(reply), parser);
    }
    case '$': {
      std::int64_t length = 0;
      if (Step step = ParseLength(type, &length); step != Step::kProgress) return step;
      if (length == -1) return Complete(Reply{}, parser);  // kNil
      const auto size = static_cast<std::uint64_t>(length);
      if (size > limits.max_bulk_bytes) {
        return Fail(Status::Rejected("bulk reply of " + std::to_string(size) +
                                     " bytes exceeds max_bulk_bytes (" +
                                     std::to_string(limits.max_bulk_bytes) + ")"));
      }
      return StartBulk(static_cast<std::size_t>(size));
    }
    case '*': {
      std::int64_t count = 0;
      if (Step step = ParseLength(type, &count); step != Step::kProgress) return step;
      Reply reply;
      if (count == -1) {
        reply.type = Reply::Type::kNilArray;
        return Complete(std::move(reply), parser);
      }
      const auto n = static_cast<std::uint64_t>(count);
      if (n > limits.max_elements) {
        return Fail(Status::Rejected("array reply of " + std::to_string(n) +
                                     " elements exceeds max_elements (" +
                                     std::to_string(limits.max_elements) + ")"));
      }
      reply.type = Reply::Type::kArray;
      if (n == 0) return Complete(std::move(reply), parser);
      if (stack.size() >= limits.max_depth) {
        return Fail(Status::Rejected("array reply nested deeper than max_depth (" +
                                     std::to_string(limits.max_depth) + ")"));
      }
      reply.elements.reserve(std::min<std::uint64_t>(n, kMaxReservedElements));
      stack.push_back(Frame{std::move(reply), count});
      return Step::kProgress;
    }
    default:
      return Fail(Status::InvalidArgument("Protocol error: unexpected reply type " +
                                          internal::QuotedByte(type)));
  }
}

ReplyParser::State::Step ReplyParser::State::StartBulk(std::size_t size) {
  bulk_bytes = size;
  std::span<const std::span<std::byte>> parts;
  if (sink != nullptr && stack.size() <= 1) {
    const std::size_t index = stack.empty() ? 0 : stack.front().reply.elements.size();
    parts = sink->Parts(index, size);
    std::size_t total = 0;
    for (const auto& part : parts) total += part.size();
    PC_CHECK(total == 0 || total == size);
    if (total == 0) parts = {};
  }
  dest_is_sink = !parts.empty();
  bool full = false;
  if (dest_is_sink) {
    full = reading.Start(parts, staging);
    if (reading.filled() != 0) DirectArrived();
  } else {
    if (size < kDirectBulkBytes) {
      phase = Phase::kPayload;
      return Step::kProgress;
    }
    try {
      direct = MutableBuffer(size);
    } catch (const std::bad_alloc&) {
      return Fail(
          Status::Rejected("out of memory for a bulk reply of " + std::to_string(size) + " bytes"));
    }
    // The payload bytes that came with the header are copied; the socket reads the rest
    // straight into the buffer.
    full = reading.Start(direct.span(), staging);
  }
  if (full) {
    FinishDirect();
  } else {
    phase = Phase::kDirect;
  }
  return Step::kProgress;
}

void ReplyParser::State::FinishDirect() {
  pending = Reply{};
  pending.type = Reply::Type::kBulk;
  if (dest_is_sink) {
    pending.in_sink = true;
  } else {
    pending.bulk = std::move(direct).Freeze();
    direct = MutableBuffer();
  }
  reading.Reset();
  phase = Phase::kCrlf;
}

ReplyParser::State::Step ReplyParser::State::ParsePayload(ReplyParser& parser) {
  if (staging.size() < bulk_bytes + 2) return Step::kNeedMore;
  const char* p = staging.data();
  if (p[bulk_bytes] != '\r' || p[bulk_bytes + 1] != '\n') {
    return Fail(Status::InvalidArgument("Protocol error: bulk payload not followed by CRLF"));
  }
  Reply reply;
  reply.type = Reply::Type::kBulk;
  reply.bulk = staging.Slice(0, bulk_bytes);
  staging.Consume(bulk_bytes + 2);
  return Complete(std::move(reply), parser);
}

ReplyParser::State::Step ReplyParser::State::ParseCrlf(ReplyParser& parser) {
  if (staging.size() < 2) return Step::kNeedMore;
  const char* p = staging.data();
  if (p[0] != '\r' || p[1] != '\n') {
    return Fail(Status::InvalidArgument("Protocol error: bulk payload not followed by CRLF"));
  }
  staging.Consume(2);
  return Complete(std::exchange(pending, Reply{}), parser);
}

ReplyParser::State::Step ReplyParser::State::Complete(Reply value, ReplyParser& parser) {
  phase = Phase::kValue;
  while (!stack.empty()) {
    Frame& top = stack.back();
    top.reply.elements.push_back(std::move(value));
    if (--top.remaining > 0) return Step::kProgress;
    value = std::move(top.reply);
    stack.pop_back();
  }
  parser.ready_.push_back(std::move(value));
  ++parser.completed_;
  return Step::kProgress;
}

ReplyParser::State::Step ReplyParser::State::Fail(Status status) {
  phase = Phase::kFailed;
  error = std::move(status);
  stack.clear();
  pending = Reply{};
  direct = MutableBuffer();
  reading.Reset();
  return Step::kFailed;
}

ReplyParser::ReplyParser(ReplyLimits limits) : state_(std::make_unique<State>(limits)) {}
ReplyParser::~ReplyParser() = default;
ReplyParser::ReplyParser(ReplyParser&&) noexcept = default;
ReplyParser& ReplyParser::operator=(ReplyParser&&) noexcept = default;

void ReplyParser::SetBulkSink(BulkSink* sink) { state_->sink = sink; }

std::span<std::byte> ReplyParser::ReadBuffer() {
  state_->staged_room = 0;
  return internal::NextReadBuffer(*state_);
}

std::span<const std::span<std::byte>> ReplyParser::ReadBuffers() {
  State& s = *state_;
  s.staged_room = 0;
  if (s.phase != State::Phase::kDirect) {
    s.scatter[0] = internal::NextReadBuffer(s);
    return std::span(s.scatter).first(1);
  }
  // Leave the last slot for the staging space.
  bool to_end = false;
  std::size_t count = s.reading.Spans(std::span(s.scatter).first(s.scatter.size() - 1), &to_end);
  if (to_end) {
    // No unparsed bytes are staged while a payload is received directly, so the staging
    // space handed out here is where the bytes after the payload belong.
    const std::span<std::byte> tail = s.staging.Tail(0);
    s.scatter[count++] = tail.first(std::min(tail.size(), kScatterStagingBytes));
    s.staged_room = s.scatter[count - 1].size();
  }
  return std::span(s.scatter).first(count);
}

Status ReplyParser::Commit(std::size_t n) {
  return internal::CommitRead(*state_, n, state_->staged_room,
                              [this] { return state_->Parse(*this); });
}

Reply ReplyParser::PopReply() {
  PC_CHECK(!ready_.empty());
  Reply reply = std::move(ready_.front());
  ready_.pop_front();
  return reply;
}

}  // namespace prefixcache::protocol
