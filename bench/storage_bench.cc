// storage_bench: throughput and latency of the BlockStore's memory and spill tiers, each
// beside a reference measured in the same run (memcpy for memory, dd for disk), as ratios;
// the spill tier's restart on a large folder; and the candidate spill layouts in RocksDB
// side by side (spill_layouts.h).
//
//   storage_bench [--dir DIR] [--repeat N] [--mem-mib M] [--spill-mib S] [--dd-mib D]
//                 [--pace F] [--restart-blocks N] [--restart-block-kib K] [--layouts LIST]
//                 [--no-malloc-tune] [--skip-memory] [--skip-spill] [--skip-restart]
//                 [--skip-layouts]
//
// --dir: scratch folder for the spill tier and dd (default /var/tmp/prefixcache-bench).
// --repeat: runs; each figure printed is the median over them (restart runs once).
// --pace: the paced spill run puts blocks at F x dd's rate of the same round (default 0.8;
//   0 skips it). --restart-blocks, --restart-block-kib: the restart folder (default 1M
//   blocks of 4 KiB). --layouts: a comma-separated subset of the candidates ("blob",
//   "blob-tuned", "sst-fifo", "sst-ingest", "sst-ingest-nocheck", "sst-ingest-direct").
// By default the bench tunes malloc exactly as prefixcached does at startup
// (storage::TuneAllocatorForBlocks: freed blocks stay in the heap and a later block reuses
// their pages instead of taking fresh zeroed ones, one page fault per 4 KiB, which makes a
// put(span) cost about 4x a memcpy). --no-malloc-tune keeps glibc's defaults, where whether
// pages are reused depends on the allocation history. Blocks of 32 MiB and more are still
// mmapped (glibc caps the threshold there) and fault on every fill.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "prefixcache/block_key.h"
#include "prefixcache/buffer.h"
#include "spill_layouts.h"
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
  double pace = 0.8;
  std::uint64_t restart_blocks = 1000000;
  std::size_t restart_block_bytes = 4096;
  std::string layouts;  // comma-separated SpillLayoutIds; empty: all
  bool malloc_tune = true;
  bool skip_memory = false;
  bool skip_spill = false;
  bool skip_restart = false;
  bool skip_layouts = false;
};

[[noreturn]] void Usage(const char* error) {
  std::fprintf(stderr,
               "storage_bench: %s\nusage: storage_bench [--dir DIR] [--repeat N] [--mem-mib M] "
               "[--spill-mib S] [--dd-mib D] [--pace F] [--restart-blocks N] "
               "[--restart-block-kib K] [--layouts LIST] [--no-malloc-tune] [--skip-memory] "
               "[--skip-spill] [--skip-restart] [--skip-layouts]\n",
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
    } else if (arg == "--pace") {
      const std::string text = value();
      char* end = nullptr;
      args.pace = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || args.pace < 0) Usage("--pace: expected a number >= 0");
    } else if (arg == "--restart-blocks") {
      args.restart_blocks = number();
    } else if (arg == "--restart-block-kib") {
      args.restart_block_bytes = number() * 1024;
    } else if (arg == "--layouts") {
      args.layouts = value();
    } else if (arg == "--no-malloc-tune") {
      args.malloc_tune = false;
    } else if (arg == "--skip-memory") {
      args.skip_memory = true;
    } else if (arg == "--skip-spill") {
      args.skip_spill = true;
    } else if (arg == "--skip-restart") {
      args.skip_restart = true;
    } else if (arg == "--skip-layouts") {
      args.skip_layouts = true;
    } else {
      Usage(("unknown argument " + arg).c_str());
    }
  }
  return args;
}

using bench::Clock;
using bench::Samples;
using bench::Seconds;

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

// The memory tier's figures of one run for one block size. Rates in GB/s (1e9 bytes),
// latencies in us.
struct Figures {
  double memcpy_gbps = 0, memcpy_p50 = 0, memcpy_p99 = 0;
  double first_fill_gbps = 0, first_fill_p50 = 0;
  double put_span_gbps = 0, put_span_p50 = 0, put_span_p99 = 0;
  double put_buffer_gbps = 0, put_buffer_p50 = 0, put_buffer_p99 = 0;
  double get_gbps = 0, get_p50 = 0;
  double get_no_copy = 0;  // 1 when Get returned the stored buffer itself
};

