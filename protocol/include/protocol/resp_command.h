// Command encoding for the client side: EncodeCommand() for small commands as one string,
// and CommandBuilder, which frames commands into segments for one scatter/gather write so
// large values are sent from the caller's memory without a copy.
// Not thread-safe: one builder per connection (EncodeCommand is a pure function).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/buffer.h"
#include "protocol/resp_writer.h"

namespace prefixcache::protocol {

// The RESP2 multibulk encoding of one command: "*<n>\r\n" then "$<len>\r\n<arg>\r\n" per
// argument.
std::string EncodeCommand(std::span<const std::string_view> args);

class CommandBuilder {
 public:
  // Arguments at least this large are referenced rather than copied into the arena.
  static constexpr std::size_t kReferenceBytes = 4096;
  using Segment = ReplyBuilder::Segment;

  // Starts a command of `argc` arguments; exactly `argc` Arg() calls must follow before
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
  // Begin(args.size()) plus one copied Arg() per argument.
  void Command(std::span<const std::string_view> args);

  // The queued commands as segments in order; CHECKs that the last command is complete.
  // Pointers stay valid until the next call of a writing method, Clear() or destruction.
  std::vector<Segment> Segments() const;
  std::size_t TotalBytes() const { return total_bytes_; }
  bool empty() const { return total_bytes_ == 0; }
  void Clear();

 private:
  struct Piece {
    const std::byte* external;  // set for a referenced argument
    std::size_t arena_offset;   // otherwise a range of arena_
    std::size_t size;
  };
  void ArgHeader(std::size_t size);
  void AppendArena(std::string_view bytes);
  void AppendExternal(const std::byte* data, std::size_t size);

  std::string arena_;
  std::vector<Piece> pieces_;
  std::vector<Buffer> kept_;  // Buffers whose bytes pieces_ reference
  std::size_t args_left_ = 0;
  std::size_t total_bytes_ = 0;
};

}  // namespace prefixcache::protocol
