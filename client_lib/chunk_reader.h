// ChunkReader: receives the values of one BLOCK.MGET reply -- one request's chunk of keys --
// as the bytes arrive. Each value lands in its key's destination (GetInto), in a buffer of
// its own (Get), or in a reused scratch buffer from which the payload is copied out while
// still in cache (a destination with no room for the trailer); the checksum is computed on
// each socket read's bytes right after they arrive, so verifying costs no extra pass over
// memory. Finish() settles every key of the chunk. Not thread-safe: used on the strand of
// the connection carrying the request.
#pragma once

#include <xxhash.h>

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "prefixcache/client.h"
#include "protocol/resp_reply.h"
#include "request.h"

namespace prefixcache::client {

// What a read made of one key, for GetInto (status, size) and Get (owned).
struct KeyOutcome {
  BlockStatus status = BlockStatus::kMiss;
  std::size_t size = 0;  // payload bytes (hit) or needed (kTooSmall)
  Buffer owned;          // Get: the payload
};

class ChunkReader {
 public:
  // Reads keys[chunk[j]] for j = 0.. into destinations[chunk[j]] (GetInto), or into owned
  // buffers when `destinations` is empty (Get); writes outcomes[chunk[j]]. Every span must
  // outlive the reader's use.
  ChunkReader(std::span<const BlockKey> keys, std::span<const std::size_t> chunk,
              std::span<const std::span<std::byte>> destinations, bool verify,
              std::span<KeyOutcome> outcomes);
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  // The ReplyParser bulk sink: where element j's `size` stored bytes go.
  std::span<std::byte> Sink(std::size_t j, std::size_t size);
  // The socket just wrote `bytes` (anywhere: only bytes inside the current landing span
  // count).
  void OnRead(std::span<const std::byte> bytes);
  // The reply is complete: settles every key of the chunk.
  void Finish(const protocol::Reply& reply);

  // Wires Sink/OnRead/Finish into `request` (the reader is kept alive by it); `then` runs
  // after Finish or with the failure status.
  static void Attach(const std::shared_ptr<ChunkReader>& reader, Request& request,
                     std::function<void(const Status&)> then);

 private:
  // The value being received: element `j` of the reply, key index `key`.
  struct Current {
    bool active = false;
    std::size_t j = 0;
    std::size_t key = 0;
    std::size_t size = 0;          // stored bytes (payload + trailer)
    std::size_t payload = 0;       // size - trailer
    std::span<std::byte> landing;  // where the parser writes the `size` bytes
    std::span<std::byte> copy_to;  // payload destination when landing is scratch
    bool discard = false;          // too small a destination: only drained
    std::size_t processed = 0;     // landing bytes already hashed (and copied)
    MutableBuffer own;             // Get: the value's buffer
  };

  void Process(std::size_t upto);
  // Hashes/copies the rest of the current value, checks its trailer, records the outcome.
  void Complete();

  std::span<const BlockKey> keys_;
  std::span<const std::size_t> chunk_;
  std::span<const std::span<std::byte>> destinations_;
  const bool verify_;
  std::span<KeyOutcome> outcomes_;
  std::vector<std::uint8_t> completed_;  // per j: outcome decided by Complete()
  Current current_;
  MutableBuffer scratch_;
  XXH3_state_t* hash_ = nullptr;
};

}  // namespace prefixcache::client
