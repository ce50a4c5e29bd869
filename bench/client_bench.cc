// client_bench: how fast the client library fetches a prompt prefix, against references
// measured in the same run. It starts (pinned to core 0 with taskset when --pin) one
// prefixcached node, a 3-node prefixcached cluster, a redis-server (--save '' --appendonly
// no) and the loopback_ceiling server, loads the same values into each (payload + the
// client's checksum trailer, so Redis serves the same bytes), and then, interleaved and
// repeated (--rounds), fetches with the client (pinned to core 1), checksums on:
//   - 64 blocks of 2 MiB and 16 blocks of 8 MiB (128 MiB each) with GetInto into
//     destinations of exactly the payload's size (an engine's KV pages), from the one node,
//     from Redis (plain MGET over the same transport) and from the cluster; the same into
//     two-part destinations (each block's K and V halves in two separate pools); GetPrefix
//     of the whole prefix from the cluster; and the one node with checksums off;
//   - the same transfers from loopback_ceiling (raw TCP, 4 connections, no protocol, the
//     daemon's default TCP_NOTSENT_LOWAT), sent from a pool larger than the caches and from
//     one as large as a workload, read by one thread per connection or by one epoll
//     thread; the best of these is "the ceiling";
//   - Match of 1,000 keys against the cluster (p50/p99 latency);
//   - XXH3-64 over cache-resident data: what the binaries use (xxHash's dispatching entry
//     points, as the client hashes socket reads: streamed in 64 KiB slices), libxxhash's
//     default build, and XXH3 compiled inline for AVX2 and AVX-512 (each run only when the
//     CPU has it).
// Once, after the rounds: one GetPrefix of the 64-block prefix from the cluster, counting
// the commands each daemon served from its /metrics (prefixcache_commands_total): with one
// connection per node exactly one BLOCK.MGETPREFIX per node and no other command; with the
// default connections the node's share is split over them (still one round).
// It prints medians in GB/s (10^9 bytes/s), the ratios the project tracks, and the load
// average before and after.
//
//   client_bench [--rounds N] [--no-pin] [--bin-dir DIR] [--redis-server PATH]
//                [--io-threads N]   (the client's I/O threads, default ClientOptions')
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client_internals.h"
#include "config/config.h"
#include "prefixcache/admin.h"
#include "prefixcache/client.h"
#include "prefixcache/value_format.h"
#include "xxh3_inline.h"

extern char** environ;

namespace {

using prefixcache::BlockKey;
using prefixcache::BlockRead;
using prefixcache::Client;
using prefixcache::ClientOptions;
using prefixcache::Destination;
using Clock = std::chrono::steady_clock;

// ---- child processes ----

class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { Stop(); }

  // Starts argv (with stdout piped); waits up to 20 s for a stdout line containing
  // `ready` and returns the text after it (or "" when ready is empty).
  std::optional<std::string> Start(std::vector<std::string> argv, const std::string& ready) {
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) return std::nullopt;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = ::posix_spawnp(&pid_, raw[0], &actions, nullptr, raw.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    fd_ = out[0];
    if (rc != 0) {
      pid_ = -1;
      return std::nullopt;
    }
    if (ready.empty()) return std::string();
    std::optional<std::string> line = WaitFor(ready);
    if (!line) Stop();
    return line;
  }

  // Waits up to 20 s for a further stdout line containing `ready`; the text after it.
  std::optional<std::string> WaitFor(const std::string& ready) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    for (;;) {
      std::size_t eol;
      while ((eol = buffered_.find('\n')) != std::string::npos) {
        const std::string line = buffered_.substr(0, eol);
        buffered_.erase(0, eol + 1);
        const std::size_t at = line.find(ready);
        if (at != std::string::npos) return line.substr(at + ready.size());
      }
      if (Clock::now() >= deadline) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char chunk[512];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffered_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // The whole stdout until exit (for short-lived programs).
  std::string Drain() {
    std::string all;
    char chunk[4096];
    ssize_t n;
    while ((n = ::read(fd_, chunk, sizeof chunk)) > 0)
      all.append(chunk, static_cast<std::size_t>(n));
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    ::close(fd_);
    fd_ = -1;
    return all;
  }

  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 500; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
      }
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffered_;  // stdout read but not yet matched
};

