#!/usr/bin/env python3
"""The exports of `memtrack report --format=...` and `memtrack diff`, read back by their real
readers: collapsed stacks by the parse flamegraph.pl, inferno and speedscope use (split on the last
space), massif by valgrind's ms_print, pprof by `go tool pprof`, speedscope's JSON by its
format's rules. Reports come from real runs of process_data and tp_leaks at small sizes.

Usage: test_exports.py CASE MEMTRACK PROCESS_DATA TP_LEAKS
A missing reader (ms_print, go) fails the test: `make test` installs them."""
import copy
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CASE, MEMTRACK, PROCESS_DATA, TP_LEAKS = sys.argv[1:5]
SIZE = 4 << 20  # process_data --size 4MiB: each buffer is one 4 MiB block
TMP = tempfile.mkdtemp(prefix="mt-export-")
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAILED:", what)


def run(args, env=None, binary=False):
    e = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("MEMTRACK_")}
    e.update(env or {})
    p = subprocess.run(args, env=e, capture_output=True, timeout=120)
    if binary:
        return p.returncode, p.stdout, p.stderr.decode(errors="replace")
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def record(name, command, options=()):
    """Runs command under the launcher (with launcher options); returns the report's path."""
    path = os.path.join(TMP, name + ".json")
    rc, out, err = run([MEMTRACK, "--report=json", "--output=" + path, *options, "--"] + command)
    if not os.path.exists(path):
        print(out, err)
        sys.exit(f"no report from {command}")
    return path


def variant(name):
    return record(name, [PROCESS_DATA, "--size", "4MiB", "--variant", name])


def load(path):
    with open(path) as f:
        return json.load(f)


def save(doc, name):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def export(report, fmt, *extra, binary=False):
    return run([MEMTRACK, "report", report, "--format=" + fmt] + list(extra), binary=binary)


def totals(r):
    h = r["heap"]
    t = r.get("leaks", {}).get("totals", {})
    return {"peak": h["peak_attributed_bytes"], "exit": h["live_bytes_at_exit"],
            "alloc-bytes": h["bytes_allocated"], "alloc-count": h["allocations"],
            "leaked": t.get("direct_bytes", 0) + t.get("indirect_bytes", 0)}


def hostile_report(path):
    """The report with ';', '#', a newline, '</script>' and a trailing ' 12' in every function name."""
    r = load(path)
    for frames in r["stacks"].values():
        for f in frames:
            if f["function"]:
                f["function"] = f["function"] + ";x#1\n</script> 12"
    return save(r, "hostile.json")


# ---- collapsed --------------------------------------------------------------------------------

LINE = re.compile(r"^[^;\n]+(;[^;\n]+)* [0-9]+$")
SPEEDSCOPE_LINE = re.compile(r"^(.*) (\d+)$")  # speedscope src/import/bg-flamegraph.ts


def parse_collapsed(text):
    """As flamegraph.pl and inferno read folded stacks: the value after the last space."""
    out = []
    for line in text.splitlines():
        check(LINE.match(line) is not None, f"collapsed line shape: {line!r}")
        m = SPEEDSCOPE_LINE.match(line)
        check(m is not None, f"speedscope reads {line!r}")
        stack, _, value = line.rpartition(" ")
        frames = stack.split(";")
        check(all(f != "" for f in frames), f"no empty frame in {line!r}")
        check(not stack.endswith(";"), f"no trailing ';' in {line!r}")
        check(not re.search(r"\s\d+$", stack), f"no frame ending in blanks and digits: {line!r}")
        out.append((stack, int(value)))
    return out


