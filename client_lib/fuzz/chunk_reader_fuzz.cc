// libFuzzer target for the client's ChunkReader: a BLOCK.MGET reply stream scattered into
// destinations in parts, as Connection drives it (ReplyParser with the reader as its bulk
// sink, the bytes arriving in pieces of any size). The input chooses the keys' destinations
// (part sizes, or owned buffers as Get reads), whether checksums are verified, and the
// reply: either raw bytes, or values built from the input (nil, a well-formed value, a
// value with one damaged byte, a value with a wrong key's trailer, a short one) so that the
// deep paths are reached. Besides the sanitizers the oracle is exact: a hit holds exactly
// its payload and nothing past it is written; a well-formed value that fits is a hit; a
// damaged one is never a hit while verifying. Beside client_lib/ (as protocol/fuzz/ is
// beside protocol/) because it compiles this library's private reader.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "chunk_reader.h"
#include "prefixcache/check.h"
#include "prefixcache/value_format.h"
#include "protocol/resp_reply.h"

namespace {

using prefixcache::BlockKey;
using prefixcache::BlockStatus;
using prefixcache::Destination;
using prefixcache::client::ChunkReader;
using prefixcache::client::KeyOutcome;

constexpr std::byte kUntouched{0xA5};

// Reads the input a byte at a time; zeros once it runs out.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint16_t Short() { return static_cast<std::uint16_t>(Byte() | Byte() << 8); }
  std::string Rest() {
    std::string rest(reinterpret_cast<const char*>(data_ + at_), size_ - at_);
    at_ = size_;
    return rest;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

enum class Kind : std::uint8_t { kNil, kGood, kDamaged, kWrongKey, kShort, kCount };

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

std::string Stored(const BlockKey& key, const std::string& payload) {
  const auto bytes = std::as_bytes(std::span(payload.data(), payload.size()));
  const prefixcache::ValueTrailer trailer = prefixcache::MakeValueTrailer(key, bytes);
  return payload + std::string(reinterpret_cast<const char*>(trailer.data()), trailer.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::size_t n = 1 + in.Byte() % 6;
  const std::uint8_t flags = in.Byte();
  const bool verify = (flags & 1) != 0;
  const bool owned = (flags & 2) != 0;
  const bool structured = (flags & 4) != 0;
  const std::size_t piece = 1 + in.Short() % 70000;

  std::vector<BlockKey> keys;
  for (std::size_t i = 0; i < n; ++i) keys.push_back(BlockKey::FromHalves(0xfeed + i, i * 977));
  std::vector<std::size_t> chunk(n);
  for (std::size_t i = 0; i < n; ++i) chunk[i] = i;

  // Each key's destination: 1-3 parts of 0..8191 bytes, all in one arena (in order) so
  // that writes past a part show as touched bytes in the next.
  std::vector<std::vector<std::size_t>> part_sizes(n);
  std::size_t arena_bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t parts = 1 + in.Byte() % 3;
    for (std::size_t p = 0; p < parts; ++p) {
      part_sizes[i].push_back(in.Short() % 8192);
      arena_bytes += part_sizes[i].back();
    }
  }
  std::vector<std::byte> arena(arena_bytes + 1, kUntouched);
  std::vector<std::vector<std::span<std::byte>>> parts(n);
  std::vector<Destination> destinations;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t s : part_sizes[i]) {
      parts[i].emplace_back(arena.data() + offset, s);
      offset += s;
    }
  }
  for (std::size_t i = 0; i < n; ++i) destinations.push_back({parts[i]});

  std::vector<Kind> kinds(n, Kind::kNil);
  std::vector<std::string> payloads(n);
  std::string wire;
  if (structured) {
    wire = "*" + std::to_string(n) + "\r\n";
    for (std::size_t i = 0; i < n; ++i) {
      kinds[i] = static_cast<Kind>(in.Byte() % static_cast<std::uint8_t>(Kind::kCount));
      std::string& payload = payloads[i];
      payload.resize(in.Short() % 9000);
      const std::uint8_t fill = in.Byte();
      for (std::size_t b = 0; b < payload.size(); ++b) {
        payload[b] = static_cast<char>(fill + b * 31);
      }
      switch (kinds[i]) {
        case Kind::kNil:
          wire += "$-1\r\n";
          break;
        case Kind::kGood:
          wire += Bulk(Stored(keys[i], payload));
          break;
        case Kind::kDamaged: {
          std::string stored = Stored(keys[i], payload);
          const std::size_t at = in.Short() % stored.size();
          stored[at] = static_cast<char>(stored[at] ^ (1 + in.Byte() % 255));
          wire += Bulk(stored);
          break;
        }
        case Kind::kWrongKey:
          wire += Bulk(Stored(BlockKey::FromHalves(1, 1), payload));
          break;
        case Kind::kShort:
          wire += Bulk(payload.substr(0, prefixcache::kValueTrailerBytes - 1));
          break;
        case Kind::kCount:
          break;
      }
    }
  } else {
    wire = in.Rest();
  }

  std::vector<KeyOutcome> outcomes(n);
  std::atomic<std::uint64_t> corrupt{0};
  ChunkReader reader(keys, chunk, owned ? std::span<const Destination>() : destinations, verify,
                     outcomes, corrupt);
  prefixcache::protocol::ReplyParser parser;
  parser.SetBulkSink(&reader);
  std::size_t at = 0;
  bool failed = false;
  while (!parser.HasReply() && at < wire.size() && !failed) {
    const std::size_t want = std::min(piece, wire.size() - at);
    std::size_t got = 0;
    for (const std::span<std::byte> span : parser.ReadBuffers()) {
      const std::size_t step = std::min(span.size(), want - got);
      std::memcpy(span.data(), wire.data() + at + got, step);
      got += step;
      if (got == want) break;
    }
    at += got;
    failed = !parser.Commit(got).ok();
  }
  bool completed = false;
  if (!failed && parser.HasReply()) {
    reader.Finish(parser.PopReply());
    completed = true;
  }
  if (structured) PC_CHECK(completed && "a well-formed reply did not complete");

  std::size_t base = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t room = 0;
    for (std::size_t s : part_sizes[i]) room += s;
    const KeyOutcome& outcome = outcomes[i];
    if (outcome.status == BlockStatus::kHit && !owned) {
      PC_CHECK(outcome.size <= room && "a hit larger than its destination");
      // Bytes past the payload are untouched.
      for (std::size_t b = base + outcome.size; b < base + room; ++b) {
        PC_CHECK(arena[b] == kUntouched && "written past a payload");
      }
    }
    if (structured && outcome.status == BlockStatus::kHit) {
      PC_CHECK(kinds[i] != Kind::kNil && kinds[i] != Kind::kShort);
      if (verify) PC_CHECK(kinds[i] == Kind::kGood && "a damaged value passed verification");
      if (kinds[i] == Kind::kGood) {
        PC_CHECK(outcome.size == payloads[i].size());
        std::string seen;
        if (owned) {
          seen = std::string(outcome.owned.view());
        } else {
          for (std::size_t b = 0; b < outcome.size; ++b) {
            seen.push_back(static_cast<char>(arena[base + b]));
          }
        }
        PC_CHECK(seen == payloads[i] && "a hit holds other bytes than its payload");
      }
    }
    if (structured && kinds[i] == Kind::kGood && (owned || payloads[i].size() <= room)) {
      PC_CHECK(outcome.status == BlockStatus::kHit && "a well-formed value that fits missed");
    }
    base += room;
  }
  PC_CHECK(arena.back() == kUntouched && "written past the last destination");
  return 0;
}
