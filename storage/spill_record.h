// SpillRecord: what the spill tier stores beside each block in its "records" column family
// -- the value's XXH3-64 checksum, its size, its chain depth, the write sequence number
// that orders demotions and names the segment holding the value, the value's place in that
// segment's file, and the block's KeyMeta (expiry and name). Versioned: byte 0 is the
// record's version. A block without KeyMeta is written as version 4, 40 bytes; one with it
// as version 5 (version 4 followed by the expiry and the name). Versions 2 and 3 (spill
// format 2, before the place was recorded) do not decode: a folder of that format is
// discarded whole when it is opened (spill_db.h). Plain value; private to storage/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "key_meta.h"

namespace prefixcache::storage {

struct SpillRecord {
  // Version 1 was the BlobDB layout's 28 bytes, 2 and 3 spill format 2's 32 (+ meta).
  static constexpr std::uint8_t kVersion = 4;
  static constexpr std::size_t kEncodedBytes = 40;
  static constexpr std::uint8_t kVersionWithMeta = 5;
  // The longest name a version 3 record holds; a longer one is not stored (see Encode).
  static constexpr std::size_t kMaxNameBytes = 64 * 1024;
  static constexpr std::uint32_t kNoName = 0xffffffff;

  SpillRecord() = default;
  SpillRecord(std::uint64_t checksum_in, std::uint64_t size_bytes_in, std::uint32_t depth_in,
              std::uint64_t seq_in, std::uint64_t offset_in = 0, KeyMetaRef meta_in = {})
      : checksum(checksum_in),
        size_bytes(size_bytes_in),
        depth(depth_in),
        seq(seq_in),
        offset(offset_in),
        meta(std::move(meta_in)) {}

  std::uint64_t checksum = 0;  // XXH3-64 of the value bytes, seed 0
  std::uint64_t size_bytes = 0;
  std::uint32_t depth = 0;
  std::uint64_t seq = 0;  // store-wide write order; higher is newer. Unique per write.
  // Where the value's first chunk starts in its segment's file (SpillDb::Append).
  std::uint64_t offset = 0;
  KeyMetaRef meta;  // null: no expiry, no name

  // Version 4 layout, each field little-endian: version (1 byte), three zero bytes,
  // depth (4), size_bytes (8), checksum (8), seq (8), offset (8). Version 5: the same with
  // version byte 5, then expire_at_ms (8, signed), the name's length (4; kNoName for none) and the
  // name's bytes. A name longer than kMaxNameBytes is left out (the key then reads back
  // unnamed).
  std::string Encode() const {
    std::string out(kEncodedBytes, '\0');
    out[0] = static_cast<char>(meta ? kVersionWithMeta : kVersion);
    std::size_t at = 4;
    Store(out, at, depth, 4);
    Store(out, at, size_bytes, 8);
    Store(out, at, checksum, 8);
    Store(out, at, seq, 8);
    Store(out, at, offset, 8);
    if (meta) {
      std::optional<std::string_view> name = meta.name();
      if (name && name->size() > kMaxNameBytes) name.reset();
      out.resize(kEncodedBytes + 12);
      Store(out, at, static_cast<std::uint64_t>(meta.expire_at_ms()), 8);
      Store(out, at, name ? name->size() : kNoName, 4);
      if (name) out.append(*name);
    }
    return out;
  }

  // nullopt unless `raw` is a version 4 record (exactly kEncodedBytes long) or a version 5
  // one (its name's length matching the bytes left), with the reserved bytes zero. May
  // throw std::bad_alloc (a version 3 record's meta).
  static std::optional<SpillRecord> Decode(std::string_view raw) {
    if (raw.size() < kEncodedBytes || raw[1] != 0 || raw[2] != 0 || raw[3] != 0) {
      return std::nullopt;
    }
    const auto version = static_cast<std::uint8_t>(raw[0]);
    if (version == kVersion ? raw.size() != kEncodedBytes
                            : version != kVersionWithMeta || raw.size() < kEncodedBytes + 12) {
      return std::nullopt;
    }
    SpillRecord record;
    std::size_t at = 4;
    record.depth = static_cast<std::uint32_t>(Load(raw, at, 4));
    record.size_bytes = Load(raw, at, 8);
    record.checksum = Load(raw, at, 8);
    record.seq = Load(raw, at, 8);
    record.offset = Load(raw, at, 8);
    if (version == kVersionWithMeta) {
      const auto expire_at_ms = static_cast<std::int64_t>(Load(raw, at, 8));
      const std::uint64_t name_bytes = Load(raw, at, 4);
      const bool named = name_bytes != kNoName;
      if (raw.size() - at != (named ? name_bytes : 0) || expire_at_ms < 0) return std::nullopt;
      record.meta = KeyMetaRef::Make(
          expire_at_ms, named ? std::optional<std::string_view>(raw.substr(at)) : std::nullopt);
    }
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
