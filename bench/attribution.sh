#!/usr/bin/env bash
# Builds libmemtrack.so with -DMEMTRACK_SITES=OFF (full mode without the per-site aggregates and
# the peak attribution, issue 10) into its own build directory, and prints the bench's --preload
# spec for it on stdout:
#   memtrack full without sites=/abs/path/build-nosites/lib/libmemtrack.so
# `make bench` passes it to bench/run.sh, so a full run has both builds side by side and
# docs/benchmarks.md's "Cost of the peak attribution" compares them.
#   bench/attribution.sh [BUILD_DIR]   (default: build-nosites in the source tree)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/build-nosites}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# Only the library: no tests, no demos. The build's output goes to stderr (stdout is the spec).
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMTRACK_SITES=OFF \
  -DMEMTRACK_BUILD_TESTS=OFF -DMEMTRACK_BUILD_DEMOS=OFF >&2
cmake --build "$dir" -j "${JOBS:-2}" --target memtrack >&2
lib="$dir/lib/libmemtrack.so"
test -f "$lib" || { echo "bench/attribution.sh: $lib was not built" >&2; exit 1; }
echo "memtrack full without sites=$lib"
