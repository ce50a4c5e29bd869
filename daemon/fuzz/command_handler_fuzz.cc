// libFuzzer target for the command handler behind the request parser: each input is a
// client's byte stream (RESP or inline commands), parsed by a RequestParser under a memory
// budget and handled request by request by a StoreCommandHandler over a real BlockStore
// (memory tier of 128 KiB over a RocksDB spill tier in a temporary folder, so reads and
// writes cross both tiers), through a stub connection that plays the I/O thread: it waits
// for deferred commands, feeds streamed parts back, and gives reply memory back once a reply
// is "sent". Checks: every request gets exactly one well-formed RESP reply, the budget's
// charges all come back, and nothing crashes, leaks or trips a sanitizer.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "daemon/commands.h"
#include "daemon/server_stats.h"
#include "prefixcache/check.h"
#include "protocol/memory_budget.h"
#include "protocol/resp_parser.h"
#include "protocol/resp_reply.h"
#include "storage/block_store.h"

namespace prefixcache::daemon {
namespace {

constexpr char kPassword[] = "fuzz-pass";

// What the handler's threads hand back to the stub connection.
struct Event {
  ReplyWriter writer;
  protocol::MemoryCharge charge;
  std::optional<Continuation> next;  // set for a part; empty when the command completed
};

class Sink final : public DeferredReplySink {
 public:
  void CompleteDeferred(ReplyWriter writer, protocol::MemoryCharge charge) override {
    Push(Event{std::move(writer), std::move(charge), std::nullopt});
  }
  void ContinueDeferred(ReplyWriter part, protocol::MemoryCharge charge,
                        Continuation next) override {
    Push(Event{std::move(part), std::move(charge), std::move(next)});
  }
  Event Wait() {
    std::unique_lock lock(mu_);
    // A deferred command that never finishes is a bug (the bound only guards the hang).
    PC_CHECK(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return !events_.empty(); }));
    Event event = std::move(events_.front());
    events_.pop_front();
    return event;
  }

 private:
  void Push(Event event) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
};

class Context final : public CommandContext {
 public:
  Context(Session& session, protocol::MemoryBudget& budget, std::shared_ptr<Sink> sink)
      : session_(session), budget_(budget), sink_(std::move(sink)) {}

  Session& session() override { return session_; }
  protocol::ReplyBuilder& reply() override { return reply_; }
  Completion Defer() override {
    PC_CHECK(!deferred_);
    deferred_ = true;
    return Completion(sink_);
  }
  protocol::MemoryBudget& memory() override { return budget_; }
  void HoldUntilSent(protocol::MemoryCharge charge) override { held_.Absorb(std::move(charge)); }

  // Runs a deferred command to its end as the connection would, on this thread.
  void Finish() {
    while (deferred_) {
      Event event = sink_->Wait();
      if (event.writer) event.writer(reply_);
      held_.Absorb(std::move(event.charge));
      if (!event.next) {
        deferred_ = false;
        break;
      }
      Sent();  // the part went out: its memory is back
      event.next->run();
    }
  }
  // The reply was written: checks that it is exactly one RESP reply, then forgets it.
  void Sent() { held_.Reset(); }
  void CheckOneReply() {
    protocol::ReplyParser parser;
    for (const auto& segment : reply_.Segments()) {
      const Status status = parser.Feed(std::span<const std::byte>(segment.data, segment.size));
      PC_CHECK(status.ok() && "a reply is not well-formed RESP");
    }
    PC_CHECK(parser.HasReply() && "a command wrote no complete reply");
    parser.PopReply();
    PC_CHECK(!parser.HasReply() && "a command wrote more than one reply");
    reply_.Clear();
    Sent();
  }

 private:
  Session& session_;
  protocol::MemoryBudget& budget_;
  std::shared_ptr<Sink> sink_;
  protocol::ReplyBuilder reply_;
  protocol::MemoryCharge held_;
  bool deferred_ = false;
};

