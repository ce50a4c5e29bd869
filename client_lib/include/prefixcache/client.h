// Client: what an inference worker links to use the prefix cache -- Match (longest cached
// prefix), Get/GetInto (fetch blocks), Put/PutAsync (store blocks) against a cluster of
// prefixcached nodes, batched per node and sent to all nodes in parallel, with timeouts.
// Thread-safe: any number of threads may call any method at once.
//
// Failure policy: a node that refuses, times out or drops a connection never produces an
// error for the caller; its keys are misses for that call (reads fall back to the next
// replica when replicas > 1), the node is marked down and skipped, then retried with
// exponential backoff (ClientOptions::backoff_*). Only invalid arguments are errors.
//
// Values are stored with a 12-byte trailer carrying an XXH3-64 checksum of the payload
// bound to the key: stored = payload || u64 LE checksum || "PCv1" (value_format.h has the
// exact layout and helpers). Every read is verified before the block is handed over; a
// mismatch, or a value without the trailer, is a miss (BlockStatus::kCorrupt) and counted
// in ClientStats::checksum_failures.
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
#include "prefixcache/status.h"

namespace prefixcache::client {

// What a read made of one key.
enum class BlockStatus : std::uint8_t {
  kHit,          // the payload is in the destination (or the returned Buffer)
  kMiss,         // no node holds the key
  kUnavailable,  // the key's nodes were down, failed or timed out during the call
  kTooSmall,     // the destination is smaller than the payload (nothing usable written)
  kCorrupt,      // the value failed its checksum or has no trailer
};
std::string_view BlockStatusName(BlockStatus status);

// The outcome of one key of GetInto.
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

class Client {
 public:
  // Connects lazily: Open builds the ring and the I/O threads; nodes are contacted on the
  // first call that needs them, so Open succeeds while nodes are down. InvalidArgument when
  // the options are unusable (no nodes, a bad address, a duplicate id, replicas out of
  // range, zero connections or timeouts).
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options);

  // Closes every connection; calls in flight on other threads must have returned. Queued
  // PutAsync writes that have not been sent are dropped.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The number of leading keys that are cached: keys[0 .. result) all exist, keys[result]
  // does not (or its node is down). One BLOCK.EXISTS per node involved, all nodes at once.
  // Never an error for node failures (their keys count as missing); 0 for empty `keys`.
  // Existence only: a value that fails its checksum is found out by Get/GetInto. `keys` is
  // borrowed for the call only.
  Result<std::size_t> Match(std::span<const BlockKey> keys);

  // Reads the payload of keys[i] straight into destinations[i] and reports per key in
  // reads[i]. Returns the number of hits; InvalidArgument when the three spans differ in
  // length. A destination that is too small makes that key kTooSmall (never an overflow).
  // A destination with room for payload + kValueTrailerBytes receives the value straight
  // from the socket, no copy (its bytes past the payload are scratch); a smaller one that
  // still holds the payload is filled from a reused scratch buffer, copied while the bytes
  // are in cache. The checksum is computed as the bytes arrive. Contents of a destination
  // whose key is not a hit are unspecified. Requests to different nodes run in parallel and
  // a node's share is split over its connections; the call blocks until every node answered
  // or timeout_ms passed. All spans are borrowed until the call returns.
  Result<std::size_t> GetInto(std::span<const BlockKey> keys,
                              std::span<const std::span<std::byte>> destinations,
                              std::span<BlockRead> reads);

  // The payload of each key as an owned buffer, nullopt for anything but a hit (the reason
  // is counted in Stats()). Same parallelism as GetInto; never an error for node failures.
  Result<std::vector<std::optional<Buffer>>> Get(std::span<const BlockKey> keys);

  // Stores values[i] under keys[i] with chain position depths[i] (the block's index in its
  // prefix; eviction prefers deeper blocks), on every replica of each key that is not
  // marked down, one BLOCK.MSET per node connection, all nodes at once. Values are sent from the
  // caller's memory without a copy; all spans are borrowed until the call returns. InvalidArgument
  // when the spans differ in length; node failures only show in the result.
  Result<PutResult> Put(std::span<const BlockKey> keys,
                        std::span<const std::span<const std::byte>> values,
                        std::span<const std::uint32_t> depths);

  // Fire-and-forget Put: copies the values (the caller may reuse its memory at once),
  // queues the writes and returns without waiting for the network (checksums and framing
  // run on the client's threads). Returns false, and counts a drop, when the queue
  // (ClientOptions::async_put_max_*) is full -- then nothing is copied -- or the spans
  // differ in length.
  bool PutAsync(std::span<const BlockKey> keys, std::span<const std::span<const std::byte>> values,
                std::span<const std::uint32_t> depths);
  // Same without copying: the client holds the Buffers until they are written.
  bool PutAsync(std::span<const BlockKey> keys, std::vector<Buffer> values,
                std::span<const std::uint32_t> depths);

  // Waits until every queued PutAsync write has been answered or failed, or `timeout_ms`
  // passed. True when the queue is empty.
  bool FlushAsync(std::uint32_t timeout_ms);

  // Replaces the membership: builds a new ring and swaps it in atomically. Calls already
  // running finish on the old ring; connections to nodes that stay (same id and address)
  // are kept. On invalid nodes returns InvalidArgument and keeps the current ring.
  Status UpdateNodes(const std::vector<NodeAddress>& nodes);

  // The current ring as cluster::Ring::ToJson() prints it, and its fingerprint.
  std::string RingJson() const;
  std::uint64_t RingFingerprint() const;
  // The current members, sorted by id.
  std::vector<NodeAddress> Nodes() const;
  // Ids of the nodes that hold `key` on the current ring, owner first (replicas of them).
  std::vector<std::string> NodesFor(const BlockKey& key) const;

  // For tools: sends one command to the node named `node_id` (bypassing down-marking) and
  // renders the reply: a bulk string's raw bytes, a status line's text, an integer in
  // decimal, an array as redis-cli prints it. Returns NotFound for a nil reply or an
  // unknown node, Rejected with the server's message for an error reply, and Unavailable /
  // Timeout when the node cannot be reached in time.
  Result<std::string> Command(std::string_view node_id, std::span<const std::string_view> args);

  ClientStats Stats() const;

  class Impl;

 private:
  friend struct ClientInternals;  // hooks for this repository's benchmarks (not installed)
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace prefixcache::client