def case_collapsed():
    kl = variant("keep-local")
    r = load(kl)
    for metric, total in totals(r).items():
        if metric == "leaked":
            continue
        rc, out, err = export(kl, "collapsed", "--metric=" + metric)
        check(rc == 0 and err == "", f"collapsed {metric}: rc {rc}, stderr {err!r}")
        lines = parse_collapsed(out)
        check(all(v > 0 for _, v in lines), f"{metric}: no zero lines")
        stacks = [s for s, _ in lines]
        check(stacks == sorted(stacks) and len(set(stacks)) == len(stacks),
              f"{metric}: sorted, one line per stack")
        check(sum(v for _, v in lines) == total,
              f"{metric}: sum {sum(v for _, v in lines)} == the report's {total}")
        if metric == "peak":
            held = [v for s, v in lines if s.split(";")[-1] != "" and "modify2" in s]
            check(held == [SIZE], f"peak: modify2's block is one line of {SIZE}: {held}")
            check(all(s.startswith("_start;") or s.startswith("[") for s in stacks),
                  "root first (_start), or the one frame of a stack not recorded")
    # Leaks: tp_leaks list leaks a direct head and indirect nodes.
    lk = record("leaks", [TP_LEAKS, "list", "5"])
    lr = load(lk)
    rc, out, err = export(lk, "collapsed", "--metric=leaked")
    lines = parse_collapsed(out)
    check(rc == 0 and lines, f"leaked: rc {rc}, {len(lines)} lines, {err!r}")
    check(sum(v for _, v in lines) == totals(lr)["leaked"] > 0,
          f"leaked: sum {sum(v for _, v in lines)} == direct + indirect {totals(lr)['leaked']}")
    # Names that would break the format are replaced, and the sum is still the total.
    rc, out, err = export(hostile_report(kl), "collapsed", "--metric=peak")
    lines = parse_collapsed(out)
    check(rc == 0 and sum(v for _, v in lines) == totals(r)["peak"], "hostile names: sum kept")
    check(all(len(s.split(";")) > 3 for s, _ in lines if not s.startswith("[")),
          "hostile names: ';' inside a name did not make frames")
    # Usage errors.
    rc, out, err = export(kl, "collapsed", "--metric=nope")
    check(rc == 2 and err.count("\n") == 1 and "peak|exit|leaked|alloc-bytes|alloc-count" in err,
          f"bad metric: rc {rc} {err!r}")
    rc, out, err = export(kl, "massif", "--metric=exit")
    check(rc == 2 and err.count("\n") == 1, f"--metric with massif: rc {rc} {err!r}")
    rc, out, err = export(kl, "nope")
    check(rc == 2 and err.count("\n") == 1, f"bad format: rc {rc} {err!r}")
    # The launcher's option, not `env VAR=... prog`: env's exec report would take the name.
    stats = record("stats-only", [PROCESS_DATA, "--size", "1MiB", "--variant", "in-place"],
                   ["--stack-depth=0"])
    rc, out, err = export(stats, "collapsed")
    check(rc == 2 and "stats-only" in err and err.count("\n") == 1, f"stats-only: rc {rc} {err!r}")


# ---- massif -----------------------------------------------------------------------------------

def parse_massif(text):
    lines = text.split("\n")
    check(lines[0].startswith("desc: ") and lines[1].startswith("cmd: ") and
          lines[2] == "time_unit: ms", f"massif header first: {lines[:3]}")
    snaps = []
    i = 3
    node = re.compile(r"^( *)n(\d+): (\d+) (.*)$")
    while i < len(lines) and lines[i]:
        check(lines[i] == "#-----------" and lines[i + 2] == "#-----------", f"separator at {i}")
        fields = dict(l.split("=", 1) for l in lines[i + 1:i + 2] + lines[i + 3:i + 8])
        i += 8
        tree = []
        while i < len(lines) and node.match(lines[i]):
            m = node.match(lines[i])
            tree.append((len(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)))
            i += 1
        snaps.append((fields, tree))
    for l in lines[3:]:
        check("#" not in l or l == "#-----------", f"no '#' but the separators: {l!r}")
    return snaps


def check_tree(tree, total):
    """Children add up to their parent, sorted largest first, indented one deeper."""
    check(tree and tree[0][0] == 0 and tree[0][2] == total and
          tree[0][3].startswith("(heap allocation functions)"), f"root {tree[:1]} total {total}")

    def walk(i):
        depth, n, size, label = tree[i]
        j = i + 1
        sizes, frames = [], []
        for _ in range(n):
            check(tree[j][0] == depth + 1, f"child depth at {tree[j]}")
            sizes.append(tree[j][2])
            if "massif's threshold" not in tree[j][3] and "stacks end here" not in tree[j][3]:
                frames.append(tree[j][2])
            j = walk(j)
        if n:
            check(sum(sizes) == size, f"children of {label[:60]!r} add up: {sizes} != {size}")
            check(frames == sorted(frames, reverse=True), f"children largest first: {frames}")
        return j

    check(walk(0) == len(tree), "one tree")


