#!/usr/bin/env python3
"""Writes a synthetic memtrack report with N sites (every stack symbolized), a timeline of 2N
samples [s, heap, rss], leak groups and cycles: the large fixture of the HTML tests. Fixed seed; the totals
are consistent as docs/report-format.md states them (sums over sites equal the heap's).
Usage: gen_sites.py N OUT.json"""
import json
import random
import sys

n, out = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(12)
MOD = '/opt/app/bin/app'


def frame(fn, line, mod=MOD, file='/src/app.cpp'):
    return {'pc': hex(0x400000 + line), 'function': fn, 'file': file, 'line': line, 'module': mod,
            'offset': hex(line), 'inlined': False}


stacks, sites = {}, []
for i in range(1, n + 1):
    # innermost first: operator new, fn_i, stage_(i%400), worker_(i%50), main, libc
    stacks[str(i)] = [frame('operator new(unsigned long)', 1, '/usr/lib/x86_64-linux-gnu/libstdc++.so.6', ''),
                      frame(f'fn_{i}(int)', 100 + i % 7), frame(f'stage_{i % 400}()', 50 + i % 3),
                      frame(f'worker_{i % 50}', 20), frame('main', 10),
                      frame('__libc_start_main', 5, '/lib/x86_64-linux-gnu/libc.so.6', '')]
    peak = int(2 ** 26 / (i ** 1.1)) + rnd.randrange(64)
    exit_b = peak // 3 if i % 5 == 0 else 0
    allocs = 1 + rnd.randrange(1000)
    sites.append({'stack': i, 'allocations': allocs, 'bytes_allocated': peak * 2 + allocs,
                  'frees': allocs - (1 if exit_b else 0), 'peak_bytes': peak, 'peak_blocks': 1 + i % 9,
                  'exit_bytes': exit_b, 'exit_blocks': 1 if exit_b else 0, 'temporary': i % 3,
                  'largest_bytes': peak})
sites.sort(key=lambda s: -s['peak_bytes'])
peak = sum(s['peak_bytes'] for s in sites)
exit_total = sum(s['exit_bytes'] for s in sites)


def groups(count, first):
    out = []
    for j in range(count):
        out.append({'bytes': 1000 + 17 * j, 'blocks': 1 + j % 4, 'stack': first + j, 'first_seq': 100 + j,
                    'last_seq': 100 + j + j % 4, 'type': 'Node' if j % 2 else ''})
    return out


direct, indirect, possible = groups(300, 1), groups(100, 400), groups(20, 600)
tot = lambda g, k: sum(x[k] for x in g)
cycles = [{'members': [{'size': 248, 'stack': 400 + k, 'seq': 1000 + k, 'type': 'Node'} for k in range(1 + c % 4)],
           'count': 1 + c, 'blocks': (1 + c % 4) * (1 + c), 'bytes': 248 * (1 + c % 4) * (1 + c), 'pure': c % 2 == 0,
           'reached_from_direct': c % 3 == 0} for c in range(20)]
samples = 2 * n
timeline, peak_at = [], samples * 2 // 3
for k in range(samples):
    t = k * 0.001
    v = peak if k == peak_at else int(peak * (0.2 + 0.7 * rnd.random()) * min(1, k / peak_at))
    timeline.append([round(t, 6), v, v + (64 << 20)])  # with RSS, as a later revision may add
# The sites behind the timeline (timeline_sites): the 10 largest, the rest in "other".
top = [s['stack'] for s in sites[:10]]
shares = [s['peak_bytes'] for s in sites[:10]]
values = []
for t, v, rss in timeline:
    part = [min(v * sh // peak, sh) for sh in shares]
    values.append(part + [max(0, v - sum(part))])
report = {
    'format': 'memtrack-report', 'version': 2, 'memtrack_version': '0.1.0', 'reason': 'exit',
    'program': MOD, 'argv': ['app', '--synthetic', str(n)], 'pid': 4242, 'ppid': 1, 'exit_status': 0,
    'final_status': 0, 'gate': None,
    'process': {'wall_s': samples * 0.001, 'user_s': 1.5, 'sys_s': 0.2, 'cpu_wall_ratio': 0.9, 'max_rss_bytes': peak * 2},
    'heap': {'current_bytes': exit_total, 'peak_bytes': peak, 'peak_time_s': timeline[peak_at][0],
             'live_bytes_at_exit': exit_total, 'live_blocks_at_exit': sum(s['exit_blocks'] for s in sites),
             'allocations': sum(s['allocations'] for s in sites), 'frees': sum(s['frees'] for s in sites),
             'bytes_allocated': sum(s['bytes_allocated'] for s in sites), 'foreign_frees': 0,
             'peak_attributed_bytes': peak},
    'sites': sites,
    'site_table': {'sites': n, 'listed': n, 'bytes_per_site': 64, 'table_bytes': 64 * n, 'thread_shard_bytes': 7304},
    'leaks': {'direct': direct, 'indirect': indirect, 'possible': possible, 'suppressed': [],
              'totals': {'direct_bytes': tot(direct, 'bytes'), 'direct_blocks': tot(direct, 'blocks'),
                         'indirect_bytes': tot(indirect, 'bytes'), 'indirect_blocks': tot(indirect, 'blocks'),
                         'possible_bytes': tot(possible, 'bytes'), 'possible_blocks': tot(possible, 'blocks'),
                         'suppressed_bytes': 0, 'suppressed_blocks': 0, 'cycles': len(cycles),
                         'cycle_blocks': sum(c['blocks'] for c in cycles), 'ignored_bytes': 0, 'ignored_blocks': 0}},
    'cycles': cycles,
    'scan': {'roots_bytes': 1 << 20, 'heap_bytes': exit_total, 'swept_bytes': 1 << 24, 'blocks': 10, 'duration_s': 0.01,
             'threads_paused': 3, 'threads_not_paused': 0, 'dead_thread_stacks': 0, 'unregistered_big_blocks': 0,
             'complete': True, 'unreadable_heap_bytes': 0},
    'gc': {'threshold': [700, 10, 10], 'count': [1, 2, 3], 'collections': [5, 2, 1], 'collected': [0, 1, 2],
           'total_pause_s': 0.02, 'max_pause_s': 0.01, 'live_blocks': [4, 5, 6], 'live_bytes': [400, 5000, 60000]},
    'stacks': stacks,
    'config': {'interval_s': 0.001, 'stack_depth': 32, 'leak_check': True, 'output': 'memtrack.%e.%p.json'},
    'timeline': timeline,
    'timeline_sites': {'stacks': top, 'values': values},
}
json.dump(report, open(out, 'w'))
