#!/usr/bin/env python3
"""The HTML report in a real browser (issue 12).

Usage: html_test.py --bin BUILD/bin --src SOURCE_DIR --work DIR FIXTURE
FIXTURE: static | small | leaks | stats | sites20k | escape | cap | diff

Each fixture makes a report (a real run under the launcher, or a generated one), writes its
page with the launcher, opens it in headless Chromium with #selftest (the page checks itself
and writes the result into the DOM, read back with --dump-dom), compares the numbers the page
shows with the JSON report, and takes a screenshot that must not be blank. Chromium missing is
a failure, not a skip: `make test` installs it (scripts/install-deps.sh).
"""
import argparse
import glob
import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
EVIL = '</script><img src=x onerror=alert(1)>'
failures = []


def check(ok, what):
    print(('ok   ' if ok else 'FAIL ') + what)
    if not ok:
        failures.append(what)
    return ok


def clean_env():
    """The environment without the preload and memtrack's settings (for the browser too)."""
    env = {k: v for k, v in os.environ.items()
           if k != 'LD_PRELOAD' and not k.startswith('MEMTRACK_')}
    return env


def run_under_launcher(args, work, name, extra_env=None, launcher_args=()):
    env = clean_env()
    env['MEMTRACK_OUTPUT'] = os.path.join(work, name + '.%p.json')
    env.update(extra_env or {})
    cmd = [os.path.join(args.bin, 'memtrack'), *launcher_args, '--', *name_cmd(args, name)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f'{" ".join(cmd)} exits 0' + ('' if p.returncode == 0 else f' (got {p.returncode}: {p.stderr[-400:]})'))
    found = glob.glob(os.path.join(work, name + '.*.json'))
    if not check(len(found) == 1, f'one report for {name}: {found}'):
        sys.exit(1)
    return found[0], p.stderr


def name_cmd(args, name):
    if name in ('small', 'stats'):
        return [os.path.join(args.bin, 'process_data'), '--size', '4MiB']
    if name == 'leaks':
        return [os.path.join(args.bin, 'reference_cycle')]
    raise ValueError(name)


def write_page(args, report, page, extra=()):
    cmd = [os.path.join(args.bin, 'memtrack'), 'report', report, '--html', '-o', page, *extra]
    p = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and os.path.exists(page), f'memtrack report --html writes {page} ({p.stderr.strip()})')
    return p


def chromium():
    for c in ('chromium', 'chromium-browser', 'google-chrome'):
        path = shutil.which(c)
        if path:
            return path
    print('FAIL chromium is not installed: the browser tests need it (make test installs Debian\'s '
          'chromium through scripts/install-deps.sh; or apt-get install chromium)')
    sys.exit(1)


def browser(args, page, fragment, extra):
    profile = tempfile.mkdtemp(prefix='mt-chromium-', dir=args.work)
    cmd = [chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-extensions', '--user-data-dir=' + profile, '--enable-logging=stderr', '--v=0',
           '--virtual-time-budget=8000', *extra, 'file://' + os.path.abspath(page) + fragment]
    p = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return p


