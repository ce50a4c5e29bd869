// The write path: Put, PutAsync and FlushAsync. A put goes to every admitted replica of
// each key; each node's share is split by bytes over its connections and sent as
// BLOCK.MSET with the values referenced from their memory (no copy). Put and PutAsync
// share one PutCall and SendPut; they differ in who owns the values and who waits.
#include <boost/asio/post.hpp>

#include "client_impl.h"
#include "client_internals.h"
#include "prefixcache/value_format.h"

namespace prefixcache::client {
namespace {

using Type = protocol::Reply::Type;

// BLOCK.MSET depth key value... for keys[i], i in `chunk`; each value is its payload
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
    command.ArgPieces({call.values[i], std::span<const std::byte>(call.trailers[i])});
  }
  return request;
}

bool IsOk(const protocol::Reply& reply) {
  return reply.type == Type::kSimple && reply.text == "OK";
}

// The keys each node stores (per_node[n] lists indices into `keys`, in order): every
// replica of each key that `admission` admits.
std::vector<std::vector<std::size_t>> AssignWrite(const Topology& topology,
                                                  std::span<const BlockKey> keys,
                                                  Admission& admission) {
  std::vector<std::vector<std::size_t>> per_node(topology.nodes.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto add = [&](std::size_t node) {
      if (admission.Admits(node)) per_node[node].push_back(i);
    };
    if (topology.ring.replicas() == 1) {
      add(topology.ring.Owner(keys[i]));
    } else {
      for (std::size_t node : topology.ring.Replicas(keys[i])) add(node);
    }
  }
  return per_node;
}

}  // namespace

void Client::Impl::SendPut(const std::shared_ptr<PutCall>& call, const Topology& topology,
                           std::span<const BlockKey> keys, std::span<const std::uint32_t> depths,
                           Clock::time_point deadline) {
  const std::size_t n = keys.size();
  std::vector<std::size_t> sizes(n);
  call->trailers.resize(n);
  call->acked = std::make_unique<std::atomic<std::uint8_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) {
    call->trailers[i] = MakeValueTrailer(keys[i], call->values[i]);
    call->acked[i].store(0, std::memory_order_relaxed);
    sizes[i] = call->values[i].size();
  }
  Admission admission(topology);
  const std::vector<std::vector<std::size_t>> per_node = AssignWrite(topology, keys, admission);
  for (std::size_t node_index = 0; node_index < per_node.size(); ++node_index) {
    if (per_node[node_index].empty()) continue;
    Node& node = *topology.nodes[node_index];
    const std::size_t base = node.NextBase();
    auto chunks = Split(per_node[node_index], node.connection_count(), sizes);
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
            bytes += call->values[i].size();
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

void Client::Impl::ReleasePut(PutCall& call) {
  if (call.pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  PutResult result;
  for (std::size_t i = 0; i < call.values.size(); ++i) {
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

Result<PutResult> Client::Put(std::span<const BlockKey> keys,
                              std::span<const std::span<const std::byte>> values,
                              std::span<const std::uint32_t> depths) {
  const Clock::time_point start = Clock::now();
  if (values.size() != keys.size() || depths.size() != keys.size()) {
    return Status::InvalidArgument("Put: keys, values and depths differ in length");
  }
  if (keys.empty()) return PutResult{};
  std::shared_ptr<const Topology> topology = impl_->topology();
  PutResult result;
  Waiter waiter;
  auto call = std::make_shared<PutCall>();
  call->values.assign(values.begin(), values.end());
  call->settled = [&](const PutResult& settled) {
    result = settled;
    waiter.Done();
  };
  waiter.Add(1);
  impl_->SendPut(call, *topology, keys, depths, impl_->Deadline(start));
  waiter.Wait();
  impl_->counters_.put.Record(start);
  return result;
}

bool Client::Impl::PutAsync(std::span<const BlockKey> keys,
                            std::span<const std::span<const std::byte>> borrowed,
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
  for (const auto& v : borrowed) bytes += v.size();
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
  auto call = std::make_shared<PutCall>();
  // Only accepted calls pay for the copy.
  if (!borrowed.empty()) {
    owned.reserve(borrowed.size());
    for (const auto& v : borrowed) owned.push_back(Buffer::Copy(v));
  }
  call->owned = std::move(owned);
  for (const Buffer& v : call->owned) call->values.push_back(v.span());
  call->settled = [this, bytes](const PutResult&) {
    std::lock_guard lock(async_mu_);
    --async_calls_;
    async_bytes_ -= bytes;
    async_cv_.notify_all();
  };
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
  counters_.put_async.Record(start);
  return true;
}

bool Client::PutAsync(std::span<const BlockKey> keys,
                      std::span<const std::span<const std::byte>> values,
                      std::span<const std::uint32_t> depths) {
  if (values.empty() && !keys.empty()) return impl_->PutAsync(keys, {}, {}, {});  // a drop
  return impl_->PutAsync(keys, values, {}, depths);
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

void ClientInternals::UseRedisCommands(Client& client) { client.impl_->set_redis_commands(true); }

}  // namespace prefixcache::client
