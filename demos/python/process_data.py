#!/usr/bin/python3
"""The lecture's process_data (In [29]..[31]) in numpy, measured from outside Python.

numpy allocates array data with malloc, so memtrack preloaded into Debian's interpreter sees
the native heap: a local that keeps the input alive gives a 3 GiB peak for 1 GiB of data, the
one-expression chain 2 GiB.

    build/bin/memtrack -- /usr/bin/python3 demos/python/process_data.py --variant keep-local
    /usr/bin/python3 demos/python/process_data.py            # runs every variant under memtrack

Without --variant, the script runs itself once per variant under the memtrack launcher
(MEMTRACK_LAUNCHER, default build/bin/memtrack beside this tree), reads each JSON report's
heap.peak_bytes and prints the table. numpy missing: says so and exits 0.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

VARIANTS = {
    "baseline": "numpy imported, nothing else: the interpreter's own heap",
    "keep-local": "data = load(); return modify2(modify1(data))  (the local keeps the input alive)",
    "chain": "return modify2(modify1(load()))  (Python frees each input when consumed)",
    "reassign": "data = modify1(data); data = modify2(data)",
}
EXPECTED = {"keep-local": 3.0, "chain": 2.0, "reassign": 2.0}


def parse_size(text):
    units = {"": 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "KB": 10**3,
             "MB": 10**6, "GB": 10**9}
    number = text.rstrip("KMGiB")
    unit = text[len(number):]
    if unit not in units or not number:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (use e.g. 1GiB, 64MiB)")
    return int(float(number) * units[unit])


def run_variant(name, size):
    import numpy as np

    def load():
        return np.ones(size, dtype=np.uint8)

    def modify1(data):
        return data * 2

    def modify2(data):
        return data + 10

    if name == "baseline":
        return 0
    if name == "keep-local":
        data = load()
        return int(modify2(modify1(data))[0])
    if name == "chain":
        return int(modify2(modify1(load()))[0])
    data = load()
    data = modify1(data)
    data = modify2(data)
    return int(data[0])


def drive(size):
    here = os.path.dirname(os.path.abspath(__file__))
    launcher = os.environ.get("MEMTRACK_LAUNCHER",
                              os.path.join(here, "..", "..", "build", "bin", "memtrack"))
    if not os.access(launcher, os.X_OK):
        print(f"process_data.py: no memtrack launcher at {launcher} (build first, or set "
              "MEMTRACK_LAUNCHER)", file=sys.stderr)
        return 2
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in VARIANTS:
            out = os.path.join(tmp, name + ".json")
            cmd = [launcher, "--report=json", "-o", out, "--", sys.executable,
                   os.path.abspath(__file__), "--variant", name, "--size", str(size)]
            subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
            with open(out) as f:
                peaks[name] = json.load(f)["heap"]["peak_bytes"]
    base = peaks["baseline"]
    print(f"process_data.py under memtrack: {size / 2**30:.2f} GiB of data, "
          f"interpreter baseline {base / 2**20:.1f} MiB")
    print(f"{'variant':<12} {'native peak':>14} {'(peak-base)/size':>17}  what")
    ok = True
    for name, what in VARIANTS.items():
        if name == "baseline":
            continue
        ratio = (peaks[name] - base) / size
        good = abs(ratio - EXPECTED[name]) <= 0.02 * EXPECTED[name]
        ok = ok and good
        print(f"{name:<12} {peaks[name] / 2**30:>10.2f} GiB {ratio:>17.2f}  {what}"
              + ("" if good else "   <-- MISMATCH"))
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=2**30)
    parser.add_argument("--variant", choices=list(VARIANTS))
    args = parser.parse_args()
    try:
        import numpy  # noqa: F401
    except ImportError:
        print("process_data.py: numpy is not installed for this interpreter "
              f"({sys.executable}); skipped (apt-get install python3-numpy)")
        return 0
    if args.variant:
        run_variant(args.variant, args.size)
        return 0
    return drive(args.size)


if __name__ == "__main__":
    sys.exit(main())