struct World {
  World() {
    char dir_template[] = "/tmp/prefixcache-handler-fuzz-XXXXXX";
    PC_CHECK(::mkdtemp(dir_template) != nullptr);
    dir = dir_template;
    storage::StoreOptions options;
    options.memory.capacity_bytes = 128 * kKiB;
    options.memory.shards = 4;
    options.spill.path = dir + "/spill";
    options.spill.capacity_bytes = 8 * kMiB;
    options.spill.queue_bytes = 1 * kMiB;
    options.max_value_bytes = 64 * kKiB;
    auto opened = storage::BlockStore::Open(options);
    PC_CHECK(opened.ok());
    store = std::move(opened).value();
    HandlerOptions handler_options;
    handler_options.password = kPassword;
    handler_options.config_values = {{"maxmemory", "131072"}, {"timeout", "0"}};
    handler = std::make_unique<StoreCommandHandler>(*store, handler_options, stats);
  }
  ~World() {
    handler->Shutdown();
    handler.reset();
    store->Close();
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  std::string dir;
  ServerStats stats{512 * kKiB};  // the budget, small enough that large replies stream
  std::unique_ptr<storage::BlockStore> store;
  std::unique_ptr<StoreCommandHandler> handler;
};

World& TheWorld() {
  static World* world = new World();  // lives for the process (libFuzzer exits without unwinding)
  return *world;
}

constexpr protocol::ParserLimits kLimits{.max_bulk_bytes = 64 * kKiB,
                                         .max_elements = 64,
                                         .max_request_bytes = 512 * kKiB,
                                         .max_inline_bytes = 4096};

void Run(std::string_view input) {
  World& world = TheWorld();
  protocol::MemoryBudget& budget = world.stats.inflight_memory;
  const std::uint64_t used_before = budget.used();
  {
    Session session;
    session.id = 1;
    world.handler->OnConnect(session);
    auto sink = std::make_shared<Sink>();
    Context ctx(session, budget, sink);
    protocol::RequestParser parser(kLimits);
    parser.SetMemoryBudget(&budget);
    parser.SetGuarded(!session.authenticated);
    // Fed as a socket would be: more input only once every parsed request was handled.
    std::size_t fed = 0;
    Status status;
    for (bool open = true; open;) {
      if (!parser.HasRequest() && status.ok()) {
        if (parser.guarded()) parser.SetGuarded(!session.authenticated);
        status = parser.Resume();
      }
      if (!parser.HasRequest()) {
        // A protocol error, the end of the input, or a wait for memory that nothing else
        // holds (every earlier request's memory is back): the connection ends here.
        if (!status.ok() || fed == input.size() || parser.AwaitingMemory()) break;
        const std::span<std::byte> space = parser.ReadBuffer();
        if (space.empty()) break;
        const std::size_t n = std::min(space.size(), input.size() - fed);
        std::memcpy(space.data(), input.data() + fed, n);
        fed += n;
        status = parser.Commit(n);
        continue;
      }
      {
        protocol::Request request = parser.PopRequest();
        if (!request.rejected.empty()) {
          ctx.reply().Error(request.rejected);
        } else if (!request.args.empty()) {
          world.handler->Handle(request, ctx);
        } else {
          continue;  // an empty inline line: no command, no reply
        }
      }  // the request goes once handled, as a connection drops it
      ctx.Finish();
      ctx.CheckOneReply();
      open = !session.close_after_reply;
    }
    (void)status;  // a protocol error ends the input like a closed connection
    world.handler->OnDisconnect(session);
  }
  // Everything the input held was given back (the parser and every reply are gone).
  PC_CHECK(budget.used() == used_before && "budget memory leaked");
  if (world.store->Size() > 256) PC_CHECK(world.store->Clear().ok());
}

}  // namespace
}  // namespace prefixcache::daemon

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  prefixcache::daemon::Run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
