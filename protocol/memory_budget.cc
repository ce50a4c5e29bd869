#include "protocol/memory_budget.h"

#include "prefixcache/check.h"

namespace prefixcache::protocol {

bool MemoryBudget::TryReserve(std::uint64_t bytes, bool large) {
  if (bytes == 0) return true;
  // A large reservation beyond the headroom's cap may still take the whole limit.
  const std::uint64_t headroom_cap = limit_ - limit_ / kHeadroomDivisor;
  const std::uint64_t cap = large && bytes <= headroom_cap ? headroom_cap : limit_;
  std::uint64_t used = used_.load(std::memory_order_relaxed);
  for (;;) {
    if (limit_ != 0 && (bytes > cap || used > cap - bytes)) {
      refusals_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    // seq_cst: a reservation that fails after this one's Release must see the release (the
    // epoch protocol of Wait relies on the order of used_ and epoch_ updates).
    if (used_.compare_exchange_weak(used, used + bytes, std::memory_order_seq_cst)) break;
  }
  RaisePeak(used + bytes);
  return true;
}

void MemoryBudget::Force(std::uint64_t bytes) {
  if (bytes == 0) return;
  RaisePeak(used_.fetch_add(bytes, std::memory_order_seq_cst) + bytes);
}

void MemoryBudget::Release(std::uint64_t bytes) {
  if (bytes == 0) return;
  const std::uint64_t before = used_.fetch_sub(bytes, std::memory_order_seq_cst);
  PC_CHECK(before >= bytes && "released more than was reserved");
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  // A waiter that registered after this load saw the new epoch and woke itself.
  if (waiting_.load(std::memory_order_seq_cst) == 0) return;
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    wake.swap(waiters_);
    waiting_.store(0, std::memory_order_seq_cst);
  }
  for (auto& fn : wake) fn();
}

void MemoryBudget::Wait(std::uint64_t seen_epoch, std::function<void()> wake) {
  {
    std::lock_guard lock(mu_);
    waiting_.fetch_add(1, std::memory_order_seq_cst);
    if (epoch_.load(std::memory_order_seq_cst) == seen_epoch) {
      waiters_.push_back(std::move(wake));
      return;
    }
    waiting_.fetch_sub(1, std::memory_order_seq_cst);
  }
  wake();
}

void MemoryBudget::RaisePeak(std::uint64_t used) {
  std::uint64_t peak = peak_.load(std::memory_order_relaxed);
  while (used > peak && !peak_.compare_exchange_weak(peak, used, std::memory_order_relaxed)) {
  }
}

bool MemoryCharge::TryAdd(MemoryBudget& budget, std::uint64_t bytes, bool large) {
  PC_CHECK(budget_ == nullptr || budget_ == &budget);
  if (!budget.TryReserve(bytes, large)) return false;
  budget_ = &budget;
  bytes_ += bytes;
  return true;
}

void MemoryCharge::Force(MemoryBudget& budget, std::uint64_t bytes) {
  PC_CHECK(budget_ == nullptr || budget_ == &budget);
  budget.Force(bytes);
  budget_ = &budget;
  bytes_ += bytes;
}

MemoryCharge MemoryCharge::Split(std::uint64_t bytes) {
  const std::uint64_t moved = bytes < bytes_ ? bytes : bytes_;
  bytes_ -= moved;
  return MemoryCharge(moved == 0 ? nullptr : budget_, moved);
}

void MemoryCharge::ShrinkTo(std::uint64_t bytes) {
  if (bytes >= bytes_) return;
  budget_->Release(bytes_ - bytes);
  bytes_ = bytes;
}

void MemoryCharge::Absorb(MemoryCharge&& other) {
  if (other.bytes_ == 0) return;
  PC_CHECK(budget_ == nullptr || budget_ == other.budget_);
  budget_ = other.budget_;
  bytes_ += std::exchange(other.bytes_, 0);
  other.budget_ = nullptr;
}

void MemoryCharge::Reset() {
  if (budget_ != nullptr && bytes_ != 0) budget_->Release(bytes_);
  bytes_ = 0;
  budget_ = nullptr;
}

}  // namespace prefixcache::protocol
