"""The benchmark's configurations (table columns): what each runs a workload under, and the probe
that proves it is active before it is timed. A configuration that is missing or does not take
effect keeps its column, and every cell of it says why (the table never drops a column).

Two groups: `allocators` (glibc, the preloaded allocators and memtrack's two modes) and
`profilers` (heap profilers and leak checkers, memtrack's peers). Configurations marked
`reduced` are too slow for the full workload sizes: they run each workload at its reduced size
(suite.Workload.reduced_argv) and their ratio is against "glibc (reduced)", glibc timed at that
same size in the same run.
"""
import dataclasses
import os
import re
import shutil
import subprocess

LIBDIR = "/usr/lib/x86_64-linux-gnu"

# memtrack in stats-only mode: no allocation stacks, no leak check, no report at exit (the
# sampler thread still runs). Shared with bench/gate.py, which measures this mode.
STATS_ONLY_ENV = {"MEMTRACK_STACK_DEPTH": "0", "MEMTRACK_LEAK_CHECK": "0", "MEMTRACK_REPORT": "none"}


@dataclasses.dataclass
class Config:
    name: str
    group: str                       # "allocators" or "profilers"
    description: str                 # for docs/benchmarks.md
    preload: str | None = None       # LD_PRELOAD library
    wrapper: tuple = ()              # argv prefix; "{dir}" is the run's scratch directory
    env: dict = dataclasses.field(default_factory=dict)  # timed environment; "{dir}" as above
    reduced: bool = False            # runs the workloads at their reduced sizes
    reduced_on: tuple = ()           # ... or only these workloads
    probe: object = None             # probe(Runner, Config) -> None when active, else a reason
    package: str = ""                # Debian package that provides it (for "not installed")
    fatal: bool = False              # a failure stops the benchmark (memtrack, the baselines)
    follows_children: bool = True    # measures child processes too (g++ runs cc1plus, as)
    in_scaling: bool = False         # part of the thread-scaling table
    instructions: bool = False       # part of the instructions-per-pair table

    def is_reduced(self, workload):
        return self.reduced or workload in self.reduced_on

    def argv(self, argv, scratch):
        return [a.replace("{dir}", scratch) for a in self.wrapper] + list(argv)

    def timed_env(self, scratch):
        return {k: v.replace("{dir}", scratch) for k, v in self.env.items()}

    def missing(self):
        """Why this configuration cannot run here, or None."""
        pkg = f"; Debian package {self.package}" if self.package else ""
        if self.preload and not os.path.exists(self.preload):
            return f"not installed ({self.preload}{pkg})"
        if self.wrapper and shutil.which(self.wrapper[0]) is None:
            return f"not installed ({self.wrapper[0]}{pkg})"
        return None


# Probes. Each runs a tiny program under the configuration (through Runner.probe, which gives
# the stderr text and the files the run left in its scratch directory, name -> text) and looks
# for the tool's own evidence that it was active.

def expect_stderr(marker, with_env=None, program="churn"):
    def probe(runner, cfg):
        rc, err, _ = runner.probe(cfg, program, with_env or {})
        if rc != 0 or marker not in err:
            return f"not active (expected '{marker}' on stderr; {last_line(err)})"
        return None
    return probe


