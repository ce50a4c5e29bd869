// The write path: Put, PutAsync, FlushAsync and Erase. A put goes to every admitted replica
// of each key; each node's share is split by bytes over its connections and sent as
// BLOCK.MSET with the values' parts referenced from their memory (no copy). Put and
// PutAsync share one PutCall and SendPut; they differ in who owns the values and who waits.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>

#include "client_impl.h"
#include "client_internals.h"
#include "prefixcache/value_format.h"

namespace prefixcache {
namespace client {
namespace {

using Type = protocol::Reply::Type;

// BLOCK.MSET depth key value... for keys[i], i in `chunk`; each value is its parts
// (referenced when large) followed by its trailer (copied into the arena).
// With `redis`, plain MSET key value... instead.
RequestPtr MsetCommand(std::span<const BlockKey> keys, const PutCall& call,
                       std::span<const std::uint32_t> depths, std::span<const std::size_t> chunk,
                       bool redis) {
  auto request = std::make_shared<Request>();
  protocol::CommandBuilder& command = request->command;
  command.Begin(1 + (redis ? 2 : 3) * chunk.size());
  command.Arg(redis ? "MSET" : "BLOCK.MSET");
  for (std::size_t i : chunk) {
    if (!redis) command.Arg(std::int64_t{depths[i]});
    command.Arg(keys[i].View());
    command.ArgPieces(call.Pieces(i));
  }
  return request;
}

bool IsOk(const protocol::Reply& reply) {
  return reply.type == Type::kSimple && reply.text == "OK";
}

// What a write (or an erase) of `keys` sends to each node.
struct WritePlan {
  std::vector<std::vector<std::size_t>> per_node;  // indices into `keys`, in order
  std::size_t to_stand_ins = 0;                    // keys sent to a stand-in
};

// Which keys go to which node: every replica of each key that `admission` admits, and its
// stand-in (Topology::StandIn) when no replica is up -- for an erase (`erase`) always, since
// a copy may have been left there during an earlier outage. Keys with a replica it refuses
// are marked in `refused` when given.
WritePlan AssignWrite(const Topology& topology, std::span<const BlockKey> keys,
                      Admission& admission, bool erase = false,
                      std::vector<std::uint8_t>* refused = nullptr) {
  WritePlan plan;
  plan.per_node.resize(topology.nodes.size());
  const bool handoff = topology.nodes.size() > topology.ring.replicas();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto add = [&](std::size_t node) {
      if (admission.Admits(node)) {
        plan.per_node[node].push_back(i);
        return true;
      }
      if (refused != nullptr) (*refused)[i] = 1;
      return false;
    };
    if (topology.ring.replicas() == 1) {
      add(topology.ring.Owner(keys[i]));
    } else {
      for (std::size_t node : topology.ring.Replicas(keys[i])) add(node);
    }
    if (handoff && (erase || topology.ReplicasDown(keys[i]))) {
      const std::optional<std::size_t> stand_in = topology.StandIn(keys[i]);
      if (stand_in && add(*stand_in)) ++plan.to_stand_ins;
    }
  }
  return plan;
}

}  // namespace

void PutCall::SetValues(std::span<const Source> values) {
  const std::size_t n = values.size();
  sizes.resize(n);
  first.resize(n + 1);
  trailers.resize(n);
  pieces.clear();
  for (std::size_t i = 0; i < n; ++i) {
    first[i] = pieces.size();
    sizes[i] = values[i].size();
    pieces.insert(pieces.end(), values[i].parts.begin(), values[i].parts.end());
    pieces.emplace_back(trailers[i]);  // its bytes are set by SendPut
  }
  first[n] = pieces.size();
}

void ClientImpl::SendPut(const std::shared_ptr<PutCall>& call, const Topology& topology,
                         std::span<const BlockKey> keys, std::span<const std::uint32_t> depths,
                         Clock::time_point deadline) {
  const std::size_t n = keys.size();
  call->acked = std::make_unique<std::atomic<std::uint8_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::span<const std::span<const std::byte>> pieces = call->Pieces(i);
    call->trailers[i] = MakeValueTrailer(keys[i], Source{pieces.first(pieces.size() - 1)});
    call->acked[i].store(0, std::memory_order_relaxed);
  }
  Admission admission(topology);
  const WritePlan plan = AssignWrite(topology, keys, admission);
  const std::vector<std::vector<std::size_t>>& per_node = plan.per_node;
  counters_.stand_in_writes.fetch_add(plan.to_stand_ins, std::memory_order_relaxed);
  for (std::size_t node_index = 0; node_index < per_node.size(); ++node_index) {
    if (per_node[node_index].empty()) continue;
    Node& node = *topology.nodes[node_index];
    const std::size_t base = node.NextBase();
    auto chunks = SplitKeys(per_node[node_index], node.connection_count(), call->sizes);
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      RequestPtr request = MsetCommand(keys, *call, depths, chunks[c], redis_commands_);
      request->deadline = deadline;
      request->done = [this, call,
                       chunk = std::vector<std::size_t>(chunks[c].begin(), chunks[c].end())](
                          const Status& status, protocol::Reply* reply) {
        if (status.ok() && IsOk(*reply)) {
          std::size_t bytes = 0;
          for (std::size_t i : chunk) {
            call->acked[i].store(1, std::memory_order_relaxed);
            bytes += call->sizes[i];
          }
          counters_.bytes_written.fetch_add(bytes, std::memory_order_relaxed);
        }
        ReleasePut(*call);
      };
      call->pending.fetch_add(1, std::memory_order_relaxed);
      node.Pick(base + c).Submit(std::move(request));
    }
  }
  ReleasePut(*call);
}

