"""docs/benchmarks.md and docs/benchmarks.svg from one run's results (bench/bench.py's JSON).
Every configuration keeps its column: an inactive one says why in each cell, a reduced one marks
the reduced size in each cell. docs/benchmarks-notes.md (hand-written) is appended."""
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DAGGER = "†"  # the tool does not follow child processes
NOSITES = "memtrack full without sites"  # bench/attribution.sh's --preload column (issue 10)
BESIDE_FULL = ("lsan", "heaptrack")  # the peers shown right after memtrack full (issue 13)
ATTRIBUTION_LIMIT = 1.10  # issue 10: full mode with sites at most 10% above without
# One distinct colour per chart series (gnuplot's default cycle repeats after 8).
COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#e15759", "#b07aa1", "#edc948",
           "#9c755f", "#ff9da7", "#bab0ac", "#1b9e77", "#7570b3", "#d95f02", "#66a61e",
           "#e7298a", "#a6761d", "#666666", "#000000")
PALETTE = "\n".join(f"set linetype {i + 1} lc rgb '{c}'" for i, c in enumerate(COLOURS))


def short_reason(reason):
    """'not installed (path; package)' -> 'not installed': the cell's text; the detail is
    listed once above the tables."""
    return reason.split(" (", 1)[0]


class Table:
    """Helpers over the results: cells, ratios and the texts of cells."""

    def __init__(self, data):
        self.data = data
        self.w = data["workloads"]
        self.cfg = {c["name"]: c for c in data["configurations"]}

    def names(self, group=None, reduced=None):
        return [c["name"] for c in self.data["configurations"]
                if (group is None or c["group"] == group)
                and (reduced is None or c["reduced"] == reduced)]

    def beside_full(self, names):
        """names with lsan and heaptrack moved right after memtrack full (when all are there)."""
        if "memtrack full" not in names:
            return names
        peers = [n for n in BESIDE_FULL if n in names]
        out = [n for n in names if n not in peers]
        i = out.index("memtrack full") + 1
        return out[:i] + peers + out[i:]

    def cell(self, wl, name):
        c = self.w.get(wl, {}).get("cells", {}).get(name)
        return c if c and "failed" not in c else None

    def ratio(self, wl, name, key="x_glibc"):
        c = self.cell(wl, name)
        return c.get(key) if c else None

    def empty_text(self, wl, name):
        """The text of a cell without a timing, or None when it has one."""
        status = self.cfg[name]["status"]
        if status:
            return short_reason(status)
        c = self.w[wl]["cells"].get(name)
        if c is None:
            return "not run"
        if "failed" in c:
            return "failed (" + c["failed"].split(",", 1)[0] + ")"
        return None

    def mark(self, wl, name):
        return DAGGER if (self.w[wl].get("spawns_children")
                          and not self.cfg[name]["follows_children"]) else ""

    def time_text(self, wl, name):
        empty = self.empty_text(wl, name)
        if empty:
            return empty
        c = self.w[wl]["cells"][name]
        if c.get("reduced"):
            x = f" (×{c['x_glibc']:.2f})" if c.get("x_glibc") else ""
            return f"{c['median_s']:.3f} {self.w[wl]['reduced_label']}{x}"
        ratios = [f"{c[k]:.2f}" for k in ("x_glibc", "x_mimalloc") if c.get(k)]
        return (f"{c['median_s']:.3f}" + (f" ({', '.join(ratios)})" if ratios else "")
                + self.mark(wl, name))

    def rss_text(self, wl, name):
        empty = self.empty_text(wl, name)
        if empty:
            return empty
        c = self.w[wl]["cells"][name]
        label = f" {self.w[wl]['reduced_label']}" if c.get("reduced") else ""
        return f"{c['max_rss_bytes'] / 2**20:.1f}{label}" + self.mark(wl, name)


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def rel(argv, build):
    """A command line as the docs show it: paths relative to the source tree, `build/` for the
    build directory, SORT_INPUT for the generated file."""
    def one(a):
        if "sort-input" in a:
            return "SORT_INPUT"
        if build and a.startswith(build + "/"):
            return "build/" + a[len(build) + 1:]
        return os.path.relpath(a, ROOT) if a.startswith(ROOT + "/") else a
    return " ".join(one(a) for a in argv)