// The spill tier's figures of one run for one block size. GB/s (1e9 bytes), us, CPU s/GiB.
struct SpillFigures {
  double write_gbps = 0, put_s = 0, flush_s = 0, written_mib = 0, disk_mib = 0, drops = 0;
  double cpu_s_per_gib = 0;  // the whole process
  double caller_cpu_s_per_gib = 0, writer_cpu_s_per_gib = 0, rocksdb_cpu_s_per_gib = 0;
  double get_gbps = 0, get_p50 = 0, get_p99 = 0, get_bad = 0;
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

using bench::LoadAverage;
using bench::ProcessCpuSeconds;
using bench::ProcessDiskWriteBytes;
using bench::SyncFileSystem;

// Writes `total_bytes` of `block_bytes` blocks through a BlockStore whose memory tier
// holds 4 blocks, so each put demotes one. Unpaced (pace_gbps 0) the spill queue holds
// everything, so the figure is the writer's rate; paced, puts come at pace_gbps with the
// default queue (SpillTierOptions::queue_bytes), as a worker evicting at that rate, and
// what the writer cannot keep up with is dropped.
void RunSpill(std::size_t block_bytes, std::uint64_t total_bytes, std::uint64_t phase,
              const std::string& dir, double pace_gbps, SpillFigures& f) {
  const std::size_t n = std::max<std::size_t>(1, total_bytes / block_bytes);
  const Buffer source = RandomBytes(block_bytes, phase);
  const std::string path = dir + "/spill-" + std::to_string(phase);
  std::filesystem::remove_all(path);

  StoreOptions options;
  options.memory.capacity_bytes = 4 * (block_bytes + kMemoryEntryOverheadBytes);
  options.memory.shards = 1;
  options.spill.path = path;
  options.spill.capacity_bytes = 4 * total_bytes;
  if (pace_gbps == 0) options.spill.queue_bytes = total_bytes + 64 * kMiB;
  options.spill.flush_on_close = false;
  auto store = OpenStore(options);
  if (Status s = store->SpillStatus(); !s.ok()) Die("spill tier " + path, s);

  // Written = demoted to RocksDB, flushed, and synced to the disk (as dd's conv=fsync):
  // the clock runs from the first put until Flush() and syncfs() have returned, and only
  // blocks the spill tier wrote count (not the few still in memory, nor any dropped).
  SyncFileSystem(path);
  const double cpu0 = ProcessCpuSeconds();
  const bench::ThreadCpu threads0 = bench::ThreadCpu::Now();
  const double disk0 = ProcessDiskWriteBytes();
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    if (pace_gbps > 0) {
      const auto due =
          t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                   static_cast<double>(i * block_bytes) / (pace_gbps * 1e9)));
      std::this_thread::sleep_until(due);
    }
    Status s = store->Put(Key(phase, i), source.span(), static_cast<std::uint32_t>(i % 32));
    if (!s.ok()) Die("Put(span)", s);
  }
  const auto t_flush = Clock::now();
  if (Status s = store->Flush(); !s.ok()) Die("Flush", s);
  SyncFileSystem(path);
  const auto t1 = Clock::now();
  const double cpu = ProcessCpuSeconds() - cpu0;
  const bench::ThreadCpu threads = bench::ThreadCpu::Now() - threads0;
  const double disk = ProcessDiskWriteBytes() - disk0;
  const StoreStats stats = store->Stats();
  const double written = static_cast<double>(stats.spill.demotions) * block_bytes;
  const double gib = written / kGiB;
  f.write_gbps = written / 1e9 / Seconds(t1 - t0);
  f.put_s = Seconds(t_flush - t0);
  f.flush_s = Seconds(t1 - t_flush);
  f.written_mib = written / kMiB;
  f.disk_mib = disk / kMiB;
  f.cpu_s_per_gib = gib > 0 ? cpu / gib : 0;
  f.caller_cpu_s_per_gib = gib > 0 ? threads.caller / gib : 0;
  f.writer_cpu_s_per_gib = gib > 0 ? threads.spill / gib : 0;
  f.rocksdb_cpu_s_per_gib = gib > 0 ? threads.rocksdb / gib : 0;
  f.drops = static_cast<double>(stats.memory.demotion_drops + stats.spill.demotion_drops);
  if (pace_gbps > 0) {
    if (Status s = store->Close(); !s.ok()) Die("Close", s);
    store.reset();
    std::filesystem::remove_all(path);
    return;
  }

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
  f.get_gbps = static_cast<double>(n * block_bytes) / 1e9 / get.total;
  f.get_p50 = get.Percentile(0.5) * 1e6;
  f.get_p99 = get.Percentile(0.99) * 1e6;
  f.get_bad = bad;
  if (Status s = store->Close(); !s.ok()) Die("Close", s);
  store.reset();
  std::filesystem::remove_all(path);
}

