// The daemon's network layer on its own: daemon::Server on an ephemeral loopback port with a
// stub CommandHandler (no store, no commands), driven by a real socket client. Framing,
// pipelining order, deferred replies, protocol errors, parser limits, QUIT-style closes,
// backpressure and max_connections are the connection's job, so they are checked here
// against a handler that only records what reached it.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/server.h"
#include "resp_client.h"

namespace prefixcache::testing {
namespace {

using daemon::CommandContext;
using daemon::Completion;
using daemon::Session;

// Replies as the request names:
//   ECHO a b ...  -> an array of the arguments
//   SIZE x        -> :size of x
//   BIG           -> a 1 MiB bulk (one shared buffer, referenced by the reply)
//   DEFER         -> deferred: the test completes it (Release) or drops it (Drop)
//   BYE           -> +BYE, then the connection closes
//   anything else -> +NAME
// It records the name of every request it handles and whether a request of a session
// arrived while that session still waited for a deferred reply (which the connection must
// never allow).
class StubHandler final : public daemon::CommandHandler {
 public:
  StubHandler() : big_(Buffer::Copy(std::string(1 << 20, 'b'))) {}

  void OnConnect(Session& session) override {
    std::lock_guard lock(mu_);
    ++connects_;
    (void)session;
  }
  void OnDisconnect(Session& session) override {
    std::lock_guard lock(mu_);
    ++disconnects_;
    (void)session;
  }

  void Handle(protocol::Request& request, CommandContext& ctx) override {
    const std::string name(request.args[0].view());
    {
      std::lock_guard lock(mu_);
      handled_.push_back(name);
      for (const Pending& p : pending_) {
        if (p.session == ctx.session().id) ++overtaken_;
      }
    }
    protocol::ReplyBuilder& reply = ctx.reply();
    if (name == "ECHO") {
      reply.ArrayHeader(request.args.size() - 1);
      for (std::size_t i = 1; i < request.args.size(); ++i) reply.Bulk(request.args[i]);
    } else if (name == "SIZE") {
      reply.Integer(static_cast<std::int64_t>(request.args[1].size()));
    } else if (name == "BIG") {
      reply.Bulk(big_);
    } else if (name == "DEFER") {
      Completion done = ctx.Defer();
      std::lock_guard lock(mu_);
      pending_.push_back({ctx.session().id, std::move(done)});
      cv_.notify_all();
    } else if (name == "BYE") {
      ctx.session().close_after_reply = true;
      reply.SimpleString("BYE");
    } else {
      reply.SimpleString(name);
    }
  }

  // Waits until `n` deferred commands are pending; false when none came within the bound.
  bool WaitForPending(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kGenerousBound, [&] { return pending_.size() >= n; });
  }
  // Completes the oldest deferred command with +<text>, from this (the test's) thread.
  void Release(const std::string& text) {
    Completion done = TakeOldest();
    done([text](protocol::ReplyBuilder& reply) { reply.SimpleString(text); });
  }
  // Destroys the oldest deferred command's Completion without calling it.
  void Drop() { TakeOldest(); }

  std::vector<std::string> handled() const {
    std::lock_guard lock(mu_);
    return handled_;
  }
  int overtaken() const {
    std::lock_guard lock(mu_);
    return overtaken_;
  }
  int connects() const {
    std::lock_guard lock(mu_);
    return connects_;
  }
  int disconnects() const {
    std::lock_guard lock(mu_);
    return disconnects_;
  }

 private:
  struct Pending {
    std::uint64_t session;
    Completion done;
  };

  Completion TakeOldest() {
    std::lock_guard lock(mu_);
    REQUIRE(!pending_.empty());
    Completion done = std::move(pending_.front().done);
    pending_.pop_front();
    return done;
  }