std::uint16_t FreePort() {
  // Bind to port 0 and read the port back; the tiny race with other programs is acceptable
  // for a benchmark.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::string> Pinned(bool pin, const std::string& cpu, std::vector<std::string> argv) {
  if (!pin) return argv;
  argv.insert(argv.begin(), {"taskset", "-c", cpu});
  return argv;
}

// The body of GET `path` from "127.0.0.1:PORT" (HTTP/1.0; "" on failure).
std::string HttpGet(const std::string& address, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port =
      htons(static_cast<std::uint16_t>(std::atoi(address.c_str() + address.rfind(':') + 1)));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char chunk[4096];
      ssize_t n;
      while ((n = ::recv(fd, chunk, sizeof chunk, 0)) > 0)
        out.append(chunk, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const std::size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : out.substr(body + 4);
}

// prefixcache_commands_total by command, from a daemon's /metrics.
std::map<std::string, std::uint64_t> CommandCounts(const std::string& metrics_address) {
  std::map<std::string, std::uint64_t> counts;
  const std::string page = HttpGet(metrics_address, "/metrics");
  const std::string prefix = "prefixcache_commands_total{command=\"";
  for (std::size_t at = 0; (at = page.find(prefix, at)) != std::string::npos;) {
    at += prefix.size();
    const std::size_t end = page.find('"', at);
    const std::size_t value = page.find("} ", end);
    if (end == std::string::npos || value == std::string::npos) break;
    counts[page.substr(at, end - at)] = std::strtoull(page.c_str() + value + 2, nullptr, 10);
  }
  return counts;
}

// What `after` counted more than `before`, per command (only those that moved).
std::map<std::string, std::uint64_t> Moved(const std::map<std::string, std::uint64_t>& before,
                                           const std::map<std::string, std::uint64_t>& after) {
  std::map<std::string, std::uint64_t> moved;
  for (const auto& [command, count] : after) {
    const auto it = before.find(command);
    const std::uint64_t was = it == before.end() ? 0 : it->second;
    if (count > was) moved[command] = count - was;
  }
  return moved;
}

std::string Describe(const std::map<std::string, std::uint64_t>& moved) {
  std::string out;
  for (const auto& [command, count] : moved) {
    out += (out.empty() ? "" : ", ") + command + " x" + std::to_string(count);
  }
  return out.empty() ? "nothing" : out;
}

std::string LoadAverage() {
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) != 3) return "unknown";
  char text[64];
  std::snprintf(text, sizeof text, "%.2f, %.2f, %.2f", load[0], load[1], load[2]);
  return text;
}

// ---- data ----

std::vector<BlockKey> Keys(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<BlockKey> keys(n);
  for (auto& k : keys) k = BlockKey::FromHalves(rng(), rng());
  return keys;
}

struct Workload {
  std::string name;
  std::size_t block_bytes;
  std::vector<BlockKey> keys;
  std::vector<std::byte> source;  // blocks back to back
  // Destinations of exactly the payload's size: one pool of whole blocks; and each block's
  // K and V halves in two separate pools (two parts per destination).
  std::vector<std::byte> exact_pool, k_pool, v_pool;
  std::vector<std::span<std::byte>> exact, halves;
  std::vector<Destination> two_part;

