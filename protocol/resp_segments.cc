#include "protocol/resp_segments.h"

#include <charconv>

namespace prefixcache::protocol {
namespace {

// Past this, Clear() gives the arena's memory back instead of keeping it for the next use.
constexpr std::size_t kKeepArenaBytes = 1 << 20;

}  // namespace

void SegmentList::Copy(std::string_view bytes) {
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

void SegmentList::Header(char prefix, std::int64_t value) {
  char text[24];  // the prefix, up to 20 characters of a 64-bit value, CRLF
  text[0] = prefix;
  char* end = std::to_chars(text + 1, text + 21, value).ptr;
  end[0] = '\r';
  end[1] = '\n';
  Copy({text, static_cast<std::size_t>(end + 2 - text)});
}

void SegmentList::Reference(std::span<const std::byte> bytes) {
  if (bytes.size() < kReferenceBytes) {
    Copy({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    return;
  }
  pieces_.push_back(Piece{bytes.data(), 0, bytes.size()});
  total_bytes_ += bytes.size();
}

void SegmentList::Reference(const Buffer& bytes) {
  if (bytes.size() >= kReferenceBytes) kept_.push_back(bytes);
  Reference(bytes.span());
}

std::vector<SegmentList::Segment> SegmentList::Segments() const {
  std::vector<Segment> segments;
  segments.reserve(pieces_.size());
  const auto* arena = reinterpret_cast<const std::byte*>(arena_.data());
  for (const Piece& piece : pieces_) {
    segments.push_back(piece.external != nullptr ? Segment{piece.external, piece.size}
                                                 : Segment{arena + piece.arena_offset, piece.size});
  }
  return segments;
}

void SegmentList::Append(SegmentList&& other) {
  for (const Piece& piece : other.pieces_) {
    if (piece.external == nullptr) {
      Copy(std::string_view(other.arena_).substr(piece.arena_offset, piece.size));
    } else {
      pieces_.push_back(piece);
      total_bytes_ += piece.size;
    }
  }
  for (Buffer& kept : other.kept_) kept_.push_back(std::move(kept));
  other.Clear();
}

void SegmentList::Clear() {
  if (arena_.capacity() > kKeepArenaBytes) {
    std::string().swap(arena_);
  } else {
    arena_.clear();
  }
  pieces_.clear();
  kept_.clear();
  total_bytes_ = 0;
}

}  // namespace prefixcache::protocol
