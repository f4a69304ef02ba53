#!/usr/bin/env python3
"""memtrack's benchmark suite: each workload under each configuration (allocators, memtrack's two
modes, heap profilers and leak checkers), runs interleaved round-robin so machine noise hits
every configuration alike; wall time median (min, max) and max RSS; ratios against glibc and
mimalloc computed inside this one run; xthread thread scaling; instructions per malloc+free pair.

    bench/run.sh [--quick] [--runs N] [--build DIR] [--preload NAME=/path/lib.so[,stats-only] ...]
                 [--workload NAME ...] [--config NAME ...] [--no-scaling] [--no-instructions]

Writes bench/results/<date>-<commit>.json and, for a full run of everything, regenerates
docs/benchmarks.md (bench/render.py). Configurations: bench/configs.py; workloads:
bench/suite.py. Python standard library only.
"""
import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import configs as configs_mod  # noqa: E402
import render  # noqa: E402
import suite  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CALLGRIND = ("valgrind", "--tool=callgrind", "--trace-children=yes",
             "--callgrind-out-file={dir}/cg.%p")
RUN_TIMEOUT_S = 1200  # one run of one workload; a hung tool fails its cell, not the suite

# Variables of the tools under test, removed from the inherited environment so that only the
# configuration's own settings apply.
TOOL_VARS = ("LD_PRELOAD", "MALLOC_CONF", "LSAN_OPTIONS", "HEAPPROFILE", "HEAPCHECK",
             "MALLOCSTATS", "PYTHONMALLOC")


class Runner:
    """Runs one command under one configuration through the `measure` program, in a scratch
    directory that is emptied after every run (heaptrack files, profiles, memtrack reports)."""

    def __init__(self, build):
        self.build = build
        self.measure = os.path.join(build, "bin", "bench", "measure")
        self.scratch = tempfile.mkdtemp(prefix="memtrack-bench-")
        self.notes = []

    def close(self):
        shutil.rmtree(self.scratch, ignore_errors=True)

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def note_config_lines(self, cfg, err):
        """memtrack names a variable it does not accept in one stderr line: keep it for the docs."""
        for line in err.splitlines():
            if re.match(r"memtrack: MEMTRACK_\w+=", line):
                self.note(f"{cfg.name}: memtrack said `{line.strip()}`")

    def env(self, cfg, extra=None):
        env = {k: v for k, v in os.environ.items()
               if not (k.startswith("MEMTRACK_") or k.startswith("MIMALLOC_") or k in TOOL_VARS)}
        if cfg.preload:
            env["LD_PRELOAD"] = cfg.preload
        env["MEMTRACK_OUTPUT"] = os.path.join(self.scratch, "memtrack.%e.%p.json")
        env.update(cfg.timed_env(self.scratch))
        env.update({k: v.replace("{dir}", self.scratch) for k, v in (extra or {}).items()})
        return env

    def run(self, cfg, argv, extra_env=None, read_files=False):
        """-> (wall s, max RSS bytes, exit code, stderr text, files left in scratch: their names,
        or with read_files a dict of name -> text)."""
        with tempfile.NamedTemporaryFile("r", suffix=".measure") as out:
            try:
                proc = subprocess.run([self.measure, out.name] + cfg.argv(argv, self.scratch),
                                      env=self.env(cfg, extra_env), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, timeout=RUN_TIMEOUT_S)
                rc, err = proc.returncode, proc.stderr.decode(errors="replace")
            except subprocess.TimeoutExpired:
                rc, err = 124, f"timed out after {RUN_TIMEOUT_S} s"
            fields = out.read().split()
        files = {f: "" for f in sorted(os.listdir(self.scratch))}
        for f in files:
            path = os.path.join(self.scratch, f)
            if os.path.isdir(path):
                shutil.rmtree(path)
                continue
            if read_files:
                with open(path, errors="replace") as fh:
                    files[f] = fh.read(1 << 20)
            os.remove(path)
        files = files if read_files else list(files)
        if rc != 0 or len(fields) != 3:
            return 0.0, 0, rc or 255, err, files
        return float(fields[0]), int(fields[1]), int(fields[2]), err, files

    def probe(self, cfg, program, extra_env):
        """Runs bench/<program> (1,000 churn steps, or the leak probe) -> (rc, stderr, files:
        name -> text of the files it left)."""
        argv = [os.path.join(self.build, "bin", "bench", program)] + (["1000"] if program == "churn" else [])
        _, _, rc, err, files = self.run(cfg, argv, extra_env, read_files=True)
        return rc, err, files


def check_configurations(runner, configs):
    """name -> None (active) or the reason its column is empty. Fatal ones stop the suite."""
    status = {}
    for cfg in configs:
        reason = cfg.missing()
        if reason is None and cfg.probe:
            reason = cfg.probe(runner, cfg)
        if reason and cfg.fatal:
            sys.exit(f"bench: {cfg.name}: {reason}")
        status[cfg.name] = reason
        print(f"  {cfg.name:<26} {'active' if reason is None else reason}", flush=True)
    return status


