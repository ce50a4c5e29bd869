// flood_bench: the reliability figures of bench/RESULTS.md. Starts prefixcached nodes (small
// memory tier, spill on, limits.inflight_memory 512 MiB), measures a normal client alone
// (SET + GET of 4 KiB values, every block checked), then injects each fault of the fault
// suite in turn while that client runs -- connections that send nothing, a request sent a
// byte at a time, a client that never reads, 2,000 connections over max_connections, and
// 64 connections SETting 128 MiB values at once -- and prints, per fault, the client's
// requests and throughput during it beside the unloaded figure, its errors and wrong
// blocks, and the daemon's peak RSS (sampled from /proc) against the documented bound.
//   flood_bench [--connections 64] [--value-mib 128] [--seconds 5]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "daemon_test_util.h"
#include "fault_load.h"

namespace prefixcache::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int connections = 64;
  std::uint64_t value_mib = 128;
  int seconds = 5;
};

struct Row {
  std::string fault;
  std::uint64_t requests = 0;
  double seconds = 0;
  BystanderCounts counts;
  std::uint64_t peak_rss = 0;
  std::string note;
};

// Runs `fault` while the bystander works; what the bystander did meanwhile and the peak RSS.
Row Measure(const std::string& name, Bystander& bystander, pid_t pid,
            const std::function<std::string()>& fault) {
  Row row;
  row.fault = name;
  const BystanderCounts before = bystander.counts();
  const auto start = Clock::now();
  {
    RssSampler rss(pid);
    row.note = fault();
    row.peak_rss = rss.max_bytes();
  }
  row.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const BystanderCounts after = bystander.counts();
  row.requests = after.requests - before.requests;
  row.counts = {row.requests, after.errors - before.errors,
                after.wrong_blocks - before.wrong_blocks, after.misses - before.misses};
  return row;
}

// A node for the faults: small memory tier, spill on, the budget at 512 MiB (or twice the
// flood's value); `request_timeout_ms` as given.
std::string NodeConfig(const MemoryBound& bound, int max_connections,
                       std::uint64_t request_timeout_ms) {
  return R"({"memory": {"capacity": "256MiB"}, "spill": {"capacity": "1GiB", "queue": "256MiB"},
             "limits": {"max_value": )" +
         std::to_string(bound.max_value) + R"(, "max_request": )" +
         std::to_string(bound.inflight_memory) + R"(, "inflight_memory": )" +
         std::to_string(bound.inflight_memory) + R"(, "max_connections": )" +
         std::to_string(max_connections) + R"(, "idle_timeout_ms": 5000, "request_timeout_ms": )" +
         std::to_string(request_timeout_ms) + R"(, "client_output_buffer": "4MiB"}})";
}

int Run(const Options& options) {
  const std::uint64_t value = options.value_mib << 20;
  MemoryBound bound;
  bound.memory_capacity = 256ull << 20;
  bound.spill = true;
  bound.spill_queue = 256ull << 20;
  bound.max_value = value;
  bound.inflight_memory = std::max<std::uint64_t>(512ull << 20, 2 * value);
  constexpr int kMaxConnections = 600;
  // The slow clients' node drops a partial request after 2 s, so that the byte-at-a-time
  // fault ends soon; the flood gets a node of its own with the default 30 s, since a SET
  // waiting for memory counts towards it too.
  TestNode node("flood-bench");
  TestNode flood_node("flood-bench-flood");
  if (!node.Start(node.Config(NodeConfig(bound, kMaxConnections, 2000))) ||
      !flood_node.Start(flood_node.Config(NodeConfig(bound, kMaxConnections, 30000)))) {
    std::fprintf(stderr, "flood_bench: prefixcached did not start\n");
    return 1;
  }
  bound.idle_rss = std::max(VmRssBytes(node.pid()), VmRssBytes(flood_node.pid()));
  const std::uint16_t port = node.port();

  Bystander bystander(port, 4096, 7);
  bystander.Start();
  bystander.WaitForRequests(100);
  std::vector<Row> rows;
  rows.push_back(Measure("none (unloaded)", bystander, node.pid(), [&] {
    std::this_thread::sleep_for(std::chrono::seconds(options.seconds));
    return std::string();
  }));
  rows.push_back(Measure("500 connections sending nothing", bystander, node.pid(), [&] {
    auto silent = SilentClients(port, 500);
    for (auto& client : silent) client->WaitForEof();
    return std::string("closed after idle_timeout_ms 5000");
  }));
  rows.push_back(Measure("a request sent 4 bytes a second", bystander, node.pid(), [&] {
    const std::size_t sent = SendByteAtATime(port, std::chrono::milliseconds(250), 65536);
    return "dropped after " + std::to_string(sent) + " bytes (request_timeout_ms 2000)";
  }));
  rows.push_back(
      Measure("a client that never reads (2000 x GET 1 MiB)", bystander, node.pid(), [&] {
        RespClient setter(port);
        setter.Call({"SET", "bench-big", std::string(1 << 20, 'b')});
        auto reader = NonReader(port, "bench-big", 2000);
        std::this_thread::sleep_for(std::chrono::seconds(options.seconds));
        return std::string("held at client_output_buffer 4 MiB");
      }));
  rows.push_back(Measure("2,000 connections over max_connections", bystander, node.pid(), [&] {
    auto fill = SilentClients(port, kMaxConnections - 1);
    const int refused = ConnectionStorm(port, 2000);
    return std::to_string(refused) + " refused";
  }));
  bystander.Stop();

  Bystander flood_bystander(flood_node.port(), 4096, 8);
  flood_bystander.Start();
  flood_bystander.WaitForRequests(100);
  rows.push_back(Measure(std::to_string(options.connections) + " connections x SET " +
                             std::to_string(options.value_mib) + " MiB",
                         flood_bystander, flood_node.pid(), [&] {
                           const FloodResult flood =
                               Flood(flood_node.port(), options.connections, 1, value);
                           return std::to_string(flood.stored) + " stored, " +
                                  std::to_string(flood.refused) + " refused, " +
                                  std::to_string(flood.failed) + " failed";
                         }));
  flood_bystander.Stop();

  const double unloaded = static_cast<double>(rows[0].requests) / rows[0].seconds;
  std::printf("bound: %s\n\n", bound.Describe().c_str());
  std::printf(
      "| fault | requests during it | req/s (unloaded %.0f) | errors | wrong blocks | "
      "peak RSS MiB | bound MiB | note |\n",
      unloaded);
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  bool ok = true;
  for (const Row& row : rows) {
    const double rate = static_cast<double>(row.requests) / row.seconds;
    std::printf("| %s | %llu | %.0f (%.2fx) | %llu | %llu | %llu | %llu | %s |\n",
                row.fault.c_str(), static_cast<unsigned long long>(row.requests), rate,
                rate / unloaded, static_cast<unsigned long long>(row.counts.errors),
                static_cast<unsigned long long>(row.counts.wrong_blocks),
                static_cast<unsigned long long>(row.peak_rss >> 20),
                static_cast<unsigned long long>(bound.total() >> 20), row.note.c_str());
    ok = ok && row.counts.errors == 0 && row.counts.wrong_blocks == 0 &&
         row.peak_rss <= bound.total() && row.requests > 0;
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace prefixcache::testing

int main(int argc, char** argv) {
  prefixcache::testing::Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--connections") == 0) {
      options.connections = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--value-mib") == 0) {
      options.value_mib = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--seconds") == 0) {
      options.seconds = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: flood_bench [--connections N] [--value-mib N] [--seconds N]\n");
      return 2;
    }
  }
  return prefixcache::testing::Run(options);
}
