// The read path: Match, GetInto and Get, and the round-based fan-out they share.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "chunk_reader.h"
#include "client_impl.h"
#include "prefixcache/value_format.h"

namespace prefixcache::client {
namespace {

using Type = protocol::Reply::Type;

RequestPtr KeysCommand(std::string_view command, std::span<const BlockKey> keys,
                       std::span<const std::size_t> chunk) {
  auto request = std::make_shared<Request>();
  request->command.Begin(1 + chunk.size());
  request->command.Arg(command);
  for (std::size_t i : chunk) request->command.Arg(keys[i].View());
  return request;
}

}  // namespace

std::vector<Client::Impl::Assignment> Client::Impl::AssignRound(const Topology& topology,
                                                                std::span<const BlockKey> keys,
                                                                std::span<const std::size_t> todo,
                                                                std::vector<std::uint8_t>& tried,
                                                                Admission& admission) {
  std::vector<Assignment> out;
  std::vector<int> slot(topology.nodes.size(), -1);
  const std::uint32_t replicas = topology.ring.replicas();
  std::vector<std::size_t> candidates;
  for (std::size_t i : todo) {
    std::size_t chosen = SIZE_MAX;
    if (replicas == 1) {
      if (tried[i] == 0) {
        tried[i] = 1;
        const std::size_t owner = topology.ring.Owner(keys[i]);
        if (admission.Admits(owner)) chosen = owner;
      }
    } else {
      candidates = topology.ring.Replicas(keys[i]);
      while (tried[i] < candidates.size()) {
        const std::size_t node = candidates[tried[i]++];
        if (admission.Admits(node)) {
          chosen = node;
          break;
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

std::vector<std::span<const std::size_t>> Client::Impl::Split(
    std::span<const std::size_t> keys, std::size_t parts, std::span<const std::size_t> weights) {
  std::vector<std::span<const std::size_t>> out;
  parts = std::max<std::size_t>(1, std::min(parts, keys.size()));
  if (parts == 1) {
    out.push_back(keys);
    return out;
  }
  if (weights.empty()) {
    std::size_t begin = 0;
    for (std::size_t p = 0; p < parts; ++p) {
      const std::size_t end = keys.size() * (p + 1) / parts;
      out.push_back(keys.subspan(begin, end - begin));
      begin = end;
    }
    return out;
  }
  // Contiguous chunks closing each time the running weight passes the next 1/parts mark.
  std::size_t total = 0;
  for (std::size_t i : keys) total += weights[i] + 1;
  std::size_t begin = 0, running = 0;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    running += weights[keys[k]] + 1;
    const std::size_t mark = total * (out.size() + 1) / parts;
    const bool last_part = out.size() + 1 == parts;
    if (!last_part && running >= mark) {
      out.push_back(keys.subspan(begin, k + 1 - begin));
      begin = k + 1;
    }
  }
  if (begin < keys.size()) out.push_back(keys.subspan(begin));
  return out;
}

template <typename MakeRequest>
void Client::Impl::ReadRounds(const Topology& topology, std::span<const BlockKey> keys,
                              Clock::time_point deadline, std::size_t max_parts,
                              std::vector<std::uint8_t>& unavailable, MakeRequest&& make) {
  const std::size_t n = keys.size();
  std::vector<std::size_t> todo(n);
  std::iota(todo.begin(), todo.end(), std::size_t{0});
  std::vector<std::uint8_t> tried(n, 0), retry(n, 0), assigned(n, 0);
  Admission admission(topology);
  for (std::size_t round = 0; !todo.empty(); ++round) {
    if (round > 0) {
      if (Clock::now() >= deadline) break;
      // Nodes that failed during the last round are not offered again in this call.
      admission.WithdrawFailed();
    }
    std::vector<Assignment> assignments = AssignRound(topology, keys, todo, tried, admission);
    Waiter waiter;
    for (const Assignment& a : assignments) {
      Node& node = *topology.nodes[a.node];
      const std::size_t base = node.NextBase();
      auto chunks = Split(a.keys, std::min(max_parts, node.connection_count()), {});
      for (std::size_t c = 0; c < chunks.size(); ++c) {
        for (std::size_t i : chunks[c]) assigned[i] = 1;
        RequestPtr request = make(chunks[c], waiter, retry);
        request->deadline = deadline;
        waiter.Add(1);
        node.Pick(base + c).Submit(std::move(request));
      }
    }
    waiter.Wait();
    std::vector<std::size_t> next;
    for (std::size_t i : todo) {
      if (!assigned[i]) {
        unavailable[i] = 1;  // no replica left to try
      } else if (retry[i]) {
        next.push_back(i);
      }
      assigned[i] = 0;
      retry[i] = 0;
    }
    todo.swap(next);
  }
  for (std::size_t i : todo) unavailable[i] = 1;
}

Result<std::size_t> Client::Match(std::span<const BlockKey> keys) {
  const Clock::time_point start = Clock::now();
  if (keys.empty()) return std::size_t{0};
  std::shared_ptr<const Topology> topology = impl_->topology();
  std::vector<std::uint8_t> exists(keys.size(), 0), unavailable(keys.size(), 0);
  impl_->ReadRounds(
      *topology, keys, impl_->Deadline(start), 1, unavailable,
      [&](std::span<const std::size_t> chunk, Waiter& waiter, std::vector<std::uint8_t>& retry) {
        RequestPtr request = KeysCommand("BLOCK.EXISTS", keys, chunk);
        request->done = [&, chunk](const Status& status, protocol::Reply* reply) {
          if (!status.ok()) {
            for (std::size_t i : chunk) retry[i] = 1;
          } else if (reply->type == Type::kArray && reply->elements.size() == chunk.size()) {
            for (std::size_t j = 0; j < chunk.size(); ++j) {
              const protocol::Reply& e = reply->elements[j];
              exists[chunk[j]] = e.type == Type::kInteger && e.integer == 1;
            }
          }
          waiter.Done();
        };
        return request;
      });
  std::size_t leading = 0;
  while (leading < keys.size() && exists[leading]) ++leading;
  Impl::Counters& counters = impl_->counters_;
  counters.match_keys.fetch_add(keys.size(), std::memory_order_relaxed);
  counters.match_hits.fetch_add(leading, std::memory_order_relaxed);
  counters.match.Record(start);
  return leading;
}

Result<std::size_t> Client::GetInto(std::span<const BlockKey> keys,
                                    std::span<const std::span<std::byte>> destinations,
                                    std::span<BlockRead> reads) {
  if (destinations.size() != keys.size() || reads.size() != keys.size()) {
    return Status::InvalidArgument("GetInto: keys, destinations and reads differ in length");
  }
  std::fill(reads.begin(), reads.end(), BlockRead{});
  if (keys.empty()) return std::size_t{0};
  std::vector<KeyOutcome> outcomes = impl_->Read(keys, destinations);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    reads[i] = {outcomes[i].status, outcomes[i].size};
    hits += outcomes[i].status == BlockStatus::kHit;
  }
  return hits;
}

Result<std::vector<std::optional<Buffer>>> Client::Get(std::span<const BlockKey> keys) {
  std::vector<std::optional<Buffer>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<KeyOutcome> outcomes = impl_->Read(keys, {});
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (outcomes[i].status == BlockStatus::kHit) out[i] = std::move(outcomes[i].owned);
  }
  return out;
}

std::vector<KeyOutcome> Client::Impl::Read(std::span<const BlockKey> keys,
                                           std::span<const std::span<std::byte>> destinations) {
  const Clock::time_point start = Clock::now();
  std::shared_ptr<const Topology> topology = this->topology();
  std::vector<KeyOutcome> outcomes(keys.size());
  std::vector<std::uint8_t> unavailable(keys.size(), 0);
  const char* command = redis_commands_ ? "MGET" : "BLOCK.MGET";
  ReadRounds(
      *topology, keys, Deadline(start), options_.connections_per_node, unavailable,
      [&](std::span<const std::size_t> chunk, Waiter& waiter, std::vector<std::uint8_t>& retry) {
        RequestPtr request = KeysCommand(command, keys, chunk);
        auto reader = std::make_shared<ChunkReader>(keys, chunk, destinations,
                                                    options_.verify_checksums, outcomes);
        ChunkReader::Attach(reader, *request, [&retry, &waiter, chunk](const Status& status) {
          if (!status.ok()) {
            for (std::size_t i : chunk) retry[i] = 1;
          }
          waiter.Done();
        });
        return request;
      });

  std::size_t hits = 0, bytes = 0, too_small = 0, corrupt = 0, down = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    KeyOutcome& o = outcomes[i];
    if (unavailable[i] && o.status == BlockStatus::kMiss) o = {BlockStatus::kUnavailable, 0, {}};
    switch (o.status) {
      case BlockStatus::kHit:
        ++hits;
        bytes += o.size;
        break;
      case BlockStatus::kTooSmall:
        ++too_small;
        break;
      case BlockStatus::kCorrupt:
        ++corrupt;
        break;
      case BlockStatus::kUnavailable:
        ++down;
        break;
      case BlockStatus::kMiss:
        break;
    }
  }
  counters_.hits.fetch_add(hits, std::memory_order_relaxed);
  counters_.misses.fetch_add(keys.size() - hits, std::memory_order_relaxed);
  counters_.bytes_read.fetch_add(bytes, std::memory_order_relaxed);
  counters_.too_small.fetch_add(too_small, std::memory_order_relaxed);
  counters_.corrupt.fetch_add(corrupt, std::memory_order_relaxed);
  counters_.unavailable.fetch_add(down, std::memory_order_relaxed);
  counters_.get.Record(start);
  return outcomes;
}

}  // namespace prefixcache::client