def summarize(walls, rss):
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
            "max_rss_bytes": max(rss), "runs": walls}


def fmt_cell(c, g, m, label=""):
    if "failed" in c:
        return f"failed: {c['failed']}"
    ratios = []
    if g:
        ratios.append(f"×{c['median_s'] / g:.2f} glibc")
    if m:
        ratios.append(f"×{c['median_s'] / m:.2f} mimalloc")
    return (f"{c['median_s']:.3f} s{' at ' + label if label else ''}"
            + (" (" + ", ".join(ratios) + ")" if ratios else "")
            + f"  [{c['min_s']:.3f}..{c['max_s']:.3f}]  rss {c['max_rss_bytes'] / 2**20:.1f} MiB")


def time_round_robin(runner, jobs, label):
    """jobs: [(cfg, argv, extra env, runs)]. Runs every job once per round until it has its
    runs. Returns name -> cell (summary, or {"failed": reason} for a non-fatal configuration
    that failed)."""
    walls = {cfg.name: [] for cfg, _, _, _ in jobs}
    rss = {cfg.name: [] for cfg, _, _, _ in jobs}
    failed = {}
    rounds = max(j[3] for j in jobs)
    for r in range(rounds):
        for cfg, argv, env, runs in jobs:
            if cfg.name in failed or r >= runs:
                continue
            wall, maxrss, rc, err, _ = runner.run(cfg, argv, env)
            if rc != 0:
                reason = f"exit {rc}, {configs_mod.last_line(err)}"
                if cfg.fatal:
                    sys.exit(f"bench: {label} under {cfg.name} failed: {reason}\n{err[-2000:]}")
                failed[cfg.name] = reason
                print(f"  {label} under {cfg.name} failed ({reason}); its cell says so", flush=True)
                continue
            walls[cfg.name].append(wall)
            rss[cfg.name].append(maxrss)
        print(f"  {label}: round {r + 1}/{rounds} done", flush=True)
    return {name: ({"failed": failed[name]} if name in failed else summarize(walls[name], rss[name]))
            for name in walls}


def finish_cells(cells, configs, workload=""):
    """Ratios inside this run: against glibc and mimalloc at the same size; a reduced cell
    against glibc (reduced)."""
    g = cells.get("glibc", {}).get("median_s")
    m = cells.get("mimalloc", {}).get("median_s")
    gr = cells.get("glibc (reduced)", {}).get("median_s")
    for cfg in configs:
        c = cells.get(cfg.name)
        if not c or "failed" in c:
            continue
        c["reduced"] = cfg.is_reduced(workload)
        base_g, base_m = (gr, None) if c["reduced"] else (g, m)
        c["x_glibc"] = c["median_s"] / base_g if base_g else None
        c["x_mimalloc"] = c["median_s"] / base_m if base_m else None


def instructions_per_pair(build, configs, steps=(200_000, 1_200_000)):
    # (quick mode passes smaller step counts: the figure is the same to about 0.1)
    """Deterministic cost: instructions per free+malloc pair on churn, from callgrind, as the
    difference of two runs with different step counts divided by the step difference (start-up
    cost cancels). -> ({name: figure}, note or None)."""
    if shutil.which("valgrind") is None:
        return None, "valgrind not installed: instruction counts not measured"
    runner = Runner(build)
    churn = os.path.join(build, "bin", "bench", "churn")
    out = {}
    try:
        for cfg in configs:
            counts = []
            for n in steps:
                _, _, rc, err, _ = runner.run(dataclasses.replace(cfg, wrapper=CALLGRIND),
                                              [churn, str(n)])
                m = re.findall(r"Collected : (\d+)", err)
                if rc != 0 or not m:
                    return None, f"callgrind failed for {cfg.name}: {configs_mod.last_line(err)}"
                counts.append(int(m[-1]))
            out[cfg.name] = (counts[1] - counts[0]) / (steps[1] - steps[0])
            print(f"  churn instructions per pair: {cfg.name:<14} {out[cfg.name]:.1f}", flush=True)
    finally:
        runner.close()
    return out, None


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot (/proc/stat: everything but idle
    and iowait), and this script's own CPU seconds including waited-for children."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        machine_s = (sum(fields[:8]) - fields[3] - fields[4]) / hz
    except (OSError, ValueError, IndexError):
        return None, None
    t = os.times()
    return machine_s, t.user + t.system + t.children_user + t.children_system