void ClientImpl::ReleasePut(PutCall& call) {
  if (call.pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  PutResult result;
  for (std::size_t i = 0; i < call.count(); ++i) {
    if (call.acked[i].load(std::memory_order_relaxed)) {
      ++result.stored;
    } else {
      ++result.not_stored;
    }
  }
  counters_.blocks_stored.fetch_add(result.stored, std::memory_order_relaxed);
  counters_.blocks_not_stored.fetch_add(result.not_stored, std::memory_order_relaxed);
  call.settled(result);
}

bool ClientImpl::PutAsync(std::span<const BlockKey> keys, std::span<const Source> borrowed,
                          std::vector<Buffer> owned, std::span<const std::uint32_t> depths) {
  const Clock::time_point start = Clock::now();
  const std::size_t count = borrowed.empty() ? owned.size() : borrowed.size();
  if (count != keys.size() || depths.size() != keys.size() ||
      (!borrowed.empty() && !owned.empty())) {
    counters_.async_dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (keys.empty()) return true;
  std::size_t bytes = 0;
  for (const Source& v : borrowed) bytes += v.size();
  for (const Buffer& v : owned) bytes += v.size();
  {
    std::lock_guard lock(async_mu_);
    if (async_calls_ + 1 > options_.async_put_max_calls ||
        async_bytes_ + bytes > options_.async_put_max_bytes) {
      counters_.async_dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    ++async_calls_;
    async_bytes_ += bytes;
  }
  auto release = [this, bytes] {
    std::lock_guard lock(async_mu_);
    --async_calls_;
    async_bytes_ -= bytes;
    async_cv_.notify_all();
  };
  std::shared_ptr<PutCall> call;
  try {
    call = std::make_shared<PutCall>();
    // Only accepted calls pay for the copy: each value into one buffer of its own.
    if (!borrowed.empty()) {
      owned.reserve(borrowed.size());
      for (const Source& v : borrowed) {
        MutableBuffer copy(v.size());
        std::size_t at = 0;
        for (const auto& part : v.parts) {
          if (!part.empty()) std::memcpy(copy.data() + at, part.data(), part.size());
          at += part.size();
        }
        owned.push_back(std::move(copy).Freeze());
      }
    }
    call->owned = std::move(owned);
    std::vector<std::span<const std::byte>> spans;
    spans.reserve(call->owned.size());
    for (const Buffer& v : call->owned) spans.push_back(v.span());
    std::vector<Source> sources;
    sources.reserve(spans.size());
    for (const auto& span : spans) sources.push_back(Source{std::span(&span, 1)});
    call->SetValues(sources);  // copies the part spans, so `spans` may go
    call->settled = [release](const PutResult&) { release(); };
    // Checksums and framing happen on an I/O thread so the caller returns at once.
    boost::asio::post(io_, [this, call, topology = this->topology(),
                            keys = std::vector<BlockKey>(keys.begin(), keys.end()),
                            depths = std::vector<std::uint32_t>(depths.begin(), depths.end())] {
      if (closing_.load(std::memory_order_acquire)) {
        call->acked = std::make_unique<std::atomic<std::uint8_t>[]>(keys.size());
        ReleasePut(*call);  // nothing sent: every block counts as not stored
        return;
      }
      SendPut(call, *topology, keys, depths, Deadline(Clock::now()));
    });
  } catch (const std::bad_alloc&) {
    // Refused, as a full queue is: nothing was queued.
    release();
    counters_.async_dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  counters_.put_async.Record(start);
  return true;
}

void ClientImpl::CopyBack(std::span<const BlockKey> keys, std::span<const Source> values,
                          std::span<const std::uint32_t> depths) {
  if (PutAsync(keys, values, {}, depths)) {
    counters_.copied_back.fetch_add(keys.size(), std::memory_order_relaxed);
  }
}

}  // namespace client

Result<PutResult> Client::Put(std::span<const BlockKey> keys, std::span<const Source> values,
                              std::span<const std::uint32_t> depths) {
  const client::Clock::time_point start = client::Clock::now();
  if (values.size() != keys.size() || depths.size() != keys.size()) {
    return Status::InvalidArgument("Put: keys, values and depths differ in length");
  }
  if (keys.empty()) return PutResult{};
  try {
    std::shared_ptr<const client::Topology> topology = impl_->topology();
    PutResult result;
    client::Waiter waiter;
    auto call = std::make_shared<client::PutCall>();
    call->SetValues(values);
    call->settled = [&](const PutResult& settled) {
      result = settled;
      waiter.Done();
    };
    waiter.Add(1);
    impl_->SendPut(call, *topology, keys, depths, impl_->Deadline(start));
    waiter.Wait();
    impl_->counters_.put.Record(start);
    return result;
  } catch (const std::bad_alloc&) {
    return Status::Rejected("Put: out of memory");
  }
}

Result<PutResult> Client::Put(std::span<const BlockKey> keys,
                              std::span<const std::span<const std::byte>> values,
                              std::span<const std::uint32_t> depths) {
  if (values.size() != keys.size()) {
    return Status::InvalidArgument("Put: keys, values and depths differ in length");
  }
  std::vector<Source> sources;
  try {
    sources.reserve(values.size());
    for (const auto& value : values) sources.push_back(Source{std::span(&value, 1)});
  } catch (const std::bad_alloc&) {
    return Status::Rejected("Put: out of memory");
  }
  return Put(keys, sources, depths);
}

bool Client::PutAsync(std::span<const BlockKey> keys, std::span<const Source> values,
                      std::span<const std::uint32_t> depths) {
  if (values.empty() && !keys.empty()) return impl_->PutAsync(keys, {}, {}, {});  // a drop
  return impl_->PutAsync(keys, values, {}, depths);
}

bool Client::PutAsync(std::span<const BlockKey> keys,
                      std::span<const std::span<const std::byte>> values,
                      std::span<const std::uint32_t> depths) {
  std::vector<Source> sources;
  try {
    sources.reserve(values.size());
    for (const auto& value : values) sources.push_back(Source{std::span(&value, 1)});
  } catch (const std::bad_alloc&) {
    impl_->counters_.async_dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return PutAsync(keys, sources, depths);
}

bool Client::PutAsync(std::span<const BlockKey> keys, std::vector<Buffer> values,
                      std::span<const std::uint32_t> depths) {
  if (values.empty() && !keys.empty()) return impl_->PutAsync(keys, {}, {}, {});  // a drop
  return impl_->PutAsync(keys, {}, std::move(values), depths);
}

bool Client::FlushAsync(std::uint32_t timeout_ms) {
  std::unique_lock lock(impl_->async_mu_);
  return impl_->async_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                   [this] { return impl_->async_calls_ == 0; });
}

EraseResult Client::Erase(std::span<const BlockKey> keys) {
  EraseResult result;
  if (keys.empty()) return result;
  try {
    std::shared_ptr<const client::Topology> topology = impl_->topology();
    client::Admission admission(*topology);
    std::vector<std::uint8_t> unreachable(keys.size(), 0);
    const auto per_node =
        client::AssignWrite(*topology, keys, admission, /*erase=*/true, &unreachable).per_node;
    client::Waiter waiter;
    std::mutex mu;  // guards result and unreachable against the connections' strands
    const client::Clock::time_point deadline = impl_->Deadline(client::Clock::now());
    // Every request is built before the first is sent, so that a lack of memory cannot
    // leave requests in flight that refer to this frame.
    std::vector<std::pair<client::Node*, client::RequestPtr>> requests;
    for (std::size_t n = 0; n < per_node.size(); ++n) {
      const std::vector<std::size_t>& mine = per_node[n];
      if (mine.empty()) continue;
      auto request = std::make_shared<client::Request>();
      request->command.Begin(1 + mine.size());
      request->command.Arg("DEL");
      for (std::size_t i : mine) request->command.Arg(keys[i].View());
      request->deadline = deadline;
      request->done = [&, &mine = mine](const Status& status, protocol::Reply* reply) {
        {
          std::lock_guard lock(mu);
          if (status.ok() && reply->type == protocol::Reply::Type::kInteger) {
            result.removed += static_cast<std::size_t>(std::max<std::int64_t>(0, reply->integer));
          } else {
            for (std::size_t i : mine) unreachable[i] = 1;
          }
        }
        waiter.Done();
      };
      requests.emplace_back(topology->nodes[n].get(), std::move(request));
    }
    waiter.Add(requests.size());
    for (auto& [node, request] : requests) node->Pick(node->NextBase()).Submit(std::move(request));
    waiter.Wait();
    for (std::uint8_t u : unreachable) result.unreachable += u;
  } catch (const std::bad_alloc&) {
    result.unreachable = keys.size();
  }
  return result;
}

void client::ClientInternals::UseRedisCommands(Client& client) {
  client.impl_->set_redis_commands(true);
}

}  // namespace prefixcache