def targets(t):
    """'Where the targets stand': each of the issues' targets with its measured figure, then the
    full-mode targets of issue 13 as a table, then memtrack full against heaptrack."""
    lines = ["## Where the targets stand\n"]

    def verdict(ok):
        return "met" if ok else "missed"
    per = [(wl, t.ratio(wl, "memtrack", "x_mimalloc")) for wl in ("churn", "xthread", "cxx")]
    per = [(wl, x) for wl, x in per if x]
    if per:
        worst = max(x for _, x in per)
        lines.append(f"- memtrack (stats only) / mimalloc on churn, xthread, cxx: "
                     + ", ".join(f"`{wl}` **{x:.2f}**" for wl, x in per)
                     + f" (target ≤ 1.10): {verdict(worst <= 1.10)}")
    real = [(wl, t.ratio(wl, "memtrack", "x_mimalloc")) for wl in ("gxx", "python", "sort")]
    real = [(wl, x) for wl, x in real if x]
    if real:
        worst = max(x for _, x in real)
        lines.append(f"- memtrack (stats only) / mimalloc on the real programs: "
                     + ", ".join(f"`{wl}` **{x:.2f}**" for wl, x in real)
                     + f" (target ≤ 1.03): {verdict(worst <= 1.03)}")
    x = t.ratio("churn", "memtrack")
    if x:
        lines.append(f"- memtrack (stats only) / glibc on `churn`: **{x:.2f}** (target < 1, "
                     f"faster than glibc): {verdict(x < 1)}")
    per_block = bytes_per_block(t, "memtrack")
    if per_block is not None:
        lines.append(f"- memtrack's bookkeeping on `manylive`: **{per_block:.1f} bytes per live "
                     f"block** (max RSS minus mimalloc's over the block count; target ≤ 32): "
                     f"{verdict(per_block <= 32)}")
    return lines + [""] + full_mode_targets(t) + heaptrack_target(t)


# Issue 13 (stacks at allocator speed): memtrack full / glibc per workload.
FULL_MODE_TARGETS = (("churn", 2.0), ("python", 1.5), ("cxx", 1.3), ("xthread", 1.1))


def full_mode_targets(t):
    """Issue 13's table: full mode (the default, stacks on) against glibc on four workloads, its
    instructions per pair, and stats-only's instructions over mimalloc; `deep` (the stack memo's
    worst case) is shown without a target."""
    rows, verdicts = [], []

    def add(what, measured, limit, ok):
        if ok is not None:
            verdicts.append(ok)
        rows.append([what, measured, limit, "—" if ok is None else
                     ("met" if ok else "**missed**")])
    for wl, limit in FULL_MODE_TARGETS:
        x = t.ratio(wl, "memtrack full")
        add(f"`{wl}`: memtrack full × glibc", f"{x:.2f}" if x else "not measured",
            f"≤ {limit:.1f}", x <= limit if x else None)
    x = t.ratio("deep", "memtrack full")
    if x:
        add("`deep`: memtrack full × glibc (40+ frames, the memo's worst case)", f"{x:.2f}",
            "no target", None)
    ipp = t.data.get("instructions_per_pair") or {}
    full = ipp.get("memtrack full")
    add("instructions per malloc+free pair on `churn`, memtrack full (callgrind)",
        f"{full:.1f}" if full is not None else "not measured", "≤ 400",
        full <= 400 if full is not None else None)
    if "memtrack" in ipp and "mimalloc" in ipp:
        extra = ipp["memtrack"] - ipp["mimalloc"]
        add("instructions per pair on `churn`, memtrack (stats only) over mimalloc",
            f"{extra:+.1f} ({ipp['memtrack']:.1f} − {ipp['mimalloc']:.1f})", "≤ +25",
            extra <= 25)
    else:
        add("instructions per pair on `churn`, memtrack (stats only) over mimalloc",
            "not measured", "≤ +25", None)
    unjudged = len(rows) - len(verdicts)
    out = [f"- Full mode at allocator speed (issue 13): **{sum(verdicts)} of {len(verdicts)} "
           f"targets met**" + (f" ({unjudged} row{'s' if unjudged > 1 else ''} without a "
                               f"verdict)" if unjudged else ""), ""]
    return out + md_table(["target", "measured", "limit", "verdict"], rows)


