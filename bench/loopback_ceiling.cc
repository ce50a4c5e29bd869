// loopback_ceiling: what TCP over loopback can carry on this machine for the block-fetch
// pattern, with no cache behind it -- the reference that client_bench compares prefixcached
// against. The server answers each 16-byte request (u64 block_bytes, u64 blocks, little-
// endian) with blocks x block_bytes bytes sent straight from a preallocated pool larger than
// the CPU caches (cycling through it, so the bytes are not cache-hot); the client spreads a
// fetch over N persistent connections, one thread each, reading into its own pool.
//
//   loopback_ceiling --serve [--port P] [--pool-mib M] [--send-lowat BYTES]
//                    (pool default 512 MiB; --send-lowat sets TCP_NOTSENT_LOWAT on each
//                    connection, as prefixcached's node.send_lowat does, default 0 = off)
//                    prints "loopback_ceiling listening on 127.0.0.1:PORT", serves until killed
//   loopback_ceiling --connect PORT --block-bytes B --blocks N [--connections 4]
//                    [--repeat R] [--warmup W] [--epoll]   prints "seconds S" per timed
//                    fetch; --epoll drives the connections from one thread with epoll
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::size_t g_pool_bytes = std::size_t{512} << 20;  // --pool-mib
int g_send_lowat = 0;                               // --send-lowat

bool ReadAll(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool WriteAll(int fd, const void* data, std::size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Writes the iovecs in full with writev (as a server sending a gathered reply does).
bool WriteAllV(int fd, std::vector<iovec>& iov) {
  std::size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t w = ::writev(fd, iov.data() + first, count);
    if (w <= 0) return false;
    while (w > 0) {
      const auto n = static_cast<ssize_t>(iov[first].iov_len);
      if (w >= n) {
        w -= n;
        ++first;
      } else {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + w;
        iov[first].iov_len -= static_cast<std::size_t>(w);
        w = 0;
      }
    }
  }
  return true;
}

void Serve(int fd, const std::byte* pool) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (g_send_lowat > 0) {
    ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &g_send_lowat, sizeof g_send_lowat);
  }
  std::size_t offset = 0;
  std::vector<iovec> iov;
  for (;;) {
    std::uint64_t request[2];
    if (!ReadAll(fd, request, sizeof request)) break;
    const std::size_t block = request[0], blocks = request[1];
    if (block == 0 || block > g_pool_bytes) break;
    // The whole answer as one gather list of blocks from the pool.
    iov.clear();
    for (std::size_t i = 0; i < blocks; ++i) {
      if (offset + block > g_pool_bytes) offset = 0;
      iov.push_back({const_cast<std::byte*>(pool + offset), block});
      offset += block;
    }
    if (!WriteAllV(fd, iov)) break;
  }
  ::close(fd);
}

