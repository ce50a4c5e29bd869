// Request: one command for one connection -- the command to write (a protocol::
// CommandBuilder: framing in an arena, large values referenced from caller memory), an
// optional bulk sink that places the reply's payloads, and the completion. Owned by one
// thread until submitted, then by the connection's strand.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>

#include "prefixcache/status.h"
#include "protocol/resp_command.h"
#include "protocol/resp_reply.h"

namespace prefixcache::client {

using Clock = std::chrono::steady_clock;

struct Request {
  // The command, complete before Submit and unchanged after it. Bytes it references (large
  // values) must stay alive and unchanged until `done` ran.
  protocol::CommandBuilder command;
  // Places the payloads of the reply's top-level bulks; optional. Runs on the strand.
  protocol::ReplyParser::BulkSink sink;
  // Told about every socket read made while this request's reply is being parsed, before
  // the parser sees the bytes (they may lie in a span the sink returned); optional.
  std::function<void(std::span<const std::byte>)> on_read;
  // Runs exactly once on the connection's strand: with Ok and the reply, or with the
  // failure (IoError, Timeout, Unavailable, Rejected) and nullptr.
  std::function<void(const Status&, protocol::Reply*)> done;
  Clock::time_point deadline = Clock::time_point::max();
};

using RequestPtr = std::shared_ptr<Request>;

}  // namespace prefixcache::client