def attribution_section(t):
    """Issue 10's limit: full mode with the per-site aggregates and the peak attribution costs at
    most 10% more than full mode built without them (-DMEMTRACK_SITES=OFF, bench/attribution.sh,
    `make bench` passes it as the column "memtrack full without sites"), on churn, xthread, cxx
    and python, both in this one run. Empty when the column is not in the results."""
    if NOSITES not in t.cfg or "memtrack full" not in t.cfg:
        return []
    lines = ["## Cost of the peak attribution\n",
             f"**memtrack full** against **{NOSITES}** (the same commit built with "
             "`-DMEMTRACK_SITES=OFF` by `bench/attribution.sh`: stacks, leak check and report, "
             "but no per-site counts and no peak attribution), in this one run. Limit (issue "
             f"10): full / without ≤ {ATTRIBUTION_LIMIT:.2f} on each workload.\n"]
    status = t.cfg[NOSITES]["status"]
    if status:
        return lines + [f"Not measured: {NOSITES} {status}.", ""]
    rows, verdicts = [], []
    judged = ("churn", "xthread", "cxx", "python")
    for wl in judged + ("deep",):
        a, b = t.cell(wl, "memtrack full"), t.cell(wl, NOSITES)
        if not a or not b:
            if wl in t.w:
                rows.append([f"`{wl}`", t.time_text(wl, "memtrack full"),
                             t.time_text(wl, NOSITES), "—", "not measured"])
            continue
        x = a["median_s"] / b["median_s"]
        ok = x <= ATTRIBUTION_LIMIT
        if wl in judged:
            verdicts.append(ok)
            verdict = "met" if ok else "**missed**"
        else:
            verdict = ("within" if ok else "**over**") + " (not one of the issue's workloads)"
        rows.append([f"`{wl}`", t.time_text(wl, "memtrack full"), t.time_text(wl, NOSITES),
                     f"{x:.3f}", verdict])
    absent = [wl for wl in judged if not (t.cell(wl, "memtrack full") and t.cell(wl, NOSITES))]
    ipp = t.data.get("instructions_per_pair") or {}
    if "memtrack full" in ipp and NOSITES in ipp:
        # Shown beside the times; the measure is wall time, so it is not in the verdict.
        x = ipp["memtrack full"] / ipp[NOSITES]
        rows.append(["`churn` instructions per pair (callgrind)", f"{ipp['memtrack full']:.1f}",
                     f"{ipp[NOSITES]:.1f}",
                     f"{x:.3f} ({ipp['memtrack full'] - ipp[NOSITES]:+.1f})",
                     ("within" if x <= ATTRIBUTION_LIMIT else "**over**")
                     + " (not judged: the limit is on wall time)"])
    if not verdicts:
        return lines + md_table(["workload", "memtrack full", NOSITES, "full / without",
                                 "verdict"], rows) + ["Not judged: no workload has both timings.",
                                                      ""]
    overall = "missed" if not all(verdicts) else ("incomplete" if absent else "met")
    lines.append(f"Verdict on wall time: **{overall}** ({sum(verdicts)} of {len(verdicts)} "
                 f"workloads within {ATTRIBUTION_LIMIT:.2f}"
                 + (f"; not measured in this run: {', '.join(absent)}" if absent else "")
                 + ").\n")
    return lines + md_table(["workload", "memtrack full, s (× glibc, × mimalloc)",
                             f"{NOSITES}, s (× glibc, × mimalloc)", "full / without",
                             f"limit ≤ {ATTRIBUTION_LIMIT:.2f}"], rows)


