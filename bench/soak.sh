#!/bin/sh
# Soak (issue 11): bench/workloads/soak.c for SECONDS (default 600) under memtrack's full mode:
# 4 threads churning a constant live heap through a bounded set of stacks, a fork every second.
# The process's RSS is sampled every 20 s; since the live heap does not grow, RSS growth is
# memtrack's own memory (stack depot, site table, registries, timeline). Passes when the RSS at
# the end is within 10% (plus 4 MiB) of the RSS after the first fifth of the run.
#   bench/soak.sh [BUILD_DIR] [SECONDS]
set -eu
build=${1:-build}
seconds=${2:-600}
out=$(mktemp -d)
MEMTRACK_OUTPUT="$out/soak.%p.json" MEMTRACK_REPORT=json \
    LD_PRELOAD="$build/lib/libmemtrack.so" "$build/bin/bench/soak" "$seconds" 4 > "$out/stdout" &
pid=$!
step=20
t=0
echo "   t_s   rss_MiB"
: > "$out/rss"
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && awk -v t="$t" -v r="$rss" 'BEGIN { printf "%6d %9.1f\n", t, r / 1024 }' |
        tee -a "$out/rss"
    sleep "$step"
    t=$((t + step))
done
wait "$pid"
cat "$out/stdout"
python3 - "$out" "$seconds" <<'PY'
import glob, json, sys
out, seconds = sys.argv[1], float(sys.argv[2])
rows = [tuple(map(float, l.split())) for l in open(out + "/rss") if l.strip()]
early = [r for r in rows if r[0] >= seconds / 5]
if not early:
    sys.exit("soak: too short to judge")
base, last = early[0][1], rows[-1][1]
reports = glob.glob(out + "/soak.*.json")
parent = max(reports, key=lambda p: json.load(open(p))["heap"]["allocations"])
r = json.load(open(parent))
print(f"soak: RSS {base:.1f} MiB at {early[0][0]:.0f} s, {last:.1f} MiB at {rows[-1][0]:.0f} s "
      f"({(last - base) / base * 100:+.1f}%); {len(reports)} reports; parent: "
      f"{r['heap']['allocations']} allocations, {len(r.get('sites', []))} sites, "
      f"{len(r['timeline'])} timeline points, site table {r['site_table']['table_bytes']} B")
sys.exit(0 if last <= base * 1.10 + 4 else "soak: memtrack's memory grew")
PY
rm -rf "$out"
