// SpillRecord: what the spill tier stores beside each block in its "records" column family
// -- the value's XXH3-64 checksum, its size, its chain depth and the write sequence number
// that orders demotions and names the value's place on disk. Versioned: byte 0 is the
// record's version, so a later one (say, with an expiry and the key's name) can be added
// while records written before still read. Plain value; private to storage/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace prefixcache::storage {

struct SpillRecord {
  static constexpr std::uint8_t kVersion = 2;  // version 1 was the BlobDB layout's 28 bytes
  static constexpr std::size_t kEncodedBytes = 32;

  std::uint64_t checksum = 0;  // XXH3-64 of the value bytes, seed 0
  std::uint64_t size_bytes = 0;
  std::uint32_t depth = 0;
  std::uint64_t seq = 0;  // store-wide write order; higher is newer. Unique per write.

  // Version 2 layout, each field little-endian: version (1 byte), three zero bytes,
  // depth (4), size_bytes (8), checksum (8), seq (8).
  std::string Encode() const {
    std::string out(kEncodedBytes, '\0');
    out[0] = static_cast<char>(kVersion);
    std::size_t at = 4;
    Store(out, at, depth, 4);
    Store(out, at, size_bytes, 8);
    Store(out, at, checksum, 8);
    Store(out, at, seq, 8);
    return out;
  }

  // nullopt unless `raw` is a version 2 record: exactly kEncodedBytes long, version byte 2,
  // reserved bytes zero.
  static std::optional<SpillRecord> Decode(std::string_view raw) {
    if (raw.size() != kEncodedBytes || static_cast<std::uint8_t>(raw[0]) != kVersion ||
        raw[1] != 0 || raw[2] != 0 || raw[3] != 0) {
      return std::nullopt;
    }
    SpillRecord record;
    std::size_t at = 4;
    record.depth = static_cast<std::uint32_t>(Load(raw, at, 4));
    record.size_bytes = Load(raw, at, 8);
    record.checksum = Load(raw, at, 8);
    record.seq = Load(raw, at, 8);
    return record;
  }

  friend bool operator==(const SpillRecord&, const SpillRecord&) = default;

 private:
  static void Store(std::string& out, std::size_t& at, std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out[at++] = static_cast<char>(v >> (8 * i) & 0xff);
  }
  static std::uint64_t Load(std::string_view raw, std::size_t& at, int width) {
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(raw[at++])) << (8 * i);
    }
    return v;
  }
};

}  // namespace prefixcache::storage
