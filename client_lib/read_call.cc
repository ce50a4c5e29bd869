#include "read_call.h"

#include <algorithm>
#include <new>

#include "prefixcache/check.h"

namespace prefixcache::client {
namespace {

using Type = protocol::Reply::Type;

// A keys command ("BLOCK.EXISTS k...", "BLOCK.MGET k...") for keys[i], i in `chunk`.
RequestPtr KeysCommand(std::string_view command, std::span<const BlockKey> keys,
                       std::span<const std::size_t> chunk) {
  auto request = std::make_shared<Request>();
  request->command.Begin(1 + chunk.size());
  request->command.Arg(command);
  for (std::size_t i : chunk) request->command.Arg(keys[i].View());
  return request;
}

// One sub-request destination of a round: a node and the indices of the keys it gets.
struct Assignment {
  std::size_t node;
  std::vector<std::size_t> keys;
};

// Groups keys[i] for i in `todo` (in order) by the first node of each key that `admission`
// admits and that was not yet tried for that key. A key's nodes, in order, are its replicas
// and then its stand-in, asked only while a copy may be there (Topology::MayBeHandedOff);
// tried[i] counts how many of them were tried, and via_stand_in[i] says whether the one
// chosen is the stand-in. Keys with no such node are left out.
std::vector<Assignment> AssignRound(const Topology& topology, std::span<const BlockKey> keys,
                                    std::span<const std::size_t> todo,
                                    std::vector<std::uint16_t>& tried,
                                    std::vector<std::uint8_t>& via_stand_in, Admission& admission,
                                    std::chrono::milliseconds handoff_window) {
  std::vector<Assignment> out;
  std::vector<int> slot(topology.nodes.size(), -1);
  const std::uint32_t replicas = topology.ring.replicas();
  const Clock::time_point now = Clock::now();
  std::vector<std::size_t> candidates;
  for (std::size_t i : todo) {
    std::size_t chosen = SIZE_MAX;
    via_stand_in[i] = 0;
    if (tried[i] < replicas) {
      if (replicas == 1) {
        candidates.assign(1, topology.ring.Owner(keys[i]));
      } else {
        candidates = topology.ring.Replicas(keys[i]);
      }
      while (tried[i] < replicas) {
        const std::size_t node = candidates[tried[i]++];
        if (admission.Admits(node)) {
          chosen = node;
          break;
        }
      }
    }
    if (chosen == SIZE_MAX && tried[i] == replicas) {
      tried[i] = static_cast<std::uint16_t>(replicas + 1);
      if (topology.MayBeHandedOff(keys[i], now, handoff_window)) {
        const std::optional<std::size_t> stand_in = topology.StandIn(keys[i]);
        if (stand_in && admission.Admits(*stand_in)) {
          chosen = *stand_in;
          via_stand_in[i] = 1;
        }
      }
    }
    if (chosen == SIZE_MAX) continue;
    if (slot[chosen] < 0) {
      slot[chosen] = static_cast<int>(out.size());
      out.push_back({chosen, {}});
    }
    out[static_cast<std::size_t>(slot[chosen])].keys.push_back(i);
  }
  return out;
}

}  // namespace

ReadCall::ReadCall(ClientImpl& impl, Kind kind, std::shared_ptr<const Topology> topology,
                   std::span<const BlockKey> keys, Destinations destinations,
                   std::span<BlockRead> reads, std::uint32_t timeout_ms)
    : impl_(&impl),
      kind_(kind),
      topology_(std::move(topology)),
      keys_(keys),
      destinations_(destinations.views()),
      reads_(reads),
      start_(Clock::now()),
      deadline_(impl.Deadline(start_, timeout_ms)),
      deadline_fails_node_(timeout_ms == 0 || timeout_ms >= impl.options().timeout_ms),
      outcomes_(keys.size()),
      tried_(keys.size(), 0),
      failed_(keys.size(), 1),
      via_stand_in_(keys.size(), 0),
      assigned_(keys.size(), 0),
      admission_(std::make_unique<Admission>(*topology_)) {
  if (destinations.single_spans()) {
    own_destinations_.reserve(destinations.size());
    for (const std::span<std::byte>& span : destinations.spans()) {
      own_destinations_.push_back(Destination{std::span(&span, 1)});
    }
    destinations_ = own_destinations_;
  }
}

ReadCall::ReadCall(Status status) : start_(Clock::now()), finished_(true), result_(status) {}

void ReadCall::Start() {
  std::lock_guard lock(mu_);
  std::vector<std::size_t> all(keys_.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  StartRoundLocked(all);
}

RequestPtr ReadCall::MakeRequest(std::span<const std::size_t> chunk) {
  if (kind_ == Kind::kExists) {
    RequestPtr request = KeysCommand("BLOCK.EXISTS", keys_, chunk);
    request->done = [self = shared_from_this(), chunk](const Status& status,
                                                       protocol::Reply* reply) {
      const bool answered =
          status.ok() && reply->type == Type::kArray && reply->elements.size() == chunk.size();
      if (answered) {
        for (std::size_t j = 0; j < chunk.size(); ++j) {
          const protocol::Reply& e = reply->elements[j];
          self->outcomes_[chunk[j]].status =
              e.type == Type::kInteger && e.integer == 1 ? BlockStatus::kHit : BlockStatus::kMiss;
        }
      }
      self->OnRequestDone(chunk, [answered](std::size_t) { return answered; });
    };
    return request;
  }
  const bool redis = impl_->redis_commands();
  const char* command = redis ? "MGET" : kind_ == Kind::kPrefix ? "BLOCK.MGETPREFIX" : "BLOCK.MGET";
  RequestPtr request = KeysCommand(command, keys_, chunk);
  auto reader =
      std::make_shared<ChunkReader>(keys_, chunk, destinations_, impl_->options().verify_checksums,
                                    outcomes_, impl_->counters().corrupt);
  ChunkReader::Attach(
      reader, *request,
      [self = shared_from_this(), chunk, r = reader.get()](const Status& status,
                                                           const protocol::Reply* reply) {
        // A whole array reply settled every key (Finish ran); otherwise only
        // the values that fully arrived before the failure.
        const bool whole =
            status.ok() && reply->type == Type::kArray && reply->elements.size() == chunk.size();
        self->OnRequestDone(chunk, [whole, r](std::size_t j) { return whole || r->settled(j); });
      });
  return request;
}

void ReadCall::StartRoundLocked(const std::vector<std::size_t>& todo) {
  if (cancelled_ || (rounds_ > 0 && Clock::now() >= deadline_)) return FinishLocked();
  try {
    PlanRoundLocked(todo);
  } catch (const std::bad_alloc&) {
    // Nothing of this round was sent: its keys stay unanswered.
    round_keys_.clear();
    in_flight_.clear();
  }
  pending_ = in_flight_.size();
  // Submitting only posts to the connections' strands: no completion runs in here, and a
  // completion waiting for mu_ sees pending_ as set here.
  for (std::size_t k = 0; k < in_flight_.size(); ++k) {
    try {
      in_flight_[k].first->Submit(in_flight_[k].second);
    } catch (const std::bad_alloc&) {
      pending_ -= in_flight_.size() - k;  // the rest was not sent
      in_flight_.resize(k);
      break;
    }
  }
  if (pending_ == 0) FinishLocked();
}

void ReadCall::PlanRoundLocked(const std::vector<std::size_t>& todo) {
  // Nodes that failed during the last round are not offered again in this call.
  if (rounds_ > 0) admission_->WithdrawFailed();
  ++rounds_;
  std::vector<Assignment> assignments = AssignRound(*topology_, keys_, todo, tried_, via_stand_in_,
                                                    *admission_, impl_->handoff_window());
  round_keys_.clear();
  in_flight_.clear();
  const std::size_t max_parts = kind_ == Kind::kExists ? 1 : impl_->options().connections_per_node;
  for (Assignment& a : assignments) {
    for (std::size_t i : a.keys) {
      outcomes_[i] = KeyOutcome{};
      failed_[i] = 1;
    }
    Node& node = *topology_->nodes[a.node];
    const std::size_t base = node.NextBase();
    const auto chunks = SplitKeys(a.keys, std::min(max_parts, node.connection_count()), {});
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      // The chunk's span must stay put while requests use it: a vector of its own.
      round_keys_.emplace_back(chunks[c].begin(), chunks[c].end());
      RequestPtr request = MakeRequest(round_keys_.back());
      request->deadline = deadline_;
      request->deadline_fails_node = deadline_fails_node_;
      in_flight_.emplace_back(&node.Pick(base + c), std::move(request));
    }
  }
}

template <typename Answered>
void ReadCall::OnRequestDone(std::span<const std::size_t> chunk, Answered&& answered) {
  std::lock_guard lock(mu_);
  for (std::size_t j = 0; j < chunk.size(); ++j) {
    if (answered(j)) failed_[chunk[j]] = 0;
  }
  if (--pending_ != 0) return;
  try {
    OnRoundDoneLocked();
  } catch (const std::bad_alloc&) {
    FinishLocked();  // no next round without memory: what was found stands
  }
}

std::size_t ReadCall::LeadingHitsLocked() const {
  std::size_t run = 0;
  while (run < keys_.size() && !failed_[run] && outcomes_[run].status == BlockStatus::kHit) ++run;
  return run;
}

void ReadCall::OnRoundDoneLocked() {
  in_flight_.clear();
  // Each key's replicas, then its stand-in (AssignRound decides whether it is asked).
  const std::uint32_t nodes_per_key = topology_->ring.replicas() + 1;
  std::vector<std::size_t> next;
  auto untried = [&](std::size_t i) { return tried_[i] < nodes_per_key; };
  if (kind_ == Kind::kGet) {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const BlockStatus s = outcomes_[i].status;
      const bool unsettled = failed_[i] || s == BlockStatus::kMiss || s == BlockStatus::kCorrupt;
      if (unsettled && untried(i)) next.push_back(i);
    }
  } else {
    // Only the key that ends the leading run can make the run longer: if another replica
    // may hold it, ask the next replicas for every key from it on that is not a hit.
    const std::size_t run = LeadingHitsLocked();
    if (run < keys_.size() && outcomes_[run].status != BlockStatus::kTooSmall && untried(run)) {
      for (std::size_t i = run; i < keys_.size(); ++i) {
        const BlockStatus s = outcomes_[i].status;
        if ((failed_[i] || (s != BlockStatus::kHit && s != BlockStatus::kTooSmall)) && untried(i)) {
          next.push_back(i);
        }
      }
    }
  }
  if (next.empty()) return FinishLocked();
  StartRoundLocked(next);
}