def selftest(args, page, fragment=''):
    p = browser(args, page, '#selftest' + fragment, ['--dump-dom'])
    m = re.search(r'<pre id="selftest-result" data-status="(\w+)">(.*?)</pre>', p.stdout, re.S)
    if not check(m is not None, 'the page wrote its self-test result' + ('' if m else ': ' + p.stderr[-1500:])):
        sys.exit(1)
    result = json.loads(html.unescape(m.group(2)))
    for c in result.get('checks', []):
        check(c['ok'], f'page: {c["name"]} {c["detail"]}')
    check(result['status'] == 'pass', f'page self-test status {result["status"]}, errors {result.get("errors")}')
    console = [l for l in p.stderr.splitlines() if 'CONSOLE' in l or 'Uncaught' in l or
               'Content Security Policy' in l or 'Content-Security-Policy' in l]
    check(not console, f'no console errors or CSP violations: {console}')
    print(f'     render {result["render_ms"]} ms {result.get("timings")}, {result["values"]["nodes"]} nodes')
    return result, p.stdout


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) from a PNG, with zlib only."""
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat, w = 8, b'', 0
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
            assert depth == 8 and ctype in (2, 6), f'PNG depth {depth} colour type {ctype}'
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def screenshot(args, page, name):
    png = os.path.join(args.work, name + '.png')
    if os.path.exists(png):
        os.remove(png)
    browser(args, page, '', ['--hide-scrollbars', '--window-size=1280,1600', '--screenshot=' + png])
    if not check(os.path.exists(png), f'screenshot {png} taken'):
        return
    w, h, bpp, rows = png_pixels(png)
    colours, ink = set(), 0
    background = rows[0][:3]
    for y in range(0, h, 4):
        r = rows[y]
        for x in range(0, w * bpp, bpp * 4):
            px = r[x:x + 3]
            colours.add(px)
            ink += px != background
    samples = (h // 4 + 1) * (w // 4 + 1)
    check(w == 1280 and h == 1600, f'screenshot is 1280x1600 ({w}x{h})')
    check(len(colours) > 50 and ink > samples // 20,
          f'screenshot not blank: {len(colours)} colours, {100 * ink // samples}% ink')


def expect_numbers(report, result, leak_listed_cap=2000):
    """The page's numbers against the JSON report, computed here independently."""
    v = result['values']
    heap = report['heap']
    for k in ('peak_bytes', 'live_bytes_at_exit', 'allocations', 'bytes_allocated'):
        check(v['summary'].get(k) == heap[k], f'summary {k}: page {v["summary"].get(k)}, report {heap[k]}')
    sites = report.get('sites', [])
    if sites:
        check(v['flame']['peak'] == sum(s['peak_bytes'] for s in sites), 'flame peak root = sum of site peak_bytes')
        check(v['flame']['peak'] == heap['peak_attributed_bytes'], 'flame peak root = heap.peak_attributed_bytes')
        check(v['flame']['exit'] == sum(s['exit_bytes'] for s in sites) == heap['live_bytes_at_exit'], 'flame exit root = live at exit')
        check(v['flame']['alloc_count'] == sum(s['allocations'] for s in sites) == heap['allocations'], 'flame allocations root = heap.allocations')
        check(v['flame']['alloc_bytes'] == heap['bytes_allocated'], 'flame bytes-allocated root = heap.bytes_allocated')
    check(v['site_rows'] == min(200, len(sites)), f'site table shows {v["site_rows"]} rows')
    if 'leaks' in report:
        t = report['leaks']['totals']
        if sites or report['stacks']:
            check(v['flame']['leaked'] == t['direct_bytes'] + t['indirect_bytes'] + t['possible_bytes'],
                  f'flame leaked root {v["flame"]["leaked"]} = direct + indirect + possible')
        groups = sum(min(leak_listed_cap, len(report['leaks'][k])) for k in ('direct', 'indirect', 'possible', 'suppressed'))
        check(v['leak_groups'] == groups, f'leak groups shown {v["leak_groups"]} of {groups}')
        check(v['cycles'] == min(500, len(report['cycles'])), f'cycles drawn {v["cycles"]}')
    tl = report.get('timeline', [])
    check(v['timeline_points'] == min(len(tl), 10000) or (len(tl) > 10000 and v['timeline_points'] <= 10000),
          f'timeline points {v["timeline_points"]} of {len(tl)}')


def page_data(page):
    text = open(page, encoding='utf-8').read()
    blocks = re.findall(r'<script type="application/json" id="memtrack-data">(.*?)</script>', text, re.S)
    check(len(blocks) == 1, 'one JSON data block')
    return text, json.loads(blocks[0])


def static_checks(page):
    """What holds for every page without a browser."""
    text, data = page_data(page)
    check(text.count('<script') == 2 and text.count('</script>') == 2, 'two script elements: the data and the code')
    check(re.search(r'https?://', text) is None, 'no http(s) URL in the page')
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    check(csp is not None and "default-src 'none'" in csp.group(1) and "connect-src 'none'" in csp.group(1),
          'a CSP forbids every fetch')
    nonce = re.search(r"script-src 'nonce-([0-9a-f]{32})'", csp.group(1) if csp else '')
    check(nonce is not None and f'<script nonce="{nonce.group(1)}">' in text, 'the code runs by nonce, inline handlers cannot')
    return text, data


