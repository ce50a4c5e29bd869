#!/usr/bin/env bash
# Installs the Debian packages prefixcache builds, tests, packages and benchmarks with
# (systemd for systemd-analyze; dpkg-dev and file for the .deb's computed Depends; libssl-dev
# for TLS and the openssl CLI that makes the TLS tests' certificates; redis-tools' redis-cli
# for the tests, --tls included).
# Idempotent: when every package is already installed it only checks and returns.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev clang-format
  libboost-dev libboost-system-dev
  librocksdb-dev libxxhash-dev nlohmann-json3-dev catch2 libopenblas-dev
  libcli11-dev libspdlog-dev libfmt-dev libssl-dev openssl
  redis-server redis-tools python3 python3-redis
  python3-dev pybind11-dev python3-numpy python3-pytest python3-torch
  python3-venv python3-pip python3-setuptools python3-wheel
  procps coreutils util-linux
  systemd
  dpkg-dev file
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
