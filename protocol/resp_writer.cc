#include "protocol/resp_writer.h"

#include <charconv>
#include <utility>

namespace prefixcache::protocol {
namespace {

// Past this, Clear() gives the arena's memory back instead of keeping it for the next reply.
constexpr std::size_t kKeepArenaBytes = 1 << 20;

// "<prefix><value>\r\n" into `out`, which has room for any 64-bit value; returns its length.
std::size_t FormatHeader(char* out, char prefix, std::int64_t value) {
  out[0] = prefix;
  char* end = std::to_chars(out + 1, out + 24, value).ptr;
  end[0] = '\r';
  end[1] = '\n';
  return static_cast<std::size_t>(end + 2 - out);
}

// Status and error lines cannot carry CR or LF (they would end the RESP line early and let
// the rest be read as another reply); like Redis, they become spaces.
void BlankLineBreaks(std::string& arena, std::size_t from) {
  for (std::size_t i = from; i < arena.size(); ++i) {
    if (arena[i] == '\r' || arena[i] == '\n') arena[i] = ' ';
  }
}

}  // namespace

void ReplyBuilder::AppendArena(std::string_view bytes) {
  if (bytes.empty()) return;
  const std::size_t offset = arena_.size();
  arena_.append(bytes);
  total_bytes_ += bytes.size();
  // Consecutive arena bytes form one piece, hence one segment.
  if (!pieces_.empty()) {
    Piece& last = pieces_.back();
    if (last.buffer.data() == nullptr && last.arena_offset + last.size == offset) {
      last.size += bytes.size();
      return;
    }
  }
  pieces_.push_back(Piece{Buffer(), offset, bytes.size()});
}

void ReplyBuilder::SimpleString(std::string_view text) {
  const std::size_t from = arena_.size() + 1;
  AppendArena("+");
  AppendArena(text);
  BlankLineBreaks(arena_, from);
  AppendArena("\r\n");
}

void ReplyBuilder::Error(std::string_view message) {
  const std::size_t from = arena_.size() + 1;
  AppendArena("-");
  AppendArena(message);
  BlankLineBreaks(arena_, from);
  AppendArena("\r\n");
}

void ReplyBuilder::Integer(std::int64_t value) {
  char header[32];
  AppendArena({header, FormatHeader(header, ':', value)});
}

void ReplyBuilder::Bulk(std::string_view bytes) {
  char header[32];
  AppendArena({header, FormatHeader(header, '$', static_cast<std::int64_t>(bytes.size()))});
  AppendArena(bytes);
  AppendArena("\r\n");
}

void ReplyBuilder::Bulk(const Buffer& bytes) {
  if (bytes.size() < kReferenceBulkBytes) {
    Bulk(bytes.view());
    return;
  }
  char header[32];
  AppendArena({header, FormatHeader(header, '$', static_cast<std::int64_t>(bytes.size()))});
  pieces_.push_back(Piece{bytes, 0, bytes.size()});
  total_bytes_ += bytes.size();
  AppendArena("\r\n");
}

void ReplyBuilder::Nil() { AppendArena("$-1\r\n"); }

void ReplyBuilder::NilArray() { AppendArena("*-1\r\n"); }

void ReplyBuilder::ArrayHeader(std::size_t count) {
  char header[32];
  AppendArena({header, FormatHeader(header, '*', static_cast<std::int64_t>(count))});
}

std::vector<ReplyBuilder::Segment> ReplyBuilder::Segments() const {
  std::vector<Segment> segments;
  segments.reserve(pieces_.size());
  const auto* arena = reinterpret_cast<const std::byte*>(arena_.data());
  for (const Piece& piece : pieces_) {
    if (piece.buffer.data() != nullptr) {
      segments.push_back(Segment{piece.buffer.data(), piece.size});
    } else {
      segments.push_back(Segment{arena + piece.arena_offset, piece.size});
    }
  }
  return segments;
}

void ReplyBuilder::Clear() {
  if (arena_.capacity() > kKeepArenaBytes) {
    std::string().swap(arena_);
  } else {
    arena_.clear();
  }
  pieces_.clear();
  total_bytes_ = 0;
}

}  // namespace prefixcache::protocol