def case_massif():
    kl = variant("keep-local")
    r = load(kl)
    path = os.path.join(TMP, "massif.out")
    rc, out, err = export(kl, "massif", "-o", path)
    check(rc == 0 and err == "", f"massif: rc {rc} {err!r}")
    text = open(path).read()
    snaps = parse_massif(text)
    check(2 <= len(snaps) <= 100, f"{len(snaps)} snapshots")
    kinds = [s["heap_tree"] for s, _ in snaps]
    check(kinds.count("peak") == 1 and kinds[-1] == "detailed", f"snapshot kinds {kinds}")
    peak = [(s, t) for s, t in snaps if s["heap_tree"] == "peak"][0]
    check(int(peak[0]["mem_heap_B"]) == r["heap"]["peak_attributed_bytes"] >= 3 * SIZE,
          "peak snapshot = the sites' peak, three buffers")
    check(int(peak[0]["time"]) == round(r["heap"]["peak_time_s"] * 1000), "at the peak's time")
    check_tree(peak[1], r["heap"]["peak_attributed_bytes"])
    check_tree(snaps[-1][1], r["heap"]["live_bytes_at_exit"])
    check(max(int(s["mem_heap_B"]) for s, _ in snaps) == int(peak[0]["mem_heap_B"]),
          "no snapshot above the peak")
    times = [int(s["time"]) for s, _ in snaps]
    check(times == sorted(times), f"times in order {times}")
    # The real reader.
    ms_print = shutil.which("ms_print")
    check(ms_print is not None, "ms_print is installed (valgrind; make test installs it)")
    if ms_print:
        rc, out, err = run([ms_print, path])
        check(rc == 0, f"ms_print exits 0: {err}")
        check("Command:" in out and "--variant keep-local" in out, "ms_print shows the command")
        check("(peak)" in out, "ms_print finds the peak snapshot")
        check(re.search(r"\(\d{1,3}(,\d{3})*B\) 0x[0-9A-F]+: \(anonymous namespace\)::modify2", out)
              is not None, "ms_print shows modify2 in the peak tree")
        rc, out, err = run([ms_print, "--threshold=0", path])
        check(rc == 0, f"ms_print --threshold=0: {err}")
        # Hostile names: ms_print still reads it ('#' would start a comment).
        hostile = os.path.join(TMP, "hostile.massif")
        rc, _, err = export(hostile_report(kl), "massif", "-o", hostile)
        check(rc == 0, f"hostile massif: {err}")
        parse_massif(open(hostile).read())
        rc, out, err = run([ms_print, hostile])
        check(rc == 0 and "x_1" in out, f"ms_print reads the hostile names: {err}")


# ---- speedscope -------------------------------------------------------------------------------

def case_speedscope():
    kl = variant("keep-local")
    r = load(kl)
    rc, out, err = export(kl, "speedscope")
    check(rc == 0 and err == "", f"speedscope: rc {rc} {err!r}")
    d = json.loads(out)
    check(d["$schema"] == "https://www.speedscope.app/file-format-schema.json", "$schema")
    check(d["exporter"].startswith("memtrack@"), "exporter")
    frames = d["shared"]["frames"]
    check(all(isinstance(f["name"], str) and f["name"] for f in frames), "frame names")
    names = {p["name"]: p for p in d["profiles"]}
    want = {"Live at peak": "peak", "Live at exit": "exit", "Bytes allocated": "alloc-bytes",
            "Allocations": "alloc-count"}
    t = totals(r)
    for name, metric in want.items():
        check(name in names, f"profile {name}")
        if name not in names:
            continue
        p = names[name]
        check(p["type"] == "sampled" and p["startValue"] == 0, f"{name}: sampled from 0")
        check(p["unit"] == ("none" if metric == "alloc-count" else "bytes"), f"{name}: unit")
        check(len(p["samples"]) == len(p["weights"]), f"{name}: as many weights as samples")
        check(all(isinstance(w, int) and w > 0 for w in p["weights"]), f"{name}: weights > 0")
        check(all(0 <= i < len(frames) for s in p["samples"] for i in s), f"{name}: indices")
        check(p["endValue"] == sum(p["weights"]) == t[metric],
              f"{name}: endValue {p['endValue']} = sum = {t[metric]}")
    peak = names["Live at peak"]
    roots = {frames[s[0]]["name"] for s in peak["samples"]}
    check("_start" in roots, f"root first: {roots}")
    leaves = [frames[s[-1]]["name"] for s in peak["samples"]]
    check(any("__new_allocator" in l for l in leaves), "leaf is the allocating frame")
    check(all("Leaked" not in n for n in names), "no leak profile without leaks")
    lk = record("leaks", [TP_LEAKS, "list", "5"])
    d = json.loads(export(lk, "speedscope")[1])
    leaked = [p for p in d["profiles"] if p["name"].startswith("Leaked")]
    check(len(leaked) == 1 and leaked[0]["endValue"] == totals(load(lk))["leaked"],
          "leak profile = direct + indirect")
    # Two stacks with the same functions on different lines (a collapsed line each, merged) keep
    # both weights: the sum is still the total.
    twins = load(kl)
    ids = [str(x["stack"]) for x in twins["sites"] if x["peak_bytes"] == SIZE][:2]
    first, second = twins["stacks"][ids[0]], twins["stacks"][ids[1]]
    twins["stacks"][ids[1]] = [dict(f, line=f["line"] + 1) for f in first[:len(second)]]
    d = json.loads(export(save(twins, "twins.json"), "speedscope")[1])
    p = [p for p in d["profiles"] if p["name"] == "Live at peak"][0]
    check(p["endValue"] == sum(p["weights"]) == t["peak"], "speedscope: same names, both kept")
    rc, out, err = export(hostile_report(kl), "speedscope")
    check(rc == 0 and any(f["name"].endswith(";x#1\n</script> 12")
                          for f in json.loads(out)["shared"]["frames"]),
          "hostile names are data, kept as they are")


