#!/usr/bin/env python3
"""memtrack's allocation benchmark: each workload under each allocator configuration, runs
interleaved round-robin so machine noise hits every configuration alike; wall time median
(min, max) and max RSS; ratios against glibc and mimalloc computed inside this one run.

    bench/run.sh [--quick] [--runs N] [--build DIR] [--preload NAME=/path/lib.so ...]

Writes bench/results/<date>-<commit>.json and regenerates docs/benchmarks.md.
Python standard library only.
"""
import argparse
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SORT_INPUT = None  # generated at start: a 50 MB text file for the `sort` workload


def make_sort_input(directory, megabytes=50):
    """Deterministic lines of words (fixed seed), about `megabytes` MB."""
    import random
    rng = random.Random(1)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(3, 12)))
             for _ in range(5000)]
    path = os.path.join(directory, "sort-input.txt")
    target = megabytes * 1_000_000
    with open(path, "w") as f:
        written = 0
        while written < target:
            line = " ".join(rng.choice(words) for _ in range(8)) + "\n"
            f.write(line)
            written += len(line)
    return path
LIBDIR = "/usr/lib/x86_64-linux-gnu"

# Configurations: name -> (preload library or None, extra environment, how to prove it loaded).
def configurations(build, extra):
    memtrack = os.path.join(build, "lib", "libmemtrack.so")
    configs = [
        ("glibc", None, {}, None),
        ("mimalloc", f"{LIBDIR}/libmimalloc.so.2", {"MIMALLOC_SHOW_STATS": "1"}, "heap stats"),
        ("jemalloc", f"{LIBDIR}/libjemalloc.so.2", {"MALLOC_CONF": "stats_print:true"},
         "jemalloc statistics"),
        ("tcmalloc", f"{LIBDIR}/libtcmalloc_minimal.so.4", {"MALLOCSTATS": "1"},
         "Bytes in use by application"),
        ("memtrack", memtrack, {"MEMTRACK_REPORT": "text"}, "memtrack:   heap    peak"),
        ("memtrack+report", memtrack, {}, "memtrack:   report"),
        ("heaptrack", None, {}, "heaptrack stats:"),
    ]
    taken = {c[0] for c in configs}
    for spec in extra:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path or name in taken:
            sys.exit(f"bench: --preload {spec!r}: expected NAME=/path/lib.so with a new NAME "
                     f"(taken: {', '.join(sorted(taken))})")
        taken.add(name)
        configs.append((name, os.path.abspath(path), {}, None))
    return configs


# Configurations that wrap the command instead of preloading a library ("{dir}": a scratch
# directory emptied after every run). heaptrack records to a file and prints its summary.
WRAPPERS = {
    "heaptrack": ["heaptrack", "-o", "{dir}/heaptrack"],
}


def wrapped(name, argv, scratch):
    return [a.replace("{dir}", scratch) for a in WRAPPERS.get(name, [])] + argv


def clear_scratch(scratch):
    for f in os.listdir(scratch):
        if f.startswith("heaptrack"):
            os.remove(os.path.join(scratch, f))


# The environment each configuration is timed with (the proof variables are only for the check).
TIMED_ENV = {
    "memtrack": {"MEMTRACK_REPORT": "none"},
    "memtrack+report": {},  # defaults: summary + JSON report (into a temp dir), sampler on
}


