// PendingRead: a read that runs on the client's own threads while the caller does other
// work (Client::GetPrefixAsync, GetIntoAsync). The caller polls Ready() or blocks in
// Wait(); nothing of the caller's runs on the client's threads (no callbacks). Ready(),
// Wait() and result() may be called from any thread; destroy the handle on one thread, with
// no other call of it running.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "prefixcache/status.h"

namespace prefixcache {

namespace client {
class ReadCall;
struct ClientInternals;
}  // namespace client

class PendingRead {
 public:
  // If the read has not finished it is cancelled: requests not yet sent are dropped, a
  // reply being received is cut off (its connection reconnects), and the destructor waits
  // until no byte can land in the read's destinations any more. Then every span the read
  // borrowed is free. REQUIRES: the Client that started the read is still open.
  ~PendingRead();
  PendingRead(const PendingRead&) = delete;
  PendingRead& operator=(const PendingRead&) = delete;

  // True once the read has finished: every key is settled (found, missing, or given up
  // on at the read's own deadline) and the spans it borrowed are free.
  bool Ready() const;

  // Blocks until the read has finished or `timeout_ms` passed; returns Ready(). The read
  // itself ends by its own deadline (the timeout_ms it was started with), so waiting
  // longer than that always returns true.
  bool Wait(std::uint32_t timeout_ms);

  // What the equivalent blocking call returns (GetPrefix: the leading run; GetInto: the
  // number of hits; InvalidArgument for bad arguments). REQUIRES: Ready() (CHECKed).
  const Result<std::size_t>& result() const;

 private:
  friend struct client::ClientInternals;  // the library makes them
  explicit PendingRead(std::shared_ptr<client::ReadCall> call);
  std::shared_ptr<client::ReadCall> call_;
};

}  // namespace prefixcache
