// ReadCall: one read in flight -- Match (BLOCK.EXISTS), GetPrefix (BLOCK.MGETPREFIX),
// GetInto/Get (BLOCK.MGET) -- driven in rounds by its own completions on the client's
// threads, so a caller may block on it (the blocking calls) or poll it (PendingRead).
// Round 1 sends every node its share of the keys at once, split over its connections;
// later rounds send keys that are not settled to their next node -- the next replica, then
// the key's stand-in while a copy may be there (dead-node routing, client.h): for GetInto/Get
// every key whose node failed, answered nil or sent a corrupt value; for Match and
// GetPrefix the keys from the first one missing from the leading run on. A key is settled
// once its value fully arrived (hit, corrupt, too small) or its node answered, so a reply
// cut short retries only the keys after the cut, and no destination of a key already a hit
// is written again. Thread-safe (one mutex; outcomes are written by the strand of the one
// request that carries each key, before that request reports under the mutex).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "chunk_reader.h"
#include "client_impl.h"
#include "connection.h"
#include "prefixcache/client.h"

namespace prefixcache::client {

class ReadCall : public std::enable_shared_from_this<ReadCall> {
 public:
  enum class Kind : std::uint8_t {
    kExists,  // Match
    kPrefix,  // GetPrefix
    kGet,     // GetInto, or Get when there are no destinations
  };

  // A read of `keys` on `topology` into `destinations` (empty: owned buffers for kGet,
  // nothing for kExists), reporting into `reads` when it finishes (may be empty). Every
  // span is borrowed until the call finished; `impl` must outlive the call. Destinations
  // of one span each are kept as Destination views the call owns.
  ReadCall(ClientImpl& impl, Kind kind, std::shared_ptr<const Topology> topology,
           std::span<const BlockKey> keys, Destinations destinations, std::span<BlockRead> reads,
           std::uint32_t timeout_ms);
  // A call finished at once with `status` (bad arguments).
  explicit ReadCall(Status status);

  ReadCall(const ReadCall&) = delete;
  ReadCall& operator=(const ReadCall&) = delete;

  // Sends the first round (or finishes at once when nothing can be sent). Call once.
  void Start();
  // Gives up on the requests in flight and waits until the call finished.
  void Cancel();

  bool Ready() const;
  // Waits until the call finished, or at most `timeout` when given; returns Ready().
  bool Wait(std::chrono::milliseconds timeout);
  void Wait();

  // REQUIRES: Ready() (CHECKed).
  const Result<std::size_t>& result() const;
  // Each key's outcome (Get takes the owned buffers). REQUIRES: Ready().
  std::vector<KeyOutcome>& outcomes();

 private:
  // (Under mu_.) Sends `todo`'s keys to their next replicas, or finishes.
  void StartRoundLocked(const std::vector<std::size_t>& todo);
  // (Under mu_.) The round's requests and their connections, in in_flight_; may throw
  // std::bad_alloc before anything is sent.
  void PlanRoundLocked(const std::vector<std::size_t>& todo);
  RequestPtr MakeRequest(std::span<const std::size_t> chunk);
  // A request carrying `chunk` finished; `answered(j)` tells which of its keys were
  // settled (their outcomes are written).
  template <typename Answered>
  void OnRequestDone(std::span<const std::size_t> chunk, Answered&& answered);
  void OnRoundDoneLocked();
  // The length of the leading run of hits.
  std::size_t LeadingHitsLocked() const;
  void FinishLocked();
  // (Under mu_.) Counts the hits among keys [0, upto) that a stand-in served and copies
  // those whose replicas are up again back to them (ClientImpl::CopyBack).
  void CopyBackLocked(std::size_t upto);

  ClientImpl* impl_ = nullptr;
  const Kind kind_ = Kind::kGet;
  const std::shared_ptr<const Topology> topology_;
  const std::span<const BlockKey> keys_;
  std::vector<Destination> own_destinations_;
  std::span<const Destination> destinations_;
  const std::span<BlockRead> reads_;
  const Clock::time_point start_;
  Clock::time_point deadline_;
  bool deadline_fails_node_ = true;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<KeyOutcome> outcomes_;
  std::vector<std::uint16_t> tried_;  // nodes tried per key: replicas in ring order, then stand-in
  std::vector<std::uint8_t> failed_;  // the key's last attempt got no answer (or none yet)
  std::vector<std::uint8_t> via_stand_in_;  // the key's last attempt went to its stand-in
  std::vector<std::uint8_t> assigned_;      // scratch of StartRoundLocked
  std::unique_ptr<Admission> admission_;
  // The current round: its key chunks (the requests' spans point into them) and requests.
  std::vector<std::vector<std::size_t>> round_keys_;
  std::vector<std::pair<Connection*, RequestPtr>> in_flight_;
  std::size_t pending_ = 0;
  std::size_t rounds_ = 0;
  bool cancelled_ = false;
  bool finished_ = false;
  Result<std::size_t> result_ = Status::Unavailable("the read has not finished");
};

}  // namespace prefixcache::client