def workloads(build, quick):
    b = os.path.join(build, "bin", "bench")
    q = 4 if quick else 1  # quick mode divides the work
    churn = 20_000_000 // q
    xs = 8_000_000 // q
    return [
        ("churn", [f"{b}/churn", str(churn)],
         f"1 thread, ring of 10,000 blocks of 8..1024 B, {churn:,} free+malloc steps"),
        ("churn-cold", [f"{b}/churn", str(churn), "cold"],
         "as churn, but each block is freed without being read first (its header is cold)"),
        ("xthread-1", [f"{b}/xthread", "1", str(xs)],
         f"1 producer + 1 consumer thread, {xs:,} blocks freed cross-thread"),
        ("xthread-2", [f"{b}/xthread", "2", str(xs // 2)],
         f"2 producers + 2 consumers, {xs // 2:,} blocks each, freed cross-thread"),
        ("realloc", [f"{b}/realloc", str(200_000 // q)],
         f"64 buffers grown by realloc chains of 16..4096 B steps up to 1 MiB, {200_000 // q:,} steps"),
        ("big", [f"{b}/big", str(5_000 // q)],
         f"ring of 16 blocks of 64 KiB..8 MiB, {5_000 // q:,} steps, one byte per page written"),
        ("manylive", [f"{b}/manylive", "1000000"],
         "1,000,000 blocks of 32..256 B kept alive, then freed (bookkeeping per live block)"),
        ("cxx", [f"{b}/cxx", str(40 // q)],
         f"std::map<std::string, std::vector<int>>: {40 // q} rounds of 20,000 inserts, lookups, erases"),
        ("gxx", ["g++", "-std=c++20", "-O1", "-c", os.path.join(HERE, "workloads", "heavy_tu.cpp"),
                 "-o", "/dev/null"],
         "real program: g++ -std=c++20 -O1 -c of bench/workloads/heavy_tu.cpp (regex, iostream, ranges, maps, templates)"),
        ("python", ["/usr/bin/python3", os.path.join(HERE, "workloads", "pyalloc.py"), str(30 // q)],
         f"real program: /usr/bin/python3 with PYTHONMALLOC=malloc, {30 // q} rounds of 20,000 dict entries of lists of strings",
         {"PYTHONMALLOC": "malloc"}),
        ("sort", ["sort", "-o", "/dev/null", SORT_INPUT],
         "real program: sort (LC_ALL=C) of a generated 50 MB text file", {"LC_ALL": "C"}),
    ]


def run_once(argv, env):
    with tempfile.NamedTemporaryFile("r", suffix=".measure") as out:
        proc = subprocess.run([MEASURE, out.name] + argv, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        err = proc.stderr.decode(errors="replace")
        fields = out.read().split()
    if proc.returncode != 0 or len(fields) != 3:
        return 0.0, 0, 255, err
    return float(fields[0]), int(fields[1]), int(fields[2]), err


def env_for(preload, extra, report_dir):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("MEMTRACK_") or k in ("LD_PRELOAD", "MALLOC_CONF") or k.startswith("MIMALLOC_"):
            del env[k]
    if preload:
        env["LD_PRELOAD"] = preload
    env["MEMTRACK_OUTPUT"] = os.path.join(report_dir, "memtrack.%e.%p.json")
    env.update(extra)
    return env


def instructions_per_pair(build, configs, present):
    """Deterministic cost: instructions per free+malloc pair on churn, from callgrind, as the
    difference of two runs with different step counts divided by the step difference (start-up
    cost cancels). None where valgrind is missing."""
    if shutil.which("valgrind") is None:
        return None, "valgrind not installed: instruction counts not measured"
    churn = os.path.join(build, "bin", "bench", "churn")
    steps = (200_000, 1_200_000)
    out = {}
    for name, lib, _, _ in configs:
        if name not in present or name == "memtrack+report" or name in WRAPPERS:
            continue
        counts = []
        for n in steps:
            with tempfile.TemporaryDirectory() as tmp:
                env = env_for(lib, {"MEMTRACK_REPORT": "none", "MEMTRACK_STACK_DEPTH": "0",
                                    "MEMTRACK_LEAK_CHECK": "0"}, tmp)  # stats only
                cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes",
                       f"--callgrind-out-file={tmp}/cg.%p", churn, str(n)]
                proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
                m = re.findall(r"Collected : (\d+)", proc.stderr)
                if proc.returncode != 0 or not m:
                    return None, f"callgrind failed for {name}"
                counts.append(int(m[-1]))
        out[name] = (counts[1] - counts[0]) / (steps[1] - steps[0])
        print(f"  churn instructions per pair: {name:<10} {out[name]:.1f}", flush=True)
    return out, None


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot (/proc/stat: everything but idle
    and iowait), and this script's own CPU seconds including waited-for children (the measure
    spawner and, through it, the workloads)."""
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
    """How busy the rest of the machine was during the run: CPU seconds used by processes other
    than this benchmark, as a share of all cores' time. Concurrent builds or tests on a 2-core
    machine skew timings (the threaded workloads first), so the docs say when they ran."""
    end = busy_cpu_seconds()
    if start[0] is None or end[0] is None or wall_s <= 0:
        return None
    other_s = max(0.0, (end[0] - start[0]) - (end[1] - start[1]))
    return {"other_cpu_s": round(other_s, 1),
            "share": round(other_s / (wall_s * (os.cpu_count() or 1)), 3)}


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
                                           text=True, stderr=subprocess.DEVNULL).strip()
        except Exception:
            return "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "glibc": platform.libc_ver()[1], "mimalloc": pkg("libmimalloc2.0"),
            "jemalloc": pkg("libjemalloc2")}


def fmt_cell(median, glibc, mimalloc):
    if median is None:
        return "not installed"
    parts = [f"{median:.3f} s"]
    ratios = []
    if glibc:
        ratios.append(f"×{median / glibc:.2f} glibc")
    if mimalloc:
        ratios.append(f"×{median / mimalloc:.2f} mimalloc")
    return parts[0] + (" (" + ", ".join(ratios) + ")" if ratios else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--preload", action="append", default=[], metavar="NAME=/path/lib.so")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    build = os.path.abspath(args.build)
    global MEASURE
    MEASURE = os.path.join(build, "bin", "bench", "measure")
    configs = configurations(build, args.preload)
    global SORT_INPUT
    data_dir = tempfile.mkdtemp(prefix="memtrack-bench-data-")
    SORT_INPUT = make_sort_input(data_dir, 10 if args.quick else 50)
    loads = workloads(build, args.quick)
    for argv in [l[1] for l in loads if l[1][0].startswith("/")] + [[MEASURE]]:
        if not os.access(argv[0], os.X_OK):
            sys.exit(f"bench: {argv[0]} is missing: build first (make build)")
    report_dir = tempfile.mkdtemp(prefix="memtrack-bench-")
    load_start, wall_start = busy_cpu_seconds(), time.monotonic()
    try:
        # Which configurations exist, and does each preload really take effect?
        present = []
        notes = []
        for name, lib, proof_env, proof in configs:
            if lib and not os.path.exists(lib):
                notes.append(f"{name}: {lib} not installed; column shown as such")
                continue
            if name in WRAPPERS and shutil.which(WRAPPERS[name][0]) is None:
                notes.append(f"{name}: {WRAPPERS[name][0]} not installed; column shown as such")
                continue
            if proof:
                _, _, rc, err = run_once(wrapped(name, loads[0][1][:1] + ["1000"], report_dir),
                                         env_for(lib, proof_env, report_dir))
                clear_scratch(report_dir)
                if rc != 0 or proof not in err:
                    sys.exit(f"bench: preloading {lib} for {name} did not take effect "
                             f"(expected '{proof}' on stderr)")
            present.append(name)
        print(f"bench: {runs} runs per cell, configurations: {', '.join(present)}", flush=True)
        results = {}
        for load in loads:
            wname, argv, desc = load[:3]
            wenv = load[3] if len(load) > 3 else {}
            samples = {name: [] for name in present}
            wl_load_start, wl_wall_start = busy_cpu_seconds(), time.monotonic()
            rss = {name: [] for name in present}
            for r in range(runs):
                for name, lib, _, _ in configs:
                    if name not in present:
                        continue
                    env = env_for(lib, {**TIMED_ENV.get(name, {}), **wenv}, report_dir)
                    wall, maxrss, rc, err = run_once(wrapped(name, argv, report_dir), env)
                    clear_scratch(report_dir)
                    if rc != 0:
                        sys.exit(f"bench: {wname} under {name} failed ({rc}): {err[-500:]}")
                    samples[name].append(wall)
                    rss[name].append(maxrss)
                print(f"  {wname}: run {r + 1}/{runs} done", flush=True)
            cell = {}
            for name in present:
                cell[name] = {"median_s": statistics.median(samples[name]),
                              "min_s": min(samples[name]), "max_s": max(samples[name]),
                              "max_rss_bytes": max(rss[name]), "runs": samples[name]}
            g = cell.get("glibc", {}).get("median_s")
            m = cell.get("mimalloc", {}).get("median_s")
            for name, _, _, _ in configs:
                if name not in present:  # a missing library keeps its row: never dropped silently
                    print(f"  {wname:<10} {name:<16} not installed", flush=True)
                    continue
                c = cell[name]
                c["x_glibc"] = c["median_s"] / g if g else None
                c["x_mimalloc"] = c["median_s"] / m if m else None
                print(f"  {wname:<10} {name:<16} {fmt_cell(c['median_s'], g, m)}  "
                      f"[{c['min_s']:.3f}..{c['max_s']:.3f}]  rss {c['max_rss_bytes'] / 2**20:.1f} MiB",
                      flush=True)
            wl_load = other_load(wl_load_start, time.monotonic() - wl_wall_start)
            if wl_load and wl_load["share"] > 0.05:
                print(f"  {wname}: other processes used {wl_load['share']:.0%} of the machine "
                      f"meanwhile; these timings are less reliable", flush=True)
            results[wname] = {"command": argv, "description": desc, "cells": cell,
                              "other_load": wl_load}
        load = other_load(load_start, time.monotonic() - wall_start)  # timed part only
        ipp, ipp_note = instructions_per_pair(build, configs, present)
        if ipp_note:
            notes.append(ipp_note)
        # memtrack+report must have written its reports
        if "memtrack+report" in present and not any(f.endswith(".json") for f in os.listdir(report_dir)):
            sys.exit("bench: memtrack+report wrote no report")
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)

    commit = git_commit()
    date = datetime.date.today().isoformat()
    data = {"date": date, "commit": commit, "quick": args.quick, "runs": runs,
            "machine": machine(), "configurations": [c[0] for c in configs],
            "missing": notes, "workloads": results, "instructions_per_pair": ipp,
            "command": " ".join(["bench/run.sh"] + sys.argv[1:]), "other_load": load}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results", f"{date}-{commit}{'-quick' if args.quick else ''}.json")
    with open(out, "w") as f:
        json.dump(data, f, indent=1)
    if load:
        print(f"bench: other processes used {load['other_cpu_s']} CPU s during the timed runs "
              f"({load['share']:.0%} of the machine)"
              + ("; the machine was busy, timings are less reliable" if load["share"] > 0.05 else ""))
    print(f"bench: results in {os.path.relpath(out, ROOT)}")
    if args.quick:
        print("bench: quick run: docs/benchmarks.md left as it is (it holds a full run)")
    elif not args.no_docs:
        write_docs(data, [c[0] for c in configs])
        print("bench: docs/benchmarks.md regenerated")


def write_chart(data, config_names):
    """docs/benchmarks.svg: slowdown over glibc per workload per configuration (gnuplot).
    Returns the path relative to docs/, or None when gnuplot is missing."""
    if shutil.which("gnuplot") is None:
        return None
    w = data["workloads"]
    present = [c for c in config_names if c != "glibc" and any(c in v["cells"] for v in w.values())]
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "bench.dat")
        with open(dat, "w") as f:
            f.write("workload " + " ".join(present) + "\n")
            for wl, v in w.items():
                row = [v["cells"].get(c, {}).get("x_glibc") for c in present]
                f.write(wl + " " + " ".join(f"{x:.3f}" if x else "NaN" for x in row) + "\n")
        out = os.path.join(ROOT, "docs", "benchmarks.svg")
        script = f"""
set terminal svg size 1000,420 dynamic background rgb 'white' font 'sans,11'
set output '{out}'
set title 'Wall time relative to glibc (lower is faster), commit {data["commit"]}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top
set ylabel 'x glibc'
set yrange [0:*]
set grid ytics
set xtics nomirror
plot for [i=2:{len(present) + 1}] '{dat}' using i:xtic(1) title columnheader
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return "benchmarks.svg"


def write_docs(data, config_names):
    w = data["workloads"]
    def ratio(wl, cfg, key):
        c = w.get(wl, {}).get("cells", {}).get(cfg)
        return c[key] if c else None
    mt_mi = ratio("churn", "memtrack", "x_mimalloc")
    mt_gl = ratio("churn", "memtrack", "x_glibc")
    lines = []
    lines.append("# Benchmarks\n")
    lines.append("Generated by `bench/run.sh` (`make bench`; `make bench-quick` for a short run). "
                 "Every ratio is computed inside one run of the script, with runs interleaved "
                 "round-robin across configurations; absolute times are for this machine only.\n")
    m = data["machine"]
    lines.append(f"- Date {data['date']}, commit `{data['commit']}`, {data['runs']} runs per cell"
                 f"{' (quick mode)' if data['quick'] else ''}; command `{data['command']}`")
    lines.append(f"- Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, glibc "
                 f"{m['glibc']}, Debian mimalloc {m['mimalloc']}, jemalloc {m['jemalloc']}")
    load = data.get("other_load")
    if load:
        lines.append(f"- Other processes used {load['other_cpu_s']} CPU s during the timed runs "
                     f"({load['share']:.0%} of the machine's cores)"
                     + (": **the machine was busy, timings are less reliable**"
                        if load["share"] > 0.05 else ""))
        busy = [(wl, v["other_load"]["share"]) for wl, v in w.items()
                if (v.get("other_load") or {}).get("share", 0) > 0.05]
        if busy:
            lines.append("  - busiest during: " + ", ".join(
                f"`{wl}` {share:.0%}" for wl, share in sorted(busy, key=lambda b: -b[1])))
    for note in data["missing"]:
        lines.append(f"- {note}")
    lines.append("")
    lines.append("## Where the targets stand\n")
    real = [wl for wl in ("gxx", "python", "sort") if wl in w]
    if real:
        worst = max(ratio(wl, "memtrack", "x_mimalloc") or 0 for wl in real)
        lines.append(f"- memtrack / mimalloc on the real programs ({', '.join(real)}): at most "
                     f"**{worst:.2f}** (the benchmark-suite issue's target: ≤ 1.03)")
    if mt_mi is not None:
        lines.append(f"- memtrack (stats only, no report) / mimalloc on `churn`: **{mt_mi:.2f}** "
                     f"(target ≤ 1.30): {'met' if mt_mi <= 1.30 else 'missed'}")
    if mt_gl is not None:
        lines.append(f"- memtrack / glibc on `churn`: **{mt_gl:.2f}** (target < 1: faster than "
                     f"glibc): {'met' if mt_gl < 1 else 'missed'}")
    ipp = data.get("instructions_per_pair")
    if ipp and "memtrack" in ipp and "mimalloc" in ipp:
        lines.append(f"- memtrack's cost on top of mimalloc: **{ipp['memtrack'] - ipp['mimalloc']:.1f}"
                     f" instructions per malloc+free pair** on `churn` (callgrind; deterministic)")
    ml = w.get("manylive", {}).get("cells", {})
    if "memtrack" in ml and "mimalloc" in ml:
        per_block = (ml["memtrack"]["max_rss_bytes"] - ml["mimalloc"]["max_rss_bytes"]) / 1_000_000
        lines.append(f"- memtrack's bookkeeping on `manylive`: **{per_block:.1f} bytes per live block** "
                     f"(max RSS minus mimalloc's, over 1,000,000 blocks; target ≤ 32)")
    lines.append("")
    chart = write_chart(data, config_names)
    if chart:
        lines.append(f"![Wall time relative to glibc per workload]({chart})\n")
    else:
        lines.append("(No chart: gnuplot is not installed; `apt-get install gnuplot-nox`.)\n")
    lines.append("## Wall time: median s (× glibc, × mimalloc)\n")
    present = list(config_names)  # every configuration is a column; a missing one says so
    lines.append("| workload | " + " | ".join(present) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in present) + " |")
    for wl, v in w.items():
        row = [f"`{wl}`"]
        g = v["cells"].get("glibc", {}).get("median_s")
        mi = v["cells"].get("mimalloc", {}).get("median_s")
        for c in present:
            cell = v["cells"].get(c)
            if not cell:
                row.append("not installed")
                continue
            row.append(f"{cell['median_s']:.3f} ({cell['median_s'] / g:.2f}, "
                       f"{cell['median_s'] / mi:.2f})" if g and mi else f"{cell['median_s']:.3f}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("## Max RSS (MiB)\n")
    lines.append("| workload | " + " | ".join(present) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in present) + " |")
    for wl, v in w.items():
        lines.append("| " + " | ".join([f"`{wl}`"] + [
            f"{v['cells'][c]['max_rss_bytes'] / 2**20:.1f}" if c in v["cells"] else "not installed"
            for c in present]) + " |")
    lines.append("")
    if ipp:
        lines.append("## Instructions per malloc+free pair on `churn` (callgrind)\n")
        lines.append("Whole-program instructions of a 1,200,000-step run minus a 200,000-step run, "
                     "divided by 1,000,000: the workload's own loop is included and start-up "
                     "cancels. Deterministic: repeatable whatever the machine's load.\n")
        cols = [c for c in config_names if c != "memtrack+report" and c not in WRAPPERS]
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("| " + " | ".join("---" for _ in cols) + " |")
        lines.append("| " + " | ".join(f"{ipp[c]:.1f}" if c in ipp else "not installed"
                                        for c in cols) + " |")
        lines.append("")
    lines.append("## Workloads and configurations\n")
    for wl, v in w.items():
        lines.append(f"- `{wl}`: {v['description']}; command `{' '.join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a for a in v['command'])}`")
    lines.append("- glibc: nothing preloaded. mimalloc, jemalloc: `LD_PRELOAD` of Debian's "
                 "libmimalloc.so.2 / libjemalloc.so.2. memtrack: `LD_PRELOAD=build/lib/libmemtrack.so`"
                 " with `MEMTRACK_REPORT=none` (all tracking and the sampler thread, no report). "
                 "memtrack+report: all defaults, summary and JSON report written at exit.")
    lines.append("- heaptrack: `heaptrack -o FILE command` (recording to a file in a scratch "
                 "directory, plus the summary heaptrack prints at the end; the file is deleted "
                 "after each run).")
    lines.append("- Each preload is checked to take effect before timing (mimalloc's and "
                 "jemalloc's own statistics output, memtrack's summary).")
    lines.append("")
    extra = os.path.join(ROOT, "docs", "benchmarks-notes.md")
    if os.path.exists(extra):
        with open(extra) as f:
            lines.append(f.read().rstrip() + "\n")
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
