#include "fault_load.h"

#include <sys/socket.h>

#include <cstdio>
#include <random>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

// The value of version `version` of key `key`: bytes that show any misplacement.
std::string ValueOf(const std::string& key, std::uint64_t version, std::size_t size) {
  std::mt19937_64 rng(std::hash<std::string>{}(key) ^ (version * 0x9e3779b97f4a7c15ull));
  std::string value(size, '\0');
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t word = rng();
    for (std::size_t j = 0; j < 8 && i + j < size; ++j)
      value[i + j] = static_cast<char>(word >> (8 * j));
  }
  return value;
}

std::string MiB(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

Bystander::Bystander(std::uint16_t port, std::size_t value_bytes, std::uint64_t seed)
    : port_(port), value_bytes_(value_bytes), seed_(seed) {}

Bystander::~Bystander() { Stop(); }

void Bystander::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Bystander::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

BystanderCounts Bystander::counts() const {
  return {requests_.load(), errors_.load(), wrong_.load(), misses_.load()};
}

bool Bystander::WaitForRequests(std::uint64_t more, std::chrono::milliseconds bound) const {
  const std::uint64_t target = requests_.load() + more;
  return Eventually([&] { return requests_.load() >= target; }, bound);
}

void Bystander::Run() {
  auto client = std::make_unique<RespClient>(port_);
  // A reply the client made up because the connection failed ("<client: ...>").
  auto failed = [](const Reply& reply) {
    return reply.type == Reply::Type::kError && reply.text.rfind("<client", 0) == 0;
  };
  std::vector<std::uint64_t> versions(64, 0);
  for (std::uint64_t i = 0; !stop_; ++i) {
    const std::size_t slot = static_cast<std::size_t>(i % versions.size());
    const std::string key = "bystander-" + std::to_string(seed_) + "-" + std::to_string(slot);
    const std::uint64_t version = ++versions[slot];
    const std::string value = ValueOf(key, version, value_bytes_);
    const Reply set = client->Call({"SET", key, value});
    ++requests_;
    if (set.type != Reply::Type::kSimple || set.text != "OK") {
      ++errors_;
      if (failed(set)) client = std::make_unique<RespClient>(port_);
      continue;
    }
    const Reply get = client->Call({"GET", key});
    ++requests_;
    if (get.type == Reply::Type::kNil) {
      ++misses_;
    } else if (get.type != Reply::Type::kBulk) {
      ++errors_;
      if (failed(get)) client = std::make_unique<RespClient>(port_);
    } else if (get.bulk.view() != value) {
      ++wrong_;
    }
  }
}

RssSampler::RssSampler(pid_t pid) : pid_(pid) {
  thread_ = std::thread([this] {
    while (!stop_) {
      const std::uint64_t rss = VmRssBytes(pid_);
      if (rss > max_) max_ = rss;
      ++samples_;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
}

RssSampler::~RssSampler() {
  stop_ = true;
  thread_.join();
}

std::vector<std::unique_ptr<RespClient>> SilentClients(std::uint16_t port, int count) {
  std::vector<std::unique_ptr<RespClient>> clients;
  for (int i = 0; i < count; ++i) clients.push_back(std::make_unique<RespClient>(port));
  return clients;
}

std::size_t SendByteAtATime(std::uint16_t port, std::chrono::milliseconds interval,
                            std::size_t value_bytes) {
  RespClient client(port);
  const std::string request = Cmd({"SET", "slow-key", std::string(value_bytes, 's')});
  for (std::size_t sent = 0; sent < request.size(); ++sent) {
    if (!client.Send(request.data() + sent, 1)) return sent;
    // The daemon closes the connection between two bytes: a read sees the end at once.
    std::string ignored;
    if (client.ReadRawUntilEof(ignored, interval)) return sent + 1;
  }
  return request.size();
}

std::unique_ptr<RespClient> NonReader(std::uint16_t port, const std::string& key, int count) {
  auto client = std::make_unique<RespClient>(port, true, /*receive_buffer_bytes=*/64 * 1024);
  std::string requests;
  for (int i = 0; i < count; ++i) requests += Cmd({"GET", key});
  client->Send(requests);
  return client;
}

int ConnectionStorm(std::uint16_t port, int count) {
  std::vector<std::unique_ptr<RespClient>> clients;
  for (int i = 0; i < count; ++i) clients.push_back(std::make_unique<RespClient>(port));
  int refused = 0;
  for (auto& client : clients) {
    std::string raw;
    if (client->connected() && client->ReadRawUntilEof(raw) &&
        raw == "-ERR max number of clients reached\r\n") {
      ++refused;
    }
  }
  return refused;
}

FloodResult Flood(std::uint16_t port, int connections, int sets, std::size_t value_bytes) {
  const std::string payload(value_bytes, 'f');  // one shared payload: the test stays small
  std::atomic<std::uint64_t> stored{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      RespClient client(port);
      for (int s = 0; s < sets; ++s) {
        const std::string key = "flood-" + std::to_string(c) + "-" + std::to_string(s);
        const std::string header = "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" +
                                   key + "\r\n$" + std::to_string(value_bytes) + "\r\n";
        if (!client.Send(header) || !client.Send(payload) || !client.Send("\r\n")) {
          ++failed;
          return;
        }
        const std::optional<Reply> reply = client.Read(std::chrono::minutes(5));
        if (!reply) {
          ++failed;
          return;
        }
        if (reply->type == Reply::Type::kSimple) {
          ++stored;
        } else {
          ++refused;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return {stored.load(), refused.load(), failed.load()};
}

std::uint64_t MemoryBound::rocksdb() const {
  if (!spill) return 0;
  constexpr std::uint64_t kMemtable = 32ull << 20;
  constexpr std::uint64_t kBatch = 1ull << 20;
  return 4 * (kMemtable + max_value) + std::max(kBatch, max_value);
}

std::uint64_t MemoryBound::overhead() const { return idle_rss + kAllocatorSlack; }

std::uint64_t MemoryBound::total() const {
  return memory_capacity + (spill ? spill_queue : 0) + rocksdb() + inflight_memory + overhead();
}

std::string MemoryBound::Describe() const {
  return MiB(total()) + " = memory " + MiB(memory_capacity) + " + spill queue " +
         MiB(spill ? spill_queue : 0) + " + RocksDB " + MiB(rocksdb()) + " + inflight " +
         MiB(inflight_memory) + " + overhead " + MiB(overhead()) + " (idle RSS " + MiB(idle_rss) +
         ")";
}

}  // namespace prefixcache::testing
