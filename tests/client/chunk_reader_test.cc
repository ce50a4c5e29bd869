#include "chunk_reader.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "prefixcache/value_format.h"
#include "protocol/resp_reply.h"

namespace prefixcache::client {
namespace {

std::string Stored(const BlockKey& key, const std::string& payload) {
  const auto bytes = std::as_bytes(std::span(payload.data(), payload.size()));
  const ValueTrailer trailer = MakeValueTrailer(key, bytes);
  return payload + std::string(reinterpret_cast<const char*>(trailer.data()), trailer.size());
}

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// Feeds the first `limit` bytes of `wire` to a parser wired to `reader` the way Connection
// does (scatter reads of at most `piece` bytes); returns once the reply completed (then
// Finish ran) or the bytes ran out.
void Drive(ChunkReader& reader, const std::string& wire, std::size_t piece,
           std::size_t limit = std::string::npos) {
  protocol::ReplyParser parser;
  parser.SetBulkSink(&reader);
  const std::size_t end = std::min(limit, wire.size());
  std::size_t at = 0;
  while (!parser.HasReply() && at < end) {
    const std::size_t want = std::min(piece, end - at);
    std::size_t n = 0;
    for (const std::span<std::byte> span : parser.ReadBuffers()) {
      const std::size_t step = std::min(span.size(), want - n);
      std::memcpy(span.data(), wire.data() + at + n, step);
      n += step;
      if (n == want) break;
    }
    at += n;
    REQUIRE(parser.Commit(n).ok());
  }
  if (parser.HasReply()) reader.Finish(parser.PopReply());
}

TEST_CASE("ChunkReader places, verifies and settles every kind of value", "[unit]") {
  std::mt19937_64 rng(7);
  std::vector<BlockKey> keys;
  for (int i = 0; i < 7; ++i) keys.push_back(BlockKey::FromHalves(rng(), rng()));
  std::vector<std::string> payloads;
  for (int i = 0; i < 7; ++i) {
    std::string p(20000 + 1000 * i, '\0');
    for (auto& c : p) c = static_cast<char>(rng());
    payloads.push_back(p);
  }
  std::string corrupt = Stored(keys[3], payloads[3]);
  corrupt[1234] ^= 1;
  // 0: room to spare, 1: exact payload size, 2: too small, 3: corrupt, 4: nil,
  // 5: shorter than a trailer, 6: small value (below the parser's direct threshold).
  payloads[6] = "tiny";
  const std::string wire = "*7\r\n" + Bulk(Stored(keys[0], payloads[0])) +
                           Bulk(Stored(keys[1], payloads[1])) + Bulk(Stored(keys[2], payloads[2])) +
                           Bulk(corrupt) + "$-1\r\n" + Bulk("short") +
                           Bulk(Stored(keys[6], payloads[6]));
  std::vector<std::size_t> chunk = {0, 1, 2, 3, 4, 5, 6};
  const std::size_t piece = GENERATE(1, 7, 4096, 1 << 20);

  SECTION("into caller buffers") {
    std::vector<std::vector<std::byte>> buffers = {
        std::vector<std::byte>(payloads[0].size() + kValueTrailerBytes),
        std::vector<std::byte>(payloads[1].size()),
        std::vector<std::byte>(payloads[2].size() - 1),
        std::vector<std::byte>(payloads[3].size() + 100),
        std::vector<std::byte>(10),
        std::vector<std::byte>(10),
        std::vector<std::byte>(4)};
    std::vector<std::span<std::byte>> spans(buffers.begin(), buffers.end());
    std::vector<Destination> dest;
    for (const auto& span : spans) dest.push_back({std::span(&span, 1)});
    // Bytes past a payload are never written.
    for (auto& b : buffers[0]) b = std::byte{0xAB};
    std::vector<KeyOutcome> outcomes(7);
    std::atomic<std::uint64_t> corrupted{0};
    ChunkReader reader(keys, chunk, dest, true, outcomes, corrupted);
    Drive(reader, wire, piece);
    CHECK(corrupted == 2);  // 3 and 5
    for (std::size_t b = payloads[0].size(); b < buffers[0].size(); ++b) {
      CHECK(buffers[0][b] == std::byte{0xAB});
    }
    CHECK(outcomes[0].status == BlockStatus::kHit);
    CHECK(outcomes[1].status == BlockStatus::kHit);
    CHECK(outcomes[2].status == BlockStatus::kTooSmall);
    CHECK(outcomes[2].size == payloads[2].size());
    CHECK(outcomes[3].status == BlockStatus::kCorrupt);
    CHECK(outcomes[4].status == BlockStatus::kMiss);
    CHECK(outcomes[5].status == BlockStatus::kCorrupt);
    CHECK(outcomes[6].status == BlockStatus::kHit);
    for (int i : {0, 1, 6}) {
      CHECK(outcomes[i].size == payloads[i].size());
      CHECK(std::memcmp(buffers[i].data(), payloads[i].data(), payloads[i].size()) == 0);
    }
  }

  SECTION("into owned buffers") {
    std::vector<KeyOutcome> outcomes(7);
    std::atomic<std::uint64_t> corrupted{0};
    ChunkReader reader(keys, chunk, {}, true, outcomes, corrupted);
    Drive(reader, wire, piece);
    for (int i : {0, 1, 2, 6}) {
      REQUIRE(outcomes[i].status == BlockStatus::kHit);
      CHECK(outcomes[i].owned.view() == payloads[i]);
    }
    CHECK(outcomes[3].status == BlockStatus::kCorrupt);
    CHECK(outcomes[3].owned.empty());
    CHECK(outcomes[4].status == BlockStatus::kMiss);
    CHECK(outcomes[5].status == BlockStatus::kCorrupt);
  }

  SECTION("without checksum verification only the magic is checked") {
    std::vector<KeyOutcome> outcomes(7);
    std::atomic<std::uint64_t> corrupted{0};
    ChunkReader reader(keys, chunk, {}, false, outcomes, corrupted);
    Drive(reader, wire, piece);
    CHECK(outcomes[3].status == BlockStatus::kHit);
    CHECK(outcomes[5].status == BlockStatus::kCorrupt);
  }
}

TEST_CASE("ChunkReader leaves keys missing on an error reply", "[unit]") {
  const std::vector<BlockKey> keys = {BlockKey::FromHalves(1, 2)};
  std::vector<std::size_t> chunk = {0};
  std::vector<KeyOutcome> outcomes(1);
  std::atomic<std::uint64_t> corrupted{0};
  ChunkReader reader(keys, chunk, {}, true, outcomes, corrupted);
  Drive(reader, "-ERR nope\r\n", 64);
  CHECK(outcomes[0].status == BlockStatus::kMiss);
  CHECK_FALSE(reader.settled(0));
}

TEST_CASE("ChunkReader scatters payloads into destinations in parts", "[unit]") {
  std::mt19937_64 rng(8);
  std::vector<BlockKey> keys;
  std::vector<std::string> payloads;
  std::string wire = "*3\r\n";
  for (int i = 0; i < 3; ++i) {
    keys.push_back(BlockKey::FromHalves(rng(), rng()));
    std::string p(60000 + 10 * i, '\0');
    for (auto& c : p) c = static_cast<char>(rng());
    payloads.push_back(p);
    wire += Bulk(Stored(keys[i], p));
  }
  // Key 0: K and V halves; key 1: three uneven parts and an empty one; key 2: two parts
  // with room to spare in the second.
  std::vector<std::vector<std::byte>> memory;
  std::vector<std::vector<std::span<std::byte>>> parts(3);
  auto part = [&](int key, std::size_t size) {
    memory.emplace_back(size);
    parts[key].push_back(std::span(memory.back()));
  };
  memory.reserve(16);
  part(0, 30000);
  part(0, 30000);
  part(1, 1);
  part(1, 0);
  part(1, 40000);
  part(1, 20009);
  part(2, 20000);
  part(2, 50000);
  std::vector<Destination> dest;
  for (const auto& p : parts) dest.push_back({std::span(p)});
  std::vector<std::size_t> chunk = {0, 1, 2};
  const std::size_t piece = GENERATE(1, 13, 4096, 1 << 20);
  std::vector<KeyOutcome> outcomes(3);
  std::atomic<std::uint64_t> corrupted{0};
  ChunkReader reader(keys, chunk, dest, true, outcomes, corrupted);
  Drive(reader, wire, piece);
  CHECK(corrupted == 0);
  for (int k = 0; k < 3; ++k) {
    REQUIRE(outcomes[k].status == BlockStatus::kHit);
    CHECK(outcomes[k].size == payloads[k].size());
    std::string joined;
    for (const auto& p : parts[k]) joined.append(reinterpret_cast<const char*>(p.data()), p.size());
    CHECK(joined.substr(0, payloads[k].size()) == payloads[k]);
  }
}

TEST_CASE("ChunkReader settles the values that arrived before a reply was cut", "[unit]") {
  std::mt19937_64 rng(9);
  std::vector<BlockKey> keys;
  std::string wire = "*4\r\n";
  std::vector<std::size_t> ends;  // where each element ends on the wire
  std::vector<std::string> payloads;
  for (int i = 0; i < 4; ++i) {
    keys.push_back(BlockKey::FromHalves(rng(), rng()));
    std::string p(30000, '\0');
    for (auto& c : p) c = static_cast<char>(rng());
    payloads.push_back(p);
    wire += i == 1 ? std::string("$-1\r\n") : Bulk(Stored(keys[i], p));
    ends.push_back(wire.size());
  }
  std::vector<std::vector<std::byte>> buffers(4, std::vector<std::byte>(30000));
  std::vector<std::span<std::byte>> spans(buffers.begin(), buffers.end());
  std::vector<Destination> dest;
  for (const auto& span : spans) dest.push_back({std::span(&span, 1)});
  std::vector<std::size_t> chunk = {0, 1, 2, 3};
  std::vector<KeyOutcome> outcomes(4);
  std::atomic<std::uint64_t> corrupted{0};
  ChunkReader reader(keys, chunk, dest, true, outcomes, corrupted);
  // Cut in the middle of element 3's payload: 0 and 2 arrived whole, 1 was nil (which only
  // the complete reply would tell), 3 did not.
  Drive(reader, wire, 7000, ends[2] + 20000);
  CHECK(reader.settled(0));
  CHECK_FALSE(reader.settled(1));
  CHECK(reader.settled(2));
  CHECK_FALSE(reader.settled(3));
  CHECK(outcomes[0].status == BlockStatus::kHit);
  CHECK(outcomes[2].status == BlockStatus::kHit);
  CHECK(outcomes[3].status == BlockStatus::kMiss);
  CHECK(std::memcmp(buffers[2].data(), payloads[2].data(), 30000) == 0);
}

}  // namespace
}  // namespace prefixcache::client