def fixture_static(args):
    sizes = {f: os.path.getsize(os.path.join(args.src, 'launcher', 'html', f)) for f in ('page.html', 'page.css', 'page.js')}
    total = sum(sizes.values())
    check(total < 64 * 1024, f'the page code is {total} bytes, under 64 KiB ({sizes})')
    base = os.path.join(args.src, 'tests', 'integration', 'launcher', 'fixtures', 'good.json')
    page = os.path.join(args.work, 'good.html')
    write_page(args, base, page)
    static_checks(page)
    p = subprocess.run([os.path.join(args.bin, 'memtrack'), 'report', base, '--html', '--html-max-size', 'lots'],
                       env=clean_env(), capture_output=True, text=True)
    check(p.returncode == 2 and 'not a size' in p.stderr, f'a bad --html-max-size is a usage error ({p.stderr.strip()})')
    p = subprocess.run([os.path.join(args.bin, 'memtrack'), 'report', os.path.join(args.work, 'missing.json'), '--html'],
                       env=clean_env(), capture_output=True, text=True)
    check(p.returncode == 2, f'a missing report exits 2 ({p.stderr.strip()})')
    p = subprocess.run([os.path.join(args.bin, 'memtrack'), 'report', base, '-o', page],
                       env=clean_env(), capture_output=True, text=True)
    check(p.returncode == 2 and 'need --html' in p.stderr, f'-o without --html is a usage error ({p.stderr.strip()})')
    env = clean_env()
    env['MEMTRACK_REPORT'] = 'text'
    p = subprocess.run([os.path.join(args.bin, 'memtrack'), '--html', '--', os.path.join(args.bin, 'process_data'), '--size', '1MiB'],
                       env=env, capture_output=True, text=True, cwd=args.work)
    check(p.returncode == 0 and 'no JSON report to write the HTML report from' in p.stderr,
          'memtrack --html without a JSON report says so and keeps the exit status')


def fixture_small(args):
    # `memtrack --html -- prog`: the page is written beside the JSON report after the run.
    report, stderr = run_under_launcher(args, args.work, 'small', launcher_args=['--html'])
    page = report[:-5] + '.html'
    check(os.path.exists(page) and f'HTML report written to {page}' in stderr, f'memtrack --html wrote {page}')
    static_checks(page)
    r = json.load(open(report))
    result, dom = selftest(args, page, '&search=load_data&probe=keep_local')
    expect_numbers(r, result)
    # The site table's MEMTRACK_BREAK_ALLOC button (sites' first_allocation): the self-test
    # expands a row, whose detail has the button with that site's number.
    firsts = {s.get('first_allocation') for s in r['sites'] if s['stack'] != 0}
    check(None not in firsts and len(firsts) == len([s for s in r['sites'] if s['stack'] != 0]),
          'every site has its own first_allocation')
    shown = re.findall(r'copy MEMTRACK_BREAK_ALLOC=(\d+)', dom)
    check(len(shown) == 1 and int(shown[0]) in firsts, f'the expanded site row has a MEMTRACK_BREAK_ALLOC button: {shown}')
    check('<p class="mute">This report has no first allocation number' not in dom, 'the page does not say the numbers are missing')
    # The done-when of issue 12: keep-local's peak, held by three sites of --size bytes each.
    size = 4 << 20
    probe = result['values']['probe']
    check(probe is not None and probe['total'] == 3 * size, f'keep_local holds 3 x 4 MiB at the peak: {probe}')
    if probe:
        names = sorted(k[0] for k in probe['kids'])
        check(len(probe['kids']) == 3 and all(k[1] == size for k in probe['kids']), f'three sites under keep_local: {probe["kids"]}')
        check(any('load_data' in n for n in names) and any('modify1' in n for n in names) and any('modify2' in n for n in names),
              f'load_data, modify1 and modify2: {names}')
    check(result['values']['search']['value'] == size, 'search load_data matches one 4 MiB site')
    screenshot(args, page, 'small')


def fixture_leaks(args):
    report, _ = run_under_launcher(args, args.work, 'leaks')
    page = os.path.join(args.work, 'leaks.html')
    write_page(args, report, page)
    static_checks(page)
    r = json.load(open(report))
    check(r['leaks']['totals']['cycles'] == 3, 'the demo leaks three cycles')
    result, dom = selftest(args, page, '&search=two_cycle&view=cycles')
    expect_numbers(r, result)
    check(result['values']['search']['nodes'] >= 1, 'search finds two_cycle')
    check(dom.count('data-cycle="') == 3, 'three cycles drawn')
    check('leak:(anonymous namespace)::self_cycle()' in html.unescape(dom), 'the suppression line for the direct leak')
    check('MEMTRACK_BREAK_ALLOC=4' in dom, 'a MEMTRACK_BREAK_ALLOC button for allocation #4')
    screenshot(args, page, 'leaks')


