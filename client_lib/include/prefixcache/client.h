// Client: what an inference worker links to use the prefix cache -- Match (longest cached
// prefix), GetPrefix (fetch the leading cached run in one round trip), GetInto/Get (fetch
// blocks), Put/PutAsync (store blocks) and Erase against a cluster of prefixcached nodes,
// batched per node and sent to all nodes in parallel, with timeouts. Thread-safe: any
// number of threads may call any method at once.
//
// Failure policy: a node that refuses, times out or drops a connection never produces an
// error for the caller; its keys are misses for that call, the node is marked down and
// skipped, then retried with exponential backoff (ClientOptions::backoff_*). With
// replicas > 1 a read falls back to the key's next replica when a node fails, answers nil
// or sends a value that fails its checksum (a replica that restarted empty does not turn
// hits into misses). Only invalid arguments are errors, and no exception leaves a call.
//
// Dead-node routing: while no replica of a key is up, every call routes the key to its
// stand-in instead (cluster::Ring::StandIn: the first node past the replicas on the ring
// that is up) -- reads and writes alike, so workers refill what the dead node held. When a
// replica returns the key goes back to it; for ClientOptions::handoff_window_ms a miss there
// is asked of the stand-in too, and a block found there is copied back (in the background).
// Erase also removes the copy on the key's stand-in.
//
// Values are stored with a 12-byte trailer carrying an XXH3-64 checksum of the payload
// bound to the key: stored = payload || u64 LE checksum || "PCv1" (value_format.h has the
// exact layout and helpers). Every read is verified before the block is handed over; a
// mismatch, or a value without the trailer, is a miss (BlockStatus::kCorrupt) and counted
// in ClientStats::checksum_failures. A key is a hit only when its destination holds
// exactly the verified payload, and a destination of a key already reported as a hit is
// never written again by the call (not by a retry either).
//
// Timeouts: every read takes a `timeout_ms` bound on the whole call (0: ClientOptions::
// timeout_ms). When it passes, keys not yet settled are kUnavailable. A node is marked down
// only when it has not answered within ClientOptions::timeout_ms; a shorter per-call bound
// gives up on the node's answer for that call alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "prefixcache/client_options.h"
#include "prefixcache/client_stats.h"
#include "prefixcache/destination.h"
#include "prefixcache/pending_read.h"
#include "prefixcache/status.h"

namespace prefixcache {

namespace client {
class ClientImpl;
struct ClientInternals;
}  // namespace client

// What a read made of one key.
enum class BlockStatus : std::uint8_t {
  kHit,          // the destination holds exactly the verified payload (or the returned Buffer)
  kMiss,         // no node holds the key (GetPrefix: or it lies past its node's first miss)
  kUnavailable,  // the key's nodes were down, failed or timed out during the call
  kTooSmall,     // the destination is smaller than the payload (nothing usable written)
  kCorrupt,      // the value failed its checksum or has no trailer (on every replica read)
};
std::string_view BlockStatusName(BlockStatus status);

// The outcome of one key of a read.
struct BlockRead {
  BlockStatus status = BlockStatus::kMiss;
  // kHit: payload bytes written to the destination. kTooSmall: payload bytes needed.
  std::size_t size = 0;
};

// The outcome of a Put.
struct PutResult {
  std::size_t stored = 0;      // blocks acknowledged by at least one of their nodes
  std::size_t not_stored = 0;  // blocks no node acknowledged (down, timed out, refused)
};

// The outcome of an Erase.
struct EraseResult {
  std::size_t removed = 0;      // stored copies removed, counted over every node asked
  std::size_t unreachable = 0;  // keys with a node to ask (a replica, the stand-in) that
                                // was down or did not answer: copies may remain there
};

class Client {
 public:
  // Connects lazily: Open builds the ring and the I/O threads; nodes are contacted on the
  // first call that needs them, so Open succeeds while nodes are down. On first contact
  // with a node its ring fingerprint (BLOCK.RING) is compared with the client's; a
  // mismatch is logged to stderr and counted (ClientStats::ring_mismatches) -- keys then
  // go to nodes that may not hold them. InvalidArgument when the options are unusable (no
  // nodes, a bad address, a duplicate id, replicas out of range, zero connections or
  // timeouts).
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options);

  // Closes every connection. Calls in flight on other threads must have returned, and
  // every PendingRead must have been destroyed. Queued PutAsync writes that have not been
  // sent are dropped.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The number of leading keys that are cached: keys[0 .. result) all exist, keys[result]
  // does not (or no replica of it answered). One BLOCK.EXISTS per node involved, all
  // nodes at once; with replicas > 1 the keys from the first missing one on are asked
  // again of their next replica. Node failures count as missing; 0 for empty `keys`.
  // Existence only: a value that fails its checksum is found out by the reads. `keys` is
  // borrowed for the call only.
  std::size_t Match(std::span<const BlockKey> keys, std::uint32_t timeout_ms = 0);

  // Fetches the leading cached run of `keys` into `destinations` in one round trip: every
  // node gets its share of the keys at once (BLOCK.MGETPREFIX, split over its connections)
  // and answers with its values in order up to its own first miss, so nothing past a
  // node's first miss is read or sent. Returns the run's length h: keys[0 .. h) are hits,
  // their destinations hold exactly their verified payloads. With replicas > 1 the only
  // second round asks the next replicas for keys[h ..) when keys[h] was not a hit (and a
  // third with replicas > 2, and so on). reads[i] says what was found for keys[i];
  // reads[h] why the run ended. Destinations past the run, and whether past-run keys were
  // fetched, are unspecified. InvalidArgument when the three spans differ in length.
  // Payloads are scattered straight from the socket into each destination's parts and
  // checksummed as they arrive. All spans are borrowed until the call returns.
  // `destinations`: Destination views or one span per key (destination.h).
  Result<std::size_t> GetPrefix(std::span<const BlockKey> keys, Destinations destinations,
                                std::span<BlockRead> reads, std::uint32_t timeout_ms = 0);

