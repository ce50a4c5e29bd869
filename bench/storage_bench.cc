// storage_bench: throughput and latency of the BlockStore's memory and spill tiers, each
// beside a reference measured in the same run (memcpy for memory, dd for disk), as ratios.
//
//   storage_bench [--dir DIR] [--repeat N] [--mem-mib M] [--spill-mib S] [--dd-mib D]
//                 [--no-malloc-tune] [--skip-spill] [--skip-memory]
//
// --dir: scratch folder for the spill tier and dd (default /var/tmp/prefixcache-bench).
// --repeat: runs; each figure printed is the median over them.
// By default the bench tunes malloc exactly as prefixcached does at startup
// (storage::TuneAllocatorForBlocks: freed blocks stay in the heap and a later block reuses
// their pages instead of taking fresh zeroed ones, one page fault per 4 KiB, which makes a
// put(span) cost about 4x a memcpy). --no-malloc-tune keeps glibc's defaults, where whether
// pages are reused depends on the allocation history. Blocks of 32 MiB and more are still
// mmapped (glibc caps the threshold there) and fault on every fill.
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "storage/allocator_tuning.h"
#include "storage/block_store.h"
#include "storage/options.h"

namespace prefixcache::storage {
namespace {

struct Args {
  std::string dir = "/var/tmp/prefixcache-bench";
  int repeat = 1;
  std::uint64_t mem_bytes = 512 * kMiB;     // per block size and phase
  std::uint64_t spill_bytes = 1024 * kMiB;  // per block size
  std::uint64_t dd_bytes = 1024 * kMiB;
  bool malloc_tune = true;
  bool skip_spill = false;
  bool skip_memory = false;
};

[[noreturn]] void Usage(const char* error) {
  std::fprintf(stderr,
               "storage_bench: %s\nusage: storage_bench [--dir DIR] [--repeat N] [--mem-mib M] "
               "[--spill-mib S] [--dd-mib D] [--no-malloc-tune] [--skip-spill] [--skip-memory]\n",
               error);
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value after " + arg).c_str());
      return argv[++i];
    };
    auto number = [&]() -> std::uint64_t {
      const std::string text = value();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || n == 0) Usage((arg + ": expected a number > 0").c_str());
      return n;
    };
    if (arg == "--dir") {
      args.dir = value();
    } else if (arg == "--repeat") {
      args.repeat = static_cast<int>(std::min<std::uint64_t>(number(), 100));
    } else if (arg == "--mem-mib") {
      args.mem_bytes = number() * kMiB;
    } else if (arg == "--spill-mib") {
      args.spill_bytes = number() * kMiB;
    } else if (arg == "--dd-mib") {
      args.dd_bytes = number() * kMiB;
    } else if (arg == "--no-malloc-tune") {
      args.malloc_tune = false;
    } else if (arg == "--skip-spill") {
      args.skip_spill = true;
    } else if (arg == "--skip-memory") {
      args.skip_memory = true;
    } else {
      Usage(("unknown argument " + arg).c_str());
    }
  }
  return args;
}

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Per-operation latencies in seconds, and their sum.
struct Samples {
  std::vector<double> s;
  double total = 0;

  void Add(Clock::duration d) {
    s.push_back(Seconds(d));
    total += s.back();
  }
  double Percentile(double p) {
    if (s.empty()) return 0;
    std::sort(s.begin(), s.end());
    return s[std::min(s.size() - 1, static_cast<std::size_t>(p * static_cast<double>(s.size())))];
  }
};

[[noreturn]] void Die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "storage_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

BlockKey Key(std::uint64_t phase, std::uint64_t i) { return BlockKey::FromHalves(phase, i); }

Buffer RandomBytes(std::size_t size, std::uint64_t seed) {
  MutableBuffer bytes(size);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint64_t word = rng();
    std::memcpy(bytes.data() + i, &word, 8);
  }
  return std::move(bytes).Freeze();
}

std::unique_ptr<BlockStore> OpenStore(const StoreOptions& options) {
  auto store = BlockStore::Open(options);
  if (!store.ok()) Die("BlockStore::Open", store.status());
  return std::move(store).value();
}

