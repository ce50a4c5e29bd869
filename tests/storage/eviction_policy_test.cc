#include "eviction_policy.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "lru_policy.h"
#include "prefix_policy.h"
#include "prefixcache/defaults.h"
#include "tiered_policy.h"

namespace prefixcache::storage {
namespace {

BlockKey Key(std::uint64_t i) { return BlockKey::FromHalves(0, i); }

}  // namespace

TEST_CASE("MakeEvictionPolicy knows lru, prefix and tiered", "[unit]") {
  CHECK(MakeEvictionPolicy("lru").ok());
  CHECK(MakeEvictionPolicy("prefix").ok());
  CHECK(MakeEvictionPolicy("tiered").ok());
  // The names the config accepts are exactly the ones the factory builds.
  for (std::string_view name : defaults::kEvictionPolicies) CHECK(MakeEvictionPolicy(name).ok());
  CHECK(MakeEvictionPolicy(defaults::kEvictionPolicy).ok());
  auto bad = MakeEvictionPolicy("fifo");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() ==
        "unknown eviction policy \"fifo\" (expected \"lru\", \"prefix\" or \"tiered\")");
}

TEST_CASE("The built-in default policy is one MakeEvictionPolicy knows", "[unit]") {
  CHECK(MakeEvictionPolicy(defaults::kEvictionPolicy).ok());
}

TEST_CASE("LRU and prefix are LRU when every depth is equal", "[unit]") {
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

TEST_CASE("TieredPolicy is LRU among blocks used equally often", "[unit]") {
  TieredPolicy policy;
  CHECK_FALSE(policy.Victim().has_value());
  for (std::uint64_t i = 1; i <= 3; ++i) policy.OnInsert(Key(i), 0, i);
  CHECK(policy.Victim() == Key(1));
  CHECK(policy.VictimTick() == 1);  // tier 0 has no bonus
  policy.OnErase(Key(1));
  CHECK(policy.Victim() == Key(2));
  policy.OnAccess(Key(99), 4);  // unknown keys are ignored
  policy.OnErase(Key(99));
  policy.OnErase(Key(2));
  policy.OnErase(Key(3));
  CHECK_FALSE(policy.Victim().has_value());
}

TEST_CASE("TieredPolicy evicts once-used blocks before a reused one until it is a turnover colder",
          "[unit]") {
  TieredPolicy policy;
  std::uint64_t tick = 0;
  policy.OnInsert(Key(1), 0, ++tick);  // tick 1
  policy.OnInsert(Key(2), 0, ++tick);
  policy.OnInsert(Key(3), 0, ++tick);
  policy.OnAccess(Key(1), ++tick);  // tick 4: used twice, tier 1
  // Bonus of tier 1 = the blocks held (3): key 1 counts as used at tick 7.
  CHECK(policy.Bonus(1) == 3);
  CHECK(policy.Victim() == Key(2));
  CHECK(policy.VictimTick() == 2);
  policy.OnErase(Key(2));
  CHECK(policy.Victim() == Key(3));
  // Newer one-off blocks: once tier 0's coldest (tick 8) is warmer than key 1's 4 + 3,
  // key 1 goes first.
  policy.OnErase(Key(3));
  for (std::uint64_t i = 10; i < 14; ++i) policy.OnInsert(Key(i), 0, ++tick);  // ticks 5..8
  CHECK(policy.Bonus(1) == 5);  // 5 blocks held: key 1 counts as used at tick 9
  CHECK(policy.Victim() == Key(10));
  policy.OnErase(Key(10));  // 4 held: key 1 at 4 + 4 = 8
  CHECK(policy.Victim() == Key(11));
  policy.OnErase(Key(11));  // 3 held: key 1 at 7, key 12 at 7: the earlier tier wins ties
  CHECK(policy.Victim() == Key(12));
  policy.OnErase(Key(12));  // 2 held: key 1 at 6, key 13 at 8
  CHECK(policy.Victim() == Key(1));
  CHECK(policy.VictimTick() == 6);
}

TEST_CASE("TieredPolicy has three tiers: used once, twice, three times or more", "[unit]") {
  TieredPolicy policy;
  policy.OnInsert(Key(1), 0, 1);
  policy.OnInsert(Key(2), 0, 2);
  policy.OnInsert(Key(3), 0, 3);
  for (std::uint64_t t = 4; t < 10; ++t) policy.OnAccess(Key(1), t);  // tier 2 (saturated)
  policy.OnAccess(Key(2), 10);                                        // tier 1
  // Scores: key 3 at 3 (tier 0), key 2 at 10 + 3, key 1 at 9 + 2 * 3.
  CHECK(policy.Bonus(2) == 6);
  CHECK(policy.Victim() == Key(3));
  policy.OnErase(Key(3));  // 2 held: key 2 at 12, key 1 at 13
  CHECK(policy.Victim() == Key(2));
  policy.OnErase(Key(2));
  CHECK(policy.Victim() == Key(1));
}

TEST_CASE("TieredPolicy remembers the tier of a block that comes back after leaving", "[unit]") {
  TieredPolicy policy;
  policy.OnInsert(Key(1), 0, 1);
  policy.OnAccess(Key(1), 2);  // tier 1
  policy.OnErase(Key(1));      // evicted; the ghost keeps its two uses
  CHECK(policy.ghost().size() == 1);
  policy.OnInsert(Key(2), 0, 3);
  policy.OnInsert(Key(1), 0, 4);  // back: a third use, tier 2
  CHECK(policy.ghost().size() == 0);
  // Key 1 at 4 + 2 * 2 = 8 against key 2 at 3.
  CHECK(policy.Victim() == Key(2));
  policy.OnInsert(Key(3), 0, 5);
  policy.OnInsert(Key(4), 0, 6);
  policy.OnInsert(Key(5), 0, 7);
  policy.OnErase(Key(2));
  policy.OnErase(Key(3));
  policy.OnErase(Key(4));
  // Held: 1 and 5: key 1 at 4 + 2 * 2 = 8 against key 5 at 7.
  CHECK(policy.Victim() == Key(5));
  // A block never seen before starts in tier 0.
  TieredPolicy fresh;
  fresh.OnInsert(Key(7), 0, 1);
  fresh.OnInsert(Key(8), 0, 2);
  CHECK(fresh.Victim() == Key(7));
}

TEST_CASE("TieredPolicy takes the bonus from the whole tier's block count when given it",
          "[unit]") {
  std::atomic<std::uint64_t> tier_entries{100};
  TieredPolicy policy(TierView{&tier_entries});
  policy.OnInsert(Key(1), 0, 1);
  policy.OnAccess(Key(1), 2);
  policy.OnInsert(Key(2), 0, 50);
  CHECK(policy.Bonus(1) == 100);
  CHECK(policy.Victim() == Key(2));  // key 1 at 2 + 100
  CHECK(policy.VictimTick() == 50);
  tier_entries = 10;  // key 1 at 12
  CHECK(policy.Victim() == Key(1));
  CHECK(policy.VictimTick() == 12);
}

}  // namespace prefixcache::storage