# ---- pprof ------------------------------------------------------------------------------------

def case_pprof():
    kl = variant("keep-local")
    r = load(kl)
    path = os.path.join(TMP, "heap.pb.gz")
    rc, _, err = export(kl, "pprof", "-o", path, binary=True)
    check(rc == 0 and err == "", f"pprof: rc {rc} {err!r}")
    raw = open(path, "rb").read()
    check(raw[:2] == b"\x1f\x8b", "gzipped")
    check(len(gzip.decompress(raw)) > 0, "gunzips")
    go = shutil.which("go")
    check(go is not None, "go is installed (golang-go; make test installs it)")
    if not go:
        return
    env = {"HOME": TMP, "GOCACHE": os.path.join(TMP, "gocache"), "GOFLAGS": "-mod=mod",
           "PPROF_TMPDIR": TMP, "GOTOOLCHAIN": "local"}
    rc, out, err = run([go, "tool", "pprof", "-top", path], env=env)
    check(rc == 0, f"go tool pprof -top: {err}")
    check("Type: inuse_space" in out, "inuse_space is the default sample type")
    check(re.search(r"modify2", out) is not None, "pprof lists modify2")
    # Exact values: -raw prints every sample's values.
    rc, out, err = run([go, "tool", "pprof", "-raw", path], env=env)
    check(rc == 0, f"go tool pprof -raw: {err}")
    check("alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes" in out,
          "the four heap sample types")
    sums = [0, 0, 0, 0]
    in_samples = False
    for line in out.splitlines():
        if line.startswith("Samples:"):
            in_samples = True
            continue
        if line.startswith("Locations"):
            break
        m = re.match(r"^\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+):", line)
        if in_samples and m:
            sums = [a + int(b) for a, b in zip(sums, m.groups())]
    h = r["heap"]
    peak_blocks = sum(s["peak_blocks"] for s in r["sites"])
    check(sums == [h["allocations"], h["bytes_allocated"], peak_blocks, h["peak_attributed_bytes"]],
          f"pprof sums {sums} = allocations, bytes allocated, blocks and bytes at the peak")
    for idx in ("alloc_space", "inuse_objects"):
        rc, out, err = run([go, "tool", "pprof", "-top", "-sample_index=" + idx, path], env=env)
        check(rc == 0 and f"Type: {idx}" in out, f"-sample_index={idx}")


# ---- diff -------------------------------------------------------------------------------------

def diff(*args):
    return run([MEMTRACK, "diff"] + list(args))