def other_load(start, wall_s):
    """CPU seconds used by processes other than this benchmark, as a share of all cores' time:
    concurrent builds or tests on a 2-core machine skew timings, so the docs say when they ran."""
    end = busy_cpu_seconds()
    if start[0] is None or end[0] is None or wall_s <= 0:
        return None
    other_s = max(0.0, (end[0] - start[0]) - (end[1] - start[1]))
    return {"other_cpu_s": round(other_s, 1),
            "share": round(other_s / (wall_s * (os.cpu_count() or 1)), 3)}


def warn_load(label, load):
    if load and load["share"] > 0.05:
        print(f"  {label}: other processes used {load['share']:.0%} of the machine meanwhile; "
              f"these timings are less reliable", flush=True)


def git_commit():
    try:
        return subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                       text=True).strip()
    except Exception:
        return "unknown"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def pkg(name):
        try:
            return subprocess.check_output(["dpkg-query", "-W", "-f=${Version}", name],
                                           text=True, stderr=subprocess.DEVNULL).strip() or "not installed"
        except Exception:
            return "not installed"
    packages = ("libmimalloc2.0", "libjemalloc2", "libtcmalloc-minimal4", "libgoogle-perftools4",
                "heaptrack", "valgrind", "liblsan0")
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "glibc": platform.libc_ver()[1], "packages": {p: pkg(p) for p in packages}}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true",
                    help="workloads ÷4 (g++ of a small TU), fewer runs per cell")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--preload", action="append", default=[], metavar="NAME=/path/lib.so",
                    help="another library as a column (add ,stats-only for memtrack's stats-only "
                    "mode); with instruction counts")
    ap.add_argument("--workload", action="append", default=[], metavar="NAME",
                    help="only these workloads (for timing pieces; docs are then left alone)")
    ap.add_argument("--config", action="append", default=[], metavar="NAME",
                    help="only these configurations (the baselines glibc, glibc (reduced) and "
                         "mimalloc always run)")
    ap.add_argument("--no-scaling", action="store_true", help="skip the thread-scaling runs")
    ap.add_argument("--no-instructions", action="store_true", help="skip callgrind")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    return ap.parse_args()


