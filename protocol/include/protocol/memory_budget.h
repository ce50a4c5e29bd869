// MemoryBudget: one byte budget shared by every connection of a daemon (limits.inflight_memory)
// for the memory that requests being received and replies being sent hold. Reservations are
// all or nothing and made before the memory is allocated; a caller refused one waits for a
// release (Wait) instead of allocating. MemoryCharge is the owner of some reserved bytes,
// released when it is destroyed. Thread-safe: any thread may reserve, release and wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace prefixcache::protocol {

class MemoryBudget {
 public:
  // Reservations of a large buffer (a bulk payload of its own, a batch of blocks read from
  // disk) leave this share of the limit free (limit / kHeadroomDivisor), so that while large
  // requests hold the budget, the small allocations of other clients (a read buffer, a small
  // reply) still succeed.
  static constexpr std::uint64_t kHeadroomDivisor = 8;

  // `limit_bytes` 0 means unlimited (every reservation succeeds; bytes are still counted).
  explicit MemoryBudget(std::uint64_t limit_bytes = 0) : limit_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Reserves `bytes` if the budget then stays within its limit (less the headroom when
  // `large`, unless `bytes` alone is more than that); false, reserving nothing, otherwise.
  bool TryReserve(std::uint64_t bytes, bool large);
  // Counts `bytes` whether or not they fit: for memory that already exists when it is
  // accounted (a reply built from bytes held elsewhere). The budget may then exceed its
  // limit; callers stop taking work while over_limit().
  void Force(std::uint64_t bytes);
  // Gives back `bytes` reserved or forced earlier, and wakes every waiter.
  void Release(std::uint64_t bytes);

  // A counter that every Release() advances. Read it before an attempt to reserve; pass it
  // to Wait() after the attempt failed, so that a release in between is not missed.
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_seq_cst); }
  // Runs `wake` once, on the thread of the first Release() after `seen_epoch` (or at once,
  // on this thread, if one happened already). `wake` must not call back into the budget's
  // Wait() directly (post it to the waiter's thread).
  void Wait(std::uint64_t seen_epoch, std::function<void()> wake);

  std::uint64_t limit() const { return limit_; }
  std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  // Most bytes ever held at once.
  std::uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }
  bool over_limit() const { return limit_ != 0 && used() > limit_; }
  // Reservations refused so far (each made a caller wait).
  std::uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  void RaisePeak(std::uint64_t used);

  const std::uint64_t limit_;
  std::atomic<std::uint64_t> used_{0};
  std::atomic<std::uint64_t> peak_{0};
  std::atomic<std::uint64_t> refusals_{0};
  std::atomic<std::uint64_t> epoch_{0};
  std::atomic<std::uint64_t> waiting_{0};  // waiters_.size(), read without the lock
  std::mutex mu_;
  std::vector<std::function<void()>> waiters_;  // under mu_
};

// Bytes reserved from (or forced on) a MemoryBudget, given back on destruction or Reset().
// Move-only; one owner at a time, on any thread.
class MemoryCharge {
 public:
  MemoryCharge() = default;
  MemoryCharge(MemoryBudget* budget, std::uint64_t bytes) : budget_(budget), bytes_(bytes) {}
  MemoryCharge(MemoryCharge&& other) noexcept
      : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  MemoryCharge& operator=(MemoryCharge&& other) noexcept {
    if (this != &other) {
      Reset();
      budget_ = std::exchange(other.budget_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  ~MemoryCharge() { Reset(); }

  // Reserves `bytes` more from `budget` (TryReserve); false, changing nothing, when refused.
  // A charge holds bytes of one budget only.
  bool TryAdd(MemoryBudget& budget, std::uint64_t bytes, bool large);
  // Forces `bytes` more on `budget` (MemoryBudget::Force).
  void Force(MemoryBudget& budget, std::uint64_t bytes);
  // Moves up to `bytes` of this charge into a new one (as many as it holds).
  MemoryCharge Split(std::uint64_t bytes);
  // Gives back what is held beyond `bytes` (no-op when it holds no more).
  void ShrinkTo(std::uint64_t bytes);
  // Takes over the bytes of `other` (same budget, or either empty).
  void Absorb(MemoryCharge&& other);
  // Releases every byte now.
  void Reset();

  std::uint64_t bytes() const { return bytes_; }

 private:
  MemoryBudget* budget_ = nullptr;
  std::uint64_t bytes_ = 0;
};

}  // namespace prefixcache::protocol
