// The write path of Client::Impl: Put, PutAsync and FlushAsync. A put goes to every
// admitted replica of each key; each node's share is split by bytes over its connections
// and sent as BLOCK.MSET with the values referenced from their memory (no copy).
#include <algorithm>
#include <boost/asio/post.hpp>

#include "client_impl.h"
#include "client_internals.h"
#include "prefixcache/value_format.h"

namespace prefixcache::client {
namespace {

using Type = protocol::Reply::Type;

// BLOCK.MSET depth key value... for keys[i], i in `chunk`; each value is its payload
// (referenced) followed by its trailer (copied into the arena).
// With `redis`, plain MSET key value... instead.
RequestPtr MsetCommand(std::span<const BlockKey> keys,
                       std::span<const std::span<const std::byte>> values,
                       std::span<const std::uint32_t> depths,
                       std::span<const ValueTrailer> trailers, std::span<const std::size_t> chunk,
                       bool redis) {
  auto request = std::make_shared<Request>();
  WireBuilder& b = request->builder;
  b.Begin(1 + (redis ? 2 : 3) * chunk.size());
  b.Arg(redis ? "MSET" : "BLOCK.MSET");
  for (std::size_t i : chunk) {
    if (!redis) b.Arg(std::to_string(depths[i]));
    b.Arg(keys[i].View());
    b.ArgPieces({values[i], std::span<const std::byte>(trailers[i])});
  }
  request->Seal();
  return request;
}

bool IsOk(const protocol::Reply& reply) {
  return reply.type == Type::kSimple && reply.text == "OK";
}

}  // namespace

Result<PutResult> Client::Impl::Put(std::span<const BlockKey> keys,
                                    std::span<const std::span<const std::byte>> values,
                                    std::span<const std::uint32_t> depths) {
  const Clock::time_point start = Clock::now();
  if (values.size() != keys.size() || depths.size() != keys.size()) {
    return Status::InvalidArgument("Put: keys, values and depths differ in length");
  }
  if (keys.empty()) return PutResult{};
  std::shared_ptr<const Topology> topology = this->topology();
  const Clock::time_point deadline = Deadline(start);
  const std::size_t n = keys.size();

  std::vector<ValueTrailer> trailers(n);
  std::vector<std::size_t> sizes(n);
  for (std::size_t i = 0; i < n; ++i) {
    trailers[i] = MakeValueTrailer(keys[i], values[i]);
    sizes[i] = values[i].size();
  }

  // Every admitted replica of each key.
  std::vector<std::vector<std::size_t>> per_node(topology->nodes.size());
  std::vector<std::int8_t> admitted(topology->nodes.size(), -1);
  const Clock::time_point now = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto add = [&](std::size_t node) {
      if (admitted[node] < 0) {
        admitted[node] = topology->nodes[node]->context().health.Admit(now) ? 1 : 0;
      }
      if (admitted[node] == 1) per_node[node].push_back(i);
    };
    if (topology->ring.replicas() == 1) {
      add(topology->ring.Owner(keys[i]));
    } else {
      for (std::size_t node : topology->ring.Replicas(keys[i])) add(node);
    }
  }

  auto acked = std::make_unique<std::atomic<std::uint8_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) acked[i].store(0, std::memory_order_relaxed);
  Waiter waiter;
  for (std::size_t node_index = 0; node_index < per_node.size(); ++node_index) {
    if (per_node[node_index].empty()) continue;
    Node& node = *topology->nodes[node_index];
    const std::size_t base = node.NextBase();
    auto chunks = Split(per_node[node_index], node.connection_count(), sizes);
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      RequestPtr request = MsetCommand(keys, values, depths, trailers, chunks[c], redis_commands_);
      request->deadline = deadline;
      request->done = [&, chunk = chunks[c]](const Status& status, protocol::Reply* reply) {
        if (status.ok() && IsOk(*reply)) {
          std::size_t bytes = 0;
          for (std::size_t i : chunk) {
            acked[i].store(1, std::memory_order_relaxed);
            bytes += sizes[i];
          }
          counters_.bytes_written.fetch_add(bytes, std::memory_order_relaxed);
        }
        waiter.Done();
      };
      waiter.Add(1);
      node.Pick(base + c).Submit(std::move(request));
    }
  }
  waiter.Wait();

  PutResult result;
  for (std::size_t i = 0; i < n; ++i) {
    if (acked[i].load(std::memory_order_relaxed)) {
      ++result.stored;
    } else {
      ++result.not_stored;
    }
  }
  counters_.blocks_stored.fetch_add(result.stored, std::memory_order_relaxed);
  counters_.blocks_not_stored.fetch_add(result.not_stored, std::memory_order_relaxed);
  counters_.put.Record(start);
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
  // Only accepted calls pay for the copy.
  if (!borrowed.empty()) {
    owned.reserve(borrowed.size());
    for (const auto& v : borrowed) owned.push_back(Buffer::Copy(v));
  }
  // Checksums and framing happen on an I/O thread so the caller returns at once.
  boost::asio::post(
      io_,
      [this, topology = this->topology(), keys = std::vector<BlockKey>(keys.begin(), keys.end()),
       values = std::move(owned), depths = std::vector<std::uint32_t>(depths.begin(), depths.end()),
       bytes]() mutable { SubmitAsyncPut(*topology, keys, std::move(values), depths, bytes); });
  counters_.put_async.Record(start);
  return true;
}

