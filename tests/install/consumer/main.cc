// A worker of another project against an installed prefixcache: hashes tokens into block
// keys, stores two blocks, matches and fetches them back, and prints "consumer ok".
//   consumer HOST:PORT     (a running prefixcached)
// Exit status 0 when every step gave what it should, 1 otherwise.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "prefixcache/client.h"
#include "prefixcache/client_config.h"
#include "prefixcache/hasher.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer HOST:PORT\n");
    return 2;
  }
  prefixcache::ClientOptions options;
  options.nodes.push_back({"n1", argv[1]});
  auto client = prefixcache::Client::Open(options);
  auto hasher = prefixcache::Hasher::Create({"consumer-model", "r1", "fp16", "flat", 4, "", ""});
  if (!client.ok() || !hasher.ok()) return 1;

  const std::vector<std::uint32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<prefixcache::BlockKey> keys = hasher->Keys(tokens);
  std::vector<std::byte> a(1000, std::byte{0xab}), b(500, std::byte{0xcd});
  const std::span<const std::byte> values[] = {a, b};
  const std::uint32_t depths[] = {0, 1};
  auto put = (*client)->Put(keys, values, depths);
  if (!put.ok() || put->stored != 2) return 1;
  if ((*client)->Match(keys) != 2) return 1;

  std::vector<std::byte> out_a(1000), out_b(500);
  const std::span<std::byte> destinations[] = {out_a, out_b};
  prefixcache::BlockRead reads[2];
  auto run = (*client)->GetPrefix(keys, destinations, reads);
  if (!run.ok() || *run != 2 || out_a != a || out_b != b) return 1;
  std::printf("consumer ok\n");
  return 0;
}