  Workload(std::string n, std::size_t bytes, std::size_t blocks, std::uint64_t seed)
      : name(std::move(n)),
        block_bytes(bytes),
        keys(Keys(blocks, seed)),
        source(bytes * blocks),
        exact_pool(bytes * blocks, std::byte{0}),
        k_pool(bytes / 2 * blocks, std::byte{0}),
        v_pool(bytes / 2 * blocks, std::byte{0}) {
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i + 8 <= source.size(); i += 8) {
      const std::uint64_t v = rng();
      std::memcpy(source.data() + i, &v, 8);
    }
    const std::size_t half = bytes / 2;
    for (std::size_t i = 0; i < blocks; ++i) {
      exact.emplace_back(exact_pool.data() + i * bytes, bytes);
      halves.emplace_back(k_pool.data() + i * half, half);
      halves.emplace_back(v_pool.data() + i * half, half);
    }
    for (std::size_t i = 0; i < blocks; ++i)
      two_part.push_back({std::span(halves).subspan(2 * i, 2)});
  }
  std::size_t total_bytes() const { return source.size(); }
  std::vector<std::span<const std::byte>> Values() const {
    std::vector<std::span<const std::byte>> v;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      v.emplace_back(source.data() + i * block_bytes, block_bytes);
    }
    return v;
  }
  // Whether the exact-size destinations and the two-part ones hold the source.
  bool Verify() const {
    const std::size_t half = block_bytes / 2;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::byte* want = source.data() + i * block_bytes;
      if (std::memcmp(exact[i].data(), want, block_bytes) != 0 ||
          std::memcmp(halves[2 * i].data(), want, half) != 0 ||
          std::memcmp(halves[2 * i + 1].data(), want + half, half) != 0) {
        return false;
      }
    }
    return true;
  }
};

bool Load(Client& client, const Workload& w) {
  std::vector<std::uint32_t> depths(w.keys.size());
  for (std::size_t i = 0; i < depths.size(); ++i) depths[i] = static_cast<std::uint32_t>(i);
  auto put = client.Put(w.keys, w.Values(), depths);
  return put.ok() && put->stored == w.keys.size();
}

enum class Shape { kExact, kTwoPart, kPrefix };

// Seconds for one read of the whole workload; < 0 if any block was not a hit.
double Fetch(Client& client, Workload& w, Shape shape) {
  std::vector<BlockRead> reads(w.keys.size());
  const auto start = Clock::now();
  prefixcache::Result<std::size_t> hits =
      shape == Shape::kExact     ? client.GetInto(w.keys, w.exact, reads)
      : shape == Shape::kTwoPart ? client.GetInto(w.keys, w.two_part, reads)
                                 : client.GetPrefix(w.keys, w.exact, reads);
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  if (!hits.ok() || *hits != w.keys.size()) return -1;
  return s;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t at = std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()));
  return v[at];
}

std::uint32_t g_io_threads = 2;

std::unique_ptr<Client> Open(ClientOptions options) {
  options.io_threads = g_io_threads;
  options.timeout_ms = 20000;
  options.connect_timeout_ms = 2000;
  auto opened = Client::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "client_bench: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(opened).value();
}

// ---- XXH3 rates ----

// One way of hashing `data`; returns the hash (kept so the work is not optimised away).
struct Hashing {
  std::string name;
  std::function<std::uint64_t(std::span<const std::byte>)> run;
};

constexpr std::size_t kHashBytes = 256 * 1024;  // cache-resident, as a socket read's bytes
constexpr std::size_t kHashSlice = 64 * 1024;   // one socket read

