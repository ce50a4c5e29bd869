#include "node_health.h"

#include <algorithm>

namespace prefixcache::client {

NodeHealth::NodeHealth(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      next_wait_(initial_) {}

bool NodeHealth::Admit(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (up_) return true;
  if (now < retry_at_) return false;
  retry_at_ = now + current_wait_;
  probing_ = true;
  return true;
}

void NodeHealth::OnSuccess() {
  std::lock_guard lock(mu_);
  if (!up_) {
    returned_ = true;
    returned_at_ = Clock::now();
  }
  up_ = true;
  probing_ = false;
  next_wait_ = initial_;
  current_wait_ = std::chrono::milliseconds(0);
}

void NodeHealth::OnFailure(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!up_ && !probing_ && now < retry_at_) return;  // same outage, already accounted
  up_ = false;
  probing_ = false;
  current_wait_ = next_wait_;
  retry_at_ = now + current_wait_;
  next_wait_ = std::min(next_wait_ * 2, max_);
}

bool NodeHealth::up() const {
  std::lock_guard lock(mu_);
  return up_;
}

bool NodeHealth::ReturnedWithin(Clock::time_point now, std::chrono::milliseconds window) const {
  std::lock_guard lock(mu_);
  return up_ && returned_ && now - returned_at_ < window;
}

std::chrono::milliseconds NodeHealth::current_backoff() const {
  std::lock_guard lock(mu_);
  return up_ ? std::chrono::milliseconds(0) : current_wait_;
}

}  // namespace prefixcache::client