void ReadCall::FinishLocked() {
  if (finished_) return;
  in_flight_.clear();
  round_keys_.clear();
  const std::size_t n = keys_.size();
  // A key whose last attempt got no answer (or that no replica could be asked for).
  for (std::size_t i = 0; i < n; ++i) {
    if (failed_[i]) outcomes_[i] = KeyOutcome{BlockStatus::kUnavailable, 0, {}};
  }
  ClientImpl::Counters& counters = impl_->counters();
  auto add = [](std::atomic<std::uint64_t>& counter, std::uint64_t v) {
    counter.fetch_add(v, std::memory_order_relaxed);
  };
  // Classifies the outcomes of keys [0, upto) into the read counters.
  auto count = [&](std::size_t upto) {
    std::uint64_t hits = 0, bytes = 0, too_small = 0, down = 0;
    for (std::size_t i = 0; i < upto; ++i) {
      const KeyOutcome& o = outcomes_[i];
      hits += o.status == BlockStatus::kHit;
      bytes += o.status == BlockStatus::kHit ? o.size : 0;
      too_small += o.status == BlockStatus::kTooSmall;
      down += o.status == BlockStatus::kUnavailable;
    }
    add(counters.bytes_read, bytes);
    add(counters.too_small, too_small);
    add(counters.unavailable, down);
    return hits;
  };
  for (std::size_t i = 0; i < reads_.size() && i < n; ++i) {
    reads_[i] = {outcomes_[i].status, outcomes_[i].size};
  }
  switch (kind_) {
    case Kind::kExists: {
      const std::size_t run = LeadingHitsLocked();
      add(counters.match_keys, n);
      add(counters.match_hits, run);
      counters.match.Record(start_);
      result_ = run;
      break;
    }
    case Kind::kPrefix: {
      const std::size_t run = LeadingHitsLocked();
      count(std::min(n, run + 1));  // the run and the key that ended it
      add(counters.hits, run);
      add(counters.misses, n - run);
      counters.get_prefix.Record(start_);
      result_ = run;
      break;
    }
    case Kind::kGet: {
      const std::uint64_t hits = count(n);
      add(counters.hits, hits);
      add(counters.misses, n - hits);
      counters.get.Record(start_);
      result_ = static_cast<std::size_t>(hits);
      break;
    }
  }
  if (kind_ != Kind::kExists) {
    try {
      CopyBackLocked(kind_ == Kind::kPrefix ? LeadingHitsLocked() : n);
    } catch (const std::bad_alloc&) {
      // The copy back is an optimisation: without memory the blocks stay on the stand-in.
    }
  }
  finished_ = true;
  cv_.notify_all();
}

