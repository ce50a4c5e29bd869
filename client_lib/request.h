// Request: one command for one connection -- the command to write (a protocol::
// CommandBuilder: framing in an arena, large values referenced from caller memory), an
// optional bulk sink that places the reply's payloads, and the completion. Owned by one
// thread until submitted, then by the connection's strand.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <utility>

#include "prefixcache/status.h"
#include "protocol/resp_command.h"
#include "protocol/resp_reply.h"

namespace prefixcache::client {

using Clock = std::chrono::steady_clock;

struct Request {
  // The command, complete before Submit and unchanged after it. Bytes it references (large
  // values) must stay alive and unchanged until `done` ran.
  protocol::CommandBuilder command;
  // Places the payloads of the reply's top-level bulks; optional. Used on the strand, and
  // never again once `done` ran.
  std::shared_ptr<protocol::BulkSink> sink;
  // Runs exactly once on the connection's strand (through Finish): with Ok and the reply,
  // or with the failure (IoError, Timeout, Unavailable, Rejected) and nullptr. After it ran
  // no byte lands in memory the sink handed out.
  std::function<void(const Status&, protocol::Reply*)> done;
  Clock::time_point deadline = Clock::time_point::max();
  // When the deadline passes before the reply: true means the node failed to answer in
  // time (the connection fails and the node is marked down); false gives up on this
  // request alone (a caller's shorter bound).
  bool deadline_fails_node = true;
  // Sent by the connection itself (AUTH, the ring check) ahead of callers' requests.
  bool setup = false;
  // Strand only: given up on (`done` already ran); the reply is still read, and dropped.
  bool abandoned = false;

  // Runs `done` unless it already ran.
  void Finish(const Status& status, protocol::Reply* reply) {
    if (!done) return;
    auto run = std::move(done);
    done = nullptr;
    run(status, reply);
  }
};

using RequestPtr = std::shared_ptr<Request>;

}  // namespace prefixcache::client
