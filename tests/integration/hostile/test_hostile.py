#!/usr/bin/env python3
"""`memtrack report` (every view and export, --html) and `memtrack diff` on hostile files
(issue 11, "Bad input"): a few thousand seeded mutations of real reports (truncated, bytes
flipped, invalid UTF-8, numbers out of range, wrong types, keys removed), nesting a million deep,
a 1 GiB file, a foreign format and a future version. Each run must end with status 0 (the
mutation left a readable report) or 2 with exactly one line on stderr: never a signal, a hang
(10 s each) or more memory than a report needs (an address-space limit of 1 GiB).

Usage: test_hostile.py MEMTRACK FIXTURE_DIR [MUTATIONS]"""
import json
import os
import random
import resource
import subprocess
import sys
import tempfile

MEMTRACK, FIXTURES = sys.argv[1:3]
MUTATIONS = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
TMP = tempfile.mkdtemp(prefix="mt-hostile-")
SEEDS = [os.path.join(FIXTURES, n) for n in ("good.json", "api.json", "sites.json")]
FAILURES = []

COMMANDS = [
    lambda f: ["report", f],
    lambda f: ["report", f, "--timeline"],
    lambda f: ["report", f, "--peak", "--allocations", "--temporary", "--exit"],
    lambda f: ["report", f, "--format=collapsed"],
    lambda f: ["report", f, "--format=collapsed", "--metric=leaked"],
    lambda f: ["report", f, "--format=massif"],
    lambda f: ["report", f, "--format=speedscope"],
    lambda f: ["report", f, "--format=pprof", "-o", os.path.join(TMP, "out.pb.gz")],
    lambda f: ["report", f, "--html", "-o", os.path.join(TMP, "out.html")],
    lambda f: ["diff", f, SEEDS[2]],
    lambda f: ["diff", SEEDS[0], f, "--force", "--json"],
]


def limit_memory():
    # 1 GiB of address space: a reader that loads a 1 GiB file whole, or builds something
    # unbounded from a small one, fails (and a failure is not a clean exit 2).
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run(args, what):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("MEMTRACK_")}
    try:
        p = subprocess.run([MEMTRACK] + args, env=env, capture_output=True, timeout=10,
                           preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        FAILURES.append(f"{what}: hung ({' '.join(args)})")
        return None
    err = p.stderr.decode(errors="replace")
    if p.returncode == 0:
        pass
    elif p.returncode == 2:
        if err.count("\n") != 1 or not err.startswith("memtrack"):
            FAILURES.append(f"{what}: exit 2 without exactly one line: {err[:300]!r} ({' '.join(args)})")
    else:
        FAILURES.append(f"{what}: status {p.returncode}: {err[:300]!r} ({' '.join(args)})")
    return p.returncode


def mutate(rng, text):
    data = bytearray(text.encode())
    kind = rng.randrange(7)
    if kind == 0:  # truncated
        return bytes(data[: rng.randrange(len(data))])
    if kind == 1:  # bytes flipped, invalid UTF-8 among them
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.choice([0x00, 0xff, 0xc3, 0x80, ord('"'), ord("{"),
                                                         ord("]"), ord(","), rng.randrange(256)])
        return bytes(data)
    doc = json.loads(text)
    # A random path to a value inside the document.
    node, parent, key = doc, None, None
    for _ in range(rng.randint(1, 6)):
        if isinstance(node, dict) and node:
            parent, key = node, rng.choice(list(node))
        elif isinstance(node, list) and node:
            parent, key = node, rng.randrange(len(node))
        else:
            break
        node = parent[key]
    if parent is None:
        return b"[]"
    if kind == 2:  # numbers out of range
        parent[key] = rng.choice([10**30, -10**30, -1, 2**64, 2**63, -2**63 - 1, 1.5e308, -0.5])
    elif kind == 3:  # wrong types
        parent[key] = rng.choice(["x", "", [], {}, None, True, [1, "a"], {"a": {}}])
    elif kind == 4 and isinstance(parent, dict):  # key removed
        del parent[key]
    elif kind == 5:  # invalid UTF-8 and control characters in a string
        out = json.dumps(doc).encode()
        return out.replace(b'"', b'"\xff\x01', 1) if rng.random() < 0.5 else out + b"\xc3"
    else:  # a deep structure in place of a value
        parent[key] = json.loads("[" * 500 + "]" * 500)
    return json.dumps(doc).encode()


def main():
    rng = random.Random(20261202)
    texts = [open(s).read() for s in SEEDS]
    for i in range(MUTATIONS):
        path = os.path.join(TMP, f"m{i % 4}.json")
        with open(path, "wb") as f:
            f.write(mutate(rng, rng.choice(texts)))
        run(rng.choice(COMMANDS)(path), f"mutation {i}")

    def special(name, content=None, size=None):
        path = os.path.join(TMP, name)
        with open(path, "wb") as f:
            if content is not None:
                f.write(content)
            if size is not None:
                f.truncate(size)  # sparse
        for make in COMMANDS:
            rc = run(make(path), name)
            if rc == 0:
                FAILURES.append(f"{name}: accepted ({' '.join(make(path))})")

    special("deep.json", b"[" * 1_000_000 + b"]" * 1_000_000)
    special("deep-object.json", b'{"format":"memtrack-report","version":2,"sites":' + b"[" * 1_000_000)
    special("huge.json", b'{"format":"memtrack-report","version":2,"argv":["', size=1 << 30)
    special("foreign.json", b'{"format":"something-else","version":1}')
    special("future.json", b'{"format":"memtrack-report","version":99}')
    special("empty.json", b"")
    special("not-json.json", b"\x7fELF\x02\x01\x01" + bytes(1000))

    for f in FAILURES[:40]:
        print("FAILED:", f)
    print(f"{MUTATIONS} mutations and 7 special files: {len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
