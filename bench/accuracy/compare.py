#!/usr/bin/env python3
"""Leak-check accuracy: memtrack against Valgrind memcheck and LD_PRELOAD liblsan.

Runs every scenario of tests/programs/tp_leaks.cpp under the three tools, compares what each
reports with the truth (the heap graph each scenario builds, transcribed from the program's
source below) and writes docs/accuracy.md.

    python3 bench/accuracy/compare.py --build /work/build-acc

The build directory must hold lib/libmemtrack.so and bin/tests/programs/{tp_leaks,
libtp_leaklib.so} (cmake --build BUILD). A tool that is not installed gets an empty column.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = ("memtrack", "memcheck", "lsan", "memtrack-nostack", "memtrack-gc")
TOOL_NAMES = {"memtrack": "memtrack", "memcheck": "memcheck", "lsan": "LSan",
              "memtrack-nostack": "memtrack, stacks off", "memtrack-gc": "memtrack, gc=auto"}
# memtrack under other settings than the defaults: the same library and leak check.
MEMTRACK_VARIANTS = {"memtrack": {}, "memtrack-nostack": {"MEMTRACK_STACK_DEPTH": "0"},
                     "memtrack-gc": {"MEMTRACK_GC": "auto"}}
KINDS = ("direct", "indirect", "possible")


# ---------------------------------------------------------------------------------------------
# The truth: the graph of leaked blocks each scenario leaves behind, built the way tp_leaks.cpp
# builds it. Nodes are blocks (requested sizes), an edge a -> b means block a holds a pointer to
# the start of block b. Blocks that stay reachable (globals, TLS, live threads, dlopen'ed
# libraries) are not in the graph: a clean scenario has an empty graph.
# ---------------------------------------------------------------------------------------------
class Graph:
    def __init__(self):
        self.sizes: list[int] = []
        self.edges: list[tuple[int, int]] = []

    def block(self, size: int) -> int:
        self.sizes.append(size)
        return len(self.sizes) - 1

    def point(self, a: int, b: int) -> None:
        self.edges.append((a, b))


def leak_direct(g: Graph, size: int) -> None:  # malloc(size), pointer dropped
    g.block(size)


def leak_list(g: Graph, n: int, size: int) -> None:  # node[0] = previous head
    head = None
    for _ in range(n):
        node = g.block(size)
        if head is not None:
            g.point(node, head)
        head = node


def tree(g: Graph, d: int, size: int):  # n[0], n[1] = subtrees
    if d == 0:
        return None
    n = g.block(size)
    for child in (tree(g, d - 1, size), tree(g, d - 1, size)):
        if child is not None:
            g.point(n, child)
    return n


def leak_ring(g: Graph, k: int, size: int, tail: int = 0, tail_size: int = 0) -> None:
    first = g.block(size)
    prev = first
    for _ in range(1, k):
        n = g.block(size)
        g.point(prev, n)
        prev = n
    g.point(prev, first)  # k == 1: a self-reference
    into = first
    for _ in range(tail):
        t = g.block(tail_size)
        g.point(t, into)
        into = t


# std::make_shared<SharedNode>: one block holding the control block (vptr + two 4-byte counts =
# 16 bytes) and the SharedNode (shared_ptr 16 + weak_ptr 16 + char[100] -> 136 with alignment).
SHARED_NODE_BLOCK = 16 + 136


def shared_cycle(g: Graph) -> None:  # a->other = b; b->other = a
    a, b = g.block(SHARED_NODE_BLOCK), g.block(SHARED_NODE_BLOCK)
    g.point(a, b)
    g.point(b, a)


def new_leaks(g: Graph) -> None:  # new char[3001]; new Aligned (alignas(64) char[192]); aligned new[3002]
    for size in (3001, 192, 3002):
        g.block(size)


def seq_leaks(g: Graph) -> None:  # seq_leaks(3): 3 x 3001, 3 MiB, ring 2 x 3002, realloc'd 3003
    for _ in range(3):
        g.block(3001)
    g.block(3 << 20)
    leak_ring(g, 2, 3002)
    g.block(3003)


def entry_points(g: Graph) -> None:  # leak_one(0..8): marker sizes per entry point
    for size in (9001, 9002, 9003, 9004, 9005, 9006, 9007, 9216, 9009 + 4096):
        g.block(size)


def cycle_order(g: Graph) -> None:  # a (5000) <-> b (7000)
    # Nodes in allocation order, which is address order under memcheck's own allocator (its
    # clique leader is the lowest address); under mimalloc b lies lower, which the LSan model
    # (both indirect) does not depend on.
    a = g.block(5000)
    b = g.block(7000)
    g.point(a, b)
    g.point(b, a)


def many_leaks(g: Graph, n: int) -> None:  # n x malloc(32), one malloc(100 MiB)
    for _ in range(n):
        g.block(32)
    g.block(100 << 20)


def sccs(g: Graph) -> list[list[int]]:
    """Strongly connected components (Tarjan, iterative)."""
    adj = collections.defaultdict(list)
    for a, b in g.edges:
        adj[a].append(b)
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in range(len(g.sizes)):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter[0]
                counter[0] += 1
                stack.append(v)
                on.add(v)
            recurse = False
            for j in range(i, len(adj[v])):
                w = adj[v][j]
                if w not in index:
                    work.append((v, j + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


class Truth:
    """What a perfect tool reports, in the two models the tools use.

    LSan model (LeakSanitizer and memtrack): a leaked block is *direct* when no other leaked
    block points at it (a pointer to itself does not count), else *indirect*. A pure cycle is
    therefore all indirect (a self-cycle is direct).

    memcheck model: memcheck starts a "clique" at each unreached block not yet claimed by
    another, in address order; everything it reaches is *indirectly lost*, the clique leader
    stays *definitely lost*. So each source component of the leaked graph (a block or cycle that
    no other leaked block points at) has exactly one definitely-lost block: a pure ring of k
    blocks is 1 definitely + k-1 indirectly lost.
    """

    def __init__(self, g: Graph):
        self.g = g
        n = len(g.sizes)
        pointed = set(b for a, b in g.edges if a != b)
        self.lsan = ["indirect" if i in pointed else "direct" for i in range(n)]
        comps = sccs(g)
        comp_of = {v: ci for ci, c in enumerate(comps) for v in c}
        incoming = set(comp_of[b] for a, b in g.edges if comp_of[a] != comp_of[b])
        self.memcheck = ["indirect"] * n
        for ci, c in enumerate(comps):
            if ci not in incoming:
                self.memcheck[min(c)] = "direct"  # the leader; all our cycles are of one size
        self_loops = set(a for a, b in g.edges if a == b)
        self.cycles = []  # (sorted sizes, pure)
        for ci, c in enumerate(comps):
            if len(c) > 1 or c[0] in self_loops:
                self.cycles.append((tuple(sorted(g.sizes[v] for v in c)), ci not in incoming))

    def totals(self, model: str) -> dict:
        kinds = self.lsan if model == "lsan" else self.memcheck
        t = {f"{k}_{u}": 0 for k in KINDS for u in ("bytes", "blocks")}
        for size, kind in zip(self.g.sizes, kinds):
            t[f"{kind}_bytes"] += size
            t[f"{kind}_blocks"] += 1
        return t

    def by_size(self, model: str) -> dict:
        kinds = self.lsan if model == "lsan" else self.memcheck
        out = collections.defaultdict(collections.Counter)
        for size, kind in zip(self.g.sizes, kinds):
            out[size][kind] += 1
        return out


class Scenario:
    def __init__(self, name, args, build, note, process="main", title=None):
        self.name, self.args, self.note, self.process = name, args, note, process
        self.title = title or " ".join([name] + [a if not a.startswith("/") else "LIB" for a in args])
        g = Graph()
        build(g)
        self.truth = Truth(g)

    @property
    def clean(self):
        return not self.truth.g.sizes


def scenarios(lib: str, list_n: int, tree_d: int, many_n: int, cycle_reps: int, grow_n: int):
    nothing = lambda g: None  # noqa: E731

    def cycles(g):
        leak_ring(g, 1, 1111)
        leak_ring(g, 2, 2222)
        leak_ring(g, 3, 3333)
        leak_ring(g, 4, 4444, 2, 555)
        for _ in range(cycle_reps):
            leak_ring(g, 2, 666)

    S = Scenario
    return [
        S("none", [], nothing, "malloc(10) freed"),
        S("global", [], nothing, "4001 B held by a global"),
        S("tls", [], nothing, "4002 B held by a thread_local of the main thread"),
        S("thread_live", [], nothing,
          "a thread blocked in pause() at exit holds 5003 B in its thread_local and 5004 B on its stack"),
        S("dlopen", [lib], nothing, "4003 B held by a global of a dlopen'ed library"),
        S("dlopen_tls", [lib], nothing, "4005 B held by a __thread variable of a dlopen'ed library (dynamic TLS)"),
        S("register", [], nothing,
          "6007 B held only in a register while memtrack_collect() runs mid-program, freed before exit"),
        S("grow", [str(grow_n)], nothing, f"{grow_n} blocks of 24 B held by an array in a global"),
        S("shared_weak", [], nothing, "the shared_ptr pair with the back edge a weak_ptr: all freed"),
        S("direct", [], lambda g: leak_direct(g, 4242), "one malloc(4242), pointer dropped"),
        S("dlclose_leak", [lib], lambda g: leak_direct(g, 4004),
          "a dlopen'ed library leaks 4004 B, then is dlclose'd"),
        S("list", [str(list_n)], lambda g: leak_list(g, list_n, 48), f"a list of {list_n} nodes of 48 B"),
        S("tree", [str(tree_d)], lambda g: tree(g, tree_d, 64),
          f"a binary tree of depth {tree_d} ({2 ** tree_d - 1} nodes of 64 B)"),
        S("cycles", [str(cycle_reps)], cycles,
          f"rings: self 1111 B, 2 x 2222, 3 x 3333, 4 x 4444 with a tail of 2 x 555, {cycle_reps} rings of 2 x 666"),
        S("shared_cycle", [], shared_cycle,
          f"two std::make_shared blocks ({SHARED_NODE_BLOCK} B each) pointing at each other"),
        S("thread_exit", [], lambda g: leak_direct(g, 7001), "a thread (joined) leaks 7001 B"),
        S("template", [], lambda g: leak_direct(g, 77), "make_one<Widget>(): new Widget (77 B), dropped"),
        S("realloc", [], lambda g: leak_direct(g, 6400), "malloc(100) grown by realloc to 6400 B, dropped"),
        S("new", [], new_leaks, "new char[3001], new Aligned (alignas(64), 192 B), aligned new char[3002]"),
        S("fork", [], lambda g: leak_direct(g, 4243), "parent: leaks 4243 B, forks", process="main",
          title="fork (parent)"),
        S("fork", [], lambda g: (leak_direct(g, 4243), leak_direct(g, 4244)),
          "child: inherits the parent's 4243 B leak, leaks 4244 B, exit(0)", process="child",
          title="fork (child)"),
        S("many", [str(many_n)], lambda g: many_leaks(g, many_n), f"{many_n} x 32 B and one 100 MiB block"),
        S("seq", ["3"], seq_leaks, "3 x 3001 B, 3 MiB, a ring of 2 x 3002 B, 10 B grown by realloc to 3003 B"),
        S("entry_points", [], entry_points,
          "one leak through each of malloc, calloc, realloc(NULL), new[], operator new, aligned "
          "new, posix_memalign, aligned_alloc and realloc growth, under 20 frames of recursion"),
        S("cycle_order", [], cycle_order,
          "a 5000 B block and a 7000 B block pointing at each other (under mimalloc the older one at the higher address)"),
    ]


# ---------------------------------------------------------------------------------------------
# Running the tools and reading what they report. Each parser returns, per process
# ("main"/"child"), a dict: totals (direct/indirect/possible bytes/blocks), reachable bytes and
# blocks (None if the tool does not say), suppressed, by_size {size: Counter(kind)}, cycles
# (memtrack only) and notes.
# ---------------------------------------------------------------------------------------------
def empty_result():
    return {"totals": {f"{k}_{u}": 0 for k in KINDS for u in ("bytes", "blocks")},
            "reachable": None, "suppressed": None, "by_size": collections.defaultdict(collections.Counter),
            "cycles": None, "error": None, "notes": []}


def add_group(res, kind, nbytes, nblocks, sizes=None):
    res["totals"][f"{kind}_bytes"] += nbytes
    res["totals"][f"{kind}_blocks"] += nblocks
    if sizes is not None:
        for s in sizes:
            res["by_size"][s][kind] += 1
    elif nblocks and nbytes % nblocks == 0:
        res["by_size"][nbytes // nblocks][kind] += nblocks
    else:
        res["by_size"]["mixed"][kind] += nblocks


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("MEMTRACK_", "LSAN_", "ASAN_", "VALGRIND_")) or k == "LD_PRELOAD")}
    env["LC_ALL"] = "C"
    return env


def command_for(tool, ctx, argv, outdir):
    env = base_env()
    if tool in MEMTRACK_VARIANTS:
        env.update(MEMTRACK_VARIANTS[tool])
        env["MEMTRACK_OUTPUT"] = os.path.join(outdir, "r.%p.json")
        env["LD_PRELOAD"] = ctx["memtrack_lib"]
        return argv, env
    if tool == "memcheck":
        return ["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--xml=yes",
                "--xml-file=" + os.path.join(outdir, "vg.%p.xml")] + argv, env
    env["LD_PRELOAD"] = ctx["lsan_lib"]
    env["LSAN_OPTIONS"] = "report_objects=1:exitcode=0:log_path=" + os.path.join(outdir, "lsan")
    return argv, env


def parse_memtrack(outdir, main_pid):
    out = {}
    for path in glob.glob(os.path.join(outdir, "r.*.json")):
        pid = int(path.split(".")[-2])
        res = empty_result()
        try:
            j = json.load(open(path))
        except (OSError, ValueError) as e:
            res["error"] = f"unreadable report: {e}"
            out["main" if pid == main_pid else "child"] = res
            continue
        leaks = j.get("leaks", {})
        for kind in KINDS:
            for grp in leaks.get(kind, []):
                if grp.get("stack", 0) == 0 and grp["blocks"] > 1:  # stacks off: one group of any sizes
                    res["by_size"]["mixed"][kind] += grp["blocks"]
                    res["totals"][f"{kind}_bytes"] += grp["bytes"]
                    res["totals"][f"{kind}_blocks"] += grp["blocks"]
                else:
                    add_group(res, kind, grp["bytes"], grp["blocks"])
        t = leaks.get("totals", {})
        for k in res["totals"]:  # the totals are authoritative
            res["totals"][k] = t.get(k, res["totals"][k])
        res["suppressed"] = (t.get("suppressed_bytes", 0), t.get("suppressed_blocks", 0))
        heap = j.get("heap", {})
        lb, ln = heap.get("live_bytes_at_exit"), heap.get("live_blocks_at_exit")
        if lb is not None:
            leaked_b = sum(t.get(f"{k}_bytes", 0) for k in ("direct", "indirect", "possible", "suppressed"))
            leaked_n = sum(t.get(f"{k}_blocks", 0) for k in ("direct", "indirect", "possible", "suppressed"))
            res["reachable"] = (lb - leaked_b, ln - leaked_n)
        res["cycles"] = [{"sizes": tuple(m["size"] for m in c["members"]), "count": c.get("count", 1),
                          "pure": c.get("pure"), "type": next((m.get("type") for m in c["members"]
                                                               if m.get("type")), "")}
                         for c in j.get("cycles", [])]
        scan = j.get("scan", {})
        if scan and not scan.get("complete", True):
            res["notes"].append("scan incomplete")
        if scan.get("threads_not_paused"):
            res["notes"].append(f"{scan['threads_not_paused']} thread(s) not paused")
        res["version"] = j.get("memtrack_version")
        out["main" if pid == main_pid else "child"] = res
    return out


LEAK_KIND = {"Leak_DefinitelyLost": "direct", "Leak_IndirectlyLost": "indirect",
             "Leak_PossiblyLost": "possible", "Leak_StillReachable": "reachable"}


def parse_memcheck(outdir, main_pid):
    out = {}
    for path in glob.glob(os.path.join(outdir, "vg.*.xml")):
        pid = int(path.split(".")[-2])
        res = empty_result()
        res["reachable"] = (0, 0)
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as e:
            res["error"] = f"unreadable XML: {e}"
            out["main" if pid == main_pid else "child"] = res
            continue
        for err in root.findall("error"):
            kind = LEAK_KIND.get(err.findtext("kind", ""))
            if kind is None:
                if err.findtext("kind"):
                    res["notes"].append(err.findtext("kind"))
                continue
            text = err.findtext("xwhat/text", "")
            total = int(err.findtext("xwhat/leakedbytes", "0"))
            blocks = int(err.findtext("xwhat/leakedblocks", "0"))
            # "480 (48 direct, 432 indirect) bytes in 1 blocks": leakedbytes includes the
            # indirect bytes, which memcheck also reports in their own Leak_IndirectlyLost records.
            m = re.search(r"\(([\d,]+) direct, ([\d,]+) indirect\)", text)
            direct = int(m.group(1).replace(",", "")) if m else total
            if kind == "reachable":
                rb, rn = res["reachable"]
                res["reachable"] = (rb + direct, rn + blocks)
            else:
                add_group(res, kind, direct, blocks)
        supp = [(int(p.findtext("count", "0")), p.findtext("name", "")) for p in root.findall("suppcounts/pair")]
        res["suppressed"] = supp
        out["main" if pid == main_pid else "child"] = res
    return out


LSAN_RECORD = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)")
LSAN_OBJECT = re.compile(r"^0x[0-9a-f]+ \((\d+) bytes\)")
LSAN_SUPP = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)")


def parse_lsan(outdir, main_pid, pids):
    out = {}
    files = {int(p.rsplit(".", 1)[1]): p for p in glob.glob(os.path.join(outdir, "lsan.*"))}
    for pid in set(files) | set(pids):
        res = empty_result()
        text = open(files[pid], errors="replace").read() if pid in files else ""
        if "LeakSanitizer has encountered a fatal error" in text or "LeakSanitizer: CHECK failed" in text:
            res["error"] = "LeakSanitizer fatal error"
        record, sizes = None, None
        supp_b = supp_n = 0
        in_supp = False

        def flush():
            if record is not None:
                add_group(res, record[0], record[1], record[2],
                          sizes if sizes and len(sizes) == record[2] else None)

        for line in text.splitlines():
            m = LSAN_RECORD.match(line)
            if m:
                flush()
                record, sizes = ("direct" if m.group(1) == "Direct" else "indirect", int(m.group(2)),
                                 int(m.group(3))), []
                continue
            m = LSAN_OBJECT.match(line)
            if m and sizes is not None:
                sizes.append(int(m.group(1)))
                continue
            if line.startswith("Suppressions used:"):
                in_supp = True
                continue
            if in_supp:
                m = LSAN_SUPP.match(line)
                if m:
                    supp_n += int(m.group(1))
                    supp_b += int(m.group(2))
        flush()
        m = re.search(r"SUMMARY: LeakSanitizer: (\d+) byte\(s\) leaked in (\d+) allocation\(s\)", text)
        if m and (int(m.group(1)), int(m.group(2))) != leaked(res["totals"]):
            res["notes"].append(f"SUMMARY says {m.group(1)} B in {m.group(2)} allocations")
        res["suppressed"] = (supp_b, supp_n)
        out["main" if pid == main_pid else "child"] = res
    return out


def run_one(ctx, scen_name, args, tool, rep):
    if tool == "memcheck" and not ctx["valgrind"] or tool == "lsan" and not ctx["lsan_lib"]:
        return None
    outdir = os.path.join(ctx["work"], f"{scen_name}-{'_'.join(a.replace('/', '') for a in args[:1] if not a.startswith('/'))}-{tool}-{rep}")
    os.makedirs(outdir, exist_ok=True)
    argv = [ctx["prog"], scen_name] + args
    cmd, env = command_for(tool, ctx, argv, outdir)
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(cmd, env=env, cwd=outdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        so, se = p.communicate(timeout=ctx["timeout"])
        rc, pid = p.returncode, p.pid
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
        return {"error": f"timeout after {ctx['timeout']} s", "procs": {}, "wall": ctx["timeout"],
                "stdout": so, "rc": None}
    wall = time.monotonic() - t0
    with open(os.path.join(outdir, "stderr.txt"), "w") as f:
        f.write(se)
    if tool in MEMTRACK_VARIANTS:
        procs = parse_memtrack(outdir, pid)
    elif tool == "memcheck":
        procs = parse_memcheck(outdir, pid)
    else:
        procs = parse_lsan(outdir, pid, [pid])
    err = None if rc == 0 else f"exit status {rc}"
    return {"error": err, "procs": procs, "wall": wall, "stdout": so, "rc": rc}


# Why a tool is wrong where it is, found by reading its full report (said only when it is wrong there).
DTV_NOTE = ("The block is glibc's dynamic thread vector (`calloc` in `allocate_dtv` from `pthread_create`), which "
            "the thread descriptor points at through `dtv + 1`: an interior pointer")
EXPLAIN = {
    ("memcheck", "thread_live"): DTV_NOTE + " (of the live thread), hence memcheck's \"possibly lost\"",
    ("memcheck", "many"): "memcheck found some word pointing into the middle of the 100 MiB block and calls it "
                          "\"possibly lost\" instead of definitely lost (the bigger a block, the likelier a stray "
                          "word points into it); it is not counted as a leak",
    ("memtrack-nostack", "thread_exit"): "The block is the exited thread's dynamic thread vector (`calloc` in "
                                         "`allocate_dtv` from `pthread_create`), which glibc keeps with the thread's "
                                         "cached stack for the next thread; memtrack does not take cached stacks of "
                                         "exited threads as roots, and with stacks on a built-in suppression "
                                         "matching this allocation stack counts it as suppressed",
    ("memtrack-nostack", "dlopen"): "The block is ld.so's `_dl_find_object` table (`_dlfo_mappings_segment_allocate`"
                                    "), reached through an interior pointer; suppressed by stack when stacks are on",
}
EXPLAIN[("memtrack-nostack", "dlopen_tls")] = EXPLAIN[("memtrack-nostack", "dlopen")]
EXPLAIN[("memtrack-nostack", "dlclose_leak")] = EXPLAIN[("memtrack-nostack", "dlopen")]


# ---------------------------------------------------------------------------------------------
# Judging and writing.
# ---------------------------------------------------------------------------------------------
def leaked(t):
    return t["direct_bytes"] + t["indirect_bytes"], t["direct_blocks"] + t["indirect_blocks"]


def fmt_bytes(n):
    return f"{n:,}"


def cell(b, n):
    return f"{fmt_bytes(b)} B / {n}"


def judge(scen, tool, res):
    """verdict dict: ok (leaked total exact), fp, fn (bytes, blocks), split_ok, possible."""
    model = "memcheck" if tool == "memcheck" else "lsan"
    truth = scen.truth.totals(model)
    tb, tn = leaked(truth)
    rb, rn = leaked(res["totals"])
    v = {"fp": (max(0, rb - tb), max(0, rn - tn)), "fn": (max(0, tb - rb), max(0, tn - rn))}
    v["total_ok"] = (rb, rn) == (tb, tn)
    v["split_ok"] = all(res["totals"][f"{k}_{u}"] == truth[f"{k}_{u}"]
                        for k in ("direct", "indirect") for u in ("bytes", "blocks"))
    v["possible"] = (res["totals"]["possible_bytes"], res["totals"]["possible_blocks"])
    # Per size: a block counted under the right total but the wrong size would cancel out above.
    want = scen.truth.by_size(model)
    got = res["by_size"]
    v["sizes_ok"] = bool(got.get("mixed")) or all(
        want.get(s, collections.Counter())["direct"] + want.get(s, collections.Counter())["indirect"]
        == got.get(s, collections.Counter())["direct"] + got.get(s, collections.Counter())["indirect"]
        for s in set(want) | set(got))
    return v


def verdict_text(v, res):
    if res.get("error"):
        return "error: " + res["error"]
    parts = []
    if v["total_ok"] and v["sizes_ok"]:
        parts.append("exact" if v["split_ok"] else "total exact, split differs")
    else:
        if v["fp"] != (0, 0):
            parts.append(f"**false positive** +{cell(*v['fp'])}")
        if v["fn"] != (0, 0):
            parts.append(f"**false negative** −{cell(*v['fn'])}")
        if not parts:
            parts.append("**wrong blocks** (right total, wrong sizes)")
    if v["possible"] != (0, 0):
        parts.append(f"+ possible {cell(*v['possible'])}")
    return "; ".join(parts)


def short_verdict(v, res):
    if res is None:
        return "n/a"
    if res.get("error"):
        return "error"
    if v["total_ok"] and v["sizes_ok"]:
        s = "✓" if v["split_ok"] else "✓ (split)"
    else:
        bits = []
        if v["fp"] != (0, 0):
            bits.append(f"FP +{cell(*v['fp'])}")
        if v["fn"] != (0, 0):
            bits.append(f"FN −{cell(*v['fn'])}")
        s = "✗ " + ", ".join(bits or ["wrong sizes"])
    if v["possible"] != (0, 0):
        s += f" (+possible {cell(*v['possible'])})"
    return s


def signature(res):
    if res is None:
        return None
    t = res["totals"]
    return (res.get("error"), tuple(sorted(t.items())),
            tuple(sorted((c["sizes"], c["count"]) for c in res["cycles"])) if res.get("cycles") is not None else None)


def cycles_cell(scen, tool, res):
    if res is None or res.get("error"):
        return "n/a"
    if tool not in MEMTRACK_VARIANTS:
        return "not named"
    got = collections.Counter()
    for c in res["cycles"] or []:
        got[tuple(sorted(c["sizes"]))] += c["count"]
    want = collections.Counter(sizes for sizes, _ in scen.truth.cycles)
    n = sum(got.values())
    if got == want:
        return f"{n} named, all right" if n else "none (right)"
    return f"{n} named, expected {sum(want.values())} (**wrong**)"


def describe_sizes(counter):
    parts = []
    for kind, label in (("direct", "direct"), ("indirect", "indirect"), ("possible", "possible")):
        if counter.get(kind):
            parts.append(f"{counter[kind]} {label}")
    return ", ".join(parts) or "not reported"


def tool_versions(ctx):
    v = {}
    v["memtrack"] = ctx.get("memtrack_version") or "?"
    try:
        v["commit"] = subprocess.check_output(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], text=True).strip()
        dirty = subprocess.check_output(["git", "-C", REPO, "status", "--porcelain", "--", "lib", "preload", "cmake",
                                         "CMakeLists.txt"], text=True)
        v["dirty"] = [line[3:] for line in dirty.splitlines() if line.strip()]  # "XY path"
    except (OSError, subprocess.CalledProcessError):
        v["commit"], v["dirty"] = "?", []
    try:
        v["valgrind"] = subprocess.check_output(["valgrind", "--version"], text=True).strip()
    except OSError:
        v["valgrind"] = None

    def dpkg(pkg):
        try:
            return subprocess.check_output(["dpkg-query", "-W", "-f=${Version}", pkg], text=True,
                                           stderr=subprocess.DEVNULL).strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"
    v["valgrind_pkg"] = dpkg("valgrind")
    v["lsan_pkg"] = dpkg("liblsan0")
    try:
        v["gcc"] = subprocess.check_output(["gcc", "-dumpfullversion"], text=True).strip()
    except OSError:
        v["gcc"] = "?"
    v["glibc"] = platform.libc_ver()[1] or "?"
    v["kernel"] = platform.release()
    return v



# ---- LeakSanitizer's interface (tests/programs/tp_lsan.cpp) -------------------------------------
# (scenario, extra environment, what LSan's documentation says the program should report)
LSAN_INTERFACE_SCENARIOS = [
    ("ignore", {}, "`__lsan_ignore_object` on the head of a 3-block chain; one other leak: 10,004 B / 1 at exit"),
    ("disable", {}, "`__lsan_disable`/`__lsan_enable` nested twice, a realloc and a thread inside, "
     "one disabled thread: 33,017 B / 3 at exit (11,004 + 11,006 + 11,007)"),
    ("root_region", {}, "the only pointer in a registered root region (a shared mapping): nothing"),
    ("root_region_removed", {}, "the same region unregistered again: 12,001 B / 1"),
    ("do_leak_check", {}, "`__lsan_do_leak_check` after a leak of 13,001 B, then a leak of 13,002 B: "
     "one check (13,001 B / 1), none at exit"),
    ("recoverable", {}, "`__lsan_do_recoverable_leak_check` before and twice after a leak of 14,001 B: "
     "returns 0, 1, 1; the exit check runs too"),
    ("leak", {"TP_LSAN_OFF": "1"}, "the program's `__lsan_is_turned_off` returns 1: no check"),
    ("suppressions", {"TP_LSAN_SUPPRESSIONS": "1"}, "the program's `__lsan_default_suppressions` "
     "names one of two leaks: 16,002 B / 1"),
    ("leak", {"TP_LSAN_OPTIONS": "exitcode=31"}, "the program's `__lsan_default_options` sets "
     "`exitcode=31`: 15,001 B / 1, exit status 31"),
]


def lsan_interface_rows(ctx, prog):
    """Runs each LSan-interface scenario once under memtrack and under LSan; the checks each
    reported, in order ("B / blocks" of direct + indirect leaks), stdout and the exit status."""
    rows = []
    for name, extra, meaning in LSAN_INTERFACE_SCENARIOS:
        got = {}
        for tool in ("memtrack", "lsan"):
            if tool == "lsan" and not ctx.get("lsan_lib"):
                got[tool] = "n/a (no liblsan.so)"
                continue
            outdir = tempfile.mkdtemp(dir=ctx["work"])
            env = base_env()
            env.update(extra)
            if tool == "memtrack":
                env["MEMTRACK_OUTPUT"] = os.path.join(outdir, "r.%p.json")
                env["LD_PRELOAD"] = ctx["memtrack_lib"]
            else:
                env["LD_PRELOAD"] = ctx["lsan_lib"]
                env["LSAN_OPTIONS"] = "log_path=" + os.path.join(outdir, "lsan")
            p = subprocess.run([prog, name], env=env, capture_output=True, text=True,
                               timeout=ctx["timeout"])
            checks = []
            if tool == "memtrack":
                reports = []
                for f in sorted(os.listdir(outdir)):
                    with open(os.path.join(outdir, f)) as fh:
                        reports.append(json.load(fh))
                reports.sort(key=lambda r: (r.get("reason") == "exit", r["process"]["wall_s"]))
                for r in reports:
                    label = "exit" if r.get("reason") == "exit" else "check"
                    if "leaks" not in r:
                        checks.append(f"{label}: no check")
                        continue
                    t = r["leaks"]["totals"]
                    checks.append(f"{label}: {fmt_bytes(t['direct_bytes'] + t['indirect_bytes'])} B / "
                                  f"{t['direct_blocks'] + t['indirect_blocks']}")
            else:
                for f in sorted(os.listdir(outdir)):
                    with open(os.path.join(outdir, f)) as fh:
                        for line in fh:
                            m = re.match(r"SUMMARY: LeakSanitizer: (\d+) byte\(s\) leaked in (\d+) allocation", line)
                            if m:
                                checks.append(f"{fmt_bytes(int(m.group(1)))} B / {m.group(2)}")
                if not checks:
                    checks.append("nothing reported")
            text = "; ".join(checks)
            if p.stdout.strip():
                text += f"; stdout `{p.stdout.strip()}`"
            if p.returncode != 0:
                text += f"; status {p.returncode}"
            got[tool] = text
        env_text = " ".join(f"{k}={v}" for k, v in extra.items())
        rows.append((f"`{name}`" + (f" ({env_text})" if env_text else ""), meaning, got["memtrack"], got["lsan"]))
    return rows

# ---- Interior pointers that are references, and real programs (issue 10) ---------------------
# (title, program under BUILD/bin/tests/programs or an absolute path, arguments, what a perfect
# tool reports: (leaked bytes, leaked blocks, possible bytes, possible blocks)). DOC is the
# malformed YAML document the script writes; the bash loop is bash 5.2's known `$(< file)` leak
# (the expanded file name, 14 bytes for /etc/hostname, lost on each pass); tp_reused is the
# pattern that hid one of those blocks when bash ran the loop from a script file.
YAML_DOC = "%TAG !e! tag:example.com,2000:app/\n%TAG !f! tag:f.com,2000:\n--- !e!foo\na: b\n  c: d: e\n"
BASH_LOOP = "for i in $(seq 100); do x=$(< /etc/hostname); done"
INTERIOR_CASES = [
    ("`tp_interior cookie`: `new T[5]` of a type with a destructor, and of an alignas(64) one, held past "
     "the element count", "tp_interior_O2", ["cookie"], (0, 0, 0, 0)),
    ("`tp_interior bases`: pointers to the second and third base of multiply inherited objects",
     "tp_interior_O2", ["bases"], (0, 0, 0, 0)),
    ("`tp_interior tagged`: blocks held as start \\| 1, \\| 3, \\| 7 (and a 1-byte block as start \\| 5)",
     "tp_interior_O2", ["tagged"], (0, 0, 0, 0)),
    ("`tp_interior setenv`: 100 `setenv` calls (glibc's tsearch tree of the strings)", "tp_interior_O2",
     ["setenv"], (0, 0, 0, 0)),
    ("`tp_interior old_string` (built with `_GLIBCXX_USE_CXX11_ABI=0`): a `new std::string(500, 'x')`",
     "tp_interior_cow_O2", ["old_string"], (0, 0, 0, 0)),
    ("`tp_interior possible`: three 1000 B buffers held only 100, 8 and 24 bytes in", "tp_interior_O2",
     ["possible"], (0, 0, 3000, 3)),
    ("`tp_yaml DOC`: libyaml's parser not deleted after a parse error (as run-parser-test-suite does)",
     "tp_yaml", ["DOC"], (68224 + 76, 16, 0, 0)),
    (f"`bash -c '{BASH_LOOP}'` (bash {{bash}})", "/bin/bash", ["-c", BASH_LOOP], (1400, 100, 0, 0)),
    ("`tp_reused keep`: 1000 leaked 9 B copies, one of which may get the address of a block freed "
     "earlier that main's frame still points at (bash's script name)", "tp_reused", ["keep"],
     (9000, 1000, 0, 0)),
    ("`tp_reused clear`: the same with main's stale pointer zeroed before exit", "tp_reused", ["clear"],
     (9000, 1000, 0, 0)),
]
# What the runs showed (written from the runs of 2026-12-02; the table above is regenerated).
INTERIOR_NOTES = [
    "What the table shows:",
    "",
    "- memcheck's `newarray` heuristic takes only a pointer 8 bytes in, so the over-aligned array (the count "
    "at +56, the elements at +64) stays possibly lost; memtrack follows the Itanium ABI's cookie of "
    "max(8, alignof(T)) bytes. Its `multipleinheritance` heuristic wants two code pointers in the secondary "
    "vtable, so a base with one virtual function (`Second`) stays possibly lost; memtrack checks the "
    "vtable's offset-to-top against the pointer's offset instead.",
    "- `tagged`: a 1-byte block held only as start | 5 (past its end): memcheck and LSan call it definitely "
    "lost, memtrack reachable (its rule takes start + 1..7 whatever the block's size; nothing else can lie "
    "there, the next block's header comes first). LSan takes the other tagged pointers as interior pointers, "
    "which it counts as references; memcheck reports them as possibly lost.",
    "- `setenv`: memcheck and LSan are clean for another reason than memtrack: valgrind runs glibc's "
    "`__libc_freeres` at exit, which frees setenv's tree, and LSan counts the tagged child pointers as "
    "interior pointers. Before the tagged rule memtrack reported 22 of the tree's nodes as possible (every "
    "ctest run showed some).",
    "- `possible`: LSan has no \"possible\" kind (any interior pointer is a reference), so it reports nothing; "
    "memtrack and memcheck report the three buffers as possibly lost, as they should.",
    "- `tp_yaml`: memtrack and memcheck agree (8 blocks definitely lost, among them the 256 B tag-directive "
    "stack, and the 8 tag strings indirectly). LSan misses 10 of the 16 blocks: its exit check scans the "
    "dead stack below `exit()`'s frame, where the words of main's parser that the exit path has not "
    "overwritten keep, among others, `tag_directives.top` (a pointer into the tag-directive stack): an "
    "interior pointer, which LSan counts. memtrack did the same before issue 14's fix of its exit scan "
    "(which now starts at `exit()`'s caller), and reported the stack and strings as *possible* (on "
    "run-parser-test-suite: 332 B in 9 blocks; found with gdb: the word lay at main's `parser` "
    "+ 0x1b8, 0x60 bytes below the stack pointer of the call to `exit`; the exit path's frames had "
    "overwritten the stack's `start` and `end` words next to it). That stale word is a dead stack slot, not "
    "a reference: the blocks are definitely lost, as memtrack now says.",
    "- The bash loop: as `bash -c`, all tools find the 100 blocks (the file name `redirection_expand` copies "
    "on each `$(< file)`, bash 5.2's leak). The 99 against 100 of issue 10 comes from running the loop from "
    "a script: `bash loop.sh` with `for i in $(seq 100); do x=$(< somefile); done` gave 99 blocks (891 B) "
    "under memtrack in 10 runs of 10, 100 (900 B) under memcheck and LSan. The 100th block is reachable, "
    "not miscounted: main's frame points at it. bash's main (`open_shell_script` inlined) copies the "
    "script's name (`loop.sh`, 8 bytes) with `xmalloc`, keeps the copy in rbx and at 0x38(%rsp), and frees "
    "it; mimalloc hands the address out again (for about two dozen short-lived strings, in a gdb run) "
    "until one of the leaked copies gets it (in one run allocation number 4923, from the middle of the "
    "loop). At exit main's slot and its rbx, which `exit_shell` saves at the stack pointer of its call to "
    "`exit` (where the scan starts), still hold that address: a word of a live frame, a root for every "
    "tool. memcheck's allocator holds freed blocks back (`--freelist-vol`, 20 MB), so the address never "
    "came back; under LSan main's word pointed at a live 16 B block that was no copy of the file name. "
    "Whether a copy lands there depends on the heap's history: one more environment variable (values of "
    "1 to 36 bytes) gave 100 under memtrack. `tp_reused` is the pattern in a small program (a freed "
    "pointer left in main's frame, then 1000 leaked copies of the same size class; memtrack's mimalloc "
    "gives the address back after about 130 of them, LSan's allocator at the first): memtrack and LSan "
    "miss the copy that got the address (memcheck too with "
    "`--freelist-vol=0`: 8,991 B in 999 blocks definitely lost, 9 B in 1 still reachable), and all "
    "find the 1000 when main's stale word is zeroed. No scan can tell that word from a reference.",
]
INTERIOR_TOOLS = ("memtrack", "memcheck", "memcheck-none", "lsan")
INTERIOR_TOOL_NAMES = {"memtrack": "memtrack", "memcheck": "memcheck (default heuristics)",
                       "memcheck-none": "memcheck `--leak-check-heuristics=none`", "lsan": "LSan"}


def interior_rows(ctx, build):
    """Runs each INTERIOR_CASES program once under each tool: (title, truth, cells) rows."""
    doc = os.path.join(ctx["work"], "bad.yaml")
    with open(doc, "w") as f:
        f.write(YAML_DOC)
    try:
        bash_version = subprocess.check_output(["bash", "-c", "echo $BASH_VERSION"], text=True).strip()
    except OSError:
        bash_version = "?"
    rows = []
    for title, prog, args, truth in INTERIOR_CASES:
        path = prog if os.path.isabs(prog) else os.path.join(build, "bin/tests/programs", prog)
        title = title.replace("{bash}", bash_version)
        if not os.path.exists(path):
            rows.append((title, truth, {t: "n/a (not built)" for t in INTERIOR_TOOLS}))
            continue
        argv = [path] + [doc if a == "DOC" else a for a in args]
        cells = {}
        for tool in INTERIOR_TOOLS:
            if tool.startswith("memcheck") and not ctx["valgrind"] or tool == "lsan" and not ctx["lsan_lib"]:
                cells[tool] = "n/a"
                continue
            outdir = tempfile.mkdtemp(dir=ctx["work"])
            cmd, env = command_for(tool.split("-")[0], ctx, argv, outdir)
            if tool == "memcheck-none":
                cmd = cmd[:1] + ["--leak-check-heuristics=none"] + cmd[1:]
            p = subprocess.Popen(cmd, env=env, cwd=outdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
            p.communicate(timeout=ctx["timeout"])
            if tool == "memtrack":
                procs = parse_memtrack(outdir, p.pid)
            elif tool.startswith("memcheck"):
                procs = parse_memcheck(outdir, p.pid)
            else:
                procs = parse_lsan(outdir, p.pid, [p.pid])
            res = procs.get("main")
            if res is None or res.get("error"):
                cells[tool] = "error: " + (res or {}).get("error", "no report")
                continue
            t = res["totals"]
            got = leaked(t) + (t["possible_bytes"], t["possible_blocks"])
            text = f"leaked {cell(got[0], got[1])}" + (f", possible {cell(got[2], got[3])}" if got[2:] != (0, 0)
                                                       else "")
            cells[tool] = ("✓ " if got == truth else "✗ ") + text
        rows.append((title, truth, cells))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"), help="cmake build directory")
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "accuracy.md"))
    ap.add_argument("--runs", type=int, default=3, help="runs per scenario and tool (results must agree)")
    ap.add_argument("--memtrack-runs", type=int, default=40, help="runs per scenario of memtrack (default settings)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (reports, logs)")
    ap.add_argument("--list-n", type=int, default=10)
    ap.add_argument("--tree-depth", type=int, default=5)
    ap.add_argument("--many-n", type=int, default=1000)
    ap.add_argument("--cycle-reps", type=int, default=2)
    ap.add_argument("--grow-n", type=int, default=1000)
    opts = ap.parse_args()
    started = time.monotonic()

    build = os.path.abspath(opts.build)
    ctx = {"prog": os.path.join(build, "bin/tests/programs/tp_leaks"),
           "lib": os.path.join(build, "bin/tests/programs/libtp_leaklib.so"),
           "memtrack_lib": os.path.join(build, "lib/libmemtrack.so"),
           "timeout": opts.timeout}
    for key in ("prog", "lib", "memtrack_lib"):
        if not os.path.exists(ctx[key]):
            sys.exit(f"compare.py: {ctx[key]} not found: build first (cmake --build {build})")
    ctx["valgrind"] = shutil.which("valgrind")
    try:
        lsan = subprocess.check_output(["gcc", "-print-file-name=liblsan.so"], text=True).strip()
        ctx["lsan_lib"] = lsan if os.path.isabs(lsan) and os.path.exists(lsan) else None
    except OSError:
        ctx["lsan_lib"] = None
    ctx["work"] = tempfile.mkdtemp(prefix="memtrack-accuracy.")

    scens = scenarios(ctx["lib"], opts.list_n, opts.tree_depth, opts.many_n, opts.cycle_reps, opts.grow_n)
    # One run per (program invocation, tool, repetition); fork's two rows share a run.
    invocations = []
    for s in scens:
        key = (s.name, tuple(s.args))
        if key not in invocations:
            invocations.append(key)
    def reps_of(tool):
        return max(opts.runs, opts.memtrack_runs) if tool == "memtrack" else opts.runs

    jobs = [(name, list(args), tool, rep) for rep in range(max(opts.runs, opts.memtrack_runs))
            for name, args in invocations for tool in TOOLS if rep < reps_of(tool)]
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as ex:
        futs = {ex.submit(run_one, ctx, *job): job for job in jobs}
        for f in concurrent.futures.as_completed(futs):
            name, args, tool, rep = futs[f]
            results[(name, tuple(args), tool, rep)] = f.result()
    wall = time.monotonic() - started

    def res_of(s, tool, rep=0):
        r = results.get((s.name, tuple(s.args), tool, rep))
        if r is None:
            return None
        p = r["procs"].get(s.process)
        if p is None:
            p = empty_result()
            p["error"] = r["error"] or f"no {s.process} report"
        elif r["error"] and not p.get("error"):
            p["error"] = r["error"]
        return p

    for tool in ("memtrack",):
        for r in results.values():
            for p in (r or {}).get("procs", {}).values():
                if p.get("version"):
                    ctx["memtrack_version"] = p["version"]
    versions = tool_versions(ctx)

    # Stability across runs.
    unstable = collections.defaultdict(list)
    variation = {}
    for s in scens:
        for tool in TOOLS:
            n = reps_of(tool)
            sigs = [signature(res_of(s, tool, rep)) for rep in range(n)]
            if len(set(sigs)) > 1:
                unstable[tool].append(s.title)
                outcomes = collections.Counter()
                for rep in range(n):
                    r = res_of(s, tool, rep)
                    outcomes[("error: " + r["error"]) if r.get("error") else
                             f"leaked {cell(*leaked(r['totals']))}, possible "
                             f"{cell(r['totals']['possible_bytes'], r['totals']['possible_blocks'])}"
                             + (f", {sum(c['count'] for c in r['cycles'])} cycles" if r.get("cycles") is not None
                                else "")] += 1
                variation[(s.title, tool)] = "; ".join(f"{k} in {v} of {n} runs" for k, v in outcomes.most_common())

    register_out = {tool: (results.get(("register", (), tool, 0)) or {}).get("stdout", "").strip() for tool in TOOLS}

    L = []
    w = L.append
    w("# Leak-check accuracy: memtrack, Valgrind memcheck, LeakSanitizer")
    w("")
    w("Generated by `python3 bench/accuracy/compare.py --build BUILD` (do not edit by hand). Every scenario of "
      "[tests/programs/tp_leaks.cpp](../tests/programs/tp_leaks.cpp) runs under each tool "
      f"{opts.runs} times (memtrack with its default settings {max(opts.runs, opts.memtrack_runs)} times: its runs "
      "are cheap); the tables show the first run, and the script checks that all runs agree.")
    w("")
    w(f"- Date {datetime.date.today().isoformat()}, commit `{versions['commit']}`"
      + (f" plus uncommitted changes in {', '.join('`' + d + '`' for d in versions['dirty'])} (the work tree was built as it was)"
         if versions["dirty"] else "") + f"; script wall time {wall:.0f} s ({len(jobs)} runs, {opts.jobs} at a time)")
    w(f"- memtrack {versions['memtrack']} (`{ctx['memtrack_lib']}` from a RelWithDebInfo build)")
    w(f"- Valgrind memcheck: {versions['valgrind'] or 'not installed'} (Debian package {versions['valgrind_pkg']})")
    w(f"- LeakSanitizer: gcc {versions['gcc']}'s `liblsan.so` (`{os.path.realpath(ctx['lsan_lib']) if ctx['lsan_lib'] else 'not installed'}`, "
      f"Debian liblsan0 {versions['lsan_pkg']}), preloaded into the uninstrumented program")
    w(f"- glibc {versions['glibc']}, Linux {versions['kernel']}, {platform.machine()}; the test program is built "
      "`-O1` as the integration tests build it")
    w("")

    # ---- Summary ----
    w("## Summary")
    w("")
    w("Leaked = direct + indirect (memcheck: definitely + indirectly lost), bytes / blocks, against the truth. "
      "✓ = the leaked total and the leaked blocks' sizes are exact and the direct/indirect split is the one the "
      "tool's own model gives (see [the truth](#the-truth)); ✓ (split) = total exact, split differs; "
      "FP = reported more than leaked (a false positive), FN = missed (a false negative). "
      "\"possible\" (memcheck's possibly lost, memtrack's possible: reached only through interior pointers) is "
      "shown separately: no block of these programs is reached only that way, so any possible report is noise, "
      "but none of the tools counts it as a leak by default (memcheck counts it as an error).")
    w("")
    w("| scenario | truth: leaked | " + " | ".join(TOOL_NAMES[t] for t in TOOLS) + " | cycles: truth | memtrack names |")
    w("|" + " --- |" * (len(TOOLS) + 4))
    score = {t: collections.Counter() for t in TOOLS}
    wrong = collections.defaultdict(list)
    for s in scens:
        tb, tn = leaked(s.truth.totals("lsan"))
        row = [f"`{s.title}`", "clean" if s.clean else cell(tb, tn)]
        for tool in TOOLS:
            runs = [r for r in (res_of(s, tool, rep) for rep in range(reps_of(tool))) if r is not None]
            if not runs:
                row.append("n/a")
                continue
            n = len(runs)
            judged = [(r, judge(s, tool, r)) for r in runs]
            shorts = collections.Counter(short_verdict(v, r) for r, v in judged)
            row.append(shorts.most_common(1)[0][0] if len(shorts) == 1 else
                       "; ".join(f"{k} in {c} of {n} runs" for k, c in shorts.most_common()))
            score[tool]["scenarios"] += 1
            if any(r.get("error") for r in runs):
                score[tool]["error"] += 1
            if all(not r.get("error") and v["total_ok"] and v["sizes_ok"] for r, v in judged):
                score[tool]["exact"] += 1
            if any(v["fp"] != (0, 0) for r, v in judged if not r.get("error")):
                score[tool]["fp"] += 1
                score[tool]["fp_clean" if s.clean else "fp_leaky"] += 1
            if any(v["fn"] != (0, 0) for r, v in judged if not r.get("error")):
                score[tool]["fn"] += 1
            if any(v["possible"] != (0, 0) for r, v in judged if not r.get("error")):
                score[tool]["possible"] += 1
            bad = [(r, v) for r, v in judged if r.get("error") or not (v["total_ok"] and v["sizes_ok"])
                   or v["possible"] != (0, 0) or not v["split_ok"]]
            if bad:
                texts = collections.Counter(verdict_text(v, r) for r, v in judged)
                text = texts.most_common(1)[0][0] if len(texts) == 1 else \
                    "; ".join(f"{k} in {c} of {n} runs" for k, c in texts.most_common())
                if (tool, s.name) in EXPLAIN:
                    text += ". " + EXPLAIN[(tool, s.name)]
                wrong[tool].append((s, text))
        ncyc = len(s.truth.cycles)
        row.append(str(ncyc) if ncyc else "–")
        row.append(cycles_cell(s, "memtrack", res_of(s, "memtrack")))
        w("| " + " | ".join(row) + " |")
    w("")
    w("Counts of scenarios (a scenario counts as exact only if every run was):")
    w("")
    w("| tool | scenarios | leaked total exact | with false positives (of them clean) | with false negatives | with possible-leak noise | with errors | results varied between runs |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for tool in TOOLS:
        c = score[tool]
        w(f"| {TOOL_NAMES[tool]} | {c['scenarios']} | {c['exact']} | {c['fp']} ({c['fp_clean']}) | {c['fn']} | "
          f"{c['possible']} | {c['error']} | {', '.join('`' + u + '`' for u in unstable[tool]) or 'none'} |")
    w("")

    if variation:
        w("Runs that did not agree (the tables show run 1):")
        w("")
        for (title, tool), text in variation.items():
            w(f"- `{title}` under {TOOL_NAMES[tool]}: {text}.")
        w("")

    # ---- Prose, from the results ----
    w("### What this shows")
    w("")
    for tool in TOOLS:
        items = wrong[tool]
        name = TOOL_NAMES[tool]
        if not score[tool]["scenarios"]:
            w(f"- **{name}**: not run (not installed).")
            continue
        if not items:
            w(f"- **{name}**: exact, with nothing else reported, in all {score[tool]['scenarios']} scenarios"
              + " and all runs.")
            continue
        w(f"- **{name}**: exact, with nothing else reported, in {score[tool]['scenarios'] - len(items)} of "
          f"{score[tool]['scenarios']} scenarios; the others:")
        for s, text in items:
            w(f"  - `{s.title}`: {text}.")
    w("")
    # memtrack's known errors, measured over its repeated runs.
    big = 100 << 20
    many = next((s for s in scens if s.name == "many"), None)
    if many is not None:
        n = reps_of("memtrack")
        missed = 0
        for rep in range(n):
            r = res_of(many, "memtrack", rep)
            if r is not None and not r.get("error") and sum(r["by_size"].get(big, {}).values()) == 0:
                missed += 1
        w("### memtrack's known error: big blocks that straddle a 2 GiB boundary")
        w("")
        if missed:
            w(f"In this run, memtrack's report of `{many.title}` lacked the 100 MiB block (neither leaked nor "
              f"possible: it was missing from the scan, `scan.blocks` one short of `heap.live_blocks_at_exit`) in "
              f"**{missed} of {n}** runs.")
        else:
            w(f"None of memtrack's {n} runs of `{many.title}` hit this error this time (it hits about one run in "
              "20 with a 100 MiB block), but it is real: in other runs of this script the 100 MiB block was "
              "missing from memtrack's scan (`scan.blocks` one short of `heap.live_blocks_at_exit`), so not "
              "reported.")
        w("The cause, found with separate reproducers: the scan decides what is heap with mimalloc's "
          "`mi_is_in_heap_region()`, and in mimalloc 2.0.9 that answers false for the part of a huge segment "
          "(a big block's own segment, 32 MiB-aligned) that lies beyond a 2 GiB-aligned address (one word of "
          "mimalloc's segment map; its downward search, `while (lomask != 0 && loindex > 0)`, never finds the "
          "segment start in an earlier word). When ASLR puts a big block across such a boundary, the sweep rejects its "
          "header (the block looks longer than its heap run), the big-block registry skips it because its header "
          "*is* in the heap, and the block drops out of the scan: a leaked big block is not reported (a false "
          "negative), the part past the boundary is scanned as a root, and a *reachable* big block's first part "
          "is not scanned at all, so blocks it alone points at are reported as leaks (a false positive: a global "
          "holding a 100 MiB array whose element 0 points at a 4321 B block gave a 4321 B direct leak in 15 of "
          "300 runs, exactly those where the array crossed the boundary). The odds per run are about "
          "(segment size − 32 MiB) / 2 GiB: about 5% for 100 MiB, over half the runs for 1 GiB. memcheck and LSan "
          "do not have this error.")
        w("")
    # The stack-less variant loses the built-in suppressions, which match allocation stacks.
    supp_scens = [s for s in scens if (res_of(s, "memtrack") or {}).get("suppressed") not in (None, (0, 0))]
    nostack_bad = [s for s, _ in wrong["memtrack-nostack"] if s in supp_scens]
    if nostack_bad:
        w("Why memtrack with stacks off differs from memtrack: its built-in suppressions (glibc's thread TLS "
          "blocks, ld.so's `_dl_find_object` tables) are matched against allocation stacks; with "
          "`MEMTRACK_STACK_DEPTH=0` no stack is recorded, nothing can match, and those runtime blocks are reported "
          "as the program's leaks (or possible leaks) in " + ", ".join(f"`{s.title}`" for s in nostack_bad) +
          ". The README says the leak check keeps working with stacks off; its accuracy does not.")
        w("")
    w("How the tools differ by design, whatever the numbers above:")
    w("")
    w("- **Cycles.** Only memtrack names reference cycles (`cycles[]` in its JSON: members in cycle order, "
      "`pure` when nothing outside points at the cycle, equal shapes folded with a `count`). memcheck and LSan "
      "have no notion of a cycle; a leaked cycle shows up only through how they classify its blocks: LSan "
      "(and memtrack's own totals, which follow LSan's model) counts every block of a pure cycle of 2 or more "
      "as an *indirect* leak with no direct leak pointing at it, so a program whose only leak is a cycle gets a "
      "report with indirect leaks only; memcheck makes one block of each pure cycle *definitely lost* (the "
      "leader of its \"clique\") and the others *indirectly lost*. Neither says the blocks form a cycle: see "
      "[Cycles](#cycles).")
    w("- **Reachable blocks.** memcheck lists still-reachable blocks (with `--show-leak-kinds=all`); the "
      "\"reachable at exit\" column shows them. memtrack does not list them but its report gives the live "
      "blocks at exit, from which the column subtracts the leaks. LSan does not report them. The program's own "
      "runtime blocks (libstdc++'s emergency exception pool, 73 KiB) are reachable and counted by no tool as a leak; "
      "memcheck does not see it at all because Valgrind frees it at exit (`__gnu_cxx::__freeres`).")
    w("- **Forked children.** All three check a forked child that exits on its own; the child's truth includes "
      "the block the parent leaked before the fork (it is in the child's heap, unreachable).")
    if register_out.get("memtrack"):
        w(f"- **`register`**: memtrack's mid-run `memtrack_collect(2)` printed `{register_out['memtrack']}` "
          "(0 = the block held only in a callee-saved register was not taken for garbage). memcheck and LSan "
          "have no such in-program collection here (the program finds no `memtrack_collect` and prints "
          f"`{register_out.get('memcheck') or register_out.get('lsan')}`); for them the row is only the exit check.")
    w("")

    w("Not run: `stress`, `scanperf` and `collect`, which exercise memtrack's in-program `memtrack_collect()` "
      "(`stress` exits with status 5 when it is missing, i.e. under the other tools) and add no exit-time leak "
      "case the table does not have.")
    w("")

    # ---- Truth ----
    w("## The truth")
    w("")
    w("The script does not trust any tool for the expected numbers: it rebuilds, in Python, the graph of leaked "
      "blocks each scenario creates (block sizes and which block points at which), transcribed from "
      "`tp_leaks.cpp`, and derives the expected report from it in each tool's model:")
    w("")
    w("- **LSan model** (LeakSanitizer, and memtrack, which documents the same one): a leaked block is *direct* "
      "when no other leaked block points at it (a pointer to itself does not count), otherwise *indirect*. "
      "This is the \"truth\" column.")
    w("- **memcheck model**: memcheck walks unreached blocks in address order; each one not yet claimed starts a "
      "clique and stays *definitely lost*, everything reachable from it becomes *indirectly lost* (a later "
      "clique can take over an earlier leader). The result: one definitely-lost block per source component of "
      "the leaked graph (a block or a cycle no other leaked block points at), the rest indirectly lost. "
      "memcheck is judged against this model; the leaked totals are the same in both models.")
    w("- `make_shared<SharedNode>` allocates one block of "
      f"{SHARED_NODE_BLOCK} B (16 B control block + 136 B SharedNode) on x86-64 with libstdc++.")
    w("")

    # ---- Per-scenario tables ----
    w("## Per scenario")
    w("")
    w("Bytes / blocks. \"reachable at exit\": memcheck's still-reachable; for memtrack the live blocks at exit "
      "minus the leaks (both include the C++ runtime's own blocks); LSan does not report it. "
      "\"suppressed\": memtrack's suppressed leaks (built-in: glibc's thread TLS blocks), memcheck's used "
      "suppressions (its default suppression file), LSan's used suppressions (its built-in ones).")
    w("")
    for s in scens:
        w(f"### `{s.title}`")
        w("")
        w(f"{s.note}. Command argument: `tp_leaks {s.name}{''.join(' ' + ('LIB' if a.startswith('/') else a) for a in s.args)}`"
          + (f" ({s.process} process's report)" if s.name == "fork" else "") + ".")
        w("")
        w("| | direct / definitely | indirect | possible | leaked total | reachable at exit | suppressed | verdict |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- |")
        tl = s.truth.totals("lsan")
        tm = s.truth.totals("memcheck")
        w(f"| truth (LSan model) | {cell(tl['direct_bytes'], tl['direct_blocks'])} | "
          f"{cell(tl['indirect_bytes'], tl['indirect_blocks'])} | 0 B / 0 | {cell(*leaked(tl))} | | | |")
        if tm != tl:
            w(f"| truth (memcheck model) | {cell(tm['direct_bytes'], tm['direct_blocks'])} | "
              f"{cell(tm['indirect_bytes'], tm['indirect_blocks'])} | 0 B / 0 | {cell(*leaked(tm))} | | | |")
        for tool in TOOLS:
            res = res_of(s, tool)
            if res is None:
                w(f"| {TOOL_NAMES[tool]} | n/a | | | | | | not installed |")
                continue
            t = res["totals"]
            v = judge(s, tool, res)
            reach = cell(*res["reachable"]) if res.get("reachable") is not None else "–"
            sup = res.get("suppressed")
            if isinstance(sup, list):
                sup = ", ".join(f"{n}× {name}" for n, name in sup) or "none"
            elif isinstance(sup, tuple):
                sup = cell(*sup) if sup != (0, 0) else "none"
            else:
                sup = "–"
            extra = (" (" + "; ".join(res["notes"]) + ")") if res.get("notes") else ""
            w(f"| {TOOL_NAMES[tool]} | {cell(t['direct_bytes'], t['direct_blocks'])} | "
              f"{cell(t['indirect_bytes'], t['indirect_blocks'])} | {cell(t['possible_bytes'], t['possible_blocks'])} | "
              f"{cell(*leaked(t))} | {reach} | {sup} | {verdict_text(v, res)}{extra} |")
        w("")
        for tool in TOOLS:
            if (s.title, tool) in variation:
                w(f"Not every run agreed under {TOOL_NAMES[tool]}: {variation[(s.title, tool)]}.")
                w("")
        if not s.clean and len(s.truth.by_size("lsan")) > 1:
            w("By block size (blocks):")
            w("")
            main_tools = ("memtrack", "memcheck", "lsan")
            w("| size | truth (LSan model) | truth (memcheck model) | memtrack | memcheck | LSan |")
            w("| --- | --- | --- | --- | --- | --- |")
            bl, bm = s.truth.by_size("lsan"), s.truth.by_size("memcheck")
            sizes = set(bl)
            for tool in main_tools:
                res = res_of(s, tool)
                if res is not None:
                    sizes |= set(k for k in res["by_size"] if sum(res["by_size"][k].values()))
            for size in sorted(sizes, key=lambda x: (isinstance(x, str), x)):
                row = [f"{size:,} B" if isinstance(size, int) else size, describe_sizes(bl.get(size, {})),
                       describe_sizes(bm.get(size, {}))]
                for tool in main_tools:
                    res = res_of(s, tool)
                    row.append("n/a" if res is None else describe_sizes(res["by_size"].get(size, {})))
                w("| " + " | ".join(row) + " |")
            w("")

    # ---- Cycles ----
    w("## Cycles")
    w("")
    for s in scens:
        if not s.truth.cycles:
            continue
        w(f"### `{s.title}`")
        w("")
        w("| cycle (member sizes) | pure | memtrack `cycles[]` | memcheck shows | LSan shows |")
        w("| --- | --- | --- | --- | --- |")
        mt = res_of(s, "memtrack")
        mt_cycles = collections.Counter()
        mt_pure = {}
        for c in (mt or {}).get("cycles") or []:
            key = tuple(sorted(c["sizes"]))
            mt_cycles[key] += c["count"]
            mt_pure[key] = c["pure"]
        want = collections.Counter(sizes for sizes, _ in s.truth.cycles)
        pure_of = {sizes: pure for sizes, pure in s.truth.cycles}
        for sizes in sorted(want, key=lambda x: (len(x), x)):
            label = " + ".join(f"{n} × {sz:,} B" for sz, n in sorted(collections.Counter(sizes).items()))
            if want[sizes] > 1:
                label = f"{want[sizes]} rings of {label}"
            got = mt_cycles.get(sizes, 0)
            mtxt = f"named ({got}×, pure={str(mt_pure.get(sizes)).lower()})" if got == want[sizes] else \
                f"**{got} of {want[sizes]} named**"
            if mt is None or mt.get("error"):
                mtxt = "n/a"
            row = [label, "yes" if pure_of[sizes] else "no (a tail points in)", mtxt]
            size = sizes[0]
            for tool in ("memcheck", "lsan"):
                res = res_of(s, tool)
                if res is None or res.get("error"):
                    row.append("n/a")
                    continue
                c = res["by_size"].get(size, {})
                row.append(describe_sizes(c) + f" ({size:,} B blocks; no cycle named)")
            w("| " + " | ".join(row) + " |")
        extra = [k for k in mt_cycles if k not in want]
        if extra:
            w("")
            w("memtrack named cycles that do not exist: " + ", ".join(str(list(k)) for k in extra) + ".")
        w("")
        if s.name == "shared_cycle" and mt and mt.get("cycles"):
            types = sorted(set(c["type"] for c in mt["cycles"] if c.get("type")))
            if types:
                w(f"memtrack also names the type of the cycle's members: {', '.join('`' + t + '`' for t in types)}.")
                w("")

    # ---- Interior pointers and real programs ----
    w("## Interior pointers that are references, and two real programs")
    w("")
    w("memtrack counts a pointer into the middle of a live block as a reference, not a \"possible\" leak, in the "
      "layouts [lib/src/leaks/scan_rules.hpp](../lib/src/leaks/scan_rules.hpp) lists (after memcheck's heuristics, "
      "on by default since valgrind 3.11): tagged pointers (the start with low bits set), `new T[n]` array cookies, "
      "pointers to non-first base classes, libstdc++'s old-ABI strings. LSan counts every interior pointer as a "
      "reference. Each program of [tests/programs/tp_interior.cpp](../tests/programs/tp_interior.cpp) (built "
      "`-O2`; the integration tests also run it at `-O0`), [tests/programs/tp_yaml.c](../tests/programs/tp_yaml.c) "
      "and a bash loop ran once under each tool; ✓ = leaked (direct + indirect) and possible both as the truth "
      "column says.")
    w("")
    w("| program | truth | " + " | ".join(INTERIOR_TOOL_NAMES[t] for t in INTERIOR_TOOLS) + " |")
    w("|" + " --- |" * (len(INTERIOR_TOOLS) + 2))
    for title, truth, cells in interior_rows(ctx, build):
        t = f"leaked {cell(truth[0], truth[1])}" + (f", possible {cell(truth[2], truth[3])}" if truth[2:] != (0, 0)
                                                   else "")
        w(f"| {title} | {t} | " + " | ".join(cells[tool] for tool in INTERIOR_TOOLS) + " |")
    w("")
    for line in INTERIOR_NOTES:
        w(line)
    w("")

    # ---- LeakSanitizer's interface ----
    w("## LeakSanitizer's interface")
    w("")
    w("Supported: libmemtrack.so exports `__lsan_ignore_object`, `__lsan_disable`, `__lsan_enable`, "
      "`__lsan_register_root_region`, `__lsan_unregister_root_region`, `__lsan_do_leak_check` and "
      "`__lsan_do_recoverable_leak_check` with LSan's meaning, and honours a program's own "
      "`__lsan_is_turned_off`, `__lsan_default_suppressions` and `__lsan_default_options` (README.md, "
      "\"Checks on demand\"). Each scenario of [tests/programs/tp_lsan.cpp](../tests/programs/tp_lsan.cpp) "
      "(built without sanitizers, calling the interface through weak declarations) ran once under memtrack and "
      "under LSan (`liblsan.so` preloaded, `LSAN_OPTIONS=log_path=...`); the cells list the checks each "
      "reported, in order, as leaked bytes / blocks (direct + indirect).")
    w("")
    lsan_prog = os.path.join(build, "bin/tests/programs/tp_lsan")
    if os.path.exists(lsan_prog):
        w("| scenario | what the program should get | memtrack | LSan |")
        w("| --- | --- | --- | --- |")
        for row in lsan_interface_rows(ctx, lsan_prog):
            w("| " + " | ".join(row) + " |")
        w("")
    else:
        w(f"(`{lsan_prog}` was not built: no table.)")
        w("")
    w("What differs from LSan:")
    w("")
    w("- LSan preloaded into a program built without `-fsanitize=leak` does not see the program's own "
      "`__lsan_is_turned_off`, `__lsan_default_suppressions` or `__lsan_default_options` (they are not "
      "exported, so its weak references stay null): the rows above where LSan ignores them. memtrack finds "
      "them in the executable's symbol table (when it is not stripped) as well as by `dlsym`.")
    w("- LSan ends the process (status `exitcode`, 23 by default) when `__lsan_do_leak_check` finds leaks; "
      "memtrack reports and lets the program go on; the exit report shows that check's leaks and the run gates "
      "(`MEMTRACK_ERROR_EXITCODE`, or `exitcode` from `__lsan_default_options`) decide the status at exit.")
    w("- An unmatched `__lsan_enable` or an unknown region given to `__lsan_unregister_root_region` ends the "
      "program under LSan; memtrack prints one line and carries on.")
    w("- `__lsan_ignore_object` takes the pointer the allocator returned; LSan also accepts a pointer into "
      "the block. Ignored blocks (and what only they reach) are not reported by either tool; memtrack counts "
      "them (`ignored_bytes`, `ignored_blocks`). A block reached both from an ignored block and, through an "
      "interior pointer only, from a root is ignored, not \"possible\".")
    w("- Of `__lsan_default_options`, memtrack reads `detect_leaks`, `leak_check_at_exit`, `exitcode` and "
      "`suppressions`; a `MEMTRACK_*` variable set in the environment wins. Every other option is ignored "
      "without a message.")
    w("- Each memtrack check writes the report MEMTRACK_REPORT asks for (summary on stderr, a JSON file); LSan "
      "prints its leak report to stderr.")
    w("")

    # ---- Commands ----
    w("## Commands")
    w("")
    w("Each run has its own directory `D`; `PROG` is `BUILD/bin/tests/programs/tp_leaks`, `LIB` "
      "`BUILD/bin/tests/programs/libtp_leaklib.so`. The environment is the caller's minus any `LD_PRELOAD`, "
      "`MEMTRACK_*`, `LSAN_*`, `ASAN_*`, `VALGRIND_*`, with `LC_ALL=C`.")
    w("")
    w("```sh")
    w("# memtrack: JSON report per process, leaks.totals.{direct,indirect,possible,suppressed}_{bytes,blocks}, cycles[]")
    w("MEMTRACK_OUTPUT=D/r.%p.json LD_PRELOAD=BUILD/lib/libmemtrack.so PROG SCENARIO [ARG]")
    w("# memcheck: XML per process; definitely lost = the direct part of each Leak_DefinitelyLost record")
    w("valgrind --leak-check=full --show-leak-kinds=all --xml=yes --xml-file=D/vg.%p.xml PROG SCENARIO [ARG]")
    w("# LSan: log per process (D/lsan.PID), \"Direct/Indirect leak of N byte(s) in M object(s)\" records")
    w("LD_PRELOAD=$(gcc -print-file-name=liblsan.so) LSAN_OPTIONS=report_objects=1:exitcode=0:log_path=D/lsan PROG SCENARIO [ARG]")
    w("```")
    w("")
    w(f"Scenario sizes: `list {opts.list_n}`, `tree {opts.tree_depth}`, `many {opts.many_n}`, "
      f"`cycles {opts.cycle_reps}`, `grow {opts.grow_n}` (script options `--list-n`, `--tree-depth`, "
      "`--many-n`, `--cycle-reps`, `--grow-n`; `--runs`, `--jobs`; `--keep` keeps every report and log).")
    w("")

    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    # peak_heaptrack.py's section (issue 10) is generated separately: keep it.
    kept = ""
    if os.path.exists(opts.out):
        old = open(opts.out).read()
        begin = old.find("<!-- BEGIN peak_heaptrack.py")
        end_mark = "<!-- END peak_heaptrack.py -->"
        if begin >= 0 and old.find(end_mark, begin) >= 0:
            kept = "\n" + old[begin:old.index(end_mark, begin) + len(end_mark)] + "\n"
    with open(opts.out, "w") as f:
        f.write("\n".join(L) + kept)
    # Console summary.
    print(f"wrote {opts.out} in {time.monotonic() - started:.0f} s")
    for tool in TOOLS:
        c = score[tool]
        print(f"  {TOOL_NAMES[tool]:9} exact {c['exact']}/{c['scenarios']}, false positives {c['fp']}, "
              f"false negatives {c['fn']}, possible noise {c['possible']}, errors {c['error']}"
              + (f", varied: {', '.join(unstable[tool])}" if unstable[tool] else ""))
        for s, text in wrong[tool]:
            print(f"    {s.title}: {text}")
    for (title, tool), text in variation.items():
        print(f"  varied: {title} under {TOOL_NAMES[tool]}: {text}")
    if opts.keep:
        print(f"  runs kept in {ctx['work']}")
    else:
        shutil.rmtree(ctx["work"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
