// The read path's public face: Match, GetPrefix, GetInto, Get, their asynchronous forms
// and PendingRead, each a ReadCall (read_call.h) that the blocking calls wait for.
#include <new>

#include "client_impl.h"
#include "client_internals.h"
#include "prefixcache/client.h"
#include "read_call.h"

namespace prefixcache {
namespace {

using client::ReadCall;
using Kind = ReadCall::Kind;

Status LengthMismatch(const char* call) {
  return Status::InvalidArgument(std::string(call) +
                                 ": keys, destinations and reads differ in length");
}

// Starts a read of `kind` with `destinations`, or a finished one when the spans differ in
// length. Allocation failures throw (callers catch).
std::shared_ptr<ReadCall> StartRead(client::ClientImpl& impl, Kind kind, const char* name,
                                    std::span<const BlockKey> keys, Destinations destinations,
                                    std::span<BlockRead> reads, std::uint32_t timeout_ms) {
  if (destinations.size() != keys.size() || reads.size() != keys.size()) {
    return std::make_shared<ReadCall>(LengthMismatch(name));
  }
  auto call = std::make_shared<ReadCall>(impl, kind, impl.topology(), keys, destinations, reads,
                                         timeout_ms);
  call->Start();
  return call;
}

// The result of a blocking read; a lack of memory is a refused call, never an exception.
Result<std::size_t> BlockingRead(client::ClientImpl& impl, Kind kind, const char* name,
                                 std::span<const BlockKey> keys, Destinations destinations,
                                 std::span<BlockRead> reads, std::uint32_t timeout_ms) {
  try {
    std::shared_ptr<ReadCall> call =
        StartRead(impl, kind, name, keys, destinations, reads, timeout_ms);
    call->Wait();
    return call->result();
  } catch (const std::bad_alloc&) {
    return Status::Rejected(std::string(name) + ": out of memory");
  }
}

}  // namespace

std::size_t Client::Match(std::span<const BlockKey> keys, std::uint32_t timeout_ms) {
  if (keys.empty()) return 0;
  try {
    auto call = std::make_shared<ReadCall>(*impl_, Kind::kExists, impl_->topology(), keys,
                                           std::span<const Destination>(), std::span<BlockRead>(),
                                           timeout_ms);
    call->Start();
    call->Wait();
    return call->result().value();
  } catch (const std::bad_alloc&) {
    return 0;
  }
}

Result<std::size_t> Client::GetPrefix(std::span<const BlockKey> keys, Destinations destinations,
                                      std::span<BlockRead> reads, std::uint32_t timeout_ms) {
  return BlockingRead(*impl_, Kind::kPrefix, "GetPrefix", keys, destinations, reads, timeout_ms);
}

Result<std::size_t> Client::GetInto(std::span<const BlockKey> keys, Destinations destinations,
                                    std::span<BlockRead> reads, std::uint32_t timeout_ms) {
  return BlockingRead(*impl_, Kind::kGet, "GetInto", keys, destinations, reads, timeout_ms);
}

namespace {

std::unique_ptr<PendingRead> AsyncRead(client::ClientImpl& impl, Kind kind, const char* name,
                                       std::span<const BlockKey> keys, Destinations destinations,
                                       std::span<BlockRead> reads, std::uint32_t timeout_ms) {
  try {
    return client::ClientInternals::Pending(
        StartRead(impl, kind, name, keys, destinations, reads, timeout_ms));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

}  // namespace

std::unique_ptr<PendingRead> Client::GetPrefixAsync(std::span<const BlockKey> keys,
                                                    Destinations destinations,
                                                    std::span<BlockRead> reads,
                                                    std::uint32_t timeout_ms) {
  return AsyncRead(*impl_, Kind::kPrefix, "GetPrefixAsync", keys, destinations, reads, timeout_ms);
}

std::unique_ptr<PendingRead> Client::GetIntoAsync(std::span<const BlockKey> keys,
                                                  Destinations destinations,
                                                  std::span<BlockRead> reads,
                                                  std::uint32_t timeout_ms) {
  return AsyncRead(*impl_, Kind::kGet, "GetIntoAsync", keys, destinations, reads, timeout_ms);
}

std::vector<std::optional<Buffer>> Client::Get(std::span<const BlockKey> keys,
                                               std::uint32_t timeout_ms) {
  std::vector<std::optional<Buffer>> out;
  try {
    out.resize(keys.size());
    if (keys.empty()) return out;
    auto call = std::make_shared<ReadCall>(*impl_, Kind::kGet, impl_->topology(), keys,
                                           std::span<const Destination>(), std::span<BlockRead>(),
                                           timeout_ms);
    call->Start();
    call->Wait();
    std::vector<client::KeyOutcome>& outcomes = call->outcomes();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (outcomes[i].status == BlockStatus::kHit) out[i] = std::move(outcomes[i].owned);
    }
  } catch (const std::bad_alloc&) {
    for (auto& value : out) value.reset();
  }
  return out;
}

// ---- PendingRead ----

PendingRead::PendingRead(std::shared_ptr<client::ReadCall> call) : call_(std::move(call)) {}

PendingRead::~PendingRead() { call_->Cancel(); }

bool PendingRead::Ready() const { return call_->Ready(); }

bool PendingRead::Wait(std::uint32_t timeout_ms) {
  return call_->Wait(std::chrono::milliseconds(timeout_ms));
}

const Result<std::size_t>& PendingRead::result() const { return call_->result(); }

}  // namespace prefixcache
