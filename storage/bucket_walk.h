// Walking a std::unordered_map bucket by bucket, for scans and sweeps that do a bounded
// amount of work per call and go on later from where they stopped. An element stays in
// its bucket until the table is rehashed (which std::unordered_map does only when an
// insertion grows it), so a walk that finds its table's RehashWatch generation unchanged
// since the last call may go on at the bucket it stopped at; otherwise it starts again.
// Not thread-safe: the caller holds the map's lock. Private to storage/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace prefixcache::storage {

// Counts the rehashes of one table: Note() after every insertion (and after replacing the
// table) bumps the generation when the bucket count changed.
struct RehashWatch {
  std::size_t buckets = 0;
  std::uint32_t generation = 0;
  void Note(std::size_t bucket_count) {
    if (bucket_count != buckets) {
      buckets = bucket_count;
      ++generation;
    }
  }
};

// Calls visit(key, value) for every element of the buckets from `bucket` on, stopping
// after the bucket where `want` elements have been visited, after `max_buckets` buckets, or
// at the end of the table. Returns the first bucket not walked (map.bucket_count() at
// the end).
template <typename Map, typename Visit>
std::size_t WalkBuckets(const Map& map, std::size_t bucket, std::size_t want,
                        std::size_t max_buckets, const Visit& visit) {
  std::size_t seen = 0;
  for (std::size_t walked = 0; bucket < map.bucket_count() && seen < want && walked < max_buckets;
       ++bucket, ++walked) {
    for (auto it = map.begin(bucket); it != map.end(bucket); ++it) {
      visit(it->first, it->second);
      ++seen;
    }
  }
  return bucket;
}

// Where a scan over one table stands, as a scan cursor carries it between calls.
struct TableScan {
  static constexpr std::size_t kDone = static_cast<std::size_t>(-1);
  static constexpr std::uint32_t kGenerationMask = 0xff;  // the bits a cursor keeps
  std::uint32_t generation = 0;  // the table's generation (masked) when `bucket` was set
  std::size_t bucket = 0;        // the next bucket to walk, or kDone
};

// One step of a scan: from step.bucket (from bucket 0 again when the table was rehashed
// since, which may return elements twice but never skips one that stayed), visiting
// about `want` elements and at most 10 * want + 16 buckets. Updates `step`.
template <typename Map, typename Visit>
void ScanTableStep(const Map& map, const RehashWatch& watch, TableScan& step, std::size_t want,
                   const Visit& visit) {
  const std::uint32_t generation = watch.generation & TableScan::kGenerationMask;
  if (step.generation != generation) step.bucket = 0;
  step.generation = generation;
  const std::size_t next = WalkBuckets(map, step.bucket, want, 10 * want + 16, visit);
  step.bucket = next >= map.bucket_count() ? TableScan::kDone : next;
}

}  // namespace prefixcache::storage