def case_diff():
    kl, ra = variant("keep-local"), variant("reassign")
    a, b = load(kl), load(ra)
    # Text: the keep-local site of modify2 that held the third buffer at the peak is gone.
    rc, out, err = diff(kl, ra)
    check(rc == 0, f"diff exits 0 without gates: {rc} {err}")
    check(re.search(r"heap peak .* -4\.00 MiB", out) is not None, f"peak delta in text:\n{out}")
    check(re.search(r"gone +peak +-4\.00 MiB .*modify2\(\) process_data\.cpp:\d+ <- keep_local\(\)",
                    out) is not None, "the gone modify2 site in the text")
    check(re.search(r"peak +4\.00 MiB -> 0 B .*modify2\(\)", out) is not None,
          "by function: modify2's peak share went away")
    # JSON.
    rc, out, err = diff(kl, ra, "--json")
    d = json.loads(out)
    check(d["format"] == "memtrack-diff" and d["version"] == 1 and d["result"] == "pass", "header")
    check(d["metrics"]["heap.peak_bytes"]["delta"] ==
          b["heap"]["peak_bytes"] - a["heap"]["peak_bytes"] == -SIZE, "metrics peak delta")
    gone = [s for s in d["sites"] if s["status"] == "gone" and
            any("modify2" in f["function"] for f in s["frames"]) and
            any("keep_local" in f["function"] for f in s["frames"])]
    check(len(gone) == 1 and gone[0]["delta"]["peak_bytes"] == -SIZE and
          gone[0]["b"]["peak_bytes"] == 0, f"gone modify2 site in JSON: {gone}")
    new = [s for s in d["sites"] if s["status"] == "new"]
    check(len(new) == 3 and all(any("reassign" in f["function"] for f in s["frames"]) for s in new),
          "reassign's three sites are new")
    check(sum(s["delta"]["peak_bytes"] for s in d["sites"]) ==
          b["heap"]["peak_attributed_bytes"] - a["heap"]["peak_attributed_bytes"],
          "site deltas add up to the attributed peak's")
    # Gates: the other way round the peak grew by half.
    rc, out, err = diff(ra, kl, "--max-peak-increase=5%")
    check(rc == 1 and "gate --max-peak-increase=5%: FAILED" in out, f"peak gate fails: {rc}\n{out}")
    rc, out, err = diff(ra, kl, "--max-peak-increase=5%,1GiB")
    check(rc == 0 and ": pass" in out, f"relative exceeded, floor not: passes ({rc})")
    rc, out, err = diff(ra, kl, "--max-peak-increase=1GiB")
    check(rc == 0, f"absolute only, not exceeded: {rc}")
    rc, out, err = diff(ra, kl, "--max-peak-increase=60%,1MiB")
    check(rc == 0, f"floor exceeded, relative not: passes ({rc})")
    rc, out, err = diff(ra, kl, "--max-peak-increase=5%,1MiB", "--json")
    d = json.loads(out)
    check(rc == 1 and d["result"] == "fail" and d["gates"][0]["pass"] is False, "JSON gate fail")
    rc, out, err = diff(kl, ra, "--max-peak-increase=0", "--max-exit-increase=0",
                        "--max-leak-increase=0")
    check(rc == 0, f"a smaller peak passes every gate: {rc} {out}")
    rc, out, err = diff(kl, ra, "--max-peak-increase=5%%")
    check(rc == 2 and err.count("\n") == 1, f"bad limit: {rc} {err!r}")
    # --collapsed: difffolded's two columns; each column adds up to its report's peak.
    rc, out, err = diff(kl, ra, "--collapsed")
    rows = [l.rsplit(" ", 2) for l in out.splitlines()]
    check(rc == 0 and all(len(x) == 3 for x in rows), "three fields per line")
    check(sum(int(x[1]) for x in rows) == a["heap"]["peak_attributed_bytes"] and
          sum(int(x[2]) for x in rows) == b["heap"]["peak_attributed_bytes"], "columns add up")
    # Refusals and --force.
    other = record("other", [TP_LEAKS, "none"])
    rc, out, err = diff(kl, other)
    check(rc == 2 and "programs differ" in err and "--force" in err, f"programs: {rc} {err!r}")
    rc, out, err = diff(kl, other, "--force")
    check(rc == 0 and "warning: programs differ" in err, f"--force: {rc} {err!r}")
    old = load(ra)
    old["version"] = 1
    rc, out, err = diff(kl, save(old, "v1.json"))
    check(rc == 2 and "versions differ" in err, f"versions: {rc} {err!r}")
    cfg = load(ra)
    cfg["config"]["stack_depth"] = 8
    rc, out, err = diff(kl, save(cfg, "depth.json"))
    check(rc == 0 and "warning: stack depths differ" in err, f"config warning: {err!r}")
    # --match: a rebuild that shifts every line matches by function, not by line.
    shifted = load(kl)
    for frames in shifted["stacks"].values():
        for f in frames:
            f["line"] += 3
            f["pc"] = hex(int(f["pc"], 16) + 0x1000)
    sh = save(shifted, "shifted.json")
    d = json.loads(diff(kl, sh, "--json")[1])
    check(d["sites"] == [], f"function match: no changes after a shift: {d['sites'][:1]}")
    d = json.loads(diff(kl, sh, "--json", "--match=line")[1])
    check(len([s for s in d["sites"] if s["status"] == "new"]) >= 4, "line match: all new")
    # Leak groups: new and fixed; --fail-on-new-leaks.
    none, lst = record("none", [TP_LEAKS, "none"]), record("list", [TP_LEAKS, "list", "5"])
    rc, out, err = diff(none, lst, "--fail-on-new-leaks")
    check(rc == 1 and re.search(r"leak groups: [1-9]\d* new", out) and "fail-on-new-leaks: FAILED"
          in out, f"new leaks fail: {rc}\n{out}")
    rc, out, err = diff(lst, none, "--fail-on-new-leaks", "--json")
    d = json.loads(out)
    check(rc == 0 and d["leaks"] and all(l["status"] == "fixed" for l in d["leaks"]),
          f"fixed leaks: {rc} {d['leaks'][:1]}")
    rc, out, err = diff(none, lst, "--max-leak-increase=1MiB")
    check(rc == 0, f"leak increase under the floor: {rc}")
    rc, out, err = diff(none, lst, "--max-leak-increase=0")
    check(rc == 1, f"any leak increase fails: {rc}")


