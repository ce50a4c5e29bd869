#include "chunk_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>

#include "prefixcache/value_format.h"
#include "value_trailer.h"

namespace prefixcache::client {
namespace {

using Type = protocol::Reply::Type;

bool Inside(std::span<const std::byte> inner, std::span<const std::byte> outer) {
  const auto b = reinterpret_cast<std::uintptr_t>(outer.data());
  const auto e = b + outer.size();
  const auto ib = reinterpret_cast<std::uintptr_t>(inner.data());
  return ib >= b && ib + inner.size() <= e;
}

}  // namespace

ChunkReader::ChunkReader(std::span<const BlockKey> keys, std::span<const std::size_t> chunk,
                         std::span<const std::span<std::byte>> destinations, bool verify,
                         std::span<KeyOutcome> outcomes)
    : keys_(keys),
      chunk_(chunk),
      destinations_(destinations),
      verify_(verify),
      outcomes_(outcomes),
      completed_(chunk.size(), 0),
      hash_(XXH3_createState()) {
  PC_CHECK(hash_ != nullptr);
}

ChunkReader::~ChunkReader() { XXH3_freeState(hash_); }

std::span<std::byte> ChunkReader::Sink(std::size_t j, std::size_t size) {
  if (current_.active) Complete();
  if (j >= chunk_.size() || size < kValueTrailerBytes) return {};  // settled by Finish
  Current c;
  c.active = true;
  c.j = j;
  c.key = chunk_[j];
  c.size = size;
  c.payload = size - kValueTrailerBytes;
  try {
    auto scratch = [&]() {
      if (scratch_.size() < size) scratch_ = MutableBuffer(size);
      return scratch_.span().first(size);
    };
    if (destinations_.empty()) {
      c.own = MutableBuffer(size);
      c.landing = c.own.span();
    } else {
      const std::span<std::byte> dest = destinations_[c.key];
      if (c.payload > dest.size()) {
        c.discard = true;
        c.landing = scratch();
      } else if (size <= dest.size()) {
        c.landing = dest.first(size);  // the whole value, trailer included, in place
      } else {
        c.landing = scratch();
        c.copy_to = dest.first(c.payload);
      }
    }
  } catch (const std::bad_alloc&) {
    return {};  // the parser's own allocation will fail the connection
  }
  if (verify_ && !c.discard) {
    XXH3_64bits_reset_withSeed(hash_, ValueChecksumSeed(keys_[c.key]));
  }
  current_ = std::move(c);
  return current_.landing;
}

void ChunkReader::OnRead(std::span<const std::byte> bytes) {
  if (!current_.active || bytes.empty() || !Inside(bytes, current_.landing)) return;
  Process(static_cast<std::size_t>(bytes.data() + bytes.size() - current_.landing.data()));
}

void ChunkReader::Process(std::size_t upto) {
  Current& c = current_;
  upto = std::min(upto, c.size);
  if (upto <= c.processed) return;
  const std::size_t payload_end = std::min(upto, c.payload);
  if (!c.discard && payload_end > c.processed) {
    const std::byte* from = c.landing.data() + c.processed;
    const std::size_t n = payload_end - c.processed;
    if (verify_) XXH3_64bits_update(hash_, from, n);
    if (!c.copy_to.empty()) std::memcpy(c.copy_to.data() + c.processed, from, n);
  }
  c.processed = upto;
}

void ChunkReader::Complete() {
  Process(current_.size);
  Current& c = current_;
  KeyOutcome& out = outcomes_[c.key];
  completed_[c.j] = 1;
  c.active = false;
  if (c.discard) {
    out = {BlockStatus::kTooSmall, c.payload, {}};
    return;
  }
  const std::optional<std::uint64_t> stored =
      TrailerChecksum(std::span<const std::byte, kValueTrailerBytes>(c.landing.data() + c.payload,
                                                                     kValueTrailerBytes));
  if (!stored || (verify_ && *stored != XXH3_64bits_digest(hash_))) {
    out = {BlockStatus::kCorrupt, 0, {}};
    return;
  }
  out = {BlockStatus::kHit, c.payload, {}};
  if (c.own.size() > 0) out.owned = std::move(c.own).Freeze().Slice(0, c.payload);
}

void ChunkReader::Finish(const protocol::Reply& reply) {
  if (current_.active) Complete();
  if (reply.type != Type::kArray || reply.elements.size() != chunk_.size()) return;
  for (std::size_t j = 0; j < chunk_.size(); ++j) {
    if (completed_[j]) continue;
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
      out = {BlockStatus::kCorrupt, 0, {}};
      continue;
    }
    out = {BlockStatus::kHit, payload, {}};
    if (destinations_.empty()) {
      out.owned = value.Slice(0, payload);
    } else if (payload > 0) {
      std::memcpy(destinations_[i].data(), value.data(), payload);
    }
  }
}

void ChunkReader::Attach(const std::shared_ptr<ChunkReader>& reader, Request& request,
                         std::function<void(const Status&)> then) {
  request.sink = [reader](std::size_t j, std::size_t size) { return reader->Sink(j, size); };
  request.on_read = [reader](std::span<const std::byte> bytes) { reader->OnRead(bytes); };
  request.done = [reader, then = std::move(then)](const Status& status, protocol::Reply* reply) {
    if (status.ok()) reader->Finish(*reply);
    then(status);
  };
}

}  // namespace prefixcache::client
