// CommandGate: lets one step (a transaction's EXEC) run while no other command of the
// daemon runs. Every other command runs between Enter() and Leave(), which cost two atomic
// operations on a cache line of the calling thread's slot while no step is exclusive.
// Thread-safe: any I/O thread and any worker may use it at once.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace prefixcache::daemon {

class CommandGate {
 public:
  // Marks the calling thread as running a command; waits while a step is exclusive. Calls
  // nest (a thread may enter again before it leaves).
  void Enter();
  void Leave();

  // Waits until no thread is between Enter() and Leave(), and keeps new ones out until
  // UnlockExclusive(). Exclusive steps run one at a time. The calling thread must not be
  // inside Enter() (it would wait for itself); it must not block on I/O threads meanwhile,
  // since those wait in Enter() until it unlocks.
  void LockExclusive();
  void UnlockExclusive();

 private:
  static constexpr std::size_t kSlots = 64;
  // Threads share a slot only when more than kSlots use the gate; the count stays right.
  struct alignas(64) Slot {
    std::atomic<std::uint32_t> inside{0};
  };

  std::array<Slot, kSlots> slots_{};
  std::atomic<bool> exclusive_{false};
  std::mutex exclusive_mu_;  // held from LockExclusive to UnlockExclusive
};

}  // namespace prefixcache::daemon