def last_line(text):
    """The stderr line that best says why a run failed: a crash or compiler error if there is
    one, else the last line."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    for l in lines:
        if re.search(r"internal compiler error|Segmentation fault|Killed|Aborted|timed out", l):
            return f"stderr: {l[:160]!r}"
    return f"stderr ends: {lines[-1][:160]!r}" if lines else "stderr empty"


def probe_memtrack_stats(runner, cfg):
    rc, err, _ = runner.probe(cfg, "churn", {"MEMTRACK_REPORT": "text"})
    if rc != 0 or "memtrack:   heap    peak" not in err:
        return f"not active (no memtrack summary; {last_line(err)})"
    runner.note_config_lines(cfg, err)
    return None


def probe_memtrack_full(runner, cfg):
    """Defaults must write the summary and a JSON report; the leak check is reported when the
    library has it (its summary then has a `leaks` line counting the probe's 10007 bytes)."""
    rc, err, files = runner.probe(cfg, "leak", {})
    if rc != 0 or "memtrack:   heap    peak" not in err or not any(f.endswith(".json") for f in files):
        return f"not active (no summary or no JSON report; {last_line(err)})"
    runner.note_config_lines(cfg, err)
    if re.search(r"memtrack:   leaks .* direct in [1-9]", err):
        runner.note(f"{cfg.name}: leak check active (its summary reports the probe's 10007-byte "
                    f"leak)")
    elif "memtrack:   leaks" in err:
        runner.note(f"{cfg.name}: the leak check ran but did not report the probe's 10007-byte "
                    f"leak ({[l for l in err.splitlines() if 'leaks' in l][0].strip()})")
    else:
        runner.note(f"{cfg.name}: this build of memtrack prints no leak check yet (no `leaks` "
                    f"line in its summary): the column measures stats, report and sampler")
    return None


def probe_leak_found(marker, name):
    """A leak checker is active when it reports the probe's 10007-byte leak."""
    def probe(runner, cfg):
        rc, err, _ = runner.probe(cfg, "leak", {})
        if marker.search(err):
            return None
        return f"not intercepting ({name} did not report the probe's 10007-byte leak; {last_line(err)})"
    return probe


def probe_lsan(runner, cfg):
    # The timed runs set exitcode=0 (a leaking workload must not fail); the probe uses lsan's
    # default, so its exit code 23 confirms the report as well.
    rc, err, _ = runner.probe(cfg, "leak", {"LSAN_OPTIONS": ""})
    if "ERROR: LeakSanitizer: detected memory leaks" in err and "10007 byte(s)" in err:
        return None
    return f"not intercepting (no LeakSanitizer report of the probe's 10007-byte leak; {last_line(err)})"


def probe_jemalloc_prof(need_leak_report):
    def probe(runner, cfg):
        rc, err, files = runner.probe(cfg, "leak", {})
        if "Invalid conf pair" in err or "prof" in err and "not supported" in err:
            return "jemalloc built without profiling (MALLOC_CONF prof:true rejected)"
        if not any(re.match(r"jeprof\..*\.heap$", f) for f in files):
            return f"not active (no jeprof.*.heap profile written at exit; {last_line(err)})"
        if need_leak_report and "Leak approximation summary" not in err:
            return "not active (prof_leak printed no leak summary for the probe's leak)"
        return None
    return probe


def probe_gperftools(runner, cfg):
    rc, err, files = runner.probe(cfg, "leak", {})
    if not any(re.match(r"gperf\.\d+\.heap$", f) for f in files):
        return f"not active (HEAPPROFILE wrote no gperf.NNNN.heap profile; {last_line(err)})"
    return None


def probe_massif(runner, cfg):
    rc, err, files = runner.probe(cfg, "leak", {})
    for name, text in files.items():
        sizes = [int(x) for x in re.findall(r"mem_heap_B=(\d+)", text)]
        if name.startswith("massif.") and sizes and max(sizes) >= 10007:
            return None
    return f"not active (no massif snapshot with the probe's 10007-byte block; {last_line(err)})"


def lsan_library():
    try:
        path = subprocess.check_output(["gcc", "-print-file-name=liblsan.so"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "gcc -print-file-name=liblsan.so"  # reported as not installed
    return os.path.realpath(path) if os.path.isabs(path) else "liblsan.so (gcc does not know it)"


VALGRIND = ("valgrind", "--trace-children=yes")


def configurations(build, extra=()):
    """Every configuration, in column order. `extra`: --preload NAME=/path/lib.so specs."""
    memtrack = os.path.join(build, "lib", "libmemtrack.so")
    jemalloc = f"{LIBDIR}/libjemalloc.so.2"
    jeprof = "prof:true,prof_leak:true,prof_final:true,prof_prefix:{dir}/jeprof"
    configs = [
        Config("glibc", "allocators", "nothing preloaded", fatal=True, in_scaling=True,
               instructions=True),
        Config("mimalloc", "allocators", "`LD_PRELOAD` of Debian's libmimalloc.so.2",
               preload=f"{LIBDIR}/libmimalloc.so.2", package="libmimalloc2.0", fatal=True,
               probe=expect_stderr("heap stats", {"MIMALLOC_SHOW_STATS": "1"}),
               in_scaling=True, instructions=True),
        Config("jemalloc", "allocators", "`LD_PRELOAD` of Debian's libjemalloc.so.2",
               preload=jemalloc, package="libjemalloc2",
               probe=expect_stderr("jemalloc statistics", {"MALLOC_CONF": "stats_print:true"}),
               in_scaling=True, instructions=True),
        Config("tcmalloc", "allocators",
               "`LD_PRELOAD` of Debian's libtcmalloc_minimal.so.4 (gperftools' allocator without "
               "the profilers)", preload=f"{LIBDIR}/libtcmalloc_minimal.so.4",
               package="libtcmalloc-minimal4",
               probe=expect_stderr("Bytes in use by application", {"MALLOCSTATS": "1"}),
               in_scaling=True, instructions=True),
        Config("memtrack", "allocators",
               "stats only: `LD_PRELOAD=build/lib/libmemtrack.so` with "
               + " ".join(f"`{k}={v}`" for k, v in STATS_ONLY_ENV.items())
               + " (exact counters, peak and the sampler thread; no stacks, leak check or report)",
               preload=memtrack, env=dict(STATS_ONLY_ENV), probe=probe_memtrack_stats,
               fatal=True, in_scaling=True, instructions=True),
        Config("memtrack full", "allocators",
               "memtrack with all its defaults: allocation stacks, leak check at exit, stderr "
               "summary and JSON report (written into a scratch directory)",
               preload=memtrack, probe=probe_memtrack_full, fatal=True, in_scaling=True,
               instructions=True),
        Config("heaptrack", "profilers",
               "`heaptrack -o FILE command`: records every allocation with its stack to a "
               "compressed file (deleted after each run) and prints its summary",
               wrapper=("heaptrack", "-o", "{dir}/heaptrack"), package="heaptrack",
               probe=probe_leak_found(re.compile(r"leaked allocations:\s+[1-9]"), "heaptrack"),
               follows_children=False),
        Config("lsan", "profilers",
               "`LD_PRELOAD` of gcc's standalone LeakSanitizer runtime (`gcc -print-file-name="
               "liblsan.so`) with `LSAN_OPTIONS=exitcode=0`: its allocator records a stack per "
               "allocation and scans for leaks at exit. `realloc` runs at its reduced size (lsan "
               "copies on every realloc and maps each large block: 30× glibc, 100 s a run)",
               preload=lsan_library(), env={"LSAN_OPTIONS": "exitcode=0"}, package="liblsan0",
               probe=probe_lsan, reduced_on=("realloc",)),
        Config("jemalloc prof", "profilers",
               "jemalloc's heap profiler, default sampling (one sample per 512 KiB allocated on "
               "average): `MALLOC_CONF=" + jeprof.replace("{dir}", "DIR") + "`; `prof_final` "
               "is needed for `prof_leak` to report at exit",
               preload=jemalloc, env={"MALLOC_CONF": jeprof}, package="libjemalloc2",
               probe=probe_jemalloc_prof(False)),
        Config("glibc (reduced)", "profilers",
               "glibc (nothing preloaded) at the reduced sizes: the baseline of the reduced "
               "columns", reduced=True, fatal=True),
        Config("jemalloc prof every alloc", "profilers",
               "as jemalloc prof, with `lg_prof_sample:0`: every allocation sampled with its stack",
               preload=jemalloc, env={"MALLOC_CONF": jeprof + ",lg_prof_sample:0"},
               package="libjemalloc2", reduced=True, probe=probe_jemalloc_prof(True)),
        Config("gperftools heap", "profilers",
               "gperftools' heap profiler: `LD_PRELOAD` of libtcmalloc.so.4 with "
               "`HEAPPROFILE=DIR/gperf` (every allocation with its stack; a profile dump per GiB "
               "allocated and at exit)",
               preload=f"{LIBDIR}/libtcmalloc.so.4", env={"HEAPPROFILE": "{dir}/gperf"},
               package="libgoogle-perftools4", reduced=True, probe=probe_gperftools),
        Config("memcheck", "profilers",
               "`valgrind --trace-children=yes --tool=memcheck --leak-check=full`",
               wrapper=VALGRIND + ("--tool=memcheck", "--leak-check=full"), package="valgrind",
               reduced=True,
               probe=probe_leak_found(re.compile(r"10,007 bytes in 1 blocks are definitely lost"),
                                      "memcheck")),
        Config("massif", "profilers",
               "`valgrind --trace-children=yes --tool=massif --massif-out-file=DIR/massif.%p`",
               wrapper=VALGRIND + ("--tool=massif", "--massif-out-file={dir}/massif.%p"),
               package="valgrind", reduced=True, probe=probe_massif),
    ]
    taken = {c.name for c in configs}
    for spec in extra:
        # NAME=/path/lib.so[,stats-only]: another library (an older libmemtrack.so, to compare
        # side by side in one run), with its defaults or in memtrack's stats-only mode.
        name, sep, path = spec.partition("=")
        stats_only = path.endswith(",stats-only")
        if stats_only:
            path = path[: -len(",stats-only")]
        if not sep or not name or not path or name in taken:
            raise SystemExit(f"bench: --preload {spec!r}: expected NAME=/path/lib.so[,stats-only] "
                             f"with a new NAME (taken: {', '.join(sorted(taken))})")
        taken.add(name)
        env = dict(STATS_ONLY_ENV) if stats_only else {}
        mode = " with " + " ".join(f"`{k}={v}`" for k, v in env.items()) if env else ""
        configs.append(Config(name, "allocators", f"`LD_PRELOAD={path}`{mode} (--preload)",
                              preload=os.path.abspath(path), env=env,
                              in_scaling=True, instructions=True))
    return configs
