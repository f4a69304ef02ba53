#!/usr/bin/env python3
"""What held the heap peak: memtrack and heaptrack side by side (issue 10).

Runs a few test programs under memtrack (LD_PRELOAD, its JSON report's `sites`) and under
heaptrack (`heaptrack_print`'s PEAK MEMORY CONSUMERS, and its flame-graph output with
`--flamegraph-cost-type peak` / `allocations`, which give exact bytes and calls per stack), and
writes the section between the markers below in docs/accuracy.md (the rest of the file is
compare.py's, which keeps this section when it rewrites the file).

    python3 bench/accuracy/peak_heaptrack.py --build build

Sites are matched by the innermost frame in the program's own source file (memtrack's stacks
and heaptrack's alike), the function name without its namespace or parameters; stacks with no
such frame (start-up memory, libc's own buffers) are one row.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEGIN = "<!-- BEGIN peak_heaptrack.py: generated, do not edit by hand -->"
END = "<!-- END peak_heaptrack.py -->"
NO_FRAME = "(no program frame: start-up, libc)"


def programs(build):
    progs = os.path.join(build, "bin", "tests", "programs")
    return [
        {"title": "tp_sites peak", "argv": [os.path.join(progs, "tp_sites"), "peak"],
         "sources": {"tp_sites.cpp"},
         "what": "known sizes: 3 blocks of 2097159 B (the big-block path), 5 `new int[]` of "
                 "20012 B, 7 over-aligned `new` of 30016 B, a realloc chain ending at 100003 B, "
                 "a 500009-byte block freed before the peak"},
        {"title": "tp_lecture keep-local 67108864",
         "argv": [os.path.join(progs, "tp_lecture"), "keep-local", "67108864"],
         "sources": {"tp_lecture.cpp"},
         "what": "the lecture's keep-local case (demos/process_data.cpp's, as a plain program "
                 "that does not link memtrack): `load_data`, `modify1` and `modify2` each hold "
                 "one 64 MiB buffer at the peak"},
        {"title": "tp_lecture list 50 100000",
         "argv": [os.path.join(progs, "tp_lecture"), "list", "50", "100000"],
         "sources": {"tp_lecture.cpp"},
         "what": "the lecture's list of images (demos/list_vs_generator.cpp's): one "
                 "`load_image` site with 50 blocks of 800000 B, the running total and the "
                 "list's own array"},
    ]


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith(("MEMTRACK_", "HEAPTRACK_"))}
    env["LC_ALL"] = "C"
    return env


def short_function(name):
    name = name.replace("(anonymous namespace)::", "")
    # "load_data(unsigned long)" -> "load_data"; keep "operator()" readable
    depth, out = 0, []
    for i, c in enumerate(name):
        if c == "(" and depth == 0 and not name[:i].endswith("operator"):
            break
        out.append(c)
        depth += c == "<"
        depth -= c == ">"
    return "".join(out).strip() or name


def memtrack_run(prog, lib, d):
    env = clean_env()
    env.update({"LD_PRELOAD": lib, "MEMTRACK_OUTPUT": os.path.join(d, "r.json"),
                "MEMTRACK_REPORT": "json"})
    subprocess.run(prog["argv"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, cwd=d)
    r = json.load(open(os.path.join(d, "r.json")))
    rows = {}
    for s in r["sites"]:
        key = NO_FRAME
        frames = r.get("stacks", {}).get(str(s["stack"]))
        if s["stack"] != 0 and frames is None:
            key = f"(stack {s['stack']}, not symbolized in the report)"
        for f in frames or []:
            if os.path.basename(f.get("file", "")) in prog["sources"]:
                key = short_function(f["function"])
                break
        row = rows.setdefault(key, {"peak": 0, "blocks": 0, "calls": 0})
        row["peak"] += s["peak_bytes"]
        row["blocks"] += s["peak_blocks"]
        row["calls"] += s["allocations"]
    h = r["heap"]
    totals = {"peak": h["peak_bytes"], "attributed": h["peak_attributed_bytes"],
              "calls": h["allocations"], "temporary": sum(s["temporary"] for s in r["sites"]),
              "exit": h["live_bytes_at_exit"]}
    return r, rows, totals


def heaptrack_folded(data, cost, d):
    out = os.path.join(d, f"{cost}.txt")
    subprocess.run(["heaptrack_print", "-f", data, "-p", "0", "-a", "0", "-T", "0",
                    "--flamegraph-cost-type", cost, "-F", out],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    stacks = []
    for line in open(out):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        stacks.append((stack.rstrip(";").split(";"), int(n)))
    return stacks


def heaptrack_key(frames, sources):
    # Root first; the innermost frame of the program's own file, "function (file.cpp)".
    for f in reversed(frames):
        m = re.match(r"^(.*) \(([^()]*)\)$", f)
        if m and m.group(2) in sources:
            return short_function(m.group(1))
    return NO_FRAME


def heaptrack_run(prog, d):
    env = clean_env()
    data = os.path.join(d, "ht")
    subprocess.run(["heaptrack", "-o", data] + prog["argv"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, cwd=d)
    data = next(os.path.join(d, f) for f in os.listdir(d) if f.startswith("ht."))
    rows = {}
    for cost, field in (("peak", "peak"), ("allocations", "calls")):
        for frames, n in heaptrack_folded(data, cost, d):
            row = rows.setdefault(heaptrack_key(frames, prog["sources"]), {"peak": 0, "calls": 0})
            row[field] += n
    text = subprocess.run(["heaptrack_print", "-f", data, "-p", "1", "-a", "0", "-T", "0",
                           "-n", "5"], capture_output=True, text=True, check=True).stdout
    summary = {}
    for k, pat in (("calls", r"calls to allocation functions: (\d+)"),
                   ("temporary", r"temporary memory allocations: (\d+)"),
                   ("peak_text", r"peak heap memory consumption: (\S+)"),
                   ("leaked_text", r"total memory leaked: (\S+)")):
        m = re.search(pat, text)
        summary[k] = m.group(1) if m else "?"
    # PEAK MEMORY CONSUMERS, the first lines of each entry: the amount and the allocating frame.
    peaks = []
    lines = text.splitlines()
    for i, l in enumerate(lines):
        if " peak memory consumed over " in l:
            entry = [l]
            for nxt in lines[i + 1:i + 3]:
                entry.append(nxt.replace(REPO + "/", ""))
            peaks.append(entry)
    totals = {"peak": sum(r["peak"] for r in rows.values()), "calls": int(summary["calls"])
              if summary["calls"].isdigit() else 0, "temporary": summary["temporary"],
              "peak_text": summary["peak_text"], "leaked_text": summary["leaked_text"]}
    return rows, totals, peaks


def mib(n):
    return f"{n / 1048576:.2f} MiB" if n >= 1048576 else f"{n / 1024:.2f} KiB" if n >= 1024 \
        else f"{n} B"


def section(opts, results):
    L = [BEGIN, "", "## What held the peak: memtrack and heaptrack side by side", ""]
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    ht = subprocess.run(["heaptrack", "--version"], capture_output=True, text=True).stdout.strip()
    L.append(f"Generated by `python3 bench/accuracy/peak_heaptrack.py --build BUILD` (do not edit "
             "by hand). Each program runs once under memtrack (its JSON report's `sites`) and "
             "once under heaptrack; heaptrack's per-site numbers are exact bytes and calls from "
             "`heaptrack_print --flamegraph-cost-type peak` / `allocations` (its text rounds to "
             "3 digits, in units of 1000). Sites are matched by the innermost frame in the "
             "program's own source file.")
    L.append("")
    L.append(f"- Date {datetime.date.today()}, commit `{commit}`; {ht} (Debian 1.4.0-2)")
    L.append("- Both tools count requested bytes; heaptrack's \"peak\" is its largest heap "
             "consumption, memtrack's `heap.peak_bytes`")
    L.append("")
    L.append("What this shows:")
    L.append("")
    L.append("- Each table's rows are compared byte for byte; the line under each says whether "
             "every program site's share of the peak is the same in both tools.")
    L.append("- heaptrack's text view merges backtraces by their innermost frame (`-m`, on by "
             "default): the lecture's three 64 MiB buffers are one entry of "
             "`std::__new_allocator<>::allocate` \"over 3 calls\", with the three callers in "
             "the list under it; memtrack's view names the program's own frame of each site "
             "(`load_data`, `modify1`, `modify2`), and the JSON keeps every frame.")
    L.append("- \"Live at exit\" differs on purpose: memtrack counts every live block "
             "(libstdc++'s 72704-byte emergency pool, allocated before memtrack starts, and "
             "stdout's buffer), heaptrack reports as leaked only what its built-in "
             "suppressions leave (the pool is suppressed).")
    L.append("")
    for prog, (mrep, mrows, mt), (hrows, htot, peaks), mview in results:
        L.append(f"### `{prog['title']}`")
        L.append("")
        L.append(prog["what"] + ".")
        L.append("")
        L.append("| | memtrack | heaptrack |")
        L.append("| --- | ---: | ---: |")
        L.append(f"| heap peak, bytes | {mt['peak']} | {htot['peak']} "
                 f"(its summary: {htot['peak_text']}) |")
        L.append(f"| the sites' shares of the peak, summed | {mt['attributed']} | {htot['peak']} |")
        L.append(f"| calls to allocation functions | {mt['calls']} | {htot['calls']} |")
        L.append(f"| temporary allocations | {mt['temporary']} | {htot['temporary']} |")
        L.append(f"| live at exit | {mt['exit']} | {htot['leaked_text']} (\"leaked\") |")
        L.append("")
        L.append("| site | memtrack at the peak | blocks | heaptrack at the peak | memtrack "
                 "calls | heaptrack calls |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        keys = sorted(set(mrows) | set(hrows),
                      key=lambda k: (-max(mrows.get(k, {}).get("peak", 0),
                                          hrows.get(k, {}).get("peak", 0)), k))
        for k in keys:
            m = mrows.get(k)
            h = hrows.get(k)
            if (m is None or m["peak"] == 0) and (h is None or h["peak"] == 0) and \
                    (m or {}).get("calls", 0) + (h or {}).get("calls", 0) == 0:
                continue
            L.append(f"| `{k}` | {m['peak'] if m else '—'} | {m['blocks'] if m else '—'} | "
                     f"{h['peak'] if h else '—'} | {m['calls'] if m else '—'} | "
                     f"{h['calls'] if h else '—'} |")
        L.append("")
        same = all(mrows.get(k, {}).get("peak", 0) == hrows.get(k, {}).get("peak", 0)
                   for k in keys if k != NO_FRAME)
        L.append(f"Shares of the peak per program site: {'the same to the byte' if same else 'they differ (see the rows)'}.")
        L.append("")
        L.append("memtrack (`memtrack report r.json --peak --top=5 --stack-depth=0`):")
        L.append("")
        L.append("```")
        L.extend(mview)
        L.append("```")
        L.append("")
        L.append("heaptrack (`heaptrack_print -p -n 5`, PEAK MEMORY CONSUMERS, the first lines of "
                 "each entry):")
        L.append("")
        L.append("```")
        for e in peaks:
            L.extend(e)
        L.append("```")
        L.append("")
    L.append(END)
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "accuracy.md"))
    opts = ap.parse_args()
    build = os.path.abspath(opts.build)
    lib = os.path.join(build, "lib", "libmemtrack.so")
    if shutil.which("heaptrack") is None:
        sys.exit("heaptrack is not installed (apt-get install heaptrack)")
    results = []
    for prog in programs(build):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "m"))
            os.mkdir(os.path.join(d, "h"))
            m = memtrack_run(prog, lib, os.path.join(d, "m"))
            view = subprocess.run([os.path.join(build, "bin", "memtrack"), "report",
                                   os.path.join(d, "m", "r.json"), "--peak", "--top=5",
                                   "--stack-depth=0"], capture_output=True, text=True,
                                  check=True, env=clean_env()).stdout.splitlines()
            view = [l for l in view[2:]]  # without the "program (pid N)" line
            h = heaptrack_run(prog, os.path.join(d, "h"))
            results.append((prog, m, h, view))
    text = section(opts, results)
    old = open(opts.out).read() if os.path.exists(opts.out) else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END) + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(opts.out, "w") as f:
        f.write(new)
    print(f"wrote the section of {opts.out}")


if __name__ == "__main__":
    main()