def fixture_stats(args):
    report, _ = run_under_launcher(args, args.work, 'stats', {'MEMTRACK_STACK_DEPTH': '0'})
    page = os.path.join(args.work, 'stats.html')
    write_page(args, report, page)
    static_checks(page)
    r = json.load(open(report))
    check('sites' not in r, 'stats-only reports have no sites')
    result, dom = selftest(args, page)
    expect_numbers(r, result)
    check('Stats-only mode' in dom, 'the page says it is stats-only')
    screenshot(args, page, 'stats')


def synthetic(args, n_sites):
    path = os.path.join(args.work, f'sites{n_sites}.json')
    subprocess.run([sys.executable, os.path.join(HERE, 'gen_sites.py'), str(n_sites), path], check=True)
    return path


def fixture_sites20k(args):
    report = synthetic(args, 20000)
    page = os.path.join(args.work, 'sites20k.html')
    write_page(args, report, page)
    text, data = static_checks(page)
    r = json.load(open(report))
    fold = data['fold']
    check(fold['nodes'] <= 20000 and fold['folded_nodes'] > 0, f'{fold["nodes_before"]} nodes fold to {fold["nodes"]} (at most 20,000)')
    check(fold['timeline_points'] <= 10000 and fold['timeline_points_in'] == len(r['timeline']),
          f'timeline {fold["timeline_points_in"]} -> {fold["timeline_points"]} points')
    check(max(p[1] for p in data['timeline']) == r['heap']['peak_bytes'], 'the downsampled timeline keeps the peak')
    check(len(text) < 32 << 20, f'page {len(text)} bytes under the 32 MiB cap')
    result, dom = selftest(args, page, '&search=^worker_17$&budget=3000')
    expect_numbers(r, result)
    check(result['values']['search']['nodes'] >= 1, 'search finds worker_17')
    check('call-tree nodes' in dom, 'the page says what was folded')
    check('>RSS</span>' in dom, 'RSS drawn when the timeline has it')
    check('stacked top sites' in dom and 'page: the stacked top-sites chart draws' not in failures,
          'the timeline offers the stacked top-sites chart (timeline_sites)')
    screenshot(args, page, 'sites20k')


def fixture_cap(args):
    report = synthetic(args, 20000)
    page = os.path.join(args.work, 'cap.html')
    write_page(args, report, page, ['--html-max-size', '600KiB'])
    text, data = static_checks(page)
    size = os.path.getsize(page)
    check(size <= 600 * 1024, f'--html-max-size 600KiB: the page is {size} bytes')
    check(data['fold']['level'] > 0 and data['fold']['threshold'] > 1e-4, f'the fold threshold was raised: {data["fold"]["threshold"]}')
    r = json.load(open(report))
    result, dom = selftest(args, page)
    v = result['values']['flame']
    check(v['peak'] == r['heap']['peak_attributed_bytes'] and v['alloc_count'] == r['heap']['allocations'],
          'totals stay exact when folded harder')
    check('--html-max-size' in dom, 'the page says it was pruned to fit')


def fixture_escape(args):
    """argv, function names, types and the program name with markup, comment openers, U+2028/9."""
    report, _ = run_under_launcher(args, args.work, 'leaks')
    r = json.load(open(report))
    r['argv'] += [EVIL, '<!-- comment', 'line\u2028sep\u2029para', "it's \"quoted\""]
    r['program'] = r['program'] + EVIL
    for sid, frames in r['stacks'].items():
        for f in frames:
            if 'two_cycle' in f['function']:
                f['function'] = f['function'] + EVIL + '\u2028'
    for g in r['leaks']['indirect']:
        g['type'] = '<!--' + EVIL
    evil_report = os.path.join(args.work, 'escape.json')
    json.dump(r, open(evil_report, 'w'), ensure_ascii=False)
    page = os.path.join(args.work, 'escape.html')
    write_page(args, evil_report, page)
    text, data = static_checks(page)
    check('<img' not in text and '<!--' not in text, 'no markup from the data in the file')
    check('\u2028' not in text and '\u2029' not in text, 'U+2028 and U+2029 escaped')
    check(data['report']['argv'] == r['argv'], 'argv survives the escaping exactly')
    check(any(EVIL in s for s in data['strings']), 'function names survive the escaping exactly')
    result, dom = selftest(args, page, '&search=two_cycle')
    check(html.escape(EVIL, quote=False) in dom, 'the markup shows as text')
    check('<img' not in dom, 'no img element in the DOM')
    check(not any('alert' in e for e in result['errors']), 'nothing ran')
    screenshot(args, page, 'escape')


