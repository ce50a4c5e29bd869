// The input side shared by RequestParser and ReplyParser (internal to protocol/): taking a
// "<type><integer>\r\n" header line off the staging buffer, reading a large payload
// straight into its destination, and the parsers' ReadBuffer()/Commit() on top of those.
// Not thread-safe: owned by one parser.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "prefixcache/check.h"
#include "prefixcache/status.h"
#include "resp_scan.h"
#include "staging_buffer.h"

namespace prefixcache::protocol::internal {

// A header line taken off the front of a staging buffer.
struct HeaderLine {
  bool complete = false;        // false: the line has not fully arrived (nothing consumed)
  const char* error = nullptr;  // complete but unusable: the error to fail with
  std::int64_t value = 0;       // complete and usable: its integer (the line is consumed)
};

// The "<type><integer>\r\n" line at the front of `staging` (a count, a length or an
// integer reply, in Redis's strict integer syntax). `too_long` is the error for a line
// longer than kMaxHeaderLineBytes, `invalid` for anything else that is not such a line.
inline HeaderLine TakeHeaderLine(StagingBuffer& staging, const char* too_long,
                                 const char* invalid) {
  const char* p = staging.data();
  const LineScan line = ScanLine(p, staging.size(), kMaxHeaderLineBytes);
  switch (line.kind) {
    case LineScan::Kind::kNeedMore:
      return {};
    case LineScan::Kind::kTooLong:
      return {true, too_long, 0};
    case LineScan::Kind::kBadTerminator:
      return {true, invalid, 0};
    case LineScan::Kind::kFound:
      break;
  }
  const std::optional<std::int64_t> value = ParseInteger(p + 1, line.length - 1);
  if (!value) return {true, invalid, 0};
  staging.Consume(line.length + 2);
  return {true, nullptr, *value};
}

// One large payload read straight into its destination (a buffer of its own or caller
// memory): first the payload bytes that were already staged, then socket reads into
// Rest() until the destination is full.
class DirectRead {
 public:
  // Starts filling `target` with the bytes already in `staging` (which are consumed).
  // True when that filled it.
  bool Start(std::span<std::byte> target, StagingBuffer& staging) {
    target_ = target;
    filled_ = std::min(staging.size(), target.size());
    if (filled_ != 0) std::memcpy(target.data(), staging.data(), filled_);
    staging.Consume(filled_);
    return filled_ == target_.size();
  }
  // Where the next socket read writes: the rest of the target.
  std::span<std::byte> Rest() const { return target_.subspan(filled_); }
  // `n` bytes were written at the start of Rest(). True when the target is full.
  bool Commit(std::size_t n) {
    PC_CHECK(n <= target_.size() - filled_);
    filled_ += n;
    return filled_ == target_.size();
  }
  std::size_t filled() const { return filled_; }
  void Reset() {
    target_ = {};
    filled_ = 0;
  }

 private:
  std::span<std::byte> target_;
  std::size_t filled_ = 0;
};

// A parser's ReadBuffer() and Commit(), for a parse state with `staging`, `reading`,
// `phase` (a Phase with kPayload, kDirect and kFailed), `bulk_bytes`, `error` and
// FinishDirect(). ReadBuffer: inside a large payload the rest of its target, otherwise free
// staging space (with room for the whole of a small payload and its CRLF in one piece).
template <typename State>
std::span<std::byte> NextReadBuffer(State& s) {
  using Phase = typename State::Phase;
  if (s.phase == Phase::kDirect) return s.reading.Rest();
  const std::size_t contiguous =
      s.phase == Phase::kPayload ? static_cast<std::size_t>(s.bulk_bytes) + 2 : 0;
  return s.staging.Tail(contiguous);
}

// Commit: takes `n` bytes written at NextReadBuffer(s) and returns parse() -- or Ok while a
// large payload is still incomplete, or the parser's error once it failed.
template <typename State, typename Parse>
Status CommitRead(State& s, std::size_t n, Parse&& parse) {
  using Phase = typename State::Phase;
  if (s.phase == Phase::kFailed) return s.error;
  if (s.phase == Phase::kDirect) {
    if (!s.reading.Commit(n)) return Status::Ok();
    s.FinishDirect();
  } else {
    s.staging.Commit(n);
  }
  return parse();
}

}  // namespace prefixcache::protocol::internal