# ---- malformed input --------------------------------------------------------------------------

def case_malformed():
    kl = variant("keep-local")
    text = open(kl).read()
    bad = {"missing": os.path.join(TMP, "nope.json"), "dir": TMP}
    for name, content in [("empty", ""), ("not_json", "hello\n"), ("array", "[1,2]"),
                          ("truncated", text[: len(text) // 2]), ("foreign", '{"format": "x"}'),
                          ("future", text.replace('"version": 2', '"version": 99', 1))]:
        bad[name] = os.path.join(TMP, name + ".json")
        with open(bad[name], "w") as f:
            f.write(content)
    # Fields of the wrong type everywhere: the readers take them as missing, never crash.
    r = load(kl)
    mangled = copy.deepcopy(r)
    mangled["sites"] = [{"stack": "x", "peak_bytes": "big"}, 7, None] + r["sites"]
    mangled["stacks"] = {"2": "no", "x": [], "3": [1, {"pc": 5, "function": 7}]}
    mangled["timeline"] = [[0], "x", [1, 2, 3], [0.5, -4]]
    mangled["heap"] = {"peak_bytes": "many"}
    mangled["leaks"] = {"direct": [{"stack": -1, "bytes": -5}], "totals": []}
    good_enough = save(mangled, "mangled.json")
    # A stack far deeper than memtrack records: the massif tree writer must not run out of stack.
    deep = copy.deepcopy(r)
    first = deep["stacks"][str(deep["sites"][0]["stack"])]
    deep["stacks"][str(deep["sites"][0]["stack"])] = [dict(first[0], function=f"f{i}")
                                                      for i in range(60000)]
    deep_path = save(deep, "deep.json")
    for fmt in ("collapsed", "massif", "speedscope", "pprof"):
        rc, out, err = export(deep_path, fmt, binary=True)
        check(rc == 0, f"{fmt} of a 60,000-frame stack: rc {rc} {err!r}")
    for fmt in ("collapsed", "massif", "speedscope", "pprof"):
        for name, path in bad.items():
            rc, out, err = export(path, fmt, binary=True)
            check(rc == 2 and err.count("\n") == 1 and err.startswith("memtrack: "),
                  f"{fmt} of {name}: rc {rc}, one line: {err!r}")
        rc, out, err = export(good_enough, fmt, binary=True)
        check(rc in (0, 2) and (rc == 0 or err.count("\n") == 1), f"{fmt} of mangled: {rc} {err!r}")
    for name, path in bad.items():
        for args in ([path, kl], [kl, path]):
            rc, out, err = diff(*args)
            check(rc == 2 and err.count("\n") == 1, f"diff with {name}: rc {rc} {err!r}")
    rc, out, err = diff(kl, good_enough, "--json")
    check(rc in (0, 2), f"diff with mangled: {rc} {err!r}")
    rc, out, err = diff(kl)
    check(rc == 2 and err.count("\n") == 1, f"diff with one file: {rc} {err!r}")
    rc, out, err = diff(kl, kl, "--json", "--collapsed")
    check(rc == 2 and err.count("\n") == 1, f"two outputs: {rc} {err!r}")


CASES = {"collapsed": case_collapsed, "massif": case_massif, "speedscope": case_speedscope,
         "pprof": case_pprof, "diff": case_diff, "malformed": case_malformed}

try:
    CASES[CASE]()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
if FAILURES:
    sys.exit(f"{len(FAILURES)} checks failed")
print(f"{CASE}: all checks passed")