// Every figure of one run for one block size. Rates in GB/s (1e9 bytes), latencies in us.
struct Figures {
  double memcpy_gbps = 0, memcpy_p50 = 0, memcpy_p99 = 0;
  double first_fill_gbps = 0, first_fill_p50 = 0;
  double put_span_gbps = 0, put_span_p50 = 0, put_span_p99 = 0;
  double put_buffer_gbps = 0, put_buffer_p50 = 0, put_buffer_p99 = 0;
  double get_gbps = 0, get_p50 = 0;
  double get_no_copy = 0;  // 1 when Get returned the stored buffer itself
  double spill_write_gbps = 0, spill_put_s = 0, spill_flush_s = 0, spill_written_mib = 0;
  double spill_disk_mib = 0, spill_cpu_s_per_gib = 0, spill_drops = 0;
  double spill_get_gbps = 0, spill_get_p50 = 0, spill_get_bad = 0;
};

void RunMemory(std::size_t block_bytes, std::uint64_t total_bytes, std::uint64_t phase,
               Figures& f) {
  const std::size_t n = std::max<std::size_t>(1, total_bytes / block_bytes);
  const Buffer source = RandomBytes(block_bytes, phase);
  const double gb = static_cast<double>(n * block_bytes) / 1e9;

  StoreOptions options;
  options.spill.enabled = false;
  options.memory.capacity_bytes = 2 * n * (block_bytes + kMemoryEntryOverheadBytes);
  auto store = OpenStore(options);
  auto put = [&](std::size_t i) {
    Status s = store->Put(Key(phase, i), source.span(), static_cast<std::uint32_t>(i % 32));
    if (!s.ok()) Die("Put(span)", s);
  };

  // A first fill, then a refill after Clear() as in a daemon that has freed blocks before:
  // whether the refill reuses their pages or faults fresh ones in is up to malloc (see
  // --malloc-tune). The first fill of a process always faults.
  Samples first_fill;
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    put(i);
    first_fill.Add(Clock::now() - t0);
  }
  f.first_fill_gbps = gb / first_fill.total;
  f.first_fill_p50 = first_fill.Percentile(0.5) * 1e6;
  if (Status s = store->Clear(); !s.ok()) Die("Clear", s);

  {
    // The reference: the same bytes copied into distinct, already faulted-in memory,
    // interleaved with the puts so both see the same machine load.
    MutableBuffer destination(n * block_bytes);
    std::memset(destination.data(), 0, destination.size());
    Samples copy;
    Samples put_span;
    for (std::size_t i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      std::memcpy(destination.data() + i * block_bytes, source.data(), block_bytes);
      copy.Add(Clock::now() - t0);
      t0 = Clock::now();
      put(i);
      put_span.Add(Clock::now() - t0);
    }
    f.memcpy_gbps = gb / copy.total;
    f.memcpy_p50 = copy.Percentile(0.5) * 1e6;
    f.memcpy_p99 = copy.Percentile(0.99) * 1e6;
    f.put_span_gbps = gb / put_span.total;
    f.put_span_p50 = put_span.Percentile(0.5) * 1e6;
    f.put_span_p99 = put_span.Percentile(0.99) * 1e6;
  }
  if (Status s = store->Clear(); !s.ok()) Die("Clear", s);

  std::vector<Buffer> buffers;
  buffers.reserve(n);
  for (std::size_t i = 0; i < n; ++i) buffers.push_back(Buffer::Copy(source.span()));
  Samples put_buffer;
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    Status s = store->Put(Key(phase, i), buffers[i], static_cast<std::uint32_t>(i % 32));
    put_buffer.Add(Clock::now() - t0);
    if (!s.ok()) Die("Put(Buffer)", s);
  }
  f.put_buffer_gbps = gb / put_buffer.total;
  f.put_buffer_p50 = put_buffer.Percentile(0.5) * 1e6;
  f.put_buffer_p99 = put_buffer.Percentile(0.99) * 1e6;

  Samples get;
  f.get_no_copy = 1;
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    Result<Buffer> got = store->Get(Key(phase, i));
    get.Add(Clock::now() - t0);
    if (!got.ok()) Die("Get", got.status());
    if (got->data() != buffers[i].data()) f.get_no_copy = 0;
  }
  f.get_gbps = gb / get.total;
  f.get_p50 = get.Percentile(0.5) * 1e6;
  if (Status s = store->Close(); !s.ok()) Die("Close", s);
}