def heaptrack_target(t):
    """The issue's target for memtrack with all its defaults: its slowdown over glibc (median /
    glibc's median - 1) at most half of heaptrack's, on every workload. A workload where
    memtrack full is not slower than glibc meets it outright; one where heaptrack does not
    measure the real work (it does not follow g++'s children) is listed but not judged."""
    rows, verdicts = [], []
    for wl in t.w:
        mf, ht = t.ratio(wl, "memtrack full"), t.ratio(wl, "heaptrack")
        if mf is None or ht is None:
            continue
        if t.mark(wl, "heaptrack"):
            share, verdict = "—", f"not judged{DAGGER}"
        elif mf <= 1:
            share, verdict = "no slowdown", "met"
        elif ht <= 1:
            share, verdict = "heaptrack not slower", "missed"
        else:
            x = (mf - 1) / (ht - 1)
            share, verdict = f"{x:.2f}", "met" if x <= 0.5 else "**missed**"
        if verdict != f"not judged{DAGGER}":
            verdicts.append(verdict == "met")
        rows.append([f"`{wl}`", f"{mf:.2f}", f"{ht:.2f}", share, verdict])
    if not rows:
        return ["- memtrack full against heaptrack: not measured (a column is missing)", ""]
    out = [f"- memtrack full's slowdown over glibc at most half of heaptrack's, on every workload: "
           f"**{'met' if all(verdicts) else 'missed'}** ({sum(verdicts)} of {len(verdicts)} "
           "workloads judged meet it)", ""]
    out += md_table(["workload", "memtrack full × glibc", "heaptrack × glibc",
                     "(memtrack full − 1) / (heaptrack − 1)", "target ≤ 0.50"], rows)
    if any(r[-1].startswith("not judged") for r in rows):
        out.append(f"{DAGGER} heaptrack does not follow child processes: on this workload it "
                   "timed the g++ driver only, so there is no heaptrack figure to compare with.\n")
    return out


def bytes_per_block(t, name):
    c, m = t.cell("manylive", name), t.cell("manylive", "mimalloc")
    if not c or not m:
        return None
    return (c["max_rss_bytes"] - m["max_rss_bytes"]) / 1_000_000


def write_chart(t, docs_dir):
    """docs/benchmarks.svg: slowdown over glibc per workload per configuration, log scale (the
    profilers are 10-100× slower than the allocators); reduced columns against glibc at the
    reduced size. Returns the path relative to docs/, or None when gnuplot is missing."""
    if shutil.which("gnuplot") is None:
        return None
    names = [n for n in t.beside_full(t.names()) if n not in ("glibc", "glibc (reduced)")
             and any(t.ratio(wl, n) for wl in t.w)]
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "bench.dat")
        with open(dat, "w") as f:
            f.write("workload\t" + "\t".join(
                f'"{n}{" (reduced)" if t.cfg[n]["reduced"] else ""}"' for n in names) + "\n")
            for wl in t.w:
                row = [t.ratio(wl, n) for n in names]
                f.write(wl + "\t" + "\t".join(f"{x:.3f}" if x else "NaN" for x in row) + "\n")
        out = os.path.join(docs_dir, "benchmarks.svg")
        script = f"""
set terminal svg size 1400,520 dynamic background rgb 'white' font 'sans,11'
set output '{out}'
set datafile separator "\\t"
set title 'Wall time relative to glibc (log scale, lower is faster), commit {t.data["commit"]}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top
set ylabel 'x glibc'
{PALETTE}
set logscale y
set yrange [0.05:*]
set grid ytics
set xtics nomirror
plot for [i=2:{len(names) + 1}] '{dat}' using i:xtic(1) title columnheader
""".replace("{PALETTE}", PALETTE)
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return "benchmarks.svg"


