#include "chunk_reader.h"

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

// Feeds `wire` to a parser wired to `reader` the way Connection does, in pieces of at most
// `piece` bytes; returns after the reply completed.
void Drive(ChunkReader& reader, const std::string& wire, std::size_t piece) {
  protocol::ReplyParser parser;
  parser.SetBulkSink([&](std::size_t j, std::size_t size) { return reader.Sink(j, size); });
  std::size_t at = 0;
  while (!parser.HasReply()) {
    REQUIRE(at < wire.size());
    const std::span<std::byte> into = parser.ReadBuffer();
    const std::size_t n = std::min({into.size(), piece, wire.size() - at});
    std::memcpy(into.data(), wire.data() + at, n);
    at += n;
    reader.OnRead(into.first(n));
    REQUIRE(parser.Commit(n).ok());
  }
  reader.Finish(parser.PopReply());
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
  // 0: fits with trailer, 1: exact payload size, 2: too small, 3: corrupt, 4: nil,
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
    std::vector<std::span<std::byte>> dest(buffers.begin(), buffers.end());
    std::vector<KeyOutcome> outcomes(7);
    ChunkReader reader(keys, chunk, dest, true, outcomes);
    Drive(reader, wire, piece);
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
    ChunkReader reader(keys, chunk, {}, true, outcomes);
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
    ChunkReader reader(keys, chunk, {}, false, outcomes);
    Drive(reader, wire, piece);
    CHECK(outcomes[3].status == BlockStatus::kHit);
    CHECK(outcomes[5].status == BlockStatus::kCorrupt);
  }
}

TEST_CASE("ChunkReader leaves keys missing on an error reply", "[unit]") {
  const std::vector<BlockKey> keys = {BlockKey::FromHalves(1, 2)};
  std::vector<std::size_t> chunk = {0};
  std::vector<KeyOutcome> outcomes(1);
  ChunkReader reader(keys, chunk, {}, true, outcomes);
  Drive(reader, "-ERR nope\r\n", 64);
  CHECK(outcomes[0].status == BlockStatus::kMiss);
}

}  // namespace
}  // namespace prefixcache::client