  // Reads the payload of keys[i] into destinations[i] and reports per key in reads[i].
  // Returns the number of hits; InvalidArgument when the three spans differ in length. A
  // destination smaller than the payload makes that key kTooSmall (never an overflow).
  // Payloads land in the destinations' parts straight from the socket (the trailer in the
  // client's own memory), so a destination of exactly the payload's size costs no copy;
  // the checksum is computed as the bytes arrive. Contents of a destination whose key is
  // not a hit are unspecified. Requests to different nodes run in parallel and a node's
  // share is split over its connections; the call blocks until every node answered or
  // timeout_ms passed. All spans are borrowed until the call returns.
  Result<std::size_t> GetInto(std::span<const BlockKey> keys, Destinations destinations,
                              std::span<BlockRead> reads, std::uint32_t timeout_ms = 0);

  // GetPrefix and GetInto that return at once: the read runs on the client's threads and
  // the handle tells when it is done (pending_read.h). `keys`, `destinations` (with the
  // parts they name) and `reads` are borrowed until Wait() returned true or the handle is
  // destroyed; reads[] is written when the read finishes. Invalid arguments give a handle
  // that is ready at once with InvalidArgument. nullptr only when no memory was left for
  // the handle itself.
  std::unique_ptr<PendingRead> GetPrefixAsync(std::span<const BlockKey> keys,
                                              Destinations destinations, std::span<BlockRead> reads,
                                              std::uint32_t timeout_ms = 0);
  std::unique_ptr<PendingRead> GetIntoAsync(std::span<const BlockKey> keys,
                                            Destinations destinations, std::span<BlockRead> reads,
                                            std::uint32_t timeout_ms = 0);

  // The payload of each key as an owned buffer, nullopt for anything but a hit (the reason
  // is counted in Stats()). Same parallelism and fallback as GetInto; node failures and a
  // lack of memory are misses. `keys` is borrowed for the call only.
  std::vector<std::optional<Buffer>> Get(std::span<const BlockKey> keys,
                                         std::uint32_t timeout_ms = 0);

  // Stores values[i] under keys[i] with chain position depths[i] (the block's index in its
  // prefix; eviction prefers deeper blocks), on every replica of each key that is not
  // marked down, one BLOCK.MSET per node connection, all nodes at once. Values are sent
  // from the caller's memory without a copy (a Source's parts gathered by one vectored
  // write); all spans are borrowed until the call returns. InvalidArgument when the spans
  // differ in length; node failures only show in the result. Waits at most
  // ClientOptions::timeout_ms.
  Result<PutResult> Put(std::span<const BlockKey> keys, std::span<const Source> values,
                        std::span<const std::uint32_t> depths);
  // The same with one span per value.
  Result<PutResult> Put(std::span<const BlockKey> keys,
                        std::span<const std::span<const std::byte>> values,
                        std::span<const std::uint32_t> depths);

  // Fire-and-forget Put: copies the values (the caller may reuse its memory at once),
  // queues the writes and returns without waiting for the network (checksums and framing
  // run on the client's threads). Returns false, and counts a drop, when the queue
  // (ClientOptions::async_put_max_*) is full -- then nothing is copied --, the spans differ
  // in length, or there is no memory for the copy.
  bool PutAsync(std::span<const BlockKey> keys, std::span<const Source> values,
                std::span<const std::uint32_t> depths);
  bool PutAsync(std::span<const BlockKey> keys, std::span<const std::span<const std::byte>> values,
                std::span<const std::uint32_t> depths);
  // Same without copying: the client holds the Buffers until they are written.
  bool PutAsync(std::span<const BlockKey> keys, std::vector<Buffer> values,
                std::span<const std::uint32_t> depths);

  // Waits until every queued PutAsync write has been answered or failed, or `timeout_ms`
  // passed. True when the queue is empty.
  bool FlushAsync(std::uint32_t timeout_ms);

  // Removes the blocks under `keys` from every replica that is not marked down and from
  // each key's current stand-in, which may hold a copy written while its replicas were down
  // (one DEL per node, all nodes at once; waits at most ClientOptions::timeout_ms). A copy
  // on a replica that is down now, or on a node that stood in during an earlier outage but
  // is not the stand-in now, is not reached (counted in `unreachable` for the former). Keys
  // that are not stored are no error. `keys` is borrowed for the call only.
  EraseResult Erase(std::span<const BlockKey> keys);

  // Replaces the membership: builds a new ring and swaps it in atomically. Calls already
  // running finish on the old ring; connections to nodes that stay (same id and address)
  // are kept, and every node's ring is compared again on the next request sent to it. On
  // invalid nodes returns InvalidArgument and keeps the current ring.
  Status UpdateNodes(const std::vector<NodeAddress>& nodes);

  ClientStats Stats() const;

 private:
  friend struct client::ClientInternals;  // admin.h and this repository's benchmarks
  explicit Client(std::unique_ptr<client::ClientImpl> impl);
  std::unique_ptr<client::ClientImpl> impl_;
};

}  // namespace prefixcache