// CPU seconds (user + system) used so far by every thread of this process.
double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Bytes this process has caused to be written to the block layer (/proc/self/io
// write_bytes; page-cache writes count when dirtied); 0 if unknown.
double ProcessDiskWriteBytes() {
  FILE* io = std::fopen("/proc/self/io", "r");
  if (io == nullptr) return 0;
  unsigned long long bytes = 0;
  char line[128];
  while (std::fgets(line, sizeof line, io) != nullptr) {
    if (std::sscanf(line, "write_bytes: %llu", &bytes) == 1) break;
  }
  std::fclose(io);
  return static_cast<double>(bytes);
}

std::string LoadAverage() {
  FILE* file = std::fopen("/proc/loadavg", "r");
  if (file == nullptr) return "?";
  char text[64] = {};
  const bool read = std::fgets(text, sizeof text, file) != nullptr;
  std::fclose(file);
  if (!read) return "?";
  // "0.52 0.58 0.59 1/123 4567": the first three fields.
  std::string load(text);
  std::size_t end = 0;
  for (int field = 0; field < 3 && end != std::string::npos; ++field) {
    end = load.find(' ', end == 0 ? 0 : end + 1);
  }
  return load.substr(0, end);
}

// Waits for every dirty page of the file system holding `dir` to reach the disk.
void SyncFileSystem(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::syncfs(fd);
  ::close(fd);
}

void RunSpill(std::size_t block_bytes, std::uint64_t total_bytes, std::uint64_t phase,
              const std::string& dir, Figures& f) {
  const std::size_t n = std::max<std::size_t>(1, total_bytes / block_bytes);
  const Buffer source = RandomBytes(block_bytes, phase);
  const std::string path = dir + "/spill-" + std::to_string(phase);
  std::filesystem::remove_all(path);

  StoreOptions options;
  options.memory.capacity_bytes = 4 * (block_bytes + kMemoryEntryOverheadBytes);
  options.memory.shards = 1;
  options.spill.path = path;
  options.spill.capacity_bytes = 4 * total_bytes;
  options.spill.queue_bytes = total_bytes + 64 * kMiB;  // measure the writer, not drops
  options.spill.flush_on_close = false;
  auto store = OpenStore(options);
  if (Status s = store->SpillStatus(); !s.ok()) Die("spill tier " + path, s);

  // Written = demoted to RocksDB, flushed, and synced to the disk (as dd's conv=fsync):
  // the clock runs from the first put until Flush() and syncfs() have returned, and only
  // blocks the spill tier wrote count (not the few still in memory, nor any dropped).
  SyncFileSystem(path);
  const double cpu0 = ProcessCpuSeconds();
  const double disk0 = ProcessDiskWriteBytes();
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    Status s = store->Put(Key(phase, i), source.span(), static_cast<std::uint32_t>(i % 32));
    if (!s.ok()) Die("Put(span)", s);
  }
  const auto t_flush = Clock::now();
  if (Status s = store->Flush(); !s.ok()) Die("Flush", s);
  SyncFileSystem(path);
  const auto t1 = Clock::now();
  const double cpu = ProcessCpuSeconds() - cpu0;
  const double disk = ProcessDiskWriteBytes() - disk0;
  const StoreStats stats = store->Stats();
  const double written = static_cast<double>(stats.spill.demotions) * block_bytes;
  f.spill_write_gbps = written / 1e9 / Seconds(t1 - t0);
  f.spill_put_s = Seconds(t_flush - t0);
  f.spill_flush_s = Seconds(t1 - t_flush);
  f.spill_written_mib = written / kMiB;
  f.spill_disk_mib = disk / kMiB;
  f.spill_cpu_s_per_gib = written > 0 ? cpu / (written / kGiB) : 0;
  f.spill_drops = static_cast<double>(stats.memory.demotion_drops + stats.spill.demotion_drops);

  // Oldest first: these are on disk (the memory tier holds only the last few).
  Samples get;
  double bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto start = Clock::now();
    Result<Buffer> got = store->Get(Key(phase, i));
    get.Add(Clock::now() - start);
    if (!got.ok() || got->size() != block_bytes ||
        std::memcmp(got->data(), source.data(), block_bytes) != 0) {
      ++bad;
    }
  }
  f.spill_get_gbps = static_cast<double>(n * block_bytes) / 1e9 / get.total;
  f.spill_get_p50 = get.Percentile(0.5) * 1e6;
  f.spill_get_bad = bad;
  if (Status s = store->Close(); !s.ok()) Die("Close", s);
  store.reset();
  std::filesystem::remove_all(path);
}

