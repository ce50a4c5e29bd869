#include "command_gate.h"

#include <chrono>
#include <thread>

namespace prefixcache::daemon {
namespace {

std::size_t ThisThreadSlot(std::size_t slots) {
  static std::atomic<std::size_t> next_thread{0};
  thread_local const std::size_t index = next_thread.fetch_add(1, std::memory_order_relaxed);
  return index % slots;
}

}  // namespace

// Enter announces the thread (seq_cst increment) before it reads exclusive_, and
// LockExclusive sets exclusive_ (seq_cst) before it reads the slots: of a command entering
// and a step locking at once, at least one sees the other, so either the command backs off
// or the step waits for it to leave.
void CommandGate::Enter() {
  Slot& slot = slots_[ThisThreadSlot(kSlots)];
  for (;;) {
    slot.inside.fetch_add(1, std::memory_order_seq_cst);
    if (!exclusive_.load(std::memory_order_seq_cst)) return;
    slot.inside.fetch_sub(1, std::memory_order_seq_cst);
    // Waits for the exclusive step to finish, then tries again.
    std::lock_guard<std::mutex> wait(exclusive_mu_);
  }
}

void CommandGate::Leave() {
  slots_[ThisThreadSlot(kSlots)].inside.fetch_sub(1, std::memory_order_seq_cst);
}

void CommandGate::LockExclusive() {
  exclusive_mu_.lock();
  exclusive_.store(true, std::memory_order_seq_cst);
  // The commands in progress finish within microseconds, or -- on a worker reading disk --
  // within a disk read: yield first, then sleep briefly between looks.
  for (int round = 0;; ++round) {
    bool idle = true;
    for (const Slot& slot : slots_) {
      if (slot.inside.load(std::memory_order_seq_cst) != 0) {
        idle = false;
        break;
      }
    }
    if (idle) return;
    if (round < 1000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

void CommandGate::UnlockExclusive() {
  exclusive_.store(false, std::memory_order_seq_cst);
  exclusive_mu_.unlock();
}

}  // namespace prefixcache::daemon
