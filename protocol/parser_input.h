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

// One large payload read straight into its destination (a buffer of its own, or caller
// memory in one or several parts filled in order): first the payload bytes that were
// already staged, then socket reads into the rest of the parts until they are full.
class DirectRead {
 public:
  // Starts filling `parts` (their sizes add up to the payload; empty parts are skipped)
  // with the bytes already in `staging` (which are consumed). `parts` must stay valid until
  // Reset() or the read is full. True when the staged bytes filled it.
  bool Start(std::span<const std::span<std::byte>> parts, StagingBuffer& staging) {
    parts_ = parts;
    part_ = 0;
    offset_ = 0;
    filled_ = 0;
    total_ = 0;
    for (const auto& part : parts) total_ += part.size();
    SkipFull();
    while (staging.size() != 0 && !full()) {
      const std::span<std::byte> into = Rest();
      const std::size_t n = std::min(staging.size(), into.size());
      std::memcpy(into.data(), staging.data(), n);
      staging.Consume(n);
      Advance(n);
    }
    return full();
  }
  // The same for one destination.
  bool Start(std::span<std::byte> target, StagingBuffer& staging) {
    single_ = target;
    return Start(std::span<const std::span<std::byte>>(&single_, 1), staging);
  }

  // Where the next socket read writes first: the rest of the current part.
  std::span<std::byte> Rest() const {
    if (full()) return {};
    return parts_[part_].subspan(offset_);
  }
  // Up to out.size() spans, in order: the rest of the current part, then the parts after
  // it. Returns how many were written; `*to_end` tells whether they reach the payload's end.
  std::size_t Spans(std::span<std::span<std::byte>> out, bool* to_end) const {
    std::size_t count = 0;
    std::size_t part = part_;
    std::size_t offset = offset_;
    while (count < out.size() && part < parts_.size()) {
      if (parts_[part].size() > offset) out[count++] = parts_[part].subspan(offset);
      ++part;
      offset = 0;
    }
    while (part < parts_.size() && parts_[part].empty()) ++part;
    *to_end = part == parts_.size();
    return count;
  }
  // `n` bytes were written in order into the spans Rest()/Spans() returned, possibly
  // running past the payload's end. Returns how many of them belong to the payload.
  std::size_t Commit(std::size_t n) {
    const std::size_t taken = std::min(n, total_ - filled_);
    std::size_t left = taken;
    while (left != 0) {
      const std::size_t step = std::min(left, parts_[part_].size() - offset_);
      Advance(step);
      left -= step;
    }
    return taken;
  }
  bool full() const { return filled_ == total_; }
  std::size_t filled() const { return filled_; }
  void Reset() {
    parts_ = {};
    single_ = {};
    part_ = offset_ = filled_ = total_ = 0;
  }

 private:
  // Moves on by `n` bytes within the current part, then past any parts that are full.
  void Advance(std::size_t n) {
    offset_ += n;
    filled_ += n;
    SkipFull();
  }
  void SkipFull() {
    while (part_ < parts_.size() && offset_ == parts_[part_].size()) {
      ++part_;
      offset_ = 0;
    }
  }

  std::span<const std::span<std::byte>> parts_;
  std::span<std::byte> single_;  // the one part of Start(target, staging)
  std::size_t part_ = 0;         // the part being filled
  std::size_t offset_ = 0;       // bytes of parts_[part_] filled
  std::size_t filled_ = 0;       // bytes of all parts filled
  std::size_t total_ = 0;
};

// A parser's ReadBuffer() and Commit(), for a parse state with `staging`, `reading`,
// `phase` (a Phase with kPayload, kDirect and kFailed), `bulk_bytes`, `error`,
// FinishDirect() and DirectArrived() (told after payload bytes arrived). ReadBuffer: inside
// a large payload the rest of its current part, otherwise free staging space (with room for
// the whole of a small payload and its CRLF in one piece).
template <typename State>
std::span<std::byte> NextReadBuffer(State& s) {
  using Phase = typename State::Phase;
  if (s.phase == Phase::kDirect) return s.reading.Rest();
  const std::size_t contiguous =
      s.phase == Phase::kPayload ? static_cast<std::size_t>(s.bulk_bytes) + 2 : 0;
  return s.staging.Tail(contiguous);
}

// Commit: takes `n` bytes written at the spans handed out (NextReadBuffer, or a scatter
// list whose staging span, if any, came last) and returns parse() -- or Ok while a large
// payload is still incomplete, or the parser's error once it failed. Bytes past a payload's
// end were written at the staging buffer's free tail; `staged_room` bounds them.
template <typename State, typename Parse>
Status CommitRead(State& s, std::size_t n, std::size_t staged_room, Parse&& parse) {
  using Phase = typename State::Phase;
  if (s.phase == Phase::kFailed) return s.error;
  if (s.phase == Phase::kDirect) {
    const std::size_t taken = s.reading.Commit(n);
    if (taken != 0) s.DirectArrived();
    if (!s.reading.full()) return Status::Ok();
    s.FinishDirect();
    n -= taken;
    PC_CHECK(n <= staged_room);
  }
  s.staging.Commit(n);
  return parse();
}

}  // namespace prefixcache::protocol::internal
