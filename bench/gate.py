#!/usr/bin/env python3
"""bench-gate: memtrack's deterministic cost must stay within its budget.

Counts instructions per malloc+free pair on the churn workload with callgrind (the difference
of two step counts, so start-up cancels) for LD_PRELOADed mimalloc and memtrack (stats only:
MEMTRACK_REPORT=none) and fails when memtrack's figure exceeds mimalloc's + BUDGET.
Instruction counts are deterministic, so this is not a timed test. Exit 77 (ctest: skipped)
when valgrind is not installed.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--budget", type=float, required=True,
                    help="allowed instructions per pair above mimalloc")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("bench-gate: valgrind is not installed; skipped (apt-get install valgrind)")
        return 77
    build = os.path.abspath(args.build)
    configs = [c for c in bench.configurations(build, []) if c[0] in ("mimalloc", "memtrack")]
    for name, lib, _, _ in configs:
        if not os.path.exists(lib):
            print(f"bench-gate: {lib} ({name}) is missing")
            return 1
    ipp, note = bench.instructions_per_pair(build, configs, [c[0] for c in configs])
    if ipp is None:
        print(f"bench-gate: {note}")
        return 1
    extra = ipp["memtrack"] - ipp["mimalloc"]
    verdict = "within" if extra <= args.budget else "OVER"
    print(f"bench-gate: memtrack {ipp['memtrack']:.1f}, mimalloc {ipp['mimalloc']:.1f} "
          f"instructions per churn step: +{extra:.1f}, {verdict} the budget of +{args.budget:g}")
    return 0 if extra <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
