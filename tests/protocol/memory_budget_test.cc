// MemoryBudget and MemoryCharge on their own, and RequestParser under a budget: what it
// reserves before allocating, where it waits, what it rejects, what it gives back.
#include "protocol/memory_budget.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "protocol/resp_parser.h"
#include "protocol_test_util.h"

namespace prefixcache::protocol {
namespace {

using testing::Bulk;

TEST_CASE("MemoryBudget: reservations are all or nothing and leave headroom for small ones",
          "[unit]") {
  MemoryBudget budget(800);
  CHECK(budget.TryReserve(600, /*large=*/true));
  // 700 is the large cap (800 less 800/8): 600 + 200 would pass the limit's cap only.
  CHECK_FALSE(budget.TryReserve(200, /*large=*/true));
  CHECK(budget.used() == 600);
  CHECK(budget.refusals() == 1);
  CHECK(budget.TryReserve(200, /*large=*/false));  // small ones may use the headroom
  CHECK_FALSE(budget.TryReserve(1, /*large=*/false));
  CHECK_FALSE(budget.over_limit());
  budget.Force(50);
  CHECK(budget.over_limit());
  CHECK(budget.peak() == 850);
  budget.Release(850);
  CHECK(budget.used() == 0);
  // A single reservation larger than the large cap may still take the whole limit.
  CHECK(budget.TryReserve(750, /*large=*/true));
  budget.Release(750);
  CHECK_FALSE(budget.TryReserve(801, /*large=*/false));
}

TEST_CASE("MemoryBudget: zero is unlimited but still counted", "[unit]") {
  MemoryBudget budget;
  CHECK(budget.TryReserve(std::uint64_t{1} << 50, true));
  CHECK(budget.used() == std::uint64_t{1} << 50);
  CHECK_FALSE(budget.over_limit());
  budget.Release(std::uint64_t{1} << 50);
}

TEST_CASE("MemoryBudget: Wait runs once after the next release, or at once if one came", "[unit]") {
  MemoryBudget budget(100);
  REQUIRE(budget.TryReserve(100, false));
  int woken = 0;
  const std::uint64_t epoch = budget.epoch();
  CHECK_FALSE(budget.TryReserve(10, false));
  budget.Wait(epoch, [&] { ++woken; });
  CHECK(woken == 0);
  budget.Release(50);
  CHECK(woken == 1);
  budget.Release(50);
  CHECK(woken == 1);  // once only
  // A release between reading the epoch and waiting is not missed.
  const std::uint64_t stale = budget.epoch();
  REQUIRE(budget.TryReserve(10, false));
  budget.Release(10);
  budget.Wait(stale, [&] { ++woken; });
  CHECK(woken == 2);
}

TEST_CASE("MemoryBudget: concurrent reservations never pass the limit", "[unit]") {
  MemoryBudget budget(1000);
  std::vector<std::thread> threads;
  std::atomic<bool> over{false};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        MemoryCharge charge;
        if (charge.TryAdd(budget, 300, (i & 1) != 0)) {
          if (budget.used() > 1000) over = true;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK_FALSE(over.load());
  CHECK(budget.used() == 0);
  CHECK(budget.peak() <= 1000);
}

TEST_CASE("MemoryCharge: move, absorb, shrink and reset give every byte back once", "[unit]") {
  MemoryBudget budget(1000);
  {
    MemoryCharge a;
    REQUIRE(a.TryAdd(budget, 100, false));
    MemoryCharge b = std::move(a);
    CHECK(a.bytes() == 0);
    CHECK(b.bytes() == 100);
    MemoryCharge c;
    c.Force(budget, 50);
    b.Absorb(std::move(c));
    CHECK(b.bytes() == 150);
    CHECK(budget.used() == 150);
    b.ShrinkTo(120);
    CHECK(budget.used() == 120);
    b.ShrinkTo(500);  // holds less already: nothing happens
    CHECK(b.bytes() == 120);
  }
  CHECK(budget.used() == 0);
}

// A parser under `budget`.
RequestParser BudgetParser(MemoryBudget& budget) {
  RequestParser parser;
  parser.SetMemoryBudget(&budget);
  return parser;
}

TEST_CASE("RequestParser with a budget: a large payload waits until it fits", "[unit]") {
  MemoryBudget budget(1 << 20);
  MemoryCharge others;  // what other connections hold
  REQUIRE(others.TryAdd(budget, 700 * 1024, false));
  RequestParser parser = BudgetParser(budget);
  const std::string value(300 * 1024, 'v');
  const std::string request = "*3\r\n" + Bulk("SET") + Bulk("key") + Bulk(value);
  const std::size_t header = request.size() - value.size() - 2;

  REQUIRE(parser.Feed(std::string_view(request).substr(0, header + 100)).ok());
  // 300 KiB does not fit under the large cap (896 KiB) with 700 KiB held: parsing waits with
  // the header read, and nothing of the payload is allocated.
  CHECK(parser.AwaitingMemory());
  CHECK_FALSE(parser.HasRequest());
  const std::uint64_t waiting = budget.used();
  CHECK(waiting < 700 * 1024 + 80 * 1024);  // the staging chunk and the argument list
  CHECK(parser.Resume().ok());
  CHECK(parser.AwaitingMemory());  // still no room

  others.Reset();
  REQUIRE(parser.Resume().ok());
  CHECK_FALSE(parser.AwaitingMemory());
  REQUIRE(parser.Feed(std::string_view(request).substr(header + 100)).ok());
  REQUIRE(parser.HasRequest());
  Request got = parser.PopRequest();
  CHECK(testing::Describe(got) == "SET|key|" + value);
  CHECK(got.memory.bytes() >= value.size());
  got = Request{};
  // What is left: the staging chunk, given back (down to an idle chunk) by Trim.
  parser.Trim();
  CHECK(budget.used() == parser.ChargedBytes());
  CHECK(parser.ChargedBytes() <= 4096);
}

TEST_CASE("RequestParser with a budget: a request holding a large payload is refused another",
          "[unit]") {
  MemoryBudget budget(1 << 20);
  RequestParser parser = BudgetParser(budget);
  const std::string first(600 * 1024, 'a');
  const std::string second(600 * 1024, 'b');
  // The first payload fits; the second would take the budget past its limit: the request is
  // rejected (nothing of it kept) and the connection goes on with the next one.
  const std::string input =
      "*3\r\n" + Bulk("MSET") + Bulk(first) + Bulk(second) + "*1\r\n" + Bulk("PING");
  REQUIRE(parser.Feed(input).ok());
  REQUIRE(parser.HasRequest());
  Request rejected = parser.PopRequest();
  CHECK(rejected.args.empty());
  CHECK(rejected.rejected.rfind("OOM request of at least 1228804 bytes does not fit in "
                                "limits.inflight_memory now",
                                0) == 0);
  CHECK(rejected.memory.bytes() == 0);
  REQUIRE(parser.HasRequest());
  CHECK(testing::Describe(parser.PopRequest()) == "PING");
  parser.Trim();
  CHECK(budget.used() == parser.ChargedBytes());
}

TEST_CASE("RequestParser with a budget: no chunk when the budget is spent", "[unit]") {
  MemoryBudget budget(1024);  // smaller than the idle chunk
  RequestParser parser = BudgetParser(budget);
  CHECK(parser.ReadBuffer().empty());
  CHECK(parser.AwaitingMemory());
  CHECK(parser.Feed("PING\r\n").code() == StatusCode::kUnavailable);
  CHECK(budget.used() == 0);
}

TEST_CASE("RequestParser with a budget: the argument list is reserved from the count", "[unit]") {
  MemoryBudget budget(256 * 1024);
  MemoryCharge others;
  REQUIRE(others.TryAdd(budget, 200 * 1024, false));
  RequestParser parser = BudgetParser(budget);
  // 5000 arguments need 120 KB of list: the parser waits instead of allocating it.
  REQUIRE(parser.Feed("*5000\r\n").ok());
  CHECK(parser.AwaitingMemory());
  CHECK(budget.used() - others.bytes() == parser.ChargedBytes());
  CHECK(parser.ChargedBytes() <= 4096);
  others.Reset();
  REQUIRE(parser.Resume().ok());
  CHECK_FALSE(parser.AwaitingMemory());
  CHECK(parser.ChargedBytes() >= 5000 * sizeof(Buffer));

  // 100000 arguments (2.4 MB) could never fit: refused at once, the elements discarded.
  RequestParser huge = BudgetParser(budget);
  std::string input = "*100000\r\n";
  for (int i = 0; i < 100000; ++i) input += Bulk("x");
  REQUIRE(huge.Feed(input).ok());
  REQUIRE(huge.HasRequest());
  const Request request = huge.PopRequest();
  CHECK(request.rejected ==
        "OOM request of 100000 arguments needs more than limits.inflight_memory (262144 bytes)");
}

TEST_CASE("RequestParser with a budget: at most kMaxReadyRequests wait, Resume goes on", "[unit]") {
  MemoryBudget budget(64 << 20);
  RequestParser parser = BudgetParser(budget);
  std::string input;
  const std::size_t total = RequestParser::kMaxReadyRequests + 500;
  for (std::size_t i = 0; i < total; ++i) input += "*1\r\n" + Bulk("PING");
  REQUIRE(parser.Feed(input).ok());
  std::size_t popped = 0;
  while (parser.HasRequest()) {
    parser.PopRequest();
    ++popped;
  }
  CHECK(popped == RequestParser::kMaxReadyRequests);
  REQUIRE(parser.Resume().ok());
  while (parser.HasRequest()) {
    parser.PopRequest();
    ++popped;
  }
  CHECK(popped == total);
  CHECK(parser.PendingBytes() == 0);
}

TEST_CASE("RequestParser with a budget: slices keep their chunk charged until dropped", "[unit]") {
  MemoryBudget budget(8 << 20);
  RequestParser parser = BudgetParser(budget);
  // Small arguments across several chunks: each chunk stays charged while a slice of it lives.
  std::string input = "*40\r\n";
  for (int i = 0; i < 40; ++i) input += Bulk(std::string(10000, static_cast<char>('a' + i % 26)));
  REQUIRE(parser.Feed(input).ok());
  REQUIRE(parser.HasRequest());
  Request request = parser.PopRequest();
  REQUIRE(request.args.size() == 40);
  parser.Trim();
  CHECK(parser.ChargedBytes() >= 400000);  // the chunks the slices refer to
  request = Request{};
  parser.Trim();
  CHECK(parser.ChargedBytes() <= 4096);
  CHECK(budget.used() == parser.ChargedBytes());
}

}  // namespace
}  // namespace prefixcache::protocol
