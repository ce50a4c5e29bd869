// prefixcache.PendingRead: the handle of get_prefix_async / get_into_async. It owns
// everything the running read borrows (the keys, the destination views, references to the
// Python buffers, the reads) and a share of the Client, so neither the buffers nor the
// client go away while bytes may still land. Used under the GIL like any Python object;
// wait() releases it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "prefixcache/client.h"
#include "py_buffers.h"

namespace prefixcache::python {

class PyPendingRead {
 public:
  enum class Kind { kGetPrefix, kGetInto };

  // Starts the read on `client`'s threads.
  PyPendingRead(std::shared_ptr<Client> client, Kind kind, std::vector<BlockKey> keys,
                std::unique_ptr<Borrowed> borrowed, const BlockParts& parts,
                std::uint32_t timeout_ms);
  // Cancels the read if it still runs and waits until nothing can land in the buffers.
  ~PyPendingRead();
  PyPendingRead(const PyPendingRead&) = delete;
  PyPendingRead& operator=(const PyPendingRead&) = delete;

  bool Ready() const;
  // Blocks (without the GIL) until the read finished or timeout_ms passed; None waits for
  // the read's own deadline.
  bool Wait(const std::optional<std::uint32_t>& timeout_ms);
  // get_prefix: the run's length; get_into: the list of (BlockStatus, size). ValueError
  // when the read has not finished.
  pybind11::object Result() const;
  // The per-key (BlockStatus, size) list (both kinds). ValueError when not finished.
  pybind11::list Reads() const;

 private:
  void CheckReady() const;

  // Declared in the order that makes destruction safe: the read goes first, then what it
  // borrowed, then the client share.
  std::shared_ptr<Client> client_;
  Kind kind_;
  std::vector<BlockKey> keys_;
  std::unique_ptr<Borrowed> borrowed_;
  DestinationSet destinations_;
  std::vector<BlockRead> reads_;
  std::unique_ptr<PendingRead> pending_;
};

}  // namespace prefixcache::python