// Heap bytes in use (malloc'd, mmapped chunks included), from mallinfo2.
double HeapBytes() {
  const struct mallinfo2 info = ::mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

struct RestartFigures {
  double write_s = 0;
  double open_s = 0;                // BlockStore::Open on the folder: until a daemon could answer
  double first_get_s = 0;           // then the first Get of a spilled block
  double heap_bytes_per_block = 0;  // heap the open store holds, per spilled block
  std::uint64_t blocks = 0;         // spilled blocks the reopened store holds
  std::uint64_t segment_bytes = 0;
};

// A spill folder of `blocks` blocks of `block_bytes`, written, closed and reopened. The
// segments are made as small, relative to the block, as 64 MiB segments are to 256 KiB
// blocks, so the folder has as many segment files as one of that many 256 KiB blocks.
RestartFigures RunRestart(std::uint64_t blocks, std::size_t block_bytes, const std::string& dir) {
  const std::string path = dir + "/restart";
  std::filesystem::remove_all(path);
  StoreOptions options;
  options.memory.capacity_bytes = 4 * (block_bytes + kMemoryEntryOverheadBytes);
  options.memory.shards = 1;
  options.spill.path = path;
  options.spill.capacity_bytes = 2 * blocks * block_bytes;
  options.spill.segment_bytes =
      std::max<std::uint64_t>(block_bytes, 64 * kMiB / (256 * 1024) * block_bytes);
  options.spill.flush_on_close = false;
  RestartFigures f;
  f.segment_bytes = options.spill.segment_bytes;
  const Buffer source = RandomBytes(block_bytes, 0x7e57a7);
  {
    const auto t0 = Clock::now();
    auto store = OpenStore(options);
    for (std::uint64_t i = 0; i < blocks; ++i) {
      // The spill queue is bounded: wait for the writer rather than drop.
      while (store->Stats().spill.queue_bytes > 64 * kMiB) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      Status s = store->Put(Key(0x7e57, i), source.span(), 0);
      if (!s.ok()) Die("Put(span)", s);
    }
    if (Status s = store->Close(); !s.ok()) Die("Close", s);
    f.write_s = Seconds(Clock::now() - t0);
  }
  ::malloc_trim(0);
  const double heap0 = HeapBytes();
  const auto t0 = Clock::now();
  auto store = OpenStore(options);
  const auto t1 = Clock::now();
  Result<Buffer> got = store->Get(Key(0x7e57, 0));
  const auto t2 = Clock::now();
  if (!got.ok()) Die("Get after restart", got.status());
  f.open_s = Seconds(t1 - t0);
  f.first_get_s = Seconds(t2 - t1);
  f.blocks = store->Stats().spill.entries;
  f.heap_bytes_per_block =
      (HeapBytes() - heap0) / static_cast<double>(std::max<std::uint64_t>(1, f.blocks));
  if (Status s = store->Close(); !s.ok()) Die("Close", s);
  store.reset();
  std::filesystem::remove_all(path);
  return f;
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

template <typename T>
double MedianOf(const std::vector<T>& runs, double T::*field) {
  std::vector<double> v;
  for (const T& f : runs) v.push_back(f.*field);
  return Median(v);
}

// " 0.51 0.48 0.55": one figure per run.
template <typename T>
std::string ByRun(const std::vector<T>& runs, double T::*field) {
  std::string out;
  for (const T& f : runs) {
    char text[24];
    std::snprintf(text, sizeof text, " %.2f", f.*field);
    out += text;
  }
  return out;
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

// The spill tier's figures, with the targets of issue 17 beside them.
void PrintSpill(const Args& args, const std::vector<std::vector<SpillFigures>>& runs,
                const std::vector<std::vector<SpillFigures>>& paced,
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
  std::printf("%-8s %-30s %6.2f GB/s  (%llu MiB, same folder); GB/s by run:%s\n", "-",
              "dd oflag=direct conv=fsync", dd_gbps,
              static_cast<unsigned long long>(args.dd_bytes / kMiB), dd_by_run.c_str());
  for (std::size_t s = 0; s < std::size(kBlockSizes); ++s) {
    const auto& v = runs[s];
    const std::string size = SizeName(kBlockSizes[s]);
    const double write_gbps = MedianOf(v, &SpillFigures::write_gbps);
    const double written = MedianOf(v, &SpillFigures::written_mib);
    std::printf(
        "%-8s %-30s %6.2f GB/s  x%.2f dd (target >= 0.8); %.2f CPU s/GiB (target <= 0.7: "
        "caller %.2f, spill writer+sealer %.2f, rocksdb %.2f); %.0f MiB written, x%.2f to disk; "
        "puts %.2f s + flush+sync %.2f s; %.0f dropped; GB/s by run:%s\n",
        size.c_str(), "write (put, Flush, syncfs)", write_gbps,
        dd_gbps > 0 ? write_gbps / dd_gbps : 0.0, MedianOf(v, &SpillFigures::cpu_s_per_gib),
        MedianOf(v, &SpillFigures::caller_cpu_s_per_gib),
        MedianOf(v, &SpillFigures::writer_cpu_s_per_gib),
        MedianOf(v, &SpillFigures::rocksdb_cpu_s_per_gib), written,
        written > 0 ? MedianOf(v, &SpillFigures::disk_mib) / written : 0.0,
        MedianOf(v, &SpillFigures::put_s), MedianOf(v, &SpillFigures::flush_s),
        MedianOf(v, &SpillFigures::drops), ByRun(v, &SpillFigures::write_gbps).c_str());
    if (!paced[s].empty()) {
      const auto& p = paced[s];
      std::printf(
          "%-8s %-30s %6.2f GB/s  x%.2f dd; %.0f dropped (target 0) with the default %llu MiB "
          "queue; %.2f CPU s/GiB (caller %.2f, spill writer+sealer %.2f); dropped by run:%s\n",
          size.c_str(), ("paced at " + std::to_string(args.pace).substr(0, 4) + " x dd").c_str(),
          MedianOf(p, &SpillFigures::write_gbps),
          dd_gbps > 0 ? MedianOf(p, &SpillFigures::write_gbps) / dd_gbps : 0.0,
          MedianOf(p, &SpillFigures::drops),
          static_cast<unsigned long long>(SpillTierOptions().queue_bytes / kMiB),
          MedianOf(p, &SpillFigures::cpu_s_per_gib),
          MedianOf(p, &SpillFigures::caller_cpu_s_per_gib),
          MedianOf(p, &SpillFigures::writer_cpu_s_per_gib), ByRun(p, &SpillFigures::drops).c_str());
    }
    std::printf(
        "%-8s %-30s %6.2f GB/s  p50 %.0f us, p99 %.0f us; %.0f missing or wrong (page cache "
        "warm); GB/s by run:%s\n",
        size.c_str(), "get (read, verify, promote)", MedianOf(v, &SpillFigures::get_gbps),
        MedianOf(v, &SpillFigures::get_p50), MedianOf(v, &SpillFigures::get_p99),
        MedianOf(v, &SpillFigures::get_bad), ByRun(v, &SpillFigures::get_gbps).c_str());
  }
}

void PrintRestart(const Args& args, const RestartFigures& f) {
  std::printf(
      "\nspill restart: %llu blocks of %zu KiB (segments of %llu KiB: as many files as %llu "
      "blocks of 256 KiB in 64 MiB segments), written in %.1f s\n",
      static_cast<unsigned long long>(args.restart_blocks), args.restart_block_bytes / 1024,
      static_cast<unsigned long long>(f.segment_bytes / 1024),
      static_cast<unsigned long long>(args.restart_blocks), f.write_s);
  std::printf(
      "%-8s %-30s %6.3f s until BlockStore::Open returns (the daemon answers), first spilled "
      "get %.1f ms; %llu blocks held; %.0f heap bytes per block\n",
      "-", "reopen", f.open_s, f.first_get_s * 1e3, static_cast<unsigned long long>(f.blocks),
      f.heap_bytes_per_block);
}

void PrintLayouts(const Args& args, const std::vector<bench::SpillLayout>& layouts,
                  const std::vector<std::vector<std::vector<bench::SpillLayoutFigures>>>& runs,
                  const std::vector<double>& dd_runs) {
  using bench::SpillLayoutFigures;
  const double dd_gbps = Median(dd_runs);
  std::printf(
      "\nspill layouts side by side: raw RocksDB as spill format 2 drove it (no memory tier, "
      "reads by Get; the tier now reads by preadv, above), %llu MiB per block size; dd %.2f "
      "GB/s\n",
      static_cast<unsigned long long>(args.spill_bytes / kMiB), dd_gbps);
  std::printf("%-8s %-28s %7s %6s %9s %6s %7s %7s %8s %8s %8s %9s\n", "block", "layout", "wr GB/s",
              "x dd", "CPU s/GiB", "w-amp", "rd GB/s", "p50 us", "p99 us", "rd+check", "reopen s",
              "tbl B/blk");
  for (std::size_t s = 0; s < std::size(kBlockSizes); ++s) {
    for (std::size_t l = 0; l < layouts.size(); ++l) {
      const auto& v = runs[s][l];
      const double write_gbps = MedianOf(v, &SpillLayoutFigures::write_gbps);
      std::uint64_t bad = 0;
      for (const auto& f : v) bad += f.bad;
      std::printf(
          "%-8s %-28s %7.2f %6.2f %9.2f %6.2f %7.2f %7.0f %8.0f %8.2f %8.3f %9.1f%s\n",
          SizeName(kBlockSizes[s]).c_str(), bench::SpillLayoutName(layouts[l]), write_gbps,
          dd_gbps > 0 ? write_gbps / dd_gbps : 0.0, MedianOf(v, &SpillLayoutFigures::cpu_s_per_gib),
          MedianOf(v, &SpillLayoutFigures::write_amp), MedianOf(v, &SpillLayoutFigures::read_gbps),
          MedianOf(v, &SpillLayoutFigures::read_p50_us),
          MedianOf(v, &SpillLayoutFigures::read_p99_us),
          MedianOf(v, &SpillLayoutFigures::read_checked_gbps),
          MedianOf(v, &SpillLayoutFigures::reopen_s),
          MedianOf(v, &SpillLayoutFigures::table_reader_bytes_per_block),
          bad ? "  WRONG OR MISSING READS" : "");
    }
  }
}

}  // namespace
}  // namespace prefixcache::storage

int main(int argc, char** argv) {
  using namespace prefixcache::storage;
  namespace bench = prefixcache::bench;
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
  std::vector<bench::SpillLayout> layouts;
  for (bench::SpillLayout layout : bench::AllSpillLayouts()) {
    const std::string id = bench::SpillLayoutId(layout);
    if (args.layouts.empty() ||
        ("," + args.layouts + ",").find("," + id + ",") != std::string::npos) {
      layouts.push_back(layout);
    }
  }
  const bool disk = !args.skip_spill || !args.skip_layouts;

  const std::string load_before = LoadAverage();
  std::vector<std::vector<Figures>> runs(std::size(kBlockSizes));
  std::vector<std::vector<SpillFigures>> spill_runs(std::size(kBlockSizes));
  std::vector<std::vector<SpillFigures>> paced_runs(std::size(kBlockSizes));
  // [block size][layout] -> one entry per run.
  std::vector<std::vector<std::vector<bench::SpillLayoutFigures>>> layout_runs(
      std::size(kBlockSizes), std::vector<std::vector<bench::SpillLayoutFigures>>(layouts.size()));
  std::vector<double> dd_runs;
  std::uint64_t phase = 1;
  for (int r = 0; r < args.repeat; ++r) {
    // dd first: the paced run of this round goes at a fraction of its rate.
    if (disk) dd_runs.push_back(RunDd(args.dir, args.dd_bytes));
    for (std::size_t s = 0; s < std::size(kBlockSizes); ++s) {
      Figures f;
      if (!args.skip_memory) RunMemory(kBlockSizes[s], args.mem_bytes, phase, f);
      runs[s].push_back(f);
      if (!args.skip_spill) {
        SpillFigures spill;
        RunSpill(kBlockSizes[s], args.spill_bytes, phase + 1, args.dir, 0, spill);
        spill_runs[s].push_back(spill);
        if (args.pace > 0 && dd_runs.back() > 0) {
          SpillFigures paced;
          RunSpill(kBlockSizes[s], args.spill_bytes, phase + 1, args.dir,
                   args.pace * dd_runs.back(), paced);
          paced_runs[s].push_back(paced);
        }
      }
      for (std::size_t l = 0; !args.skip_layouts && l < layouts.size(); ++l) {
        layout_runs[s][l].push_back(
            bench::RunSpillLayout(layouts[l], kBlockSizes[s], args.spill_bytes, args.dir));
      }
      phase += 2;
    }
  }
  RestartFigures restart;
  if (!args.skip_restart)
    restart = RunRestart(args.restart_blocks, args.restart_block_bytes, args.dir);

  std::printf("storage_bench: median of %d run(s); malloc tune %s; GB = 1e9 bytes\n", args.repeat,
              args.malloc_tune ? "on (mmap threshold 32 MiB, trim threshold 1 GiB)" : "off");
  if (!args.skip_memory) PrintMemory(args, runs);
  if (!args.skip_spill) PrintSpill(args, spill_runs, paced_runs, dd_runs);
  if (!args.skip_restart) PrintRestart(args, restart);
  if (!args.skip_layouts) PrintLayouts(args, layouts, layout_runs, dd_runs);
  std::printf("\nload average before: %s, after: %s\n", load_before.c_str(), LoadAverage().c_str());
  return 0;
}
