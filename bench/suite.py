"""The benchmark's workloads: each at its normal size (divided by 4 in quick mode) and at a reduced
size for the configurations too slow to run it whole (Valgrind, unsampled heap profilers); and
the thread-scaling runs of `xthread`. Inputs are generated with fixed seeds."""
import dataclasses
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

# Work divisor of the reduced size (on top of quick mode's 4), measured so that a reduced run
# under memcheck or gperftools' heap profiler takes a few seconds at most; `manylive` and `sort`
# are cheaper per unit of work and use REDUCE_CHEAP so glibc's reduced time is not all start-up.
REDUCE = 40
REDUCE_CHEAP = 10
SCALING_THREADS = (1, 2, 4, 8, 16)


@dataclasses.dataclass
class Workload:
    name: str
    argv: list
    description: str
    reduced_argv: list
    reduced_label: str               # shown in every reduced cell, e.g. "÷40"
    reduced_description: str
    env: dict = dataclasses.field(default_factory=dict)
    spawns_children: bool = False    # the measured work happens in child processes


def make_sort_input(directory, megabytes):
    """Deterministic lines of words (fixed seed), about `megabytes` MB."""
    rng = random.Random(1)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(3, 12)))
             for _ in range(5000)]
    path = os.path.join(directory, f"sort-input-{megabytes}MB.txt")
    target = int(megabytes * 1_000_000)
    with open(path, "w") as f:
        written = 0
        while written < target:
            line = " ".join(rng.choice(words) for _ in range(8)) + "\n"
            f.write(line)
            written += len(line)
    return path


def workloads(build, quick, data_dir):
    b = os.path.join(build, "bin", "bench")
    q = 4 if quick else 1  # quick mode divides the work

    def synthetic(name, program, count, unit, describe, before=(), after=(), reduce=REDUCE):
        """A built workload program whose argument `count` is its amount of work."""
        small = max(1, count // reduce)
        return Workload(name, [f"{b}/{program}", *before, str(count), *after], describe(count),
                        [f"{b}/{program}", *before, str(small), *after], f"÷{count // small}",
                        f"{small:,} {unit}")

    churn, xs = 20_000_000 // q, 8_000_000 // q
    sort_mb = 10 if quick else 50
    sort_full = make_sort_input(data_dir, sort_mb)
    sort_small = make_sort_input(data_dir, sort_mb / REDUCE_CHEAP)
    rounds = 30 // q
    gxx = ["g++", "-std=c++20", "-O1", "-c"]
    # Quick mode compiles small_tu.cpp instead of heavy_tu.cpp (2-5 s a run under every column
    # would take most of its 3 minutes); the reduced columns compile tiny_tu.cpp.
    tu = "small_tu.cpp" if quick else "heavy_tu.cpp"
    tu_what = "map, string, vector" if quick else "regex, iostream, ranges, maps, templates"
    pyalloc = os.path.join(HERE, "workloads", "pyalloc.py")
    return [
        synthetic("churn", "churn", churn, "steps",
                  lambda n: f"1 thread, ring of 10,000 blocks of 8..1024 B, {n:,} free+malloc steps"),
        synthetic("churn-cold", "churn", churn, "steps",
                  lambda n: f"as churn ({n:,} steps), but each block is freed without being read "
                            "first (its header is cold)", after=["cold"]),
        synthetic("deep", "deep", 2_000_000 // q, "steps",
                  lambda n: f"as churn, but every free+malloc is 36..44 frames down a recursion "
                            f"whose path changes each step (the stack memo's worst case), "
                            f"{n:,} steps"),
        synthetic("xthread", "xthread", xs, "blocks",
                  lambda n: f"1 producer + 1 consumer thread, {n:,} blocks freed cross-thread",
                  before=["2"]),
        synthetic("realloc", "realloc", 200_000 // q, "steps",
                  lambda n: f"64 buffers grown by realloc chains of 16..4096 B steps up to 1 MiB, "
                            f"{n:,} steps"),
        synthetic("big", "big", 5_000 // q, "steps",
                  lambda n: f"ring of 16 blocks of 64 KiB..8 MiB, {n:,} steps, one byte per page "
                            "written"),
        synthetic("manylive", "manylive", 1_000_000, "blocks",
                  lambda n: f"{n:,} blocks of 32..256 B kept alive, then freed (bookkeeping per "
                            "live block)", reduce=REDUCE_CHEAP),
        synthetic("cxx", "cxx", 40 // q, "round" if 40 // q // REDUCE <= 1 else "rounds",
                  lambda n: f"std::map<std::string, std::vector<int>>: {n} rounds of 20,000 "
                            "inserts, lookups, erases"),
        Workload("gxx", gxx + [os.path.join(HERE, "workloads", tu), "-o", "/dev/null"],
                 f"real program: g++ -std=c++20 -O1 -c of bench/workloads/{tu} ({tu_what})",
                 gxx + [os.path.join(HERE, "workloads", "tiny_tu.cpp"), "-o", "/dev/null"],
                 "tiny TU", "tiny_tu.cpp (no headers)",
                 spawns_children=True),
        Workload("python", ["/usr/bin/python3", pyalloc, str(rounds)],
                 f"real program: /usr/bin/python3 with PYTHONMALLOC=malloc, {rounds} rounds of "
                 "20,000 dict entries of lists of strings",
                 ["/usr/bin/python3", pyalloc, "1"], f"÷{rounds}", "1 round",
                 env={"PYTHONMALLOC": "malloc"}),
        Workload("sort", ["sort", "-o", "/dev/null", sort_full],
                 f"real program: sort (LC_ALL=C) of a generated {sort_mb} MB text file",
                 ["sort", "-o", "/dev/null", sort_small], f"÷{REDUCE_CHEAP}",
                 f"{sort_mb / REDUCE_CHEAP:g} MB file", env={"LC_ALL": "C"}),
    ]


def scaling_runs(build, quick, cores):
    """(threads, argv or None, why not measured): xthread with a fixed total of blocks split
    over the producers. Thread counts above the core count are not run: the threads would
    share cores and the figure would measure the scheduler, not the allocator."""
    b = os.path.join(build, "bin", "bench")
    blocks = 8_000_000 // (4 if quick else 1)
    out = []
    for t in SCALING_THREADS:
        if t > cores:
            out.append((t, None, f"needs {t} cores, this machine has {cores}"))
        else:
            out.append((t, [f"{b}/xthread", str(t), str(blocks)], None))
    return out, blocks
