#include "chunk_reader.h"

#define XXH_DISPATCH_DISABLE_REPLACE  // call the *_dispatch entry points by name
#include <xxh_x86dispatch.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>

#include "prefixcache/check.h"
#include "value_trailer.h"

namespace prefixcache::client {
namespace {

using Type = protocol::Reply::Type;

// Copies `from` into the first from.size() bytes of `to`'s parts, in order.
void CopyInto(const Destination& to, std::span<const std::byte> from) {
  for (const std::span<std::byte>& part : to.parts) {
    if (from.empty()) return;
    const std::size_t n = std::min(part.size(), from.size());
    if (n != 0) std::memcpy(part.data(), from.data(), n);
    from = from.subspan(n);
  }
}

}  // namespace

ChunkReader::ChunkReader(std::span<const BlockKey> keys, std::span<const std::size_t> chunk,
                         std::span<const Destination> destinations, bool verify,
                         std::span<KeyOutcome> outcomes, std::atomic<std::uint64_t>& corrupt)
    : keys_(keys),
      chunk_(chunk),
      destinations_(destinations),
      verify_(verify),
      outcomes_(outcomes),
      corrupt_(corrupt),
      completed_(chunk.size(), 0),
      hash_(XXH3_createState()) {
  PC_CHECK(hash_ != nullptr);
}

ChunkReader::~ChunkReader() { XXH3_freeState(hash_); }

std::span<const std::span<std::byte>> ChunkReader::Parts(std::size_t j, std::size_t size) {
  PC_CHECK(!current_.active);  // the parser asks for the next parts once the last ones are full
  if (j >= chunk_.size() || size < kValueTrailerBytes) return {};  // settled by Finish
  Current c;
  c.active = true;
  c.j = j;
  c.key = chunk_[j];
  c.size = size;
  c.payload = size - kValueTrailerBytes;
  parts_.clear();
  const std::span<std::byte> trailer(trailer_);
  try {
    if (destinations_.empty()) {
      c.own = MutableBuffer(c.payload);
      parts_.push_back(c.own.span());
    } else {
      const Destination& dest = destinations_[c.key];
      if (dest.size() < c.payload) {
        c.discard = true;
      } else {
        // The payload fills the destination's parts in order; the trailer lands here.
        std::size_t left = c.payload;
        for (const std::span<std::byte>& part : dest.parts) {
          if (left == 0) break;
          const std::size_t n = std::min(left, part.size());
          if (n != 0) parts_.push_back(part.first(n));
          left -= n;
        }
      }
    }
    if (!c.discard) parts_.push_back(trailer);
  } catch (const std::bad_alloc&) {
    return {};  // the parser's own allocation will fail the connection
  }
  if (verify_ && !c.discard) XXH3_64bits_reset_withSeed(hash_, ValueChecksumSeed(keys_[c.key]));
  current_ = std::move(c);
  if (current_.discard) return scratch_.Parts(size);
  return parts_;
}

void ChunkReader::Arrived(std::size_t filled) {
  if (!current_.active) return;
  if (verify_ && !current_.discard) Hash(filled);
  if (filled == current_.size) Complete();
}

void ChunkReader::Hash(std::size_t upto) {
  Current& c = current_;
  const std::size_t end = std::min(upto, c.payload);
  while (c.hashed < end) {
    const std::span<std::byte> part = parts_[c.hash_part];
    const std::size_t n = std::min(part.size() - c.hash_offset, end - c.hashed);
    XXH3_64bits_update_dispatch(hash_, part.data() + c.hash_offset, n);
    c.hashed += n;
    c.hash_offset += n;
    if (c.hash_offset == part.size()) {
      ++c.hash_part;
      c.hash_offset = 0;
    }
  }
}

void ChunkReader::Complete() {
  Current& c = current_;
  KeyOutcome& out = outcomes_[c.key];
  completed_[c.j] = 1;
  c.active = false;
  if (c.discard) {
    out = {BlockStatus::kTooSmall, c.payload, {}};
    return;
  }
  if (verify_) Hash(c.size);
  const std::optional<std::uint64_t> stored = TrailerChecksum(trailer_);
  if (!stored || (verify_ && *stored != XXH3_64bits_digest(hash_))) {
    corrupt_.fetch_add(1, std::memory_order_relaxed);
    out = {BlockStatus::kCorrupt, 0, {}};
    return;
  }
  out = {BlockStatus::kHit, c.payload, {}};
  if (destinations_.empty()) out.owned = std::move(c.own).Freeze();
}

void ChunkReader::Finish(const protocol::Reply& reply) {
  if (current_.active) Complete();
  if (reply.type != Type::kArray || reply.elements.size() != chunk_.size()) return;
  for (std::size_t j = 0; j < chunk_.size(); ++j) {
    if (completed_[j]) continue;
    completed_[j] = 1;
    const std::size_t i = chunk_[j];
    const protocol::Reply& e = reply.elements[j];
    KeyOutcome& out = outcomes_[i];
    if (e.type != Type::kBulk || e.in_sink) {
      out = {BlockStatus::kMiss, 0, {}};
      continue;
    }
    // Not offered to the sink (too short to carry a trailer) or not taken by it.
    const Buffer& value = e.bulk;
    if (value.size() < kValueTrailerBytes) {
      corrupt_.fetch_add(1, std::memory_order_relaxed);
      out = {BlockStatus::kCorrupt, 0, {}};
      continue;
    }
    const std::size_t payload = value.size() - kValueTrailerBytes;
    if (!destinations_.empty() && payload > destinations_[i].size()) {
      out = {BlockStatus::kTooSmall, payload, {}};
      continue;
    }
    if (!CheckValueTrailer(keys_[i], value.span().first(payload),
                           value.span().last<kValueTrailerBytes>(), verify_)) {
      corrupt_.fetch_add(1, std::memory_order_relaxed);
      out = {BlockStatus::kCorrupt, 0, {}};
      continue;
    }
    out = {BlockStatus::kHit, payload, {}};
    if (destinations_.empty()) {
      out.owned = value.Slice(0, payload);
    } else {
      CopyInto(destinations_[i], value.span().first(payload));
    }
  }
}

void ChunkReader::Attach(const std::shared_ptr<ChunkReader>& reader, Request& request,
                         std::function<void(const Status&, const protocol::Reply*)> then) {
  request.sink = reader;
  request.done = [reader, then = std::move(then)](const Status& status, protocol::Reply* reply) {
    if (status.ok()) reader->Finish(*reply);
    then(status, reply);
  };
}

}  // namespace prefixcache::client
