#include "node_health.h"

#include <catch2/catch.hpp>

namespace prefixcache::client {
namespace {

using std::chrono::milliseconds;
using Clock = NodeHealth::Clock;

TEST_CASE("NodeHealth: up nodes admit every call", "[unit]") {
  NodeHealth health(milliseconds(100), milliseconds(1000));
  const Clock::time_point t0{};
  CHECK(health.up());
  CHECK(health.Admit(t0));
  CHECK(health.Admit(t0));
  CHECK(health.current_backoff() == milliseconds(0));
}

TEST_CASE("NodeHealth: a node that came back counts as returned for a window", "[unit]") {
  NodeHealth health(milliseconds(100), milliseconds(1000));
  const milliseconds window = std::chrono::hours(1);
  CHECK_FALSE(health.ReturnedWithin(Clock::now(), window));  // never down
  health.OnSuccess();
  CHECK_FALSE(health.ReturnedWithin(Clock::now(), window));  // an answer while up is no return
  health.OnFailure(Clock::now());
  CHECK_FALSE(health.ReturnedWithin(Clock::now(), window));  // down is not returned
  health.OnSuccess();
  const Clock::time_point after = Clock::now();
  CHECK(health.ReturnedWithin(after, window));
  CHECK_FALSE(health.ReturnedWithin(after + window, window));
}

TEST_CASE("NodeHealth: a failure skips the node for the initial backoff", "[unit]") {
  NodeHealth health(milliseconds(100), milliseconds(1000));
  const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);
  health.OnFailure(t0);
  CHECK_FALSE(health.up());
  CHECK(health.current_backoff() == milliseconds(100));
  CHECK_FALSE(health.Admit(t0));
  CHECK_FALSE(health.Admit(t0 + milliseconds(99)));
  // The first call after the wait probes; the others keep skipping while it runs.
  CHECK(health.Admit(t0 + milliseconds(100)));
  CHECK_FALSE(health.Admit(t0 + milliseconds(101)));
}

TEST_CASE("NodeHealth: the backoff doubles up to the maximum and resets on success", "[unit]") {
  NodeHealth health(milliseconds(100), milliseconds(700));
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
  std::vector<long> waits;
  for (int i = 0; i < 6; ++i) {
    health.OnFailure(now);
    waits.push_back(static_cast<long>(health.current_backoff().count()));
    // Down for exactly the current backoff; then the probe of the next round, which fails.
    now += health.current_backoff();
    REQUIRE_FALSE(health.Admit(now - milliseconds(1)));
    REQUIRE(health.Admit(now));
  }
  CHECK(waits == std::vector<long>{100, 200, 400, 700, 700, 700});
  health.OnSuccess();
  CHECK(health.up());
  CHECK(health.Admit(now));
  health.OnFailure(now);
  CHECK(health.current_backoff() == milliseconds(100));
}

TEST_CASE("NodeHealth: failures of one outage count once", "[unit]") {
  // Several requests in flight fail together when a node dies; that is one failure.
  NodeHealth health(milliseconds(100), milliseconds(1000));
  const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);
  health.OnFailure(t0);
  health.OnFailure(t0 + milliseconds(1));
  health.OnFailure(t0 + milliseconds(2));
  CHECK(health.current_backoff() == milliseconds(100));
  // The later failures did not push the probe back: it is admitted 100 ms after the first.
  CHECK_FALSE(health.Admit(t0 + milliseconds(99)));
  REQUIRE(health.Admit(t0 + milliseconds(100)));
  // A failed probe is a new failure even before the probe's own wait has passed.
  health.OnFailure(t0 + milliseconds(150));
  CHECK(health.current_backoff() == milliseconds(200));
  CHECK_FALSE(health.Admit(t0 + milliseconds(349)));
  CHECK(health.Admit(t0 + milliseconds(350)));
}

TEST_CASE("NodeHealth: bounds are sane when given zero or inverted", "[unit]") {
  NodeHealth health(milliseconds(0), milliseconds(0));
  const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);
  health.OnFailure(t0);
  CHECK(health.current_backoff() >= milliseconds(1));
  CHECK(health.Admit(t0 + health.current_backoff()));
}

}  // namespace
}  // namespace prefixcache::client