  const Buffer big_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> handled_;
  std::deque<Pending> pending_;
  int overtaken_ = 0;
  int connects_ = 0;
  int disconnects_ = 0;
};

daemon::ServerOptions LoopbackOptions() {
  daemon::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.io_threads = 2;
  return options;
}

// A started server over a StubHandler, with a memory budget of `inflight_memory_bytes` (0:
// unlimited); shut down and joined on destruction.
class StubServer {
 public:
  explicit StubServer(daemon::ServerOptions options = LoopbackOptions(),
                      std::uint64_t inflight_memory_bytes = 0)
      : stats_(inflight_memory_bytes), server_(std::move(options), handler_, stats_) {
    const Status started = server_.Start();
    INFO(started.ToString());
    REQUIRE(started.ok());
  }
  ~StubServer() {
    server_.Shutdown(std::chrono::seconds(5));
    server_.Join();
  }

  std::uint16_t port() const { return server_.port(); }
  StubHandler& handler() { return handler_; }
  daemon::ServerStats& stats() { return stats_; }
  daemon::Server& server() { return server_; }

 private:
  StubHandler handler_;
  daemon::ServerStats stats_;
  daemon::Server server_;
};

// Polls `condition` until it holds or the generous bound passes (a guard against a hang).
template <typename Fn>
bool WaitUntil(Fn condition) {
  const auto deadline = std::chrono::steady_clock::now() + kGenerousBound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST_CASE("network: a request split at every byte, inline commands and large bulks are framed",
          "[unit]") {
  StubServer server;
  RespClient client(server.port());
  REQUIRE(client.connected());

  const std::string request = Cmd({"ECHO", "a", "", "bc\r\nd"});
  for (char c : request) REQUIRE(client.Send(std::string_view(&c, 1)));
  REQUIRE(Describe(*client.Read()) == "[\"a\", \"\", \"bc\r\nd\"]");

  // Inline commands, as telnet and redis-cli send them.
  REQUIRE(client.Send("ECHO x \"y z\"\r\nPING\r\n"));
  CHECK(Describe(*client.Read()) == "[\"x\", \"y z\"]");
  CHECK(Describe(*client.Read()) == "+PING");

  // A payload far past the staging chunk arrives whole, in pieces of any size.
  const std::string big(3 << 20, 'v');
  const std::string wire = Cmd({"SIZE", big});
  for (std::size_t at = 0; at < wire.size(); at += 100'003) {
    REQUIRE(client.Send(std::string_view(wire).substr(at, 100'003)));
  }
  CHECK(Describe(*client.Read()) == ":" + std::to_string(big.size()));
  CHECK(server.handler().handled() == std::vector<std::string>{"ECHO", "ECHO", "PING", "SIZE"});
}

TEST_CASE("network: pipelined requests are answered in request order", "[unit]") {
  StubServer server;
  RespClient client(server.port());
  std::string batch;
  constexpr int kRequests = 2000;
  for (int i = 0; i < kRequests; ++i) batch += Cmd({"ECHO", std::to_string(i)});
  REQUIRE(client.Send(batch));
  for (int i = 0; i < kRequests; ++i) {
    const std::optional<Reply> reply = client.Read();
    REQUIRE(reply);
    REQUIRE(Describe(*reply) == "[\"" + std::to_string(i) + "\"]");
  }
  CHECK(server.stats().total_commands_processed.Load() == kRequests);
}

TEST_CASE("network: a deferred reply holds back the requests after it", "[unit]") {
  StubServer server;
  StubHandler& handler = server.handler();
  RespClient client(server.port());
  RespClient other(server.port());

  REQUIRE(client.Send(Cmd({"DEFER"}) + Cmd({"ECHO", "after"}) + Cmd({"DEFER"}) + Cmd({"PING"})));
  REQUIRE(handler.WaitForPending(1));
  // Another connection is served meanwhile.
  CHECK(Describe(other.Call({"ECHO", "meanwhile"})) == "[\"meanwhile\"]");

  // Completed from this thread, not the I/O thread; the held-back requests then run.
  handler.Release("LATE");
  CHECK(Describe(*client.Read()) == "+LATE");
  CHECK(Describe(*client.Read()) == "[\"after\"]");
  REQUIRE(handler.WaitForPending(1));
  // A Completion destroyed without being called answers an error instead of hanging.
  handler.Drop();
  CHECK(Describe(*client.Read()) == "-ERR command aborted");
  CHECK(Describe(*client.Read()) == "+PING");

  CHECK(handler.overtaken() == 0);
  CHECK(handler.handled() == std::vector<std::string>{"DEFER", "ECHO", "ECHO", "DEFER", "PING"});
}

TEST_CASE("network: malformed input gets the earlier replies, the error, then a close", "[unit]") {
  StubServer server;
  RespClient client(server.port());
  REQUIRE(client.Send(Cmd({"PING"}) + Cmd({"ECHO", "x"}) + "*x\r\n" + Cmd({"NEVER"})));
  std::string raw;
  CHECK(client.ReadRawUntilEof(raw));
  CHECK(raw == "+PING\r\n*1\r\n$1\r\nx\r\n-ERR Protocol error: invalid multibulk length\r\n");
  CHECK(server.handler().handled() == std::vector<std::string>{"PING", "ECHO"});
  CHECK(server.stats().protocol_errors.Load() == 1);

  // The server goes on serving others.
  RespClient fresh(server.port());
  CHECK(Describe(fresh.Call({"PING"})) == "+PING");
}

TEST_CASE("network: a request over a parser limit is answered by the connection", "[unit]") {
  daemon::ServerOptions options = LoopbackOptions();
  options.connection.parser.max_bulk_bytes = 16;
  StubServer server(options);
  RespClient client(server.port());
  CHECK(Describe(client.Call({"SIZE", std::string(17, 'x')})) ==
        "-ERR value of 17 bytes exceeds max_value_bytes (16)");
  CHECK(Describe(client.Call({"SIZE", std::string(16, 'x')})) == ":16");
  // The handler never saw the rejected request.
  CHECK(server.handler().handled() == std::vector<std::string>{"SIZE"});
  CHECK(server.stats().rejected_requests.Load() == 1);
  CHECK(server.stats().total_commands_processed.Load() == 2);
}

TEST_CASE("network: close_after_reply ends the connection after its reply", "[unit]") {
  StubServer server;
  RespClient client(server.port());
  REQUIRE(client.Send(Cmd({"PING"}) + Cmd({"BYE"}) + Cmd({"NEVER"})));
  std::string raw;
  CHECK(client.ReadRawUntilEof(raw));
  CHECK(raw == "+PING\r\n+BYE\r\n");
  CHECK(server.handler().handled() == std::vector<std::string>{"PING", "BYE"});
  CHECK(WaitUntil([&] { return server.handler().disconnects() == 1; }));
  CHECK(server.handler().connects() == 1);
}

TEST_CASE("network: a client that does not read stops being served at the output limit", "[unit]") {
  daemon::ServerOptions options = LoopbackOptions();
  options.connection.output_buffer_bytes = 2u << 20;
  StubServer server(options);
  RespClient slow(server.port(), true, /*receive_buffer_bytes=*/64 * 1024);
  constexpr int kRequests = 100;
  std::string batch;
  for (int i = 0; i < kRequests; ++i) batch += Cmd({"BIG"});
  REQUIRE(slow.Send(batch));

  // The connection paused: from then on it handles a request only once its unsent replies
  // are under the limit, and the client takes none, so at most the limit plus what the
  // socket buffers hold (1 MiB each) was handled -- at any moment, however fast or slow
  // the machine.
  REQUIRE(WaitUntil([&] { return server.stats().backpressure_pauses.Load() >= 1; }));
  const std::size_t handled = server.handler().handled().size();
  INFO("handled while paused: " << handled);
  CHECK(handled < 16);
  RespClient other(server.port());
  CHECK(Describe(other.Call({"PING"})) == "+PING");

  // Once the client reads, every reply arrives, in order.
  for (int i = 0; i < kRequests; ++i) {
    const std::optional<Reply> reply = slow.Read();
    REQUIRE(reply);
    REQUIRE(reply->bulk.size() == 1u << 20);
  }
  CHECK(server.handler().handled().size() == kRequests + 1);
}

TEST_CASE("network: over the memory budget a large request waits while small ones go on",
          "[unit]") {
  StubServer server(LoopbackOptions(), /*inflight_memory_bytes=*/4u << 20);
  const protocol::MemoryBudget& budget = server.stats().inflight_memory;
  // The first client's 3 MiB payload is granted and holds most of the budget while the
  // client sends it.
  RespClient first(server.port());
  const std::string request = Cmd({"SIZE", std::string(3u << 20, 'a')});
  REQUIRE(first.Send(std::string_view(request).substr(0, request.size() - 1000)));
  REQUIRE(WaitUntil([&] { return budget.used() >= 3u << 20; }));

  // The second client's 1 MiB payload does not fit: the connection waits (its socket is not
  // read past the header), reserving nothing for the payload.
  RespClient second(server.port());
  const std::string second_request = Cmd({"SIZE", std::string(1u << 20, 'b')});
  std::thread sender([&] { second.Send(second_request); });  // the socket may fill up
  REQUIRE(WaitUntil([&] { return server.stats().memory_waits.Load() >= 1; }));
  CHECK(budget.used() < (3u << 20) + (512u << 10));

  // A third client's small requests are served meanwhile.
  RespClient third(server.port());
  CHECK(Describe(third.Call({"SIZE", std::string(100, 'c')})) == ":100");
  CHECK(Describe(third.Call({"PING"})) == "+PING");

  // The first request completes and gives its memory back; the second goes on.
  REQUIRE(first.Send(std::string_view(request).substr(request.size() - 1000)));
  const std::optional<Reply> first_reply = first.Read();
  REQUIRE(first_reply);
  CHECK(Describe(*first_reply) == ":3145728");
  sender.join();
  const std::optional<Reply> second_reply = second.Read();
  REQUIRE(second_reply);
  CHECK(Describe(*second_reply) == ":1048576");
  CHECK(budget.peak() <= budget.limit());
  // Idle connections keep at most a small read buffer each.
  CHECK(WaitUntil([&] { return budget.used() <= 3 * 4096; }));
}

TEST_CASE("network: a request still partial after request_timeout_ms is dropped with its memory",
          "[unit]") {
  daemon::ServerOptions options = LoopbackOptions();
  options.connection.request_timeout_ms = 200;
  options.connection.idle_timeout_ms = 0;
  StubServer server(options, /*inflight_memory_bytes=*/64u << 20);
  RespClient quiet(server.port());  // sends nothing: no partial request, never dropped
  REQUIRE(Describe(quiet.Call({"PING"})) == "+PING");
  RespClient stalled(server.port());
  REQUIRE(stalled.Send("*2\r\n$4\r\nSIZE\r\n$1000000\r\n" + std::string(1000, 'x')));
  REQUIRE(WaitUntil([&] { return server.stats().inflight_memory.used() >= 1000000; }));
  CHECK(stalled.WaitForEof());
  CHECK(server.stats().request_timeouts.Load() == 1);
  CHECK(WaitUntil([&] { return server.stats().inflight_memory.used() <= 2 * 4096; }));
  CHECK(Describe(quiet.Call({"PING"})) == "+PING");
  CHECK(server.stats().request_timeouts.Load() == 1);
}

TEST_CASE("network: the connection over max_connections gets Redis's error and a close", "[unit]") {
  daemon::ServerOptions options = LoopbackOptions();
  options.max_connections = 2;
  StubServer server(options);
  auto first = std::make_unique<RespClient>(server.port());
  RespClient second(server.port());
  // A round trip each: both are accepted before the third connects.
  REQUIRE(Describe(first->Call({"PING"})) == "+PING");
  REQUIRE(Describe(second.Call({"PING"})) == "+PING");

  RespClient third(server.port());
  REQUIRE(third.connected());
  std::string raw;
  CHECK(third.ReadRawUntilEof(raw));
  CHECK(raw == "-ERR max number of clients reached\r\n");
  CHECK(server.stats().rejected_connections.Load() == 1);
  CHECK(server.handler().connects() == 2);  // the refused one never reached the handler

  // A slot frees when the server sees a close.
  first.reset();
  REQUIRE(WaitUntil([&] { return server.server().connection_count() == 1; }));
  RespClient fourth(server.port());
  CHECK(Describe(fourth.Call({"PING"})) == "+PING");
}

}  // namespace
}  // namespace prefixcache::testing
