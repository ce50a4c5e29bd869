// ChunkReader: receives the values of one BLOCK.MGET / BLOCK.MGETPREFIX reply -- one
// request's chunk of keys -- as the bytes arrive. Each payload is scattered into its key's
// destination parts (GetInto, GetPrefix) or a buffer of its own (Get), and its 12-byte
// trailer into the reader's own memory, so a destination of exactly the payload's size is
// filled without a copy; the checksum is computed on each part's new bytes right after
// they arrive, so verifying costs no extra pass over memory. A value decided from bytes
// that fully arrived is settled at once, so a reply cut short leaves the values before the
// cut settled. Not thread-safe: used on the strand of the connection carrying the request.
#pragma once

#include <xxhash.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "prefixcache/client.h"
#include "prefixcache/destination.h"
#include "prefixcache/value_format.h"
#include "protocol/resp_reply.h"
#include "request.h"
#include "scratch_parts.h"

namespace prefixcache::client {

// What a read made of one key, for GetInto/GetPrefix (status, size) and Get (owned).
struct KeyOutcome {
  BlockStatus status = BlockStatus::kMiss;
  std::size_t size = 0;  // payload bytes (hit) or needed (kTooSmall)
  Buffer owned;          // Get: the payload
};

class ChunkReader final : public protocol::BulkSink {
 public:
  // Reads keys[chunk[j]] for j = 0.. into destinations[chunk[j]] (GetInto, GetPrefix), or
  // into owned buffers when `destinations` is empty (Get); writes outcomes[chunk[j]] and
  // counts each value that fails its checksum in `corrupt`. Every span and `corrupt` must
  // outlive the reader's use (until its request's `done` ran).
  ChunkReader(std::span<const BlockKey> keys, std::span<const std::size_t> chunk,
              std::span<const Destination> destinations, bool verify,
              std::span<KeyOutcome> outcomes, std::atomic<std::uint64_t>& corrupt);
  ~ChunkReader() override;
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  // protocol::BulkSink: where element j's `size` stored bytes go, and that the first
  // `filled` of them arrived.
  std::span<const std::span<std::byte>> Parts(std::size_t j, std::size_t size) override;
  void Arrived(std::size_t filled) override;

  // The reply is complete: settles every key of the chunk (nil is kMiss).
  void Finish(const protocol::Reply& reply);

  // Whether element j was settled from a value that fully arrived.
  bool settled(std::size_t j) const { return completed_[j] != 0; }

  // Wires the reader into `request` (which keeps it alive): `then` runs on the strand
  // after Finish, or with the failure status and no reply.
  static void Attach(const std::shared_ptr<ChunkReader>& reader, Request& request,
                     std::function<void(const Status&, const protocol::Reply*)> then);

 private:
  // The value being received: element `j` of the reply, key index `key`.
  struct Current {
    bool active = false;
    std::size_t j = 0;
    std::size_t key = 0;
    std::size_t size = 0;       // stored bytes (payload + trailer)
    std::size_t payload = 0;    // size - trailer
    bool discard = false;       // too small a destination: only drained
    std::size_t hashed = 0;     // payload bytes hashed so far
    std::size_t hash_part = 0;  // the part holding payload byte `hashed`
    std::size_t hash_offset = 0;
    MutableBuffer own;  // Get: the payload's buffer
  };

  // Hashes the payload bytes among the first `upto` stored bytes not hashed yet.
  void Hash(std::size_t upto);
  // Checks the trailer of the fully arrived current value and records its outcome.
  void Complete();

  std::span<const BlockKey> keys_;
  std::span<const std::size_t> chunk_;
  std::span<const Destination> destinations_;
  const bool verify_;
  std::span<KeyOutcome> outcomes_;
  std::atomic<std::uint64_t>& corrupt_;
  std::vector<std::uint8_t> completed_;  // per j: outcome decided by Complete()
  Current current_;
  // The parts handed to the parser for the current value: payload parts, then trailer_.
  std::vector<std::span<std::byte>> parts_;
  ValueTrailer trailer_{};
  ScratchParts scratch_;
  XXH3_state_t* hash_ = nullptr;
};

}  // namespace prefixcache::client
