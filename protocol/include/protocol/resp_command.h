// Command framing, the one RESP command encoder of the project: CommandBuilder frames
// commands as segments for one scatter/gather write (a SegmentList), so large values are
// sent from the caller's memory without a copy; EncodeCommand() gives a small command as
// one string. Not thread-safe: one builder per request or connection (EncodeCommand is a
// pure function).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/buffer.h"
#include "protocol/resp_segments.h"

namespace prefixcache::protocol {

// The RESP2 multibulk encoding of one command: "*<n>\r\n" then "$<len>\r\n<arg>\r\n" per
// argument.
std::string EncodeCommand(std::span<const std::string_view> args);

class CommandBuilder : public SegmentList {
 public:
  // Starts a command of `argc` arguments; exactly `argc` Arg*() calls must follow before
  // the next Begin() or Segments(). Several commands may be queued (pipelining).
  void Begin(std::size_t argc);
  // One argument, copied into the arena.
  void Arg(std::string_view bytes);
  // One argument given as its decimal text (e.g. a block depth).
  void Arg(std::int64_t value);
  // One argument referenced when large: the caller keeps `bytes` alive and unchanged until
  // the segments have been written (or Clear()); small ones are copied.
  void ArgRef(std::span<const std::byte> bytes);
  // One argument referenced when large; the builder keeps the Buffer alive until Clear().
  void Arg(const Buffer& bytes);
  // One argument whose bytes are the concatenation of `pieces` (e.g. a payload in caller
  // memory followed by its trailer), each referenced when large as by ArgRef().
  void ArgPieces(std::initializer_list<std::span<const std::byte>> pieces);
  // The same for pieces in a span (a value given in parts, then its trailer): the caller
  // keeps the span array alive only for the call, the pieces' bytes as for ArgRef().
  void ArgPieces(std::span<const std::span<const std::byte>> pieces);
  // Begin(args.size()) plus one copied Arg() per argument.
  void Command(std::span<const std::string_view> args);

  // SegmentList::Segments(), after CHECKing that the last command is complete.
  std::vector<Segment> Segments() const;
  void Clear();

 private:
  // "$<size>\r\n", counting one of the arguments Begin() announced.
  void ArgHeader(std::size_t size);

  std::size_t args_left_ = 0;
};

}  // namespace prefixcache::protocol
