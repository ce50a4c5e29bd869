#include "protocol/resp_command.h"

#include <charconv>

#include "prefixcache/check.h"

namespace prefixcache::protocol {
namespace {

constexpr std::size_t kKeepArenaBytes = 1 << 20;

// "<prefix><value>\r\n" into `out` (room for any 64-bit value); returns it.
std::string_view FormatHeader(char (&out)[32], char prefix, std::uint64_t value) {
  out[0] = prefix;
  char* end = std::to_chars(out + 1, out + 24, value).ptr;
  end[0] = '\r';
  end[1] = '\n';
  return {out, static_cast<std::size_t>(end + 2 - out)};
}

}  // namespace

std::string EncodeCommand(std::span<const std::string_view> args) {
  std::size_t size = 16;
  for (std::string_view arg : args) size += arg.size() + 16;
  std::string out;
  out.reserve(size);
  char header[32];
  out.append(FormatHeader(header, '*', args.size()));
  for (std::string_view arg : args) {
    out.append(FormatHeader(header, '$', arg.size()));
    out.append(arg);
    out.append("\r\n", 2);
  }
  return out;
}

void CommandBuilder::AppendArena(std::string_view bytes) {
  if (bytes.empty()) return;
  const std::size_t offset = arena_.size();
  arena_.append(bytes);
  total_bytes_ += bytes.size();
  if (!pieces_.empty()) {
    Piece& last = pieces_.back();
    if (last.external == nullptr && last.arena_offset + last.size == offset) {
      last.size += bytes.size();
      return;
    }
  }
  pieces_.push_back(Piece{nullptr, offset, bytes.size()});
}

void CommandBuilder::AppendExternal(const std::byte* data, std::size_t size) {
  pieces_.push_back(Piece{data, 0, size});
  total_bytes_ += size;
}

void CommandBuilder::Begin(std::size_t argc) {
  PC_CHECK(args_left_ == 0);
  char header[32];
  AppendArena(FormatHeader(header, '*', argc));
  args_left_ = argc;
}

void CommandBuilder::ArgHeader(std::size_t size) {
  PC_CHECK(args_left_ > 0);
  --args_left_;
  char header[32];
  AppendArena(FormatHeader(header, '$', size));
}

void CommandBuilder::Arg(std::string_view bytes) {
  ArgHeader(bytes.size());
  AppendArena(bytes);
  AppendArena("\r\n");
}

void CommandBuilder::Arg(std::int64_t value) {
  char text[24];
  char* end = std::to_chars(text, text + sizeof(text), value).ptr;
  Arg(std::string_view(text, static_cast<std::size_t>(end - text)));
}

void CommandBuilder::ArgRef(std::span<const std::byte> bytes) {
  if (bytes.size() < kReferenceBytes) {
    Arg(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return;
  }
  ArgHeader(bytes.size());
  AppendExternal(bytes.data(), bytes.size());
  AppendArena("\r\n");
}

void CommandBuilder::Arg(const Buffer& bytes) {
  if (bytes.size() >= kReferenceBytes) kept_.push_back(bytes);
  ArgRef(bytes.span());
}

void CommandBuilder::Command(std::span<const std::string_view> args) {
  Begin(args.size());
  for (std::string_view arg : args) Arg(arg);
}

std::vector<CommandBuilder::Segment> CommandBuilder::Segments() const {
  PC_CHECK(args_left_ == 0);
  std::vector<Segment> segments;
  segments.reserve(pieces_.size());
  const auto* arena = reinterpret_cast<const std::byte*>(arena_.data());
  for (const Piece& piece : pieces_) {
    segments.push_back(piece.external != nullptr ? Segment{piece.external, piece.size}
                                                 : Segment{arena + piece.arena_offset, piece.size});
  }
  return segments;
}

void CommandBuilder::Clear() {
  if (arena_.capacity() > kKeepArenaBytes) {
    std::string().swap(arena_);
  } else {
    arena_.clear();
  }
  pieces_.clear();
  kept_.clear();
  args_left_ = 0;
  total_bytes_ = 0;
}

}  // namespace prefixcache::protocol