// dd's sequential O_DIRECT write rate in GB/s, parsed from its summary; 0 if it failed.
double RunDd(const std::string& dir, std::uint64_t bytes) {
  const std::string file = dir + "/ddtest";
  const std::string command = "dd if=/dev/zero of='" + file +
                              "' bs=1M count=" + std::to_string(bytes / kMiB) +
                              " oflag=direct conv=fsync 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return 0;
  std::string output;
  char chunk[512];
  while (std::fgets(chunk, sizeof chunk, pipe) != nullptr) output += chunk;
  ::pclose(pipe);
  std::filesystem::remove(file);
  // "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 0.75 s, 1.4 GB/s"
  const auto line = output.rfind(" bytes ");
  const auto copied = output.find("copied, ", line == std::string::npos ? 0 : line);
  if (line == std::string::npos || copied == std::string::npos) {
    std::fprintf(stderr, "storage_bench: dd failed: %s", output.c_str());
    return 0;
  }
  const auto start = output.rfind('\n', line);
  const double written =
      std::strtod(output.c_str() + (start == std::string::npos ? 0 : start + 1), nullptr);
  const double seconds = std::strtod(output.c_str() + copied + 8, nullptr);
  return seconds > 0 ? written / 1e9 / seconds : 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double MedianOf(const std::vector<Figures>& runs, double Figures::*field) {
  std::vector<double> v;
  for (const Figures& f : runs) v.push_back(f.*field);
  return Median(v);
}

std::string SizeName(std::size_t bytes) {
  return bytes >= kMiB ? std::to_string(bytes / kMiB) + " MiB"
                       : std::to_string(bytes / 1024) + " KiB";
}

constexpr std::size_t kBlockSizes[] = {256 * 1024, 2 * kMiB};

void PrintMemory(const Args& args, const std::vector<std::vector<Figures>>& runs) {
  std::printf("\nmemory tier: %llu MiB per phase, spill off\n",
              static_cast<unsigned long long>(args.mem_bytes / kMiB));
  std::printf("%-8s %-22s %10s %10s %10s  %s\n", "block", "operation", "GB/s", "p50 us", "p99 us",
              "vs reference");
  for (std::size_t s = 0; s < std::size(kBlockSizes); ++s) {
    const auto& v = runs[s];
    const std::string size = SizeName(kBlockSizes[s]);
    const double memcpy_gbps = MedianOf(v, &Figures::memcpy_gbps);
    const double memcpy_p50 = MedianOf(v, &Figures::memcpy_p50);
    const double put_gbps = MedianOf(v, &Figures::put_span_gbps);
    const double put_p50 = MedianOf(v, &Figures::put_span_p50);
    std::printf("%-8s %-22s %10.2f %10.1f %10.1f\n", size.c_str(), "memcpy (reference)",
                memcpy_gbps, memcpy_p50, MedianOf(v, &Figures::memcpy_p99));
    std::string first_fill_ratios;
    for (const Figures& f : v) {
      char ratio[16];
      std::snprintf(ratio, sizeof ratio, " x%.2f", f.first_fill_p50 / f.memcpy_p50);
      first_fill_ratios += ratio;
    }
    std::printf("%-8s %-22s %10.2f %10.1f %10s  p50 vs memcpy by run:%s\n", size.c_str(),
                "put(span), first fill", MedianOf(v, &Figures::first_fill_gbps),
                MedianOf(v, &Figures::first_fill_p50), "-", first_fill_ratios.c_str());
    std::printf("%-8s %-22s %10.2f %10.1f %10.1f  time x%.2f memcpy, p50 x%.2f (target <= 1.5)\n",
                size.c_str(), "put(span), refill", put_gbps, put_p50,
                MedianOf(v, &Figures::put_span_p99), memcpy_gbps / put_gbps, put_p50 / memcpy_p50);
    std::printf("%-8s %-22s %10.0f %10.2f %10.2f  zero-copy\n", size.c_str(), "put(Buffer)",
                MedianOf(v, &Figures::put_buffer_gbps), MedianOf(v, &Figures::put_buffer_p50),
                MedianOf(v, &Figures::put_buffer_p99));
    std::printf("%-8s %-22s %10.0f %10.2f %10s  %s\n", size.c_str(), "get",
                MedianOf(v, &Figures::get_gbps), MedianOf(v, &Figures::get_p50), "-",
                MedianOf(v, &Figures::get_no_copy) == 1 ? "no copy (same pointer)" : "COPIED");
  }
}

void PrintSpill(const Args& args, const std::vector<std::vector<Figures>>& runs,
                const std::vector<double>& dd_runs) {
  const double dd_gbps = Median(dd_runs);
  std::string dd_by_run;
  for (double gbps : dd_runs) {
    char rate[16];
    std::snprintf(rate, sizeof rate, " %.2f", gbps);
    dd_by_run += rate;
  }
  std::printf("\nspill tier: %llu MiB per block size into %s, memory capacity 4 blocks\n",
              static_cast<unsigned long long>(args.spill_bytes / kMiB), args.dir.c_str());
  std::printf("%-8s %-30s %6.2f GB/s  (%llu MiB); GB/s by run:%s\n", "-",
              "dd oflag=direct conv=fsync", dd_gbps,
              static_cast<unsigned long long>(args.dd_bytes / kMiB), dd_by_run.c_str());
  for (std::size_t s = 0; s < std::size(kBlockSizes); ++s) {
    const auto& v = runs[s];
    const std::string size = SizeName(kBlockSizes[s]);
    const double write_gbps = MedianOf(v, &Figures::spill_write_gbps);
    std::string by_run;
    for (const Figures& f : v) {
      char rate[16];
      std::snprintf(rate, sizeof rate, " %.2f", f.spill_write_gbps);
      by_run += rate;
    }
    std::printf(
        "%-8s %-30s %6.2f GB/s  x%.2f dd (target >= 0.5); %.0f MiB written (%.0f MiB to disk), "
        "puts %.2f s + flush+sync %.2f s, %.2f CPU s/GiB, %.0f dropped; GB/s by run:%s\n",
        size.c_str(), "write (put, Flush, syncfs)", write_gbps,
        dd_gbps > 0 ? write_gbps / dd_gbps : 0.0, MedianOf(v, &Figures::spill_written_mib),
        MedianOf(v, &Figures::spill_disk_mib), MedianOf(v, &Figures::spill_put_s),
        MedianOf(v, &Figures::spill_flush_s), MedianOf(v, &Figures::spill_cpu_s_per_gib),
        MedianOf(v, &Figures::spill_drops), by_run.c_str());
    std::printf("%-8s %-30s %6.2f GB/s  p50 %.0f us; %.0f missing or wrong (page cache warm)\n",
                size.c_str(), "get (read, verify, promote)", MedianOf(v, &Figures::spill_get_gbps),
                MedianOf(v, &Figures::spill_get_p50), MedianOf(v, &Figures::spill_get_bad));
  }
}

}  // namespace
}  // namespace prefixcache::storage

