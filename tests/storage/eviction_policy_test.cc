#include "eviction_policy.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "lru_policy.h"
#include "prefix_policy.h"

namespace prefixcache::storage {
namespace {

BlockKey Key(std::uint64_t i) { return BlockKey::FromHalves(0, i); }

}  // namespace

TEST_CASE("MakeEvictionPolicy knows lru and prefix", "[unit]") {
  CHECK(MakeEvictionPolicy("lru").ok());
  CHECK(MakeEvictionPolicy("prefix").ok());
  auto bad = MakeEvictionPolicy("fifo");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() ==
        "unknown eviction policy \"fifo\" (expected \"lru\" or \"prefix\")");
}

TEST_CASE("Both policies are LRU when every depth is equal", "[unit]") {
  for (const char* name : {"lru", "prefix"}) {
    INFO(name);
    auto policy = std::move(MakeEvictionPolicy(name)).value();
    CHECK_FALSE(policy->Victim().has_value());
    for (std::uint64_t i = 1; i <= 4; ++i) policy->OnInsert(Key(i), 0, i);
    CHECK(policy->Victim() == Key(1));
    CHECK(policy->VictimTick() == 1);

    policy->OnAccess(Key(1), 5);  // 1 becomes the most recent
    CHECK(policy->Victim() == Key(2));
    CHECK(policy->VictimTick() == 2);

    policy->OnErase(Key(2));
    CHECK(policy->Victim() == Key(3));
    policy->OnInsert(Key(3), 0, 6);  // re-insert refreshes too
    CHECK(policy->Victim() == Key(4));

    policy->OnAccess(Key(99), 7);  // unknown keys are ignored
    policy->OnErase(Key(99));
    policy->OnErase(Key(4));
    CHECK(policy->Victim() == Key(1));
    policy->OnErase(Key(1));
    CHECK(policy->Victim() == Key(3));
    policy->OnErase(Key(3));
    CHECK_FALSE(policy->Victim().has_value());
  }
}

TEST_CASE("LruPolicy ignores depth", "[unit]") {
  LruPolicy lru;
  lru.OnInsert(Key(1), 0, 1);
  lru.OnInsert(Key(2), 9, 2);
  CHECK(lru.Victim() == Key(1));
}

TEST_CASE("PrefixPolicy evicts the deepest of the coldest blocks", "[unit]") {
  PrefixPolicy policy;
  const std::uint32_t depths[] = {0, 3, 1, 3, 2};
  for (std::uint64_t i = 0; i < 5; ++i) policy.OnInsert(Key(i + 1), depths[i], i + 1);

  // Keys 2 and 4 share the largest depth: the less recent one goes first.
  CHECK(policy.Victim() == Key(2));
  // The tick is that of the least recent block, for comparing shards.
  CHECK(policy.VictimTick() == 1);
  policy.OnErase(Key(2));
  CHECK(policy.Victim() == Key(4));
  policy.OnAccess(Key(4), 10);  // still within the window: depth wins over recency
  CHECK(policy.Victim() == Key(4));
  policy.OnErase(Key(4));
  CHECK(policy.Victim() == Key(5));
}

TEST_CASE("PrefixPolicy keeps a recently used deep block over cold shallow ones", "[unit]") {
  PrefixPolicy policy;
  std::uint64_t tick = 0;
  policy.OnInsert(Key(100), 50, ++tick);
  for (std::uint64_t i = 1; i <= PrefixPolicy::kWindow; ++i) policy.OnInsert(Key(i), 0, ++tick);
  CHECK(policy.Victim() == Key(100));  // cold and deep

  policy.OnAccess(Key(100), ++tick);  // now kWindow shallow blocks are colder
  CHECK(policy.Victim() == Key(1));
  CHECK(policy.VictimTick() == 2);

  // A deep block just outside the window is not looked at either.
  PrefixPolicy outside;
  for (std::uint64_t i = 1; i <= PrefixPolicy::kWindow; ++i) outside.OnInsert(Key(i), 0, i);
  outside.OnInsert(Key(100), 50, PrefixPolicy::kWindow + 1);
  CHECK(outside.Victim() == Key(1));
  outside.OnErase(Key(1));  // the window slides onto it
  CHECK(outside.Victim() == Key(100));
}

}  // namespace prefixcache::storage
