#include "prefixcache/client.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <new>
#include <system_error>
#include <utility>

#include "client_impl.h"
#include "client_internals.h"
#include "tls_context.h"

namespace prefixcache {
namespace {

constexpr std::uint32_t kMaxConnectionsPerNode = 1024;
constexpr std::uint32_t kMaxIoThreads = 256;

bool ValidAddress(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view port = address.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

// The host of "host:port" / "[v6]:port" (ValidAddress holds).
std::string HostOf(std::string_view address) {
  std::string_view host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

Status ValidateNodes(const std::vector<NodeAddress>& nodes) {
  if (nodes.empty()) return Status::InvalidArgument("nodes: at least one node is required");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!ValidAddress(nodes[i].address)) {
      return Status::InvalidArgument("nodes[" + std::to_string(i) + "].address: expected " +
                                     "host:port, got \"" + nodes[i].address + "\"");
    }
  }
  return Status::Ok();
}

Status ValidateOptions(const ClientOptions& o) {
  if (Status s = ValidateNodes(o.nodes); !s.ok()) return s;
  auto bad = [](const char* field, const std::string& expected) {
    return Status::InvalidArgument(std::string(field) + ": expected " + expected);
  };
  if (o.timeout_ms == 0) return bad("timeout_ms", ">= 1");
  if (o.connect_timeout_ms == 0) return bad("connect_timeout_ms", ">= 1");
  if (o.connections_per_node == 0 || o.connections_per_node > kMaxConnectionsPerNode) {
    return bad("connections_per_node", "1.." + std::to_string(kMaxConnectionsPerNode));
  }
  if (o.backoff_initial_ms == 0) return bad("backoff_initial_ms", ">= 1");
  if (o.backoff_max_ms < o.backoff_initial_ms)
    return bad("backoff_max_ms", ">= backoff_initial_ms");
  if (o.io_threads == 0 || o.io_threads > kMaxIoThreads) {
    return bad("io_threads", "1.." + std::to_string(kMaxIoThreads));
  }
  return Status::Ok();
}

}  // namespace

namespace client {

// ---- OperationCounters ----

void OperationCounters::Record(Clock::time_point start) {
  const auto us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
  calls.fetch_add(1, std::memory_order_relaxed);
  total_us.fetch_add(us, std::memory_order_relaxed);
  std::uint64_t seen = max_us.load(std::memory_order_relaxed);
  while (us > seen && !max_us.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
  }
}

OperationStats OperationCounters::Snapshot() const {
  return {calls.load(std::memory_order_relaxed), total_us.load(std::memory_order_relaxed),
          max_us.load(std::memory_order_relaxed)};
}

// ---- Topology ----

bool Topology::ReplicasDown(const BlockKey& key) const {
  if (ring.replicas() == 1) return !Up(ring.Owner(key));
  for (std::size_t node : ring.Replicas(key)) {
    if (Up(node)) return false;
  }
  return true;
}

bool Topology::MayBeHandedOff(const BlockKey& key, Clock::time_point now,
                              std::chrono::milliseconds window) const {
  auto handed_off = [&](std::size_t node) {
    const NodeHealth& health = nodes[node]->context().health;
    return !health.up() || health.ReturnedWithin(now, window);
  };
  if (ring.replicas() == 1) return handed_off(ring.Owner(key));
  for (std::size_t node : ring.Replicas(key)) {
    if (!handed_off(node)) return false;
  }
  return true;
}

std::optional<std::size_t> Topology::StandIn(const BlockKey& key) const {
  return ring.StandIn(key, [this](std::size_t node) { return Up(node); });
}

// ---- Admission ----

bool Admission::Admits(std::size_t node) {
  if (state_[node] == kUnasked) {
    state_[node] =
        topology_.nodes[node]->context().health.Admit(Clock::now()) ? kAdmitted : kRefused;
  }
  return state_[node] == kAdmitted;
}

void Admission::WithdrawFailed() {
  for (std::size_t node = 0; node < state_.size(); ++node) {
    if (state_[node] == kAdmitted && !topology_.nodes[node]->context().health.up()) {
      state_[node] = kRefused;
    }
  }
}

// ---- SplitKeys ----

std::vector<std::span<const std::size_t>> SplitKeys(std::span<const std::size_t> keys,
                                                    std::size_t parts,
                                                    std::span<const std::size_t> weights) {
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

// ---- ClientImpl: lifecycle and topology ----

ClientImpl::ClientImpl(const ClientOptions& options)
    : options_(options), work_(boost::asio::make_work_guard(io_)) {}

ClientImpl::~ClientImpl() {
  closing_.store(true, std::memory_order_release);
  {
    std::lock_guard lock(topology_mu_);
    topology_.reset();  // the last Node handles shut their connections down
  }
  work_.reset();
  for (auto& thread : threads_) thread.join();
}

Status ClientImpl::Start() {
  if (options_.tls) {
    auto context = client::MakeClientTlsContext(options_);
    if (!context.ok()) return context.status();
    tls_ = std::move(context).value();
  }
  Status status;
  std::shared_ptr<Topology> topology = BuildTopology(options_.nodes, nullptr, &status);
  if (!topology) return status;
  topology_ = std::move(topology);
  for (std::uint32_t i = 0; i < options_.io_threads; ++i) {
    threads_.emplace_back([this] {
      // A handler that throws (only std::bad_alloc can) must not end the thread: log it and
      // keep serving the other requests.
      for (;;) {
        try {
          io_.run();
          return;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "prefixcache client: I/O thread: %s\n", e.what());
        }
      }
    });
  }
  return Status::Ok();
}

void ClientImpl::set_redis_commands(bool on) {
  redis_commands_ = on;
  for (const auto& node : topology()->nodes) {
    node->context().check_ring.store(!on, std::memory_order_relaxed);
  }
}

std::shared_ptr<Topology> ClientImpl::BuildTopology(const std::vector<NodeAddress>& nodes,
                                                    const Topology* reuse, Status* status) {
  if (Status s = ValidateNodes(nodes); !s.ok()) {
    *status = s;
    return nullptr;
  }
  std::vector<cluster::NodeSpec> specs;
  specs.reserve(nodes.size());
  for (const NodeAddress& n : nodes) specs.push_back({n.id, n.address, n.weight});
  Result<cluster::Ring> ring =
      cluster::Ring::Build(std::move(specs), options_.virtual_nodes, options_.replicas);
  if (!ring.ok()) {
    *status = ring.status();
    return nullptr;
  }
  auto topology = std::make_shared<Topology>(std::move(ring).value());
  for (const cluster::NodeSpec& spec : topology->ring.nodes()) {
    std::shared_ptr<Node> node;
    if (reuse) {
      for (const auto& old : reuse->nodes) {
        if (old->context().id == spec.id && old->context().address == spec.address) node = old;
      }
    }
    if (!node) {
      auto context =
          std::make_shared<NodeContext>(spec.id, spec.address, options_.password,
                                        std::chrono::milliseconds(options_.connect_timeout_ms),
                                        std::chrono::milliseconds(options_.backoff_initial_ms),
                                        std::chrono::milliseconds(options_.backoff_max_ms));
      context->check_ring.store(!redis_commands_, std::memory_order_relaxed);
      context->tls = tls_;
      context->tls_server_name = options_.tls_server_name;
      if (context->tls_server_name.empty()) context->tls_server_name = HostOf(spec.address);
      node = std::make_shared<Node>(io_, std::move(context), options_.connections_per_node);
    }
    node->context().ExpectRing(topology->ring.Fingerprint());
    topology->nodes.push_back(std::move(node));
  }
  return topology;
}

std::shared_ptr<const Topology> ClientImpl::topology() const {
  std::lock_guard lock(topology_mu_);
  return topology_;
}

}  // namespace client

std::string_view BlockStatusName(BlockStatus status) {
  switch (status) {
    case BlockStatus::kHit:
      return "hit";
    case BlockStatus::kMiss:
      return "miss";
    case BlockStatus::kUnavailable:
      return "unavailable";
    case BlockStatus::kTooSmall:
      return "too_small";
    case BlockStatus::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

// ---- Client ----

Client::Client(std::unique_ptr<client::ClientImpl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  try {
    auto impl = std::make_unique<client::ClientImpl>(options);
    if (Status s = impl->Start(); !s.ok()) return s;
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  } catch (const std::bad_alloc&) {
    return Status::Rejected("Open: out of memory");
  } catch (const std::system_error& e) {
    return Status::Unavailable(std::string("Open: cannot start the I/O threads: ") + e.what());
  }
}

Status Client::UpdateNodes(const std::vector<NodeAddress>& nodes) {
  try {
    std::shared_ptr<const client::Topology> current = impl_->topology();
    Status status;
    std::shared_ptr<client::Topology> next = impl_->BuildTopology(nodes, current.get(), &status);
    if (!next) return status;
    std::lock_guard lock(impl_->topology_mu_);
    impl_->topology_ = std::move(next);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::Rejected("UpdateNodes: out of memory");
  }
}

ClientStats Client::Stats() const {
  ClientStats s;
  const client::ClientImpl::Counters& c = impl_->counters_;
  using C = client::ClientImpl::Counters;
  using S = ClientStats;
  // Each counter and the field of ClientStats it is reported as.
  // Two columns of pairs read more easily than one.
  // clang-format off
  static constexpr std::pair<std::atomic<std::uint64_t> C::*, std::uint64_t S::*> kCounters[] = {
      {&C::hits, &S::hits},                         {&C::misses, &S::misses},
      {&C::unavailable, &S::unavailable_misses},    {&C::too_small, &S::too_small_misses},
      {&C::corrupt, &S::checksum_failures},         {&C::match_keys, &S::match_keys},
      {&C::match_hits, &S::match_hits},             {&C::bytes_read, &S::bytes_read},
      {&C::bytes_written, &S::bytes_written},       {&C::blocks_stored, &S::blocks_stored},
      {&C::blocks_not_stored, &S::blocks_not_stored}, {&C::async_dropped, &S::async_puts_dropped},
      {&C::reads_cancelled, &S::reads_cancelled},   {&C::stand_in_hits, &S::stand_in_hits},
      {&C::stand_in_writes, &S::stand_in_writes},   {&C::copied_back, &S::copied_back}};
  // clang-format on
  for (const auto& [counter, field] : kCounters) {
    s.*field = (c.*counter).load(std::memory_order_relaxed);
  }
  {
    std::lock_guard lock(impl_->async_mu_);
    s.async_puts_pending = impl_->async_calls_;
  }
  s.match = c.match.Snapshot();
  s.get_prefix = c.get_prefix.Snapshot();
  s.get = c.get.Snapshot();
  s.put = c.put.Snapshot();
  s.put_async = c.put_async.Snapshot();
  std::shared_ptr<const client::Topology> topology = impl_->topology();
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  for (const auto& node : topology->nodes) {
    const client::NodeContext& n = node->context();
    NodeStats ns;
    ns.id = n.id;
    ns.address = n.address;
    ns.up = n.health.up();
    ns.requests = load(n.requests);
    ns.errors = load(n.errors);
    ns.timeouts = load(n.timeouts);
    ns.error_replies = load(n.error_replies);
    ns.current_backoff_ms = static_cast<std::uint64_t>(n.health.current_backoff().count());
    ns.ring_mismatch = n.ring_mismatch.load(std::memory_order_relaxed);
    s.ring_mismatches += load(n.ring_mismatches);
    s.nodes.push_back(std::move(ns));
  }
  return s;
}

}  // namespace prefixcache