int main(int argc, char** argv) {
  using namespace prefixcache::storage;
  const Args args = ParseArgs(argc, argv);
  if (args.malloc_tune) {
    if (prefixcache::Status s = TuneAllocatorForBlocks(); !s.ok()) Die("TuneAllocatorForBlocks", s);
  }
  std::error_code ec;
  std::filesystem::create_directories(args.dir, ec);
  if (ec) {
    std::fprintf(stderr, "storage_bench: cannot create %s: %s\n", args.dir.c_str(),
                 ec.message().c_str());
    return 1;
  }

  const std::string load_before = LoadAverage();
  std::vector<std::vector<Figures>> runs(std::size(kBlockSizes));
  std::vector<double> dd_runs;
  std::uint64_t phase = 1;
  for (int r = 0; r < args.repeat; ++r) {
    for (std::size_t s = 0; s < std::size(kBlockSizes); ++s) {
      Figures f;
      if (!args.skip_memory) RunMemory(kBlockSizes[s], args.mem_bytes, phase, f);
      if (!args.skip_spill) RunSpill(kBlockSizes[s], args.spill_bytes, phase + 1, args.dir, f);
      phase += 2;
      runs[s].push_back(f);
    }
    if (!args.skip_spill) dd_runs.push_back(RunDd(args.dir, args.dd_bytes));
  }

  std::printf("storage_bench: median of %d run(s); malloc tune %s; GB = 1e9 bytes\n", args.repeat,
              args.malloc_tune ? "on (mmap threshold 32 MiB, trim threshold 1 GiB)" : "off");
  if (!args.skip_memory) PrintMemory(args, runs);
  if (!args.skip_spill) PrintSpill(args, runs, dd_runs);
  std::printf("\nload average before: %s, after: %s\n", load_before.c_str(), LoadAverage().c_str());
  return 0;
}