void Client::Impl::SubmitAsyncPut(const Topology& topology, std::span<const BlockKey> keys,
                                  std::vector<Buffer> values, std::span<const std::uint32_t> depths,
                                  std::size_t bytes) {
  // Shared by the call's requests; the last one to finish settles the call.
  struct Call {
    Impl* impl = nullptr;
    std::size_t bytes = 0;
    std::size_t count = 0;
    std::unique_ptr<std::atomic<std::uint8_t>[]> acked;
    std::vector<Buffer> values;
    std::atomic<std::size_t> pending{1};  // 1 for the submitting thread itself

    void Release() {
      if (pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      std::size_t stored = 0;
      for (std::size_t i = 0; i < count; ++i) stored += acked[i].load(std::memory_order_relaxed);
      impl->counters_.blocks_stored.fetch_add(stored, std::memory_order_relaxed);
      impl->counters_.blocks_not_stored.fetch_add(count - stored, std::memory_order_relaxed);
      std::lock_guard lock(impl->async_mu_);
      --impl->async_calls_;
      impl->async_bytes_ -= bytes;
      impl->async_cv_.notify_all();
    }
  };
  const std::size_t n = keys.size();
  auto call = std::make_shared<Call>();
  call->impl = this;
  call->bytes = bytes;
  call->count = n;
  call->acked = std::make_unique<std::atomic<std::uint8_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) call->acked[i].store(0, std::memory_order_relaxed);
  call->values = std::move(values);
  if (closing_.load(std::memory_order_acquire)) {
    call->Release();
    return;
  }

  std::vector<std::span<const std::byte>> spans(n);
  std::vector<ValueTrailer> trailers(n);
  std::vector<std::size_t> sizes(n);
  for (std::size_t i = 0; i < n; ++i) {
    spans[i] = call->values[i].span();
    trailers[i] = MakeValueTrailer(keys[i], spans[i]);
    sizes[i] = spans[i].size();
  }
  std::vector<std::vector<std::size_t>> per_node(topology.nodes.size());
  std::vector<std::int8_t> admitted(topology.nodes.size(), -1);
  const Clock::time_point now = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto add = [&](std::size_t node) {
      if (admitted[node] < 0) {
        admitted[node] = topology.nodes[node]->context().health.Admit(now) ? 1 : 0;
      }
      if (admitted[node] == 1) per_node[node].push_back(i);
    };
    if (topology.ring.replicas() == 1) {
      add(topology.ring.Owner(keys[i]));
    } else {
      for (std::size_t node : topology.ring.Replicas(keys[i])) add(node);
    }
  }
  const Clock::time_point deadline = Deadline(now);
  for (std::size_t node_index = 0; node_index < per_node.size(); ++node_index) {
    if (per_node[node_index].empty()) continue;
    Node& node = *topology.nodes[node_index];
    const std::size_t base = node.NextBase();
    auto chunks = Split(per_node[node_index], node.connection_count(), sizes);
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      RequestPtr request = MsetCommand(keys, spans, depths, trailers, chunks[c], redis_commands_);
      request->deadline = deadline;
      request->keep.reserve(chunks[c].size());
      for (std::size_t i : chunks[c]) request->keep.push_back(call->values[i]);
      request->done = [call, chunk = std::vector<std::size_t>(chunks[c].begin(), chunks[c].end())](
                          const Status& status, protocol::Reply* reply) {
        if (status.ok() && IsOk(*reply)) {
          std::size_t written = 0;
          for (std::size_t i : chunk) {
            call->acked[i].store(1, std::memory_order_relaxed);
            written += call->values[i].size();
          }
          call->impl->counters_.bytes_written.fetch_add(written, std::memory_order_relaxed);
        }
        call->Release();
      };
      call->pending.fetch_add(1, std::memory_order_relaxed);
      node.Pick(base + c).Submit(std::move(request));
    }
  }
  call->Release();
}

void ClientInternals::UseRedisCommands(Client& client) { client.impl_->set_redis_commands(true); }

bool Client::Impl::FlushAsync(std::uint32_t timeout_ms) {
  std::unique_lock lock(async_mu_);
  return async_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                            [this] { return async_calls_ == 0; });
}

}  // namespace prefixcache::client
