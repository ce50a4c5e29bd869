// NodeHealth: whether requests may go to one node, with exponential backoff after
// failures. Up: every call may use the node. After a failure the node is down for
// `initial` and then admits one probing call; each failure while down doubles the wait up
// to `max`; any success brings it back up and resets the wait. Thread-safe (a mutex); the
// clock is passed in so tests drive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace prefixcache::client {

class NodeHealth {
 public:
  using Clock = std::chrono::steady_clock;

  NodeHealth(std::chrono::milliseconds initial, std::chrono::milliseconds max);

  // Whether a call starting at `now` may send to the node. While down, returns true once
  // the wait has elapsed and then pushes the next admission a full wait further, so only
  // one call probes a recovering node at a time.
  bool Admit(Clock::time_point now);

  // The node answered: it is up and the wait is back at `initial`. An answer while down
  // (a probe's) is the node's return, at Clock::now().
  void OnSuccess();
  // The node failed (refused, dropped, timed out) at `now`: it goes down until now + wait,
  // and the wait doubles (bounded by `max`) for the next failure. Failures reported while
  // already down and before the retry time (other in-flight requests failing at once) do
  // not double the wait again.
  void OnFailure(Clock::time_point now);

  bool up() const;
  // Whether the node is up and returned from being down less than `window` before `now`
  // (false for a node that was never down).
  bool ReturnedWithin(Clock::time_point now, std::chrono::milliseconds window) const;
  // The wait applied at the last failure that counted (0 while up): a node that went down
  // at `t` admits its next probe at t + current_backoff().
  std::chrono::milliseconds current_backoff() const;

 private:
  const std::chrono::milliseconds initial_;
  const std::chrono::milliseconds max_;
  mutable std::mutex mu_;
  bool up_ = true;
  std::chrono::milliseconds next_wait_;  // applied at the next failure
  std::chrono::milliseconds current_wait_{0};
  Clock::time_point retry_at_{};  // while down: when the next probe is admitted
  // Set when a probe was admitted; a failure after that is a new failure even if it
  // comes before retry_at_.
  bool probing_ = false;
  bool returned_ = false;            // it was down once and came back
  Clock::time_point returned_at_{};  // when it last came back
};

}  // namespace prefixcache::client
