#!/bin/sh
# Issue 11's stress, 100 runs of each case (the test suite runs 10 and 3): 64 threads churning
# while main forks and dlopen/dlcloses with MEMTRACK_GC=auto, a program using SIGRTMIN+6, one
# blocking every signal in every thread, signals while reports are written. Each run must end
# within 60 s with status 0 and leave every process's report, parseable.
#   bench/stress.sh [BUILD_DIR] [RUNS]     (MEMTRACK_STRESS_STACKS=1: stacks on, much slower)
set -eu
build=${1:-build}
runs=${2:-100}
start=$(date +%s)
MEMTRACK_STRESS_RUNS=$runs "$build/bin/tests/integration_core_tests" "[stress]" -d yes
echo "stress: $runs runs of each case passed in $(( $(date +%s) - start )) s"
