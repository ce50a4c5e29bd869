#!/usr/bin/env bash
# The README's run command: installs dependencies, builds (Release) into build-release/ and
# starts prefixcached in the foreground on the built-in defaults (127.0.0.1:7379, spill folder
# ./prefixcache-spill/node-1). Extra arguments go to prefixcached, e.g.
#   ./scripts/run.sh --config config/examples/single.json
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

./scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$jobs" --target prefixcached

cat <<'MSG'

Starting prefixcached (Ctrl-C stops it; blocks in memory are written to the spill folder).
Try it from another terminal:
  redis-cli -p 7379 ping
  redis-cli -p 7379 set hello world && redis-cli -p 7379 get hello
  redis-cli -p 7379 info memory_tier
  curl -s 127.0.0.1:9379/metrics | head
MSG
exec ./build-release/bin/prefixcached "$@"
