// What storage_bench's parts share: the clock, latency samples, process CPU and disk
// counters, the load average, and syncing a file system. Header-only; for benchmarks.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace prefixcache::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Per-operation latencies in seconds, and their sum.
struct Samples {
  std::vector<double> s;
  double total = 0;

  void Add(Clock::duration d) {
    s.push_back(Seconds(d));
    total += s.back();
  }
  // The p-quantile (0 <= p <= 1) of the samples; 0 when there are none.
  double Percentile(double p) {
    if (s.empty()) return 0;
    std::sort(s.begin(), s.end());
    return s[std::min(s.size() - 1, static_cast<std::size_t>(p * static_cast<double>(s.size())))];
  }
};

// CPU seconds (user + system) used so far by every thread of this process.
inline double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Bytes this process has caused to be written to the block layer (/proc/self/io
// write_bytes; page-cache writes count when dirtied); 0 if unknown.
inline double ProcessDiskWriteBytes() {
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

// CPU seconds used so far by each live thread of this process, summed by what the thread
// is: "caller" (the main thread), "spill" (the spill tier's writer and sealer), "rocksdb"
// (RocksDB's background pools) and "other". From /proc/self/task/*/stat; threads that ended are not
// counted.
struct ThreadCpu {
  double caller = 0, spill = 0, rocksdb = 0, other = 0;

  static ThreadCpu Now() {
    ThreadCpu cpu;
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      FILE* file = std::fopen((task.path() / "stat").c_str(), "r");
      if (file == nullptr) continue;
      char line[1024] = {};
      const bool read = std::fgets(line, sizeof line, file) != nullptr;
      std::fclose(file);
      if (!read) continue;
      // "tid (comm) state ppid ... utime stime ..." (utime, stime: fields 14, 15); comm may
      // hold spaces, so fields are counted from its closing parenthesis.
      const std::string text(line);
      const auto open = text.find('('), close = text.rfind(')');
      if (open == std::string::npos || close == std::string::npos) continue;
      const std::string comm = text.substr(open + 1, close - open - 1);
      unsigned long long utime = 0, stime = 0;
      if (std::sscanf(text.c_str() + close + 2,
                      "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                      &stime) != 2) {
        continue;
      }
      const double seconds = static_cast<double>(utime + stime) / ticks;
      const bool main_thread = task.path().filename() == std::to_string(::getpid());
      if (main_thread) {
        cpu.caller += seconds;
      } else if (comm.rfind("spill-", 0) == 0) {
        cpu.spill += seconds;
      } else if (comm.rfind("rocksdb:", 0) == 0) {
        cpu.rocksdb += seconds;
      } else {
        cpu.other += seconds;
      }
    }
    return cpu;
  }
  ThreadCpu operator-(const ThreadCpu& o) const {
    return {caller - o.caller, spill - o.spill, rocksdb - o.rocksdb, other - o.other};
  }
};

// The first three fields of /proc/loadavg ("0.52 0.58 0.59"), or "?".
inline std::string LoadAverage() {
  FILE* file = std::fopen("/proc/loadavg", "r");
  if (file == nullptr) return "?";
  char text[64] = {};
  const bool read = std::fgets(text, sizeof text, file) != nullptr;
  std::fclose(file);
  if (!read) return "?";
  std::string load(text);
  std::size_t end = 0;
  for (int field = 0; field < 3 && end != std::string::npos; ++field) {
    end = load.find(' ', end == 0 ? 0 : end + 1);
  }
  return load.substr(0, end);
}

// Waits for every dirty page of the file system holding `dir` to reach the disk.
inline void SyncFileSystem(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::syncfs(fd);
  ::close(fd);
}

}  // namespace prefixcache::bench