std::vector<Hashing> Hashings() {
  using prefixcache::bench::Xxh3InlineOneShot;
  using prefixcache::bench::Xxh3InlineStreamed;
  using prefixcache::bench::Xxh3InlineSupported;
  using prefixcache::bench::Xxh3Unit;
  std::vector<Hashing> out;
  out.push_back({"dispatch, streamed (what the client runs)", [](std::span<const std::byte> d) {
                   XXH3_state_t* state = XXH3_createState();
                   XXH3_64bits_reset_withSeed(state, 7);
                   for (std::size_t at = 0; at < d.size(); at += kHashSlice) {
                     XXH3_64bits_update_dispatch(state, d.data() + at,
                                                 std::min(kHashSlice, d.size() - at));
                   }
                   const std::uint64_t h = XXH3_64bits_digest(state);
                   XXH3_freeState(state);
                   return h;
                 }});
  out.push_back({"dispatch, one call (put's trailer)", [](std::span<const std::byte> d) {
                   return XXH3_64bits_withSeed_dispatch(d.data(), d.size(), 7);
                 }});
  out.push_back({"libxxhash default build, one call", [](std::span<const std::byte> d) {
                   return XXH3_64bits_withSeed(d.data(), d.size(), 7);
                 }});
  for (const auto& [unit, label] :
       {std::pair{Xxh3Unit::kAvx2, "AVX2"}, std::pair{Xxh3Unit::kAvx512, "AVX-512"}}) {
    if (!Xxh3InlineSupported(unit)) {
      out.push_back({std::string("inline ") + label + ": not on this CPU", nullptr});
      continue;
    }
    out.push_back(
        {std::string("inline ") + label + ", streamed", [unit](std::span<const std::byte> d) {
           return Xxh3InlineStreamed(unit, d, kHashSlice, 7);
         }});
    out.push_back({std::string("inline ") + label + ", one call",
                   [unit](std::span<const std::byte> d) { return Xxh3InlineOneShot(unit, d, 7); }});
  }
  return out;
}

