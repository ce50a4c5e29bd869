// ClientStats: a snapshot of a Client's counters since it was opened (Client::Stats()).
// A plain value; taking one is cheap and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prefixcache {

// Calls of one kind (Match, GetPrefix, Get/GetInto, Put, PutAsync) and the wall time they
// took (an asynchronous read: from its start until it finished).
struct OperationStats {
  std::uint64_t calls = 0;
  std::uint64_t total_us = 0;  // sum of call durations, microseconds
  std::uint64_t max_us = 0;    // longest single call, microseconds
};

// One member as this client sees it.
struct NodeStats {
  std::string id;
  std::string address;
  bool up = true;                        // false while the node is in backoff
  std::uint64_t requests = 0;            // sub-requests sent (one per batch per connection)
  std::uint64_t errors = 0;              // connect failures, dropped connections, timeouts
  std::uint64_t timeouts = 0;            // of which: a reply or connect took too long
  std::uint64_t error_replies = 0;       // RESP error replies (-ERR ...), node stays up
  std::uint64_t current_backoff_ms = 0;  // wait before the next retry while down
  bool ring_mismatch = false;            // its BLOCK.RING fingerprint differs from ours
};

struct ClientStats {
  // Keys asked for by GetPrefix/Get/GetInto that were handed to the caller, and those that
  // were not (for any reason: absent, node down, too small a destination, bad checksum;
  // for GetPrefix every key past the leading run).
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  // Of the misses: node down/failed/timed out, destination too small (for GetPrefix only
  // the key that ended the run is classified).
  std::uint64_t unavailable_misses = 0;
  std::uint64_t too_small_misses = 0;
  // Values received that failed their checksum or lacked the trailer (each copy read;
  // never handed to the caller; the read then tried the next replica, if any).
  std::uint64_t checksum_failures = 0;
  // Keys Match found cached (leading run) and asked for, summed over calls.
  std::uint64_t match_keys = 0;
  std::uint64_t match_hits = 0;
  // Payload bytes handed to the caller by gets; payload bytes acknowledged by puts
  // (counted once per replica written).
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  // Blocks acknowledged by at least one node, and blocks no node acknowledged.
  std::uint64_t blocks_stored = 0;
  std::uint64_t blocks_not_stored = 0;
  // PutAsync calls refused (queue full, mismatched spans, no memory for the copy); calls
  // waiting now.
  std::uint64_t async_puts_dropped = 0;
  std::uint64_t async_puts_pending = 0;
  // Nodes whose ring fingerprint (BLOCK.RING) differed from the client's when first
  // contacted (counted once per contact; NodeStats::ring_mismatch tells which).
  std::uint64_t ring_mismatches = 0;
  // Asynchronous reads cancelled by destroying their handle before they finished.
  std::uint64_t reads_cancelled = 0;
  // Dead-node routing (client.h): hits served by a key's stand-in, blocks a put sent to a
  // stand-in, and stand-in hits queued to be copied back to their returned replicas.
  std::uint64_t stand_in_hits = 0;
  std::uint64_t stand_in_writes = 0;
  std::uint64_t copied_back = 0;

  OperationStats match;
  OperationStats get_prefix;
  OperationStats get;
  OperationStats put;
  OperationStats put_async;  // time to enqueue, not to store

  std::vector<NodeStats> nodes;  // in ring order (sorted by id)
};

}  // namespace prefixcache