def scaling_section(t):
    s = t.data.get("scaling")
    if not s:
        return ["## Thread scaling\n", "Not measured in this run.", ""]
    lines = ["## Thread scaling: `xthread`, median s (× glibc, × mimalloc)\n",
             f"{s['blocks']:,} blocks in total, split over the producer threads: 1 thread "
             "allocates each batch of 256 blocks and frees it itself; 2k threads are k "
             "producer/consumer pairs (every block freed by another thread). Only the allocators "
             f"and memtrack run here. This machine has {s['cores']} cores.\n"]
    measured = [r for r in s["rows"] if "cells" in r]
    names = list(measured[0]["cells"]) if measured else []
    rows = []
    for r in s["rows"]:
        if "cells" not in r:
            rows.append([str(r["threads"]), f"not measured: {r['not_measured']}"]
                        + ["—"] * (len(names) - 1))
            continue
        row = [str(r["threads"])]
        for n in names:
            c = r["cells"][n]
            if "failed" in c:
                row.append("failed")
                continue
            ratios = [f"{c[k]:.2f}" for k in ("x_glibc", "x_mimalloc") if c.get(k)]
            row.append(f"{c['median_s']:.3f} ({', '.join(ratios)})")
        rows.append(row)
    lines += md_table(["threads"] + names, rows)
    skipped = [r for r in s["rows"] if "cells" not in r]
    if skipped:
        lines.append("Not measured: " + ", ".join(f"{r['threads']} threads ({r['not_measured']})"
                                                  for r in skipped)
                     + ". With more threads than cores the threads take turns on the cores and "
                     "the time measures the scheduler's context switches, not the allocator.\n")
    return lines


