#include "protocol/resp_command.h"

#include <charconv>

#include "prefixcache/check.h"

namespace prefixcache::protocol {

std::string EncodeCommand(std::span<const std::string_view> args) {
  CommandBuilder builder;
  builder.Command(args);
  std::string out;
  out.reserve(builder.TotalBytes());
  for (const SegmentList::Segment& segment : builder.Segments()) {
    out.append(reinterpret_cast<const char*>(segment.data), segment.size);
  }
  return out;
}

void CommandBuilder::Begin(std::size_t argc) {
  PC_CHECK(args_left_ == 0);
  Header('*', static_cast<std::int64_t>(argc));
  args_left_ = argc;
}

void CommandBuilder::ArgHeader(std::size_t size) {
  PC_CHECK(args_left_ > 0);
  --args_left_;
  Header('$', static_cast<std::int64_t>(size));
}

void CommandBuilder::Arg(std::string_view bytes) {
  ArgHeader(bytes.size());
  Copy(bytes);
  Copy("\r\n");
}

void CommandBuilder::Arg(std::int64_t value) {
  char text[20];
  char* end = std::to_chars(text, text + sizeof(text), value).ptr;
  Arg(std::string_view(text, static_cast<std::size_t>(end - text)));
}

void CommandBuilder::ArgRef(std::span<const std::byte> bytes) { ArgPieces({bytes}); }

void CommandBuilder::Arg(const Buffer& bytes) {
  ArgHeader(bytes.size());
  Reference(bytes);
  Copy("\r\n");
}

void CommandBuilder::ArgPieces(std::initializer_list<std::span<const std::byte>> pieces) {
  ArgPieces(std::span(pieces.begin(), pieces.size()));
}

void CommandBuilder::ArgPieces(std::span<const std::span<const std::byte>> pieces) {
  std::size_t size = 0;
  for (std::span<const std::byte> piece : pieces) size += piece.size();
  ArgHeader(size);
  for (std::span<const std::byte> piece : pieces) Reference(piece);
  Copy("\r\n");
}

void CommandBuilder::Command(std::span<const std::string_view> args) {
  Begin(args.size());
  for (std::string_view arg : args) Arg(arg);
}

std::vector<SegmentList::Segment> CommandBuilder::Segments() const {
  PC_CHECK(args_left_ == 0);
  return SegmentList::Segments();
}

void CommandBuilder::Clear() {
  SegmentList::Clear();
  args_left_ = 0;
}

}  // namespace prefixcache::protocol
