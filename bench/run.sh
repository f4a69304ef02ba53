#!/usr/bin/env bash
# Entry point of the benchmark (make bench / make bench-quick). See bench/bench.py.
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" "$@"
