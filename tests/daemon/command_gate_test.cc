// CommandGate: an exclusive step runs while no entered command does, and holds new ones
// back until it is done.
#include "command_gate.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace prefixcache::daemon {
namespace {

TEST_CASE("CommandGate: no command runs during an exclusive step", "[unit]") {
  CommandGate gate;
  std::atomic<int> inside{0};
  std::atomic<bool> violated{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> commands;
  for (int t = 0; t < 3; ++t) {
    commands.emplace_back([&] {
      while (!stop.load()) {
        gate.Enter();
        inside.fetch_add(1);
        inside.fetch_sub(1);
        gate.Leave();
      }
    });
  }
  for (int step = 0; step < 2000; ++step) {
    gate.LockExclusive();
    if (inside.load() != 0) violated = true;
    std::this_thread::yield();
    if (inside.load() != 0) violated = true;
    gate.UnlockExclusive();
  }
  stop = true;
  for (auto& thread : commands) thread.join();
  CHECK_FALSE(violated.load());
}

TEST_CASE("CommandGate: a command entered holds the exclusive step back", "[unit]") {
  CommandGate gate;
  gate.Enter();
  std::atomic<bool> locked{false};
  std::thread step([&] {
    gate.LockExclusive();
    locked = true;
    gate.UnlockExclusive();
  });
  // The step cannot have run: this thread is still inside.
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  CHECK_FALSE(locked.load());
  gate.Leave();
  step.join();
  CHECK(locked.load());
}

}  // namespace
}  // namespace prefixcache::daemon
