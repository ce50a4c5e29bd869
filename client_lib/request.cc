#include "request.h"

#include <charconv>

namespace prefixcache::client {
namespace {

std::string_view Header(char (&out)[32], char prefix, std::size_t value) {
  out[0] = prefix;
  char* end = std::to_chars(out + 1, out + 24, value).ptr;
  end[0] = '\r';
  end[1] = '\n';
  return {out, static_cast<std::size_t>(end + 2 - out)};
}

}  // namespace

void WireBuilder::Copy(std::string_view bytes) {
  if (bytes.empty()) return;
  if (!pieces_.empty() && pieces_.back().external == nullptr) {
    pieces_.back().size += bytes.size();
  } else {
    pieces_.push_back(Piece{nullptr, arena_.size(), bytes.size()});
  }
  arena_.append(bytes);
  total_bytes_ += bytes.size();
}

void WireBuilder::Reference(std::span<const std::byte> bytes) {
  if (bytes.size() < kReferenceBytes) {
    Copy({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    return;
  }
  pieces_.push_back(Piece{bytes.data(), 0, bytes.size()});
  total_bytes_ += bytes.size();
}

void WireBuilder::Begin(std::size_t argc) {
  char header[32];
  Copy(Header(header, '*', argc));
}

void WireBuilder::Arg(std::string_view bytes) {
  char header[32];
  Copy(Header(header, '$', bytes.size()));
  Copy(bytes);
  Copy("\r\n");
}

void WireBuilder::ArgPieces(std::initializer_list<std::span<const std::byte>> pieces) {
  std::size_t size = 0;
  for (auto piece : pieces) size += piece.size();
  char header[32];
  Copy(Header(header, '$', size));
  for (auto piece : pieces) Reference(piece);
  Copy("\r\n");
}

std::vector<boost::asio::const_buffer> WireBuilder::Finish() {
  std::vector<boost::asio::const_buffer> out;
  out.reserve(pieces_.size());
  for (const Piece& p : pieces_) {
    const void* data = p.external ? static_cast<const void*>(p.external) : arena_.data() + p.offset;
    out.emplace_back(data, p.size);
  }
  return out;
}

}  // namespace prefixcache::client