def write_docs(data, docs_dir=os.path.join(ROOT, "docs")):
    t = Table(data)
    m = data["machine"]
    lines = ["# Benchmarks\n",
             "Generated by `bench/run.sh` (`make bench`; `make bench-quick` for a short run). Every "
             "ratio is computed inside one run of the script, with runs interleaved round-robin "
             "across configurations; absolute times are for this machine only.\n",
             f"- Date {data['date']}, commit `{data['commit']}`{' (quick mode)' if data['quick'] else ''}, "
             f"{data['elapsed_s'] / 60:.1f} minutes; command `{data['command']}`",
             "- Runs per cell (interleaved round-robin; median, min, max): "
             + ", ".join(f"{n} for {g}" for g, n in data["runs_per_group"].items()
                         ).replace("for allocators", "for the allocators and memtrack")
             .replace("for profilers", "for the profilers").replace("for reduced",
                                                                   "at the reduced sizes"),
             f"- Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, glibc {m['glibc']}; "
             "Debian packages " + ", ".join(f"{k} {v}" for k, v in m["packages"].items())]
    load = data.get("other_load")
    if load:
        lines.append(f"- Other processes used {load['other_cpu_s']} CPU s during the timed runs "
                     f"({load['share']:.0%} of the machine's cores)"
                     + (": **the machine was busy, timings are less reliable**"
                        if load["share"] > 0.05 else ""))
        busy = [(wl, v["other_load"]["share"]) for wl, v in t.w.items()
                if (v.get("other_load") or {}).get("share", 0) > 0.05]
        if busy:
            lines.append("  - busiest during: " + ", ".join(
                f"`{wl}` {share:.0%}" for wl, share in sorted(busy, key=lambda b: -b[1])))
    for c in data["configurations"]:
        if c["status"]:
            lines.append(f"- **{c['name']}**: {c['status']}")
    for note in data["notes"]:
        lines.append(f"- {note}")
    for wl, v in t.w.items():
        for name, c in v["cells"].items():
            if "failed" in c:
                lines.append(f"- **{name}** failed on `{wl}`: {c['failed']}")
    lines.append("")
    lines += targets(t)
    lines += attribution_section(t)
    chart = write_chart(t, docs_dir)
    lines.append(f"![Wall time relative to glibc per workload]({chart})\n" if chart else
                 "(No chart: gnuplot is not installed; `apt-get install gnuplot-nox`.)\n")

    alloc = t.beside_full(t.names("allocators") + [n for n in BESIDE_FULL if n in t.cfg])
    lines.append("## Wall time: allocators and memtrack, median s (× glibc, × mimalloc)\n")
    lines += md_table(["workload"] + alloc,
                      [[f"`{wl}`"] + [t.time_text(wl, n) for n in alloc] for wl in t.w])
    full = t.beside_full([n for n in ["glibc", "memtrack full"]
                          + t.names("profilers", reduced=False) if n in t.cfg])
    lines.append("## Wall time: heap profilers and leak checkers, median s (× glibc, × mimalloc)\n")
    lines += md_table(["workload"] + full,
                      [[f"`{wl}`"] + [t.time_text(wl, n) for n in full] for wl in t.w])
    if any(t.mark(wl, n) for wl in t.w for n in full):
        lines.append(f"{DAGGER} The tool does not follow child processes: it measured the g++ "
                     "driver only, not cc1plus and as, where the compile's allocations happen.\n")
    red = t.names(reduced=True)
    lines.append("## Wall time at reduced sizes: median s, size, (× glibc at the same size)\n")
    lines.append(f"These tools are too slow for the full workloads. Each cell marks the reduced "
                 f"size (÷N: 1/N of the work in the tables above; for `gxx` a tiny translation "
                 f"unit) and its ratio is against **glibc (reduced)**, glibc timed at that same "
                 f"size in the same run.\n")
    lines += md_table(["workload", "reduced size"] + red,
                      [[f"`{wl}`", t.w[wl]["reduced_description"]]
                       + [t.time_text(wl, n) for n in red] for wl in t.w])

    lines.append("## Max RSS (MiB)\n")
    lines.append("Valgrind's figures include Valgrind itself; reduced columns are at the reduced "
                 "size.\n")
    every = t.beside_full(t.names())
    lines += md_table(["workload"] + every,
                      [[f"`{wl}`"] + [t.rss_text(wl, n) for n in every] for wl in t.w])
    per = [(n, bytes_per_block(t, n)) for n in ("memtrack", "memtrack full")]
    if any(b is not None for _, b in per):
        lines.append("Bookkeeping per live block on `manylive` (max RSS minus mimalloc's, over "
                     "1,000,000 blocks): " + ", ".join(f"{n} **{b:.1f} bytes**" for n, b in per
                                                       if b is not None) + ".\n")
    ipp = data.get("instructions_per_pair")
    if ipp:
        lines.append("## Instructions per malloc+free pair on `churn` (callgrind)\n")
        lo, hi = data["instruction_steps"]
        lines.append(f"Whole-program instructions of a {hi:,}-step run minus a {lo:,}-step run, "
                     f"divided by {hi - lo:,}: the workload's own loop is included and start-up "
                     "cancels. Deterministic: repeatable whatever the machine's load.\n")
        cols = [c["name"] for c in data["configurations"] if c["instructions"]]
        lines += md_table(cols, [[f"{ipp[c]:.1f}" if c in ipp else
                                  short_reason(t.cfg[c]["status"] or "not measured") for c in cols]])
    lines += scaling_section(t)
    lines.append("## Workloads and configurations\n")
    for wl, v in t.w.items():
        lines.append(f"- `{wl}`: {v['description']}; command `{rel(v['command'], data.get('build'))}`; "
                     f"reduced ({v['reduced_label']}): {v['reduced_description']}, "
                     f"`{rel(v['reduced_command'], data.get('build'))}`")
    for c in data["configurations"]:
        lines.append(f"- **{c['name']}**{' (reduced sizes)' if c['reduced'] else ''}: "
                     f"{c['description']}")
    lines.append("- Each configuration is probed before it is timed (its own statistics, its leak "
                 "report of a 10007-byte probe leak, or the profile it writes); one that fails the "
                 "probe keeps its column and every cell says why.")
    lines.append("")
    extra = os.path.join(ROOT, "docs", "benchmarks-notes.md")
    if os.path.exists(extra):
        with open(extra) as f:
            lines.append(f.read().rstrip() + "\n")
    with open(os.path.join(docs_dir, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    # Re-renders the docs from a results file: render.py RESULTS.json [DOCS_DIR]
    import json
    import sys
    with open(sys.argv[1]) as f:
        results = json.load(f)
    write_docs(results, sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs"))