// GB/s of `hashing` over `data`, the best of a few timed passes of ~20 ms.
double HashRate(const Hashing& hashing, std::span<const std::byte> data, std::uint64_t* sink) {
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const auto start = Clock::now();
    std::size_t bytes = 0;
    while (Clock::now() - start < std::chrono::milliseconds(20)) {
      *sink ^= hashing.run(data);
      bytes += data.size();
    }
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, bytes / s / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7;
  bool pin = std::thread::hardware_concurrency() >= 2;
  std::string bin_dir = std::filesystem::path(argv[0]).parent_path().string();
  std::string redis_server = "redis-server";
  std::uint32_t io_threads = ClientOptions{}.io_threads;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--no-pin") {
      pin = false;
    } else if (arg == "--bin-dir" && i + 1 < argc) {
      bin_dir = argv[++i];
    } else if (arg == "--redis-server" && i + 1 < argc) {
      redis_server = argv[++i];
    } else if (arg == "--io-threads" && i + 1 < argc) {
      io_threads = static_cast<std::uint32_t>(std::max(1, std::atoi(argv[++i])));
    } else {
      std::fprintf(stderr,
                   "usage: client_bench [--rounds N] [--no-pin] [--bin-dir DIR] "
                   "[--redis-server PATH] [--io-threads N]\n");
      return 2;
    }
  }
  const std::string load_before = LoadAverage();
  if (bin_dir.empty()) bin_dir = ".";
  g_io_threads = io_threads;
  const std::string daemon = bin_dir + "/prefixcached";
  const std::string ceiling = bin_dir + "/loopback_ceiling";
  if (pin) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) pin = false;
  }
  const auto tmp = std::filesystem::temp_directory_path() /
                   ("prefixcache-client-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);

  // ---- servers ----
  // Everything fits in memory; no spill tier (and no flush to it on shutdown). The single
  // node's id is the client's, so its ring check agrees.
  std::ofstream(tmp / "single.json")
      << R"({"node": {"id": "single"}, "spill": {"enabled": false}})";
  Child single;
  auto single_address =
      single.Start(Pinned(pin, "0",
                          {daemon, "--config", (tmp / "single.json").string(), "--listen",
                           "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--memory-capacity",
                           "2GiB", "--log-level", "warn"}),
                   "prefixcached listening on ");
  if (!single_address) {
    std::fprintf(stderr, "client_bench: cannot start %s\n", daemon.c_str());
    return 1;
  }

  std::vector<std::uint16_t> cluster_ports = {FreePort(), FreePort(), FreePort()};
  ClientOptions cluster_options;
  {
    std::string json = "{\"cluster\": {\"nodes\": [";
    for (int i = 0; i < 3; ++i) {
      const std::string address = "127.0.0.1:" + std::to_string(cluster_ports[i]);
      cluster_options.nodes.push_back({"n" + std::to_string(i + 1), address, 1});
      json += std::string(i ? "," : "") + "{\"id\": \"n" + std::to_string(i + 1) +
              "\", \"address\": \"" + address + "\"}";
    }
    json += "]}, \"memory\": {\"capacity\": \"1GiB\"}, \"spill\": {\"enabled\": false}}";
    std::ofstream(tmp / "cluster.json") << json;
  }
  std::vector<std::unique_ptr<Child>> cluster;
  std::vector<std::string> cluster_metrics;
  for (int i = 0; i < 3; ++i) {
    cluster.push_back(std::make_unique<Child>());
    auto started =
        cluster.back()->Start(Pinned(pin, "0",
                                     {daemon, "--config", (tmp / "cluster.json").string(),
                                      "--node-id", "n" + std::to_string(i + 1), "--metrics-listen",
                                      "127.0.0.1:0", "--log-level", "warn"}),
                              "prefixcached listening on ");
    auto metrics = started ? cluster.back()->WaitFor("metrics on ") : std::nullopt;
    if (!started || !metrics) {
      std::fprintf(stderr, "client_bench: cannot start cluster node %d\n", i + 1);
      return 1;
    }
    cluster_metrics.push_back(*metrics);
  }

  const std::uint16_t redis_port = FreePort();
  Child redis;
  bool have_redis = redis
                        .Start(Pinned(pin, "0",
                                      {redis_server, "--port", std::to_string(redis_port), "--bind",
                                       "127.0.0.1", "--save", "", "--appendonly", "no",
                                       "--daemonize", "no", "--loglevel", "warning"}),
                               "")
                        .has_value();

  // Two ceiling servers: one sending from a pool larger than the caches (512 MiB), one
  // from a pool as large as a workload (128 MiB, like the daemon's working set). Both use
  // the socket tuning the daemon gets by default (TCP_NOTSENT_LOWAT = node.send_lowat).
  const std::string send_lowat = std::to_string(prefixcache::config::NodeConfig{}.send_lowat_bytes);
  // Starts one ceiling server with `extra` options; its port, or nullopt.
  auto start_ceiling = [&](Child& child,
                           std::vector<std::string> extra) -> std::optional<std::string> {
    std::vector<std::string> argv = {ceiling, "--serve", "--send-lowat", send_lowat};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto address = child.Start(Pinned(pin, "0", std::move(argv)), "loopback_ceiling listening on ");
    if (!address) {
      std::fprintf(stderr, "client_bench: cannot start %s\n", ceiling.c_str());
      return std::nullopt;
    }
    return address->substr(address->rfind(':') + 1);
  };
  Child ceiling_small;
  const std::optional<std::string> small_port = start_ceiling(ceiling_small, {"--pool-mib", "128"});
  Child ceiling_server;
  const std::optional<std::string> ceiling_port = start_ceiling(ceiling_server, {});
  if (!small_port || !ceiling_port) return 1;

  // ---- clients ----
  ClientOptions single_options;
  single_options.nodes = {{"single", *single_address, 1}};
  auto single_client = Open(single_options);
  ClientOptions no_verify = single_options;
  no_verify.verify_checksums = false;
  auto no_verify_client = Open(no_verify);
  auto cluster_client = Open(cluster_options);
  ClientOptions one_connection = cluster_options;
  one_connection.connections_per_node = 1;
  auto one_connection_client = Open(one_connection);
  std::unique_ptr<Client> redis_client;
  if (have_redis) {
    ClientOptions redis_options;
    redis_options.nodes = {{"redis", "127.0.0.1:" + std::to_string(redis_port), 1}};
    redis_client = Open(redis_options);
    prefixcache::client::ClientInternals::UseRedisCommands(*redis_client);
    const std::string_view ping[] = {"PING"};
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!prefixcache::admin::Command(*redis_client, "redis", ping).ok()) {
      if (Clock::now() > deadline) {
        have_redis = false;
        std::fprintf(stderr, "client_bench: redis-server did not answer; skipping it\n");
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::vector<Workload> workloads;
  workloads.emplace_back("64 x 2 MiB", std::size_t{2} << 20, 64, 11);
  workloads.emplace_back("16 x 8 MiB", std::size_t{8} << 20, 16, 12);
  for (auto& w : workloads) {
    if (!Load(*single_client, w) || !Load(*cluster_client, w) ||
        (have_redis && !Load(*redis_client, w))) {
      std::fprintf(stderr, "client_bench: loading %s failed\n", w.name.c_str());
      return 1;
    }
  }
  // Match: 1,000 small blocks in the cluster, all present.
  const auto match_keys = Keys(1000, 13);
  {
    std::vector<std::byte> small(64, std::byte{7});
    std::vector<std::span<const std::byte>> values(match_keys.size(), small);
    std::vector<std::uint32_t> depths(match_keys.size());
    for (std::size_t i = 0; i < depths.size(); ++i) depths[i] = static_cast<std::uint32_t>(i);
    auto put = cluster_client->Put(match_keys, values, depths);
    if (!put.ok() || put->stored != match_keys.size()) {
      std::fprintf(stderr, "client_bench: loading match keys failed\n");
      return 1;
    }
  }

  // ---- measurements, interleaved ----
  struct Target {
    std::string name;
    std::function<double(Workload&)> fetch;
  };
  std::vector<Target> targets;
  // The ceiling client runs as its own (pinned) process: one warm-up fetch on fresh
  // connections, then three timed ones, of which the median counts.
  auto ceiling_fetch = [&](Workload& w, bool epoll, const std::string& server_port) {
    std::vector<std::string> argv = {
        ceiling, "--connect", server_port, "--connections", "4", "--warmup", "1", "--repeat", "3"};
    argv.insert(argv.end(), {"--block-bytes", std::to_string(w.block_bytes), "--blocks",
                             std::to_string(w.keys.size())});
    if (epoll) argv.push_back("--epoll");
    Child c;
    c.Start(Pinned(pin, "1", argv), "");
    const std::string out = c.Drain();
    std::vector<double> seconds;
    for (std::size_t at = 0; (at = out.find("seconds ", at)) != std::string::npos; at += 8) {
      seconds.push_back(std::atof(out.c_str() + at + 8));
    }
    return seconds.size() == 3 ? Median(seconds) : -1.0;
  };
  const std::vector<std::string> ceiling_names = {
      "ceiling: 512 MiB pool, 4 conns x 1 thread", "ceiling: 512 MiB pool, 4 conns, 1 epoll thr",
      "ceiling: 128 MiB pool, 4 conns x 1 thread", "ceiling: 128 MiB pool, 4 conns, 1 epoll thr"};
  for (int c = 0; c < 4; ++c) {
    const bool epoll = c % 2 == 1;
    const std::string port = c < 2 ? *ceiling_port : *small_port;
    targets.push_back({ceiling_names[c],
                       [&, epoll, port](Workload& w) { return ceiling_fetch(w, epoll, port); }});
  }
  const std::string kOne = "prefixcached 1 node, exact-size";
  const std::string kTwoPart = "prefixcached 1 node, two parts (K|V)";
  const std::string kRedis = "redis-server MGET, same client, exact";
  const std::string kCluster = "prefixcached 3 nodes, exact-size";
  const std::string kPrefix = "prefixcached 3 nodes, GetPrefix";
  targets.push_back({kOne, [&](Workload& w) { return Fetch(*single_client, w, Shape::kExact); }});
  targets.push_back(
      {kTwoPart, [&](Workload& w) { return Fetch(*single_client, w, Shape::kTwoPart); }});
  targets.push_back({"prefixcached 1 node, exact, checksums off",
                     [&](Workload& w) { return Fetch(*no_verify_client, w, Shape::kExact); }});
  if (have_redis) {
    targets.push_back(
        {kRedis, [&](Workload& w) { return Fetch(*redis_client, w, Shape::kExact); }});
  }
  targets.push_back(
      {kCluster, [&](Workload& w) { return Fetch(*cluster_client, w, Shape::kExact); }});
  targets.push_back(
      {kPrefix, [&](Workload& w) { return Fetch(*cluster_client, w, Shape::kPrefix); }});

  const std::vector<Hashing> hashings = Hashings();
  std::vector<std::byte> hash_data(kHashBytes);
  for (std::size_t i = 0; i < hash_data.size(); ++i) hash_data[i] = static_cast<std::byte>(i * 131);
  std::vector<std::vector<double>> hash_gbps(hashings.size());
  std::uint64_t hash_sink = 0;

  std::map<std::pair<std::size_t, std::size_t>, std::vector<double>> gbps;  // (target, workload)
  std::vector<double> match_us;
  // One warm-up fetch each (connections, page faults), checked byte for byte.
  for (auto& t : targets) {
    for (auto& w : workloads) {
      std::fill(w.exact_pool.begin(), w.exact_pool.end(), std::byte{0});
      std::fill(w.k_pool.begin(), w.k_pool.end(), std::byte{0});
      std::fill(w.v_pool.begin(), w.v_pool.end(), std::byte{0});
      const double s = t.fetch(w);
      if (t.name.rfind("ceiling", 0) == 0) continue;
      // A fetch fills either the exact-size pool or the two parts: copy it to the other.
      if (t.name == kTwoPart) {
        for (std::size_t i = 0; i < w.keys.size(); ++i) {
          std::memcpy(w.exact[i].data(), w.halves[2 * i].data(), w.block_bytes / 2);
          std::memcpy(w.exact[i].data() + w.block_bytes / 2, w.halves[2 * i + 1].data(),
                      w.block_bytes / 2);
        }
      } else {
        for (std::size_t i = 0; i < w.keys.size(); ++i) {
          std::memcpy(w.halves[2 * i].data(), w.exact[i].data(), w.block_bytes / 2);
          std::memcpy(w.halves[2 * i + 1].data(), w.exact[i].data() + w.block_bytes / 2,
                      w.block_bytes / 2);
        }
      }
      if (s < 0 || !w.Verify()) {
        std::fprintf(stderr, "client_bench: %s, %s: wrong or missing bytes\n", t.name.c_str(),
                     w.name.c_str());
        return 1;
      }
    }
  }
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < targets.size(); ++k) {
      const std::size_t t = (k + static_cast<std::size_t>(r)) % targets.size();  // rotate order
      for (std::size_t wi = 0; wi < workloads.size(); ++wi) {
        const double s = targets[t].fetch(workloads[wi]);
        if (s > 0) gbps[{t, wi}].push_back(workloads[wi].total_bytes() / s / 1e9);
      }
    }
    for (int m = 0; m < 200; ++m) {
      const auto start = Clock::now();
      const std::size_t matched = cluster_client->Match(match_keys);
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      if (matched == match_keys.size()) match_us.push_back(us);
    }
    for (std::size_t h = 0; h < hashings.size(); ++h) {
      if (hashings[h].run) hash_gbps[h].push_back(HashRate(hashings[h], hash_data, &hash_sink));
    }
  }

  // ---- GetPrefix's commands, counted by the daemons ----
  Workload& prefix_load = workloads[0];
  auto count_commands = [&](Client& client) {
    std::vector<std::map<std::string, std::uint64_t>> before, moved;
    for (const auto& m : cluster_metrics) before.push_back(CommandCounts(m));
    const double s = Fetch(client, prefix_load, Shape::kPrefix);
    for (std::size_t n = 0; n < cluster_metrics.size(); ++n) {
      moved.push_back(Moved(before[n], CommandCounts(cluster_metrics[n])));
    }
    return std::pair{s, moved};
  };
  Fetch(*one_connection_client, prefix_load, Shape::kPrefix);  // first contact (ring check)
  const auto [one_seconds, one_moved] = count_commands(*one_connection_client);
  const auto [default_seconds, default_moved] = count_commands(*cluster_client);

  // ---- report ----
  std::printf("client_bench: %d rounds, medians; %s; client io_threads %u; GB/s = 10^9 bytes/s\n",
              rounds, pin ? "servers pinned to core 0, client to core 1" : "not pinned",
              io_threads);
  std::printf("load average before: %s; after: %s\n", load_before.c_str(), LoadAverage().c_str());
  std::printf("%-44s", "fetch, checksums verified unless said");
  for (const auto& w : workloads) std::printf("%14s", w.name.c_str());
  std::printf("\n");
  auto median = [&](std::size_t t, std::size_t w) { return Median(gbps[{t, w}]); };
  for (std::size_t t = 0; t < targets.size(); ++t) {
    std::printf("%-44s", targets[t].name.c_str());
    for (std::size_t w = 0; w < workloads.size(); ++w) {
      std::printf("%9.2f GB/s", median(t, w));
    }
    std::printf("\n");
  }
  auto index_of = [&](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t t = 0; t < targets.size(); ++t) {
      if (targets[t].name == name) return t;
    }
    return std::nullopt;
  };
  // The ceiling is the best of the raw-TCP variants.
  auto ceiling_of = [&](std::size_t w) {
    double best = 0;
    for (const auto& name : ceiling_names) best = std::max(best, median(*index_of(name), w));
    return best;
  };
  const auto one_t = index_of(kOne);
  const auto two_t = index_of(kTwoPart);
  const auto redis_t = index_of(kRedis);
  const auto cluster_t = index_of(kCluster);
  const auto prefix_t = index_of(kPrefix);
  std::printf("ratios\n");
  for (std::size_t w = 0; w < workloads.size(); ++w) {
    std::printf("  %s: exact-size / ceiling %.0f%% (target >= 80%%), two parts / ceiling %.0f%%",
                workloads[w].name.c_str(), 100 * median(*one_t, w) / ceiling_of(w),
                100 * median(*two_t, w) / ceiling_of(w));
    if (redis_t) {
      std::printf(", exact-size / redis %.2fx (target >= 2.5x)",
                  median(*one_t, w) / median(*redis_t, w));
    }
    std::printf(", cluster / ceiling %.0f%%, cluster GetPrefix / ceiling %.0f%%\n",
                100 * median(*cluster_t, w) / ceiling_of(w),
                100 * median(*prefix_t, w) / ceiling_of(w));
  }
  std::printf(
      "match of 1,000 keys against the 3-node cluster (%zu calls): p50 %.0f us, "
      "p99 %.0f us (target p50 < 1000 us)\n",
      match_us.size(), Percentile(match_us, 0.5), Percentile(match_us, 0.99));
  std::printf(
      "GetPrefix of %s from the 3-node cluster, commands each daemon counted "
      "(prefixcache_commands_total):\n",
      prefix_load.name.c_str());
  for (std::size_t n = 0; n < cluster_metrics.size(); ++n) {
    std::printf("  n%zu: 1 connection per node: %s; %u connections per node: %s\n", n + 1,
                Describe(one_moved[n]).c_str(), cluster_options.connections_per_node,
                Describe(default_moved[n]).c_str());
  }
  std::printf("  (%s; %s)\n", one_seconds > 0 ? "run complete" : "RUN INCOMPLETE",
              default_seconds > 0 ? "run complete" : "RUN INCOMPLETE");
  std::printf("XXH3-64 over %zu KiB in cache (streamed = %zu KiB updates), GB/s (best of 5):\n",
              kHashBytes / 1024, kHashSlice / 1024);
  for (std::size_t h = 0; h < hashings.size(); ++h) {
    if (!hashings[h].run) {
      std::printf("  %-44s\n", hashings[h].name.c_str());
    } else {
      std::printf("  %-44s %7.1f\n", hashings[h].name.c_str(), Median(hash_gbps[h]));
    }
  }
  if (hash_sink == 42) std::printf(" \n");  // keeps the hashes observable

  single_client.reset();
  no_verify_client.reset();
  cluster_client.reset();
  one_connection_client.reset();
  redis_client.reset();
  std::error_code ec;
  single.Stop();
  for (auto& c : cluster) c->Stop();
  redis.Stop();
  ceiling_server.Stop();
  ceiling_small.Stop();
  std::filesystem::remove_all(tmp, ec);
  return 0;
}
