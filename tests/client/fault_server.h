// FaultServer: a small RESP server standing in for a prefixcached node in the client's
// failure tests, where the fault is the point: it serves blocks from a map (BLOCK.EXISTS,
// BLOCK.MGET, BLOCK.MGETPREFIX, BLOCK.MSET, DEL, PING, and BLOCK.RING from a JSON text it
// is given), records every command it receives, and can be told to die in the middle of a
// reply -- write only the first bytes of the next reply carrying values, then close the
// connection (it keeps accepting new ones), or stall there with the connection open. One
// thread serves every connection. Its methods are thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "prefixcache/block_key.h"

namespace prefixcache::testing {

class FaultServer {
 public:
  FaultServer();
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Stores `stored` (payload and trailer, as the client writes it) under `key`.
  void Store(const BlockKey& key, std::string stored);
  // The next BLOCK.MGET / BLOCK.MGETPREFIX reply is cut after `bytes` bytes; then its
  // connection is closed, or with `stall` left open and never answered again.
  void CutNextValueReply(std::size_t bytes, bool stall = false);
  // BLOCK.RING answers this bulk (nullopt: an error reply, as a node without a ring).
  void SetRingJson(std::optional<std::string> json);

  // Every command received so far, as its arguments; and forgetting them.
  std::vector<std::vector<std::string>> commands() const;
  void ClearCommands();
  // The keys (raw 16 bytes) of every value command (BLOCK.MGET, BLOCK.MGETPREFIX) received.
  std::vector<std::string> KeysAskedFor() const;
  int accepted() const { return accepted_.load(); }

 private:
  struct Connection;
  void Run();
  // The reply to one command (the full bytes); `values` says whether it carries values.
  std::string Answer(const std::vector<std::string>& args, bool* values);

  int listen_fd_ = -1;
  int wake_fd_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};

  mutable std::mutex mu_;
  std::map<std::string, std::string> blocks_;  // raw key -> stored value
  std::vector<std::vector<std::string>> commands_;
  std::optional<std::size_t> cut_after_;
  bool stall_ = false;
  std::optional<std::string> ring_json_;

  std::thread thread_;
};

}  // namespace prefixcache::testing
