#!/usr/bin/env python3
"""bench-gate: memtrack's deterministic cost must stay within its budget.

Counts instructions per malloc+free pair on the churn workload with callgrind (the difference
of two step counts, so start-up cancels) for LD_PRELOADed mimalloc, memtrack in stats-only
mode (MEMTRACK_STACK_DEPTH=0 MEMTRACK_LEAK_CHECK=0 MEMTRACK_REPORT=none, bench/configs.py) and
memtrack full (its defaults: stacks, sites, leak check, report), and fails when stats-only's
figure exceeds mimalloc's + BUDGET or full mode's exceeds mimalloc's + FULL_BUDGET. Instruction
counts are deterministic, so this is not a timed test. Exit 77 (ctest: skipped) when valgrind
is not installed.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import configs  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--budget", type=float, required=True,
                    help="allowed instructions per pair above mimalloc, stats-only mode")
    ap.add_argument("--full-budget", type=float, required=True,
                    help="allowed instructions per pair above mimalloc, full mode")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("bench-gate: valgrind is not installed; skipped (apt-get install valgrind)")
        return 77
    build = os.path.abspath(args.build)
    chosen = [c for c in configs.configurations(build)
              if c.name in ("mimalloc", "memtrack", "memtrack full")]
    for c in chosen:
        if c.missing():
            print(f"bench-gate: {c.name}: {c.missing()}")
            return 1
    ipp, note = bench.instructions_per_pair(build, chosen)
    if ipp is None:
        print(f"bench-gate: {note}")
        return 1
    ok = True
    for name, label, budget in (("memtrack", "memtrack (stats only)", args.budget),
                                ("memtrack full", "memtrack full", args.full_budget)):
        extra = ipp[name] - ipp["mimalloc"]
        within = extra <= budget
        ok = ok and within
        print(f"bench-gate: {label} {ipp[name]:.1f}, mimalloc {ipp['mimalloc']:.1f} "
              f"instructions per churn step: +{extra:.1f}, "
              f"{'within' if within else 'OVER'} the budget of +{budget:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
