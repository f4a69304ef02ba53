#!/usr/bin/env bash
# Installs the Debian packages memtrack needs that are missing. Root: apt-get directly; else
# sudo without a password; else print the exact command and fail. Usage: install-deps.sh [extra pkgs]
# (the Makefile's DEPS_EXTRA per goal: `make test` adds python3-numpy and libpython3.11-testsuite,
# CPython's own tests, run under the launcher by tests/integration/launcher/test_tree.cpp)
set -euo pipefail
pkgs=(cmake make g++ libmimalloc-dev libfmt-dev catch2 libcli11-dev nlohmann-json3-dev libunwind-dev libdw-dev
      zlib1g-dev
      pkg-config python3 git
      "$@")
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
echo "memtrack: missing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && "${cmd[@]}"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive "${cmd[@]}"
else
  echo "memtrack: cannot install packages (not root, no password-less sudo). Run:" >&2
  echo "  sudo apt-get update && sudo ${cmd[*]}" >&2
  exit 1
fi