void ReadCall::CopyBackLocked(std::size_t upto) {
  std::vector<BlockKey> keys;
  std::vector<std::span<const std::byte>> spans;  // parts of every copied value, in order
  std::vector<std::size_t> ends;                  // spans of value j end at ends[j]
  std::vector<std::uint32_t> depths;
  std::uint64_t stand_in_hits = 0;
  for (std::size_t i = 0; i < upto; ++i) {
    if (!via_stand_in_[i] || outcomes_[i].status != BlockStatus::kHit) continue;
    ++stand_in_hits;
    if (topology_->ReplicasDown(keys_[i])) continue;  // its stand-in is still the place
    keys.push_back(keys_[i]);
    // The key's index in the call is its depth in the chain for a prompt read from its first
    // block, which is how GetPrefix is used.
    depths.push_back(static_cast<std::uint32_t>(i));
    if (destinations_.empty()) {
      spans.push_back(outcomes_[i].owned.span());
    } else {
      std::size_t left = outcomes_[i].size;  // the payload fills the parts in order
      for (const std::span<std::byte>& part : destinations_[i].parts) {
        if (left == 0) break;
        const std::size_t take = std::min(left, part.size());
        spans.emplace_back(part.data(), take);
        left -= take;
      }
    }
    ends.push_back(spans.size());
  }
  impl_->counters().stand_in_hits.fetch_add(stand_in_hits, std::memory_order_relaxed);
  if (keys.empty()) return;
  std::vector<Source> values;
  values.reserve(keys.size());
  for (std::size_t j = 0; j < keys.size(); ++j) {
    const std::size_t begin = j == 0 ? 0 : ends[j - 1];
    values.push_back(Source{std::span(spans).subspan(begin, ends[j] - begin)});
  }
  impl_->CopyBack(keys, values, depths);
}

void ReadCall::Cancel() {
  std::vector<std::pair<Connection*, RequestPtr>> cancel;
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    cancelled_ = true;
    cancel = in_flight_;
  }
  impl_->counters().reads_cancelled.fetch_add(1, std::memory_order_relaxed);
  for (auto& [connection, request] : cancel) {
    connection->Cancel(std::move(request), Status::Unavailable("the read was cancelled"));
  }
  Wait();
}

bool ReadCall::Ready() const {
  std::lock_guard lock(mu_);
  return finished_;
}

bool ReadCall::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return finished_; });
}

void ReadCall::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return finished_; });
}

const Result<std::size_t>& ReadCall::result() const {
  std::lock_guard lock(mu_);
  PC_CHECK(finished_);
  return result_;
}

std::vector<KeyOutcome>& ReadCall::outcomes() {
  std::lock_guard lock(mu_);
  PC_CHECK(finished_);
  return outcomes_;
}

}  // namespace prefixcache::client