def main():
    args = parse_args()
    # Runs per cell: full mode 7 for the allocators and memtrack, 5 (the minimum) for
    # the profilers, whose runs cost 5-100× more; quick mode 3, 2 for the profilers (heaptrack
    # alone took 40 s of 3 runs) and 1 at the reduced sizes, to stay under 3 minutes.
    # --runs N sets every count.
    runs_plan = {"allocators": args.runs or (3 if args.quick else 7),
                 "profilers": args.runs or (2 if args.quick else 5),
                 "reduced": args.runs or (1 if args.quick else 5)}
    runs = runs_plan["allocators"]

    def runs_of(cfg, reduced):
        return runs_plan["reduced" if reduced else cfg.group]
    build = os.path.abspath(args.build)
    all_configs = configs_mod.configurations(build, args.preload)
    baselines = {"glibc", "glibc (reduced)", "mimalloc"}
    names = {c.name for c in all_configs}
    for n in args.config:
        if n not in names:
            sys.exit(f"bench: --config {n!r}: not one of {', '.join(sorted(names))}")
    extra = {spec.partition("=")[0] for spec in args.preload}  # asked for: always run
    configs = [c for c in all_configs
               if not args.config or c.name in args.config or c.name in baselines | extra]
    partial = bool(args.config or args.workload or args.no_scaling or args.no_instructions)
    data_dir = tempfile.mkdtemp(prefix="memtrack-bench-data-")
    runner = Runner(build)
    started = time.monotonic()
    try:
        loads = suite.workloads(build, args.quick, data_dir)
        if args.workload:
            unknown = set(args.workload) - {w.name for w in loads}
            if unknown:
                sys.exit(f"bench: --workload {', '.join(sorted(unknown))}: not one of "
                         f"{', '.join(w.name for w in loads)}")
            loads = [w for w in loads if w.name in args.workload]
        for prog in ("measure", "churn", "leak", "xthread"):
            if not os.access(os.path.join(build, "bin", "bench", prog), os.X_OK):
                sys.exit(f"bench: {build}/bin/bench/{prog} is missing: build first (make build)")
        print("bench: checking that each configuration is active", flush=True)
        status = check_configurations(runner, configs)
        active = [c for c in configs if status[c.name] is None]
        print(f"bench: runs per cell: {runs_plan['allocators']} (allocators, memtrack), "
              f"{runs_plan['profilers']} (profilers), {runs_plan['reduced']} (reduced sizes); "
              f"{len(loads)} workloads", flush=True)
        load_start, wall_start = busy_cpu_seconds(), time.monotonic()
        results = {}
        for i, w in enumerate(loads):
            wl_start, wl_wall = busy_cpu_seconds(), time.monotonic()
            jobs = [(c, w.reduced_argv if c.is_reduced(w.name) else w.argv, w.env,
                     runs_of(c, c.is_reduced(w.name))) for c in active]
            cells = time_round_robin(runner, jobs, w.name)
            finish_cells(cells, active, w.name)
            g, m = cells["glibc"]["median_s"], cells.get("mimalloc", {}).get("median_s")
            gr = cells.get("glibc (reduced)", {}).get("median_s")
            for c in configs:
                if c.name not in cells:
                    text = status[c.name]
                else:
                    red = c.is_reduced(w.name)
                    text = fmt_cell(cells[c.name], gr if red else g, None if red else m,
                                    w.reduced_label if red else "")
                print(f"  {w.name:<10} {c.name:<26} {text}", flush=True)
            wl_load = other_load(wl_start, time.monotonic() - wl_wall)
            warn_load(w.name, wl_load)
            results[w.name] = {"command": w.argv, "description": w.description,
                               "reduced_command": w.reduced_argv, "reduced_label": w.reduced_label,
                               "reduced_description": w.reduced_description,
                               "spawns_children": w.spawns_children, "cells": cells,
                               "other_load": wl_load}
            print(f"bench: {i + 1}/{len(loads)} workloads done, "
                  f"{(time.monotonic() - started) / 60:.1f} min so far", flush=True)
        scaling = None
        if not args.no_scaling:
            scaling = thread_scaling(runner, build, args.quick, runs,
                                     [c for c in active if c.in_scaling])
        load = other_load(load_start, time.monotonic() - wall_start)  # timed part only
        ipp, ipp_note = (None, "instruction counts not measured (--no-instructions)")
        steps = (100_000, 600_000) if args.quick else (200_000, 1_200_000)
        if not args.no_instructions:
            ipp, ipp_note = instructions_per_pair(
                build, [c for c in active if c.instructions], steps)
        if ipp_note:
            runner.note(ipp_note)
    finally:
        runner.close()
        shutil.rmtree(data_dir, ignore_errors=True)

    commit = git_commit()
    date = datetime.date.today().isoformat()
    data = {"date": date, "commit": commit, "quick": args.quick, "runs": runs, "build": build,
            "machine": machine(),
            "configurations": [{"name": c.name, "group": c.group, "description": c.description,
                                "reduced": c.reduced, "status": status[c.name],
                                "follows_children": c.follows_children,
                                "instructions": c.instructions} for c in configs],
            "notes": runner.notes, "workloads": results, "scaling": scaling,
            "instructions_per_pair": ipp, "runs_per_group": runs_plan,
            "instruction_steps": steps,
            "command": " ".join(["bench/run.sh"] + sys.argv[1:]), "other_load": load,
            "elapsed_s": round(time.monotonic() - started, 1)}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    suffix = "-quick" if args.quick else ("-partial" if partial else "")
    out = os.path.join(ROOT, "bench", "results", f"{date}-{commit}{suffix}.json")
    with open(out, "w") as f:
        json.dump(data, f, indent=1)
    if load:
        print(f"bench: other processes used {load['other_cpu_s']} CPU s during the timed runs "
              f"({load['share']:.0%} of the machine)"
              + ("; the machine was busy, timings are less reliable" if load["share"] > 0.05 else ""))
    print(f"bench: results in {os.path.relpath(out, ROOT)}; {data['elapsed_s'] / 60:.1f} min")
    if args.quick or partial:
        print("bench: quick or partial run: docs/benchmarks.md left as it is (it holds a full run)")
    elif not args.no_docs:
        render.write_docs(data)
        print("bench: docs/benchmarks.md regenerated")


def thread_scaling(runner, build, quick, runs, configs):
    """xthread at 1, 2, 4, 8, 16 threads where the cores exist."""
    cores = os.cpu_count() or 1
    plan, blocks = suite.scaling_runs(build, quick, cores)
    rows = []
    for threads, argv, why_not in plan:
        if argv is None:
            print(f"  scaling {threads:>2} threads: not measured ({why_not})", flush=True)
            rows.append({"threads": threads, "not_measured": why_not})
            continue
        label = f"xthread {threads} thread{'s' if threads > 1 else ''}"
        wl_start, wl_wall = busy_cpu_seconds(), time.monotonic()
        cells = time_round_robin(runner, [(c, argv, {}, runs) for c in configs], label)
        finish_cells(cells, configs)
        g, m = cells["glibc"]["median_s"], cells.get("mimalloc", {}).get("median_s")
        for c in configs:
            print(f"  {label:<18} {c.name:<14} {fmt_cell(cells[c.name], g, m)}", flush=True)
        wl_load = other_load(wl_start, time.monotonic() - wl_wall)
        warn_load(label, wl_load)
        rows.append({"threads": threads, "command": argv, "cells": cells, "other_load": wl_load})
    return {"blocks": blocks, "cores": cores, "rows": rows}


if __name__ == "__main__":
    main()