def fixture_diff(args):
    """memtrack diff --html: process_data's keep-local run (A) against its reassign run (B)."""
    memtrack = os.path.join(args.bin, 'memtrack')
    paths = []
    for variant in ('keep-local', 'reassign'):
        env = clean_env()
        env['MEMTRACK_OUTPUT'] = os.path.join(args.work, variant + '.json')
        cmd = [memtrack, '--', os.path.join(args.bin, 'process_data'), '--size', '4MiB', '--variant', variant]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, f'{" ".join(cmd)} exits 0 ({p.stderr[-300:]})')
        paths.append(env['MEMTRACK_OUTPUT'])
    a, b = paths
    page = os.path.join(args.work, 'diff.html')
    p = subprocess.run([memtrack, 'diff', a, b, '--html', '-o', page], env=clean_env(), capture_output=True, text=True)
    check(p.returncode == 0 and os.path.exists(page), f'memtrack diff --html -o writes {page} ({p.stderr.strip()})')
    p = subprocess.run([memtrack, 'diff', a, b, '--html', '--json'], env=clean_env(), capture_output=True, text=True)
    check(p.returncode == 2 and 'exclude each other' in p.stderr, f'--html with --json is a usage error ({p.stderr.strip()})')
    text = subprocess.run([memtrack, 'diff', a, b], env=clean_env(), capture_output=True, text=True).stdout
    _, data = static_checks(page)
    ra, rb = json.load(open(a)), json.load(open(b))
    result, dom = selftest(args, page, '&grown=reassign&shrunk=keep_local')
    v = result['values']['flame']
    for view, key in (('peak', 'peak_attributed_bytes'), ('exit', 'live_bytes_at_exit'),
                      ('alloc_bytes', 'bytes_allocated'), ('alloc_count', 'allocations')):
        want = f'{ra["heap"][key]} → {rb["heap"][key]}'
        check(v[view] == want, f'flame {view} roots A → B: page {v[view]}, reports {want}')
    check(ra['heap']['peak_bytes'] - rb['heap']['peak_bytes'] == 4 << 20, 'reassign peaks 4 MiB lower than keep-local')
    # The totals table says what the text diff says (its byte rows; counts are written with
    # thousands separators on the page).
    cells = {}
    table = re.search(r'<table id="totals">(.*?)</table>', dom, re.S)
    for row in re.findall(r'<tr>(.*?)</tr>', table.group(1) if table else '', re.S):
        tds = [html.unescape(c) for c in re.findall(r'<td[^>]*>(.*?)</td>', row, re.S)]
        if tds:
            cells[tds[0]] = tds[1:]
    for label in ('heap peak', 'live at exit', 'bytes allocated', 'max RSS'):
        line = next((l for l in text.splitlines() if l.startswith('  ' + label + '  ')), None)
        want = re.split(r'\s{2,}', line.strip())[1:3] if line else None
        check(want is not None and cells.get(label, [])[:2] == want, f'totals row {label}: page {cells.get(label)}, text diff {want}')
    check(cells.get('heap peak', ['', '', ''])[2].startswith('-4.00 MiB'), f'heap peak B - A: {cells.get("heap peak")}')
    check('gone' in dom and 'new' in dom, 'the site changes list gone and new sites')
    check(data['fold']['nodes'] > 1 and '"a":' in json.dumps(data['diff']), 'the data block holds the diff and its tree')
    p = subprocess.run([memtrack, 'diff', a, b, '--html', '--match=line', '-o', page + '.line.html'], env=clean_env(), capture_output=True, text=True)
    check(p.returncode == 0, f'--match=line --html exits 0 ({p.stderr.strip()})')
    screenshot(args, page, 'diff')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', required=True)
    ap.add_argument('--src', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('fixture')
    args = ap.parse_args()
    args.bin, args.src, args.work = (os.path.abspath(p) for p in (args.bin, args.src, args.work))
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    globals()['fixture_' + args.fixture](args)
    if failures:
        print(f'{len(failures)} checks failed')
        sys.exit(1)
    print('all checks passed')


if __name__ == '__main__':
    main()