int RunServer(int port) {
  auto* pool = static_cast<std::byte*>(std::malloc(g_pool_bytes));
  std::mt19937_64 rng(1);
  for (std::size_t i = 0; i < g_pool_bytes; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(pool + i, &v, 8);
  }
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 64) != 0) {
    std::perror("loopback_ceiling: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("loopback_ceiling listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    std::thread(Serve, fd, pool).detach();
  }
}

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// One fetch of `blocks` blocks spread over the connections; seconds, or < 0 on failure.
double Fetch(const std::vector<int>& fds, std::size_t block, std::size_t blocks, std::byte* pool) {
  const std::size_t n = fds.size();
  std::vector<std::thread> threads;
  std::vector<char> ok(n, 1);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t c = 0; c < n; ++c) {
    const std::size_t first = blocks * c / n, last = blocks * (c + 1) / n;
    if (first == last) continue;
    threads.emplace_back([&, c, first, last] {
      const std::uint64_t request[2] = {block, last - first};
      if (!WriteAll(fds[c], request, sizeof request)) {
        ok[c] = 0;
        return;
      }
      for (std::size_t i = first; i < last && ok[c]; ++i) {
        ok[c] = ReadAll(fds[c], pool + i * block, block);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (char k : ok) {
    if (!k) return -1;
  }
  return seconds;
}

// The same fetch driven by one thread over non-blocking sockets with epoll (no thread
// switches; what an event-loop client does).
double FetchEpoll(const std::vector<int>& fds, std::size_t block, std::size_t blocks,
                  std::byte* pool) {
  const std::size_t n = fds.size();
  struct Stream {
    std::byte* at = nullptr;
    std::size_t left = 0;
  };
  std::vector<Stream> streams(n);
  const int ep = ::epoll_create1(0);
  const auto start = std::chrono::steady_clock::now();
  std::size_t open = 0;
  for (std::size_t c = 0; c < n; ++c) {
    const std::size_t first = blocks * c / n, last = blocks * (c + 1) / n;
    if (first == last) continue;
    const std::uint64_t request[2] = {block, last - first};
    if (!WriteAll(fds[c], request, sizeof request)) return -1;
    streams[c] = {pool + first * block, (last - first) * block};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fds[c], &ev);
    ++open;
  }
  epoll_event events[16];
  bool ok = true;
  while (open > 0 && ok) {
    const int k = ::epoll_wait(ep, events, 16, 10000);
    if (k <= 0) ok = false;
    for (int e = 0; e < k && ok; ++e) {
      Stream& s = streams[events[e].data.u64];
      const int fd = fds[events[e].data.u64];
      const ssize_t r = ::recv(fd, s.at, s.left, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN)) ok = false;
      if (r <= 0) continue;
      s.at += r;
      s.left -= static_cast<std::size_t>(r);
      if (s.left == 0) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        --open;
      }
    }
  }
  ::close(ep);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ok ? seconds : -1;
}

int RunClient(int port, std::size_t block, std::size_t blocks, std::size_t connections, int repeat,
              int warmup, bool epoll) {
  std::vector<int> fds;
  for (std::size_t c = 0; c < connections; ++c) {
    const int fd = Connect(port);
    if (fd < 0) {
      std::perror("loopback_ceiling: connect");
      return 1;
    }
    fds.push_back(fd);
  }
  auto* pool = static_cast<std::byte*>(std::malloc(block * blocks));
  std::memset(pool, 0, block * blocks);  // fault the pages in before timing
  for (int i = 0; i < warmup + repeat; ++i) {
    const double s = epoll ? FetchEpoll(fds, block, blocks, pool) : Fetch(fds, block, blocks, pool);
    if (s < 0) {
      std::fprintf(stderr, "loopback_ceiling: fetch failed\n");
      return 1;
    }
    if (i >= warmup) std::printf("seconds %.9f\n", s);
  }
  std::fflush(stdout);
  for (int fd : fds) ::close(fd);
  std::free(pool);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool serve = false, epoll = false;
  int port = 0, repeat = 1, warmup = 1;
  std::size_t block = 2 << 20, blocks = 64, connections = 4;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
    if (arg == "--serve") {
      serve = true;
    } else if (arg == "--pool-mib") {
      g_pool_bytes = std::max<std::size_t>(1, std::strtoull(next(), nullptr, 10)) << 20;
    } else if (arg == "--send-lowat") {
      g_send_lowat = std::atoi(next());
    } else if (arg == "--epoll") {
      epoll = true;
    } else if (arg == "--port" || arg == "--connect") {
      port = std::atoi(next());
    } else if (arg == "--block-bytes") {
      block = std::strtoull(next(), nullptr, 10);
    } else if (arg == "--blocks") {
      blocks = std::strtoull(next(), nullptr, 10);
    } else if (arg == "--connections") {
      connections = std::strtoull(next(), nullptr, 10);
    } else if (arg == "--repeat") {
      repeat = std::atoi(next());
    } else if (arg == "--warmup") {
      warmup = std::atoi(next());
    } else {
      std::fprintf(
          stderr,
          "usage: loopback_ceiling --serve [--port P] [--pool-mib M] [--send-lowat BYTES] | "
          "--connect PORT "
          "[--block-bytes B] [--blocks N] [--connections C] [--repeat R] "
          "[--warmup W] [--epoll]\n");
      return 2;
    }
  }
  if (serve) return RunServer(port);
  if (port <= 0 || block == 0 || blocks == 0 || connections == 0) {
    std::fprintf(stderr, "loopback_ceiling: --connect PORT and positive sizes needed\n");
    return 2;
  }
  return RunClient(port, block, blocks, connections, repeat, warmup, epoll);
}
