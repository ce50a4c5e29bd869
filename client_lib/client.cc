#include "prefixcache/client.h"

#include <charconv>

#include "client_impl.h"

namespace prefixcache::client {
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

// redis-cli's rendering of an array element.
void Render(const protocol::Reply& reply, std::string& out, const std::string& indent) {
  using Type = protocol::Reply::Type;
  switch (reply.type) {
    case Type::kSimple:
      out += reply.text;
      break;
    case Type::kError:
      out += "(error) " + reply.text;
      break;
    case Type::kInteger:
      out += "(integer) " + std::to_string(reply.integer);
      break;
    case Type::kBulk:
      out += '"';
      out += reply.bulk.view();
      out += '"';
      break;
    case Type::kNil:
    case Type::kNilArray:
      out += "(nil)";
      break;
    case Type::kArray:
      if (reply.elements.empty()) out += "(empty array)";
      for (std::size_t i = 0; i < reply.elements.size(); ++i) {
        if (i) out += "\n" + indent;
        std::string label = std::to_string(i + 1) + ") ";
        out += label;
        Render(reply.elements[i], out, indent + std::string(label.size(), ' '));
      }
      break;
  }
}

}  // namespace

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

// ---- Impl: lifecycle and topology ----

Client::Impl::Impl(const ClientOptions& options)
    : options_(options), work_(boost::asio::make_work_guard(io_)) {}

Client::Impl::~Impl() {
  closing_.store(true, std::memory_order_release);
  {
    std::lock_guard lock(topology_mu_);
    topology_.reset();  // the last Node handles shut their connections down
  }
  work_.reset();
  for (auto& thread : threads_) thread.join();
}

Status Client::Impl::Start() {
  Status status;
  std::shared_ptr<Topology> topology = BuildTopology(options_.nodes, nullptr, &status);
  if (!topology) return status;
  topology_ = std::move(topology);
  for (std::uint32_t i = 0; i < options_.io_threads; ++i) {
    threads_.emplace_back([this] { io_.run(); });
  }
  return Status::Ok();
}

std::shared_ptr<Topology> Client::Impl::BuildTopology(const std::vector<NodeAddress>& nodes,
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
      node = std::make_shared<Node>(io_, std::move(context), options_.connections_per_node);
    }
    topology->nodes.push_back(std::move(node));
  }
  return topology;
}

std::shared_ptr<const Topology> Client::Impl::topology() const {
  std::lock_guard lock(topology_mu_);
  return topology_;
}

// ---- Client ----

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(options);
  if (Status s = impl->Start(); !s.ok()) return s;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Status Client::UpdateNodes(const std::vector<NodeAddress>& nodes) {
  std::shared_ptr<const Topology> current = impl_->topology();
  Status status;
  std::shared_ptr<Topology> next = impl_->BuildTopology(nodes, current.get(), &status);
  if (!next) return status;
  std::lock_guard lock(impl_->topology_mu_);
  impl_->topology_ = std::move(next);
  return Status::Ok();
}

Result<std::string> Client::Command(std::string_view node_id,
                                    std::span<const std::string_view> args) {
  if (args.empty()) return Status::InvalidArgument("empty command");
  std::shared_ptr<const Topology> topology = impl_->topology();
  std::optional<std::size_t> index = topology->ring.IndexOf(node_id);
  if (!index) return Status::NotFound("no node \"" + std::string(node_id) + "\"");
  Node& node = *topology->nodes[*index];

  auto request = std::make_shared<Request>();
  request->command.Command(args);
  request->deadline = impl_->Deadline(Clock::now());
  Waiter waiter;
  Result<std::string> result = Status::Unavailable("no reply");
  request->done = [&](const Status& status, protocol::Reply* reply) {
    using Type = protocol::Reply::Type;
    if (!status.ok()) {
      result = status;
    } else if (reply->type == Type::kError) {
      result = Status::Rejected(reply->text);
    } else if (reply->type == Type::kNil || reply->type == Type::kNilArray) {
      result = Status::NotFound("nil");
    } else if (reply->type == Type::kBulk) {
      result = std::string(reply->bulk.view());
    } else if (reply->type == Type::kInteger) {
      result = std::to_string(reply->integer);
    } else {
      std::string out;
      Render(*reply, out, "");
      result = std::move(out);
    }
    waiter.Done();
  };
  waiter.Add(1);
  node.Pick(node.NextBase()).Submit(std::move(request));
  waiter.Wait();
  return result;
}

ClientStats Client::Stats() const {
  ClientStats s;
  const Impl::Counters& c = impl_->counters_;
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.hits = load(c.hits);
  s.misses = load(c.misses);
  s.unavailable_misses = load(c.unavailable);
  s.too_small_misses = load(c.too_small);
  s.checksum_failures = load(c.corrupt);
  s.match_keys = load(c.match_keys);
  s.match_hits = load(c.match_hits);
  s.bytes_read = load(c.bytes_read);
  s.bytes_written = load(c.bytes_written);
  s.blocks_stored = load(c.blocks_stored);
  s.blocks_not_stored = load(c.blocks_not_stored);
  s.async_puts_dropped = load(c.async_dropped);
  {
    std::lock_guard lock(impl_->async_mu_);
    s.async_puts_pending = impl_->async_calls_;
  }
  s.match = c.match.Snapshot();
  s.get = c.get.Snapshot();
  s.put = c.put.Snapshot();
  s.put_async = c.put_async.Snapshot();
  std::shared_ptr<const Topology> topology = impl_->topology();
  for (const auto& node : topology->nodes) {
    const NodeContext& n = node->context();
    NodeStats ns;
    ns.id = n.id;
    ns.address = n.address;
    ns.up = n.health.up();
    ns.requests = load(n.requests);
    ns.errors = load(n.errors);
    ns.timeouts = load(n.timeouts);
    ns.error_replies = load(n.error_replies);
    ns.current_backoff_ms = static_cast<std::uint64_t>(n.health.current_backoff().count());
    s.nodes.push_back(std::move(ns));
  }
  return s;
}

std::string Client::RingJson() const { return impl_->topology()->ring.ToJson(); }
std::uint64_t Client::RingFingerprint() const { return impl_->topology()->ring.Fingerprint(); }

std::vector<NodeAddress> Client::Nodes() const {
  std::vector<NodeAddress> out;
  for (const auto& spec : impl_->topology()->ring.nodes()) {
    out.push_back({spec.id, spec.address, spec.weight});
  }
  return out;
}

std::vector<std::string> Client::NodesFor(const BlockKey& key) const {
  std::shared_ptr<const Topology> topology = impl_->topology();
  std::vector<std::string> out;
  for (std::size_t node : topology->ring.Replicas(key)) {
    out.push_back(topology->ring.nodes()[node].id);
  }
  return out;
}

}  // namespace prefixcache::client
