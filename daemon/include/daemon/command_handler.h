// CommandHandler: what a connection calls, on its I/O thread and in arrival order, for each
// request; a command may finish later from any thread through a Completion. The network
// layer knows nothing else of commands, so a stub handler is enough to run it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/memory_budget.h"
#include "protocol/resp_parser.h"
#include "protocol/resp_writer.h"

namespace prefixcache::daemon {

// What a command handler keeps per connection beyond Session's fields (a transaction's
// queue, watched keys): the handler defines it, the connection only owns it.
class HandlerSessionState {
 public:
  virtual ~HandlerSessionState() = default;
};

// Per-connection state: owned by the connection, read and written by the handler, only on
// the connection's I/O thread.
struct Session {
  std::uint64_t id = 0;        // unique in this process, from 1 (CLIENT ID)
  std::string remote_address;  // "127.0.0.1:50412"
  std::string local_address;   // "127.0.0.1:7379"
  int fd = -1;
  std::chrono::steady_clock::time_point connected_at;
  std::chrono::steady_clock::time_point last_command_at;
  std::string name;                        // CLIENT SETNAME
  std::string lib_name;                    // CLIENT SETINFO LIB-NAME
  std::string lib_version;                 // CLIENT SETINFO LIB-VER
  std::string_view last_command = "NULL";  // a static command name, for CLIENT INFO
  // Whether commands other than AUTH/HELLO/QUIT may run; the handler sets it (OnConnect,
  // AUTH, HELLO ... AUTH).
  bool authenticated = true;
  // Set by a command (QUIT) to close the connection once its reply is written; the
  // connection handles no further request.
  bool close_after_reply = false;
  // The protocol replies are written in: 2 (RESP2) or 3 (RESP3, after HELLO 3). The
  // connection applies it to each reply it asks the handler for.
  int protocol = 2;
  // The handler's own per-connection state, if it made any; destroyed with the session.
  std::unique_ptr<HandlerSessionState> handler_state;
};

// Appends the reply of a deferred command; run by the connection on its I/O thread.
using ReplyWriter = std::function<void(protocol::ReplyBuilder&)>;

// How a streamed deferred command goes on after a part of its reply (Completion::Continue):
// `run` is called on the connection's I/O thread, once the parts so far have been handed
// to the socket, or -- when `after_memory_release` -- once the daemon's memory budget has
// released memory since `epoch` (MemoryBudget::epoch(), read before the reservation that
// failed). `run` owns the command's state; it is dropped uncalled if the connection closes.
struct Continuation {
  std::function<void()> run;
  bool after_memory_release = false;
  std::uint64_t epoch = 0;
};

// The receiver of deferred replies (the connection). Both calls may come from any thread;
// the implementation moves the writer to its own thread. `charge` is memory of the budget
// the reply holds, kept until the reply has been written.
class DeferredReplySink {
 public:
  virtual ~DeferredReplySink() = default;
  virtual void CompleteDeferred(ReplyWriter writer, protocol::MemoryCharge charge) = 0;
  virtual void ContinueDeferred(ReplyWriter part, protocol::MemoryCharge charge,
                                Continuation next) = 0;
};

// Finishes one deferred command. Move-only; call it once, from any thread. It keeps the
// connection object alive until called. If destroyed without a call (a worker pool that
// stopped, a bug), the command is answered "-ERR command aborted" so that the connection
// never waits forever.
class Completion {
 public:
  Completion() = default;
  explicit Completion(std::shared_ptr<DeferredReplySink> sink) : sink_(std::move(sink)) {}
  Completion(Completion&& other) noexcept : sink_(std::move(other.sink_)) {}
  Completion& operator=(Completion&& other) noexcept {
    if (this != &other) {
      Abort();
      sink_ = std::move(other.sink_);
    }
    return *this;
  }
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  ~Completion() { Abort(); }

  // Finishes the command with `writer`; `charge` (budget memory the reply holds) is kept
  // until the reply has been written.
  void operator()(ReplyWriter writer, protocol::MemoryCharge charge = {}) {
    if (auto sink = std::exchange(sink_, nullptr)) {
      sink->CompleteDeferred(std::move(writer), std::move(charge));
    }
  }
  // Appends `part` of the reply (null: nothing) and keeps the command deferred: `next`
  // goes on with it (see Continuation), and must eventually call this Completion again.
  // Call from one thread at a time.
  void Continue(ReplyWriter part, protocol::MemoryCharge charge, Continuation next) {
    if (sink_) sink_->ContinueDeferred(std::move(part), std::move(charge), std::move(next));
  }
  explicit operator bool() const { return sink_ != nullptr; }

 private:
  void Abort() {
    if (auto sink = std::exchange(sink_, nullptr)) {
      sink->CompleteDeferred(
          [](protocol::ReplyBuilder& reply) { reply.Error("ERR command aborted"); }, {});
    }
  }
  std::shared_ptr<DeferredReplySink> sink_;
};

// What a command sees of its connection; valid only during the Handle() call.
class CommandContext {
 public:
  virtual Session& session() = 0;
  // Where a synchronous command appends its reply.
  virtual protocol::ReplyBuilder& reply() = 0;
  // Turns the current command asynchronous: the returned Completion must be called (once)
  // with the reply writer. A command may append the start of its reply before Defer() (a
  // streamed reply) but must not touch reply() after it. The connection handles no further
  // request of this client until the completion has run, so replies stay in request order.
  virtual Completion Defer() = 0;
  // The daemon-wide budget (limits.inflight_memory) that replies are charged to. A command
  // reserves what a large reply holds before taking it (a block that could be evicted while
  // the reply waits to be sent) and hands the charge over with HoldUntilSent; the
  // connection counts every other reply byte itself.
  virtual protocol::MemoryBudget& memory() = 0;
  // Keeps `charge` until the replies appended so far have been written.
  virtual void HoldUntilSent(protocol::MemoryCharge charge) = 0;

 protected:
  ~CommandContext() = default;
};

class CommandHandler {
 public:
  virtual ~CommandHandler() = default;

  // A connection opened / closed; on its I/O thread. OnConnect may set
  // session.authenticated (false when a password is required).
  virtual void OnConnect(Session& session) { (void)session; }
  virtual void OnDisconnect(Session& session) { (void)session; }
  // The connection answered a request the parser rejected (over a limit) itself, without
  // Handle(); on its I/O thread. A transaction in progress must not go on without it.
  virtual void OnRejected(Session& session) { (void)session; }

  // Handles one request (args non-empty, `rejected` empty: the connection itself answers
  // requests the parser rejected). Either appends exactly one reply to ctx.reply() before
  // returning, or calls ctx.Defer() and later the Completion. The handler may move from
  // `request` (e.g. take a value Buffer without a copy, and request.memory with it when it
  // keeps the value past the call). Must not throw.
  virtual void Handle(protocol::Request& request, CommandContext& ctx) = 0;
};

}  // namespace prefixcache::daemon
