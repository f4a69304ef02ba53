// memtrack HTML report: draws the panels from the one JSON data block (html.cpp packs it).
// Every string from the report reaches the page through textContent, never as HTML. No network,
// no libraries. #selftest checks the panels against the data and writes the result into the DOM.
'use strict';
(function () {
const T0 = performance.now();
const errors = [];
window.addEventListener('error', (e) => errors.push('error: ' + e.message));
window.addEventListener('securitypolicyviolation', (e) =>
  errors.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));
const consoleError = console.error.bind(console);
console.error = (...a) => { errors.push('console.error: ' + a.join(' ')); consoleError(...a); };
window.alert = (m) => errors.push('alert: ' + m);

const D = JSON.parse(document.getElementById('memtrack-data').textContent);
const R = D.report, S = D.strings, F = D.frames, FOLD = D.fold;
const heap = R.heap || {}, proc = R.process || {}, cfg = R.config || {};
const LT = R.leak_totals || {};
// memtrack diff --html: the same page in diff mode (a comparison table and the differential flame graph).
const DIFF = D.diff;
const params = new Map(location.hash.slice(1).split('&').filter(Boolean)
  .map((kv) => { const i = kv.indexOf('='); return i < 0 ? [kv, ''] : [kv.slice(0, i), decodeURIComponent(kv.slice(i + 1))]; }));

// ---- helpers --------------------------------------------------------------------------
function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  if (props) for (const k in props) {
    const v = props[k];
    if (v == null) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k instanceof Node ? k : String(k));
  return e;
}
const num = (n) => (n == null ? '—' : Number(n).toLocaleString('en-US'));
function bytes(n) {
  if (n == null) return '—';
  const a = Math.abs(n), u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  if (a < 1024) return n + ' B';
  let i = 0, v = n;
  while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return v.toFixed(2) + ' ' + u[i];
}
const secs = (s) => (s == null ? '—' : (s < 10 ? Number(s).toFixed(3) : Number(s).toFixed(2)) + ' s');
const pct = (a, b) => (b > 0 ? (100 * a / b).toFixed(a / b < 0.001 ? 3 : 1) + '%' : '—');
const str = (i) => (i == null || i < 0 ? '' : S[i]);
const frame = (i) => { const f = F[i]; return { fn: S[f[0]], file: S[f[1]], line: f[2], mod: S[f[3]], inl: !!f[4] }; };
const base = (p) => (p || '').slice((p || '').lastIndexOf('/') + 1);
// The theme's colours, read once (getComputedStyle in a drawing loop forces a style pass).
const cssCache = new Map();
const css = (name) => { let v = cssCache.get(name); if (v == null) { v = getComputedStyle(document.documentElement).getPropertyValue(name).trim(); cssCache.set(name, v); } return v; };
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { cssCache.clear(); dispatchEvent(new Event('resize')); });
function stackFrames(id) { const s = D.stacks[String(id)]; return s ? s.map(frame) : null; }
// The program's frame: the first outside /usr (system headers, libraries), as the summary says.
function programFrame(id) {
  const fr = stackFrames(id);
  if (!fr || !fr.length) return null;
  return fr.find((f) => f.file && !f.file.startsWith('/usr/')) || fr[0];
}
function where(f) { return f ? f.fn + (f.file ? '  ' + base(f.file) + ':' + f.line : '') : ''; }
function stackText(id) {
  if (id === 0) return cfg.stack_depth === 0 ? '(no stacks: MEMTRACK_STACK_DEPTH=0)' : '(no stack recorded)';
  const fr = stackFrames(id);
  if (!fr) return '(stack ' + id + ' not symbolized: the report symbolizes the leading sites of each view)';
  return fr.map((f, i) => '#' + i + ' ' + f.fn + (f.inl ? ' [inlined]' : '') +
    (f.file ? '  ' + f.file + ':' + f.line : '') + (f.mod ? '  (' + base(f.mod) + ')' : '')).join('\n');
}
function copyButton(label, text) {
  const b = el('button', { type: 'button', title: text, text: label });
  b.addEventListener('click', (ev) => {
    ev.stopPropagation();
    const done = () => { b.textContent = 'copied'; setTimeout(() => (b.textContent = label), 1200); };
    const fallback = () => {
      const t = el('textarea'); t.value = text; document.body.append(t); t.select();
      try { document.execCommand('copy'); done(); } catch (e) { prompt('Copy:', text); }
      t.remove();
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  });
  return b;
}
const panels = [];
function panel(id, title) {
  const s = el('section', { id: 'p-' + id }, el('h2', { text: title }));
  document.getElementById('app').append(s);
  panels.push([id, title]);
  return s;
}
const tip = el('div', { id: 'tip' });
document.body.append(tip);
function showTip(ev, nodes) {
  tip.replaceChildren(...nodes);
  tip.style.display = 'block';
  const w = tip.offsetWidth, h = tip.offsetHeight;
  tip.style.left = Math.min(ev.clientX + 14, innerWidth - w - 8) + 'px';
  tip.style.top = (ev.clientY + 16 + h > innerHeight ? ev.clientY - h - 10 : ev.clientY + 16) + 'px';
}
const hideTip = () => (tip.style.display = 'none');
function hidpi(canvas, w, h) {
  const r = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * r); canvas.height = Math.round(h * r);
  canvas.style.height = h + 'px';
  const g = canvas.getContext('2d');
  g.setTransform(r, 0, 0, r, 0, 0);
  return g;
}
function table(head, rows) {
  return el('table', null, el('tr', null, ...head.map((h) => el('th', { class: h[1] ? 'n' : null, text: h[0] }))),
    ...rows.map((r) => el('tr', null, ...r.map((c, i) => el('td', { class: head[i][1] ? 'n' : null, text: c })))));
}

document.title = (DIFF ? 'memtrack diff: ' : 'memtrack: ') + base(R.program || '?') + (R.pid ? ' (pid ' + R.pid + ')' : '');

// ---- 1. summary -----------------------------------------------------------------------
const stats = { summary: {} };
function summary() {
  const s = panel('summary', 'Summary');
  const cards = el('div', { class: 'cards' });
  const card = (k, v, sub, key, raw, cls) => {
    const value = el('div', { class: 'v' + (cls ? ' ' + cls : ''), text: v });
    if (key) { value.dataset.key = key; value.dataset.value = String(raw); stats.summary[key] = raw; }
    cards.append(el('div', { class: 'card' }, el('div', { class: 'k', text: k }), value, sub ? el('div', { class: 's', text: sub }) : null));
  };
  const argv = (R.argv || []).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : "'" + a.replace(/'/g, "'\\''") + "'")).join(' ');
  card('program', base(R.program || '?'), R.program);
  card('command line', argv || '—');
  card('pid / ppid', (R.pid ?? '?') + ' / ' + (R.ppid ?? '?'), 'report: ' + (R.reason || 'exit') + ', memtrack ' + (R.memtrack_version || '?') + ', format v' + R.version);
  const st = R.exit_status, fs = R.final_status ?? st;
  card('exit status', st == null ? 'none (report on request)' : String(st),
    R.gate ? 'gate: ' + R.gate + ' → exit status ' + fs : (fs !== st ? 'final status ' + fs : 'no gate changed it'),
    'exit_status', st, R.gate ? 'bad' : null);
  card('time', 'wall ' + secs(proc.wall_s), 'user ' + secs(proc.user_s) + ', sys ' + secs(proc.sys_s) + ', CPU/wall ' + (proc.cpu_wall_ratio ?? '—'), 'wall_s', proc.wall_s);
  card('max RSS', bytes(proc.max_rss_bytes), 'the OS\'s view (getrusage)', 'max_rss_bytes', proc.max_rss_bytes);
  card('peak heap', bytes(heap.peak_bytes), 'at ' + secs(heap.peak_time_s) + ' (' + num(heap.peak_bytes) + ' B)', 'peak_bytes', heap.peak_bytes);
  card('live at exit', bytes(heap.live_bytes_at_exit), num(heap.live_blocks_at_exit) + ' blocks', 'live_bytes_at_exit', heap.live_bytes_at_exit);
  card('allocations', num(heap.allocations), num(heap.frees) + ' frees, ' + num(heap.foreign_frees) + ' foreign frees', 'allocations', heap.allocations);
  card('bytes allocated', bytes(heap.bytes_allocated), num(heap.bytes_allocated) + ' B in total', 'bytes_allocated', heap.bytes_allocated);
  if (R.leak_checked) {
    const leaked = (LT.direct_bytes || 0) + (LT.indirect_bytes || 0);
    card('leaked', bytes(leaked), bytes(LT.direct_bytes) + ' direct (' + num(LT.direct_blocks) + ' blocks), ' + bytes(LT.indirect_bytes) + ' indirect (' + num(LT.indirect_blocks) + ')', 'leaked_bytes', leaked, leaked ? 'bad' : 'ok');
    card('possible / suppressed', bytes(LT.possible_bytes) + ' / ' + bytes(LT.suppressed_bytes), num(LT.possible_blocks) + ' / ' + num(LT.suppressed_blocks) + ' blocks; ignored ' + bytes(LT.ignored_bytes));
    card('reference cycles', num(LT.cycles), num(LT.cycle_blocks) + ' blocks in cycles', 'cycles', LT.cycles);
  } else card('leak check', 'off', 'MEMTRACK_LEAK_CHECK=0');
  s.append(cards);
  const notes = [];
  const note = (t, cls) => notes.push(el('li', { class: cls || 'warn', text: t }));
  if (cfg.stack_depth === 0) note('Stats-only mode (MEMTRACK_STACK_DEPTH=0): no stacks, so no flame graph and no sites; totals and the timeline are exact.');
  else if (!R.sites_recorded) note('This report has no sites (written by a memtrack before per-site data): the flame graph shows leaks only.');
  const sc = R.scan || {};
  if (R.leak_checked && sc.complete === false) note('The leak scan was incomplete: some memory could not be read, so some blocks may show as leaked.', 'bad');
  if (sc.threads_not_paused > 0) note(sc.threads_not_paused + ' threads did not pause for the scan: their whole stacks were roots.');
  if (heap.peak_attributed_bytes && heap.peak_attributed_bytes !== heap.peak_bytes)
    note('The sites hold ' + bytes(heap.peak_attributed_bytes) + ' of the ' + bytes(heap.peak_bytes) + ' peak: with several threads each folds its counts in batches, so a peak is exact to within 1 MiB per allocating thread.');
  if (R.gate) note('Gate: ' + R.gate + ' (exit status ' + fs + ').', 'bad');
  if (FOLD.folded_nodes > 0)
    note('Folded ' + num(FOLD.folded_nodes) + ' of ' + num(FOLD.nodes_before) + ' call-tree nodes, each under ' + (FOLD.threshold * 100).toPrecision(2) + '% of every view, into "[other]" boxes (totals stay exact).', 'mute');
  if (FOLD.sites_listed < FOLD.sites)
    note('The table lists ' + num(FOLD.sites_listed) + ' of ' + num(FOLD.sites) + ' sites; the others held ' + bytes(FOLD.sites_omitted_peak_bytes) + ' at the peak.', 'mute');
  if (R.site_table && R.site_table.sites > R.site_table.listed)
    note('The run had ' + num(R.site_table.sites) + ' sites; its report lists ' + num(R.site_table.listed) + ' (the rest are summed in site 0).', 'mute');
  if (FOLD.timeline_points < FOLD.timeline_points_in)
    note('The timeline keeps ' + num(FOLD.timeline_points) + ' of ' + num(FOLD.timeline_points_in) + ' samples: the lowest and highest of each run of samples, so the peak stays.', 'mute');
  for (const k in FOLD.leak_groups_omitted) { const o = FOLD.leak_groups_omitted[k]; note(num(o[0]) + ' ' + k + ' leak groups (' + bytes(o[1]) + ') are not listed.', 'mute'); }
  if (FOLD.cycles_omitted) note(num(FOLD.cycles_omitted) + ' cycle shapes are not listed.', 'mute');
  if (FOLD.names_cut) note(num(FOLD.names_cut) + ' names over 1 KiB are cut in the middle (the JSON report has them whole).', 'mute');
  if (FOLD.level > 0) note('The page was pruned to fit its ' + bytes(FOLD.max_size) + ' cap (--html-max-size).', 'mute');
  if (notes.length) s.append(el('ul', { class: 'notes' }, ...notes));
}

// The diff's first panel: both runs, the text diff's totals table, the largest site changes, gates.
function comparison() {
  const s = panel('summary', 'Comparison');
  for (const k of ['a', 'b']) { const x = DIFF[k]; s.append(el('p', { text: k.toUpperCase() + ' = ' + x.path + ' (' + base(x.program) + ', pid ' + x.pid + ', memtrack ' + x.memtrack_version + ')' })); }
  for (const w of DIFF.warnings) s.append(el('p', { class: 'warn', text: 'warning: ' + w }));
  const U = { bytes, count: num, seconds: secs }, rel = (d, a) => ' (' + (d > 0 ? '+' : '') + (100 * d / a).toFixed(1) + '%)';
  const rows = DIFF.totals.filter((r) => r[3] || r[4]);
  const t = table([['', 0], ['A', 1], ['B', 1], ['B − A', 1]], rows.map((r) => {
    const u = U[r[2]], d = r[4] - r[3];
    return [r[1], u(r[3]), u(r[4]), u(r[3]) === u(r[4]) ? '=' : (d > 0 ? '+' : '') + u(d) + (r[3] && r[2] !== 'seconds' ? rel(d, r[3]) : '')];
  }));
  t.id = 'totals';
  s.append(t);
  stats.totals = rows.length;
  const c = DIFF.site_counts;
  if (DIFF.sites_recorded) {
    s.append(el('h3', { text: 'Sites (matched by ' + DIFF.match + '): ' + c[0] + ' new, ' + c[1] + ' gone, ' + c[2] + ' changed, ' + c[3] + ' the same' }));
    if (DIFF.changes.length) s.append(table([['', 0], ['peak', 1], ['exit', 1], ['allocated', 1], ['site', 0]],
      DIFF.changes.map((r) => [r[0], signed(bytes, r[1]), signed(bytes, r[2]), signed(bytes, r[3]), r[4]])));
  }
  for (const g of DIFF.gates) s.append(el('p', { class: g[1] ? 'ok' : 'bad', text: 'gate ' + g[0] + ': ' + (g[1] ? 'pass' : 'FAILED') + ': ' + g[2] }));
}
const signed = (u, d) => (d > 0 ? '+' : '') + u(d);

// ---- 2. timeline ----------------------------------------------------------------------
function timeline() {
  const s = panel('timeline', 'Heap over time');
  const rows = D.timeline;
  stats.timeline = { points: rows.length, max: 0 };
  if (!rows.length) { s.append(el('p', { class: 'mute', text: 'No samples (the sampler was off: MEMTRACK_INTERVAL=0).' })); return; }
  const hasRss = rows.some((r) => r.length > 2 && r[2] != null);
  const readout = el('div', { class: 'legend', text: 'drag to zoom, double-click to reset' });
  const c = el('canvas', { id: 'timeline', height: 240 });
  const lg = el('div', { class: 'legend' },
    el('span', null, el('i', { style: 'background:' + css('--acc') }), 'heap (requested bytes)'),
    hasRss ? el('span', null, el('i', { style: 'background:#1e88e5' }), 'RSS') : null,
    el('span', null, el('i', { style: 'background:' + css('--bad') }), 'peak ' + bytes(heap.peak_bytes) + ' at ' + secs(heap.peak_time_s)),
    proc.max_rss_bytes ? el('span', null, el('i', { style: 'background:#888' }), 'max RSS ' + bytes(proc.max_rss_bytes)) : null);
  // timeline_sites: the bytes of the leading sites per point, drawn stacked (heaptrack's Consumed).
  const TS = D.timeline_sites && D.timeline_sites.values.length === rows.length ? D.timeline_sites : null;
  const SITE_COLORS = ['#2e7d32', '#1565c0', '#ef6c00', '#6a1b9a', '#00838f', '#c62828', '#9e9d24', '#4e342e', '#ad1457', '#37474f'];
  let stacked = !!TS && params.get('timeline') === 'stacked';
  const toggle = el('button', { type: 'button', text: 'stacked top sites' });
  const siteLegend = el('div', { class: 'legend' });
  if (TS) {
    toggle.addEventListener('click', () => { stacked = !stacked; toggle.textContent = stacked ? 'heap and RSS' : 'stacked top sites'; siteLegend.style.display = stacked ? '' : 'none'; draw(); });
    siteLegend.append(...TS.stacks.map((id, k) => el('span', null, el('i', { style: 'background:' + SITE_COLORS[k % 10] }), where(programFrame(id)) || 'stack ' + id)),
      el('span', null, el('i', { style: 'background:#bdbdbd' }), 'other sites'));
    siteLegend.style.display = stacked ? '' : 'none';
    if (stacked) toggle.textContent = 'heap and RSS';
  }
  s.append(TS ? el('div', { class: 'ctl' }, toggle) : null, readout, c, lg, siteLegend);
  stats.timeline.toggle = TS ? () => toggle.click() : null;
  const tMin = rows[0][0], tMax = Math.max(rows[rows.length - 1][0], tMin + 1e-6);
  let view = [tMin, tMax], drag = null, hover = null;
  const H = 240, PAD = { l: 70, r: 12, t: 12, b: 22 };
  function draw() {
    const W = c.clientWidth || 900;
    const g = hidpi(c, W, H);
    const [t0, t1] = view, pw = W - PAD.l - PAD.r, ph = H - PAD.t - PAD.b;
    let ymax = 1;
    for (const r of rows) if (r[0] >= t0 && r[0] <= t1) { ymax = Math.max(ymax, r[1], hasRss ? r[2] || 0 : 0); }
    if (heap.peak_time_s >= t0 && heap.peak_time_s <= t1) ymax = Math.max(ymax, heap.peak_bytes);
    const withRss = proc.max_rss_bytes && proc.max_rss_bytes <= ymax * 1.5;
    if (withRss) ymax = Math.max(ymax, proc.max_rss_bytes);
    ymax *= 1.08;
    const X = (t) => PAD.l + (t - t0) / (t1 - t0) * pw, Y = (v) => PAD.t + ph - v / ymax * ph;
    g.fillStyle = css('--bg'); g.fillRect(0, 0, W, H);
    g.strokeStyle = css('--line'); g.fillStyle = css('--mute'); g.font = '11px sans-serif'; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = PAD.t + ph * i / 4; g.beginPath(); g.moveTo(PAD.l, y); g.lineTo(W - PAD.r, y); g.stroke();
      g.textAlign = 'right'; g.fillText(bytes(Math.round(ymax * (1 - i / 4))), PAD.l - 4, y + 4);
    }
    g.textAlign = 'center';
    for (let i = 0; i <= 5; i++) g.fillText(secs(t0 + (t1 - t0) * i / 5), PAD.l + pw * i / 5, H - 6);
    // One column per pixel: its first, lowest, highest and last sample (a step line).
    const series = (idx, color) => {
      g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
      let started = false, col = -1, lo = 0, hi = 0, last = 0, prev = null, drawn = 0;
      const flush = () => {
        if (col < 0) return;
        const x = PAD.l + col;
        if (!started) { g.moveTo(x, Y(prev != null ? prev : lo)); started = true; }
        else g.lineTo(x, Y(prev));
        g.lineTo(x, Y(lo)); g.lineTo(x, Y(hi)); g.lineTo(x, Y(last));
        prev = last; drawn++;
      };
      let before = null;
      for (const r of rows) {
        const v = r[idx];
        if (v == null) continue;
        if (r[0] < t0) { before = v; continue; }
        if (r[0] > t1) break;
        const k = Math.floor((r[0] - t0) / (t1 - t0) * (pw - 1));
        if (k !== col) { flush(); if (prev == null) prev = before != null ? before : v; col = k; lo = hi = last = v; }
        else { lo = Math.min(lo, v); hi = Math.max(hi, v); last = v; }
        if (idx === 1) stats.timeline.max = Math.max(stats.timeline.max, v);
      }
      flush();
      if (started) g.lineTo(W - PAD.r, Y(prev));
      g.stroke();
      return drawn;
    };
    if (stacked) {
      // Each point's sites stacked from the bottom, up to the next point (a step chart).
      for (let i = 0; i < rows.length; i++) {
        const a = rows[i][0], b = i + 1 < rows.length ? rows[i + 1][0] : t1;
        if (b < t0 || a > t1) continue;
        const x0 = X(Math.max(a, t0)), x1 = Math.max(X(Math.min(b, t1)), x0 + 0.5), v = TS.values[i];
        let acc = 0;
        for (let k = 0; k < v.length; k++) {
          if (!v[k]) continue;
          g.fillStyle = k < TS.stacks.length ? SITE_COLORS[k % 10] : '#bdbdbd';
          g.fillRect(x0, Y(acc + v[k]), x1 - x0, Y(acc) - Y(acc + v[k]));
          acc += v[k];
        }
      }
    } else {
      stats.timeline.columns = series(1, css('--acc'));
      if (hasRss) series(2, '#1e88e5');
    }
    if (withRss) {
      g.setLineDash([4, 4]); g.strokeStyle = '#888'; g.beginPath();
      g.moveTo(PAD.l, Y(proc.max_rss_bytes)); g.lineTo(W - PAD.r, Y(proc.max_rss_bytes)); g.stroke(); g.setLineDash([]);
    }
    if (heap.peak_time_s >= t0 && heap.peak_time_s <= t1) {
      const x = X(heap.peak_time_s), y = Y(heap.peak_bytes);
      g.fillStyle = css('--bad'); g.beginPath(); g.arc(x, y, 4, 0, 7); g.fill();
      g.font = 'bold 12px sans-serif'; g.textAlign = x > W - 200 ? 'right' : 'left';
      g.fillText(bytes(heap.peak_bytes) + ' at ' + secs(heap.peak_time_s), x + (x > W - 200 ? -8 : 8), Math.max(y - 6, 12));
    }
    if (drag) { g.fillStyle = css('--sel'); g.fillRect(Math.min(drag[0], drag[1]), PAD.t, Math.abs(drag[1] - drag[0]), ph); }
    if (hover != null) {
      g.strokeStyle = css('--mute'); g.beginPath(); g.moveTo(hover, PAD.t); g.lineTo(hover, PAD.t + ph); g.stroke();
    }
    c.T = (x) => t0 + (x - PAD.l) / pw * (t1 - t0);
  }
  const px = (ev) => ev.clientX - c.getBoundingClientRect().left;
  c.addEventListener('mousedown', (ev) => { drag = [px(ev), px(ev)]; });
  c.addEventListener('mousemove', (ev) => {
    const x = px(ev);
    if (drag) drag[1] = x;
    hover = x;
    const t = c.T(x);
    let r = null;
    for (const row of rows) { if (row[0] > t) break; r = row; }
    readout.textContent = r ? 't ' + secs(t) + ': heap ' + bytes(r[1]) + (hasRss && r[2] != null ? ', RSS ' + bytes(r[2]) : '') + ' (sample at ' + secs(r[0]) + ')' : 't ' + secs(t);
    draw();
  });
  c.addEventListener('mouseleave', () => { hover = null; drag = null; draw(); });
  c.addEventListener('mouseup', () => {
    if (drag && Math.abs(drag[1] - drag[0]) > 4) {
      const a = c.T(Math.min(...drag)), b = c.T(Math.max(...drag));
      if (b > a) view = [Math.max(a, tMin), Math.min(b, tMax)];
    }
    drag = null; draw();
  });
  c.addEventListener('dblclick', () => { view = [tMin, tMax]; draw(); });
  stats.timeline.canvas = c; stats.timeline.view = () => view.slice();
  addEventListener('resize', draw);
  draw();
}

// ---- 3. flame graph -------------------------------------------------------------------
const DV = { peak: 'Live at peak', exit: 'Live at exit', alloc_bytes: 'Bytes allocated', alloc_count: 'Allocations', leaked: 'Leaked (direct and indirect)' };
const VIEWS = DIFF ? Object.fromEntries(Object.keys(DV).map((v) => [v, { label: DV[v], cols: [v + '_a', v + '_b'], blocks: null, unit: v === 'alloc_count' ? num : bytes, total: () => DIFF.views[v] }])) : {
  peak: { label: 'Live at peak', cols: ['peak'], blocks: 'peak_blocks', unit: bytes, total: () => heap.peak_attributed_bytes },
  leaked: { label: 'Leaked', cols: ['direct', 'indirect', 'possible'], blocks: 'leak_blocks', unit: bytes, total: () => (LT.direct_bytes || 0) + (LT.indirect_bytes || 0) + (LT.possible_bytes || 0) },
  exit: { label: 'Live at exit', cols: ['exit'], blocks: 'exit_blocks', unit: bytes, total: () => heap.live_bytes_at_exit },
  alloc_bytes: { label: 'Bytes allocated', cols: ['alloc_bytes'], blocks: 'alloc_count', unit: bytes, total: () => heap.bytes_allocated },
  alloc_count: { label: 'Allocations', cols: ['alloc_count'], blocks: null, unit: num, total: () => heap.allocations },
};
const LEAK_COLORS = ['#d32f2f', '#f57c00', '#fbc02d'];
const T = D.tree, NN = T.parent.length;
const zeros = new Float64Array(NN);
const colSelf = (c) => (T.self[c] ? T.self[c] : zeros);

// A tree for a view: {frame, parent, kids, tot: [per column totals], val} in callers-first or
// allocation-site-first (inverted) order.
function buildTree(view, inverted) {
  const cols = VIEWS[view].cols.concat(VIEWS[view].blocks ? [VIEWS[view].blocks] : []);
  let frame, parent, self;
  if (!inverted) {
    frame = T.frame; parent = T.parent; self = cols.map(colSelf);
  } else {
    frame = [T.frame[0]]; parent = [0]; self = cols.map(() => [0]);
    const key = new Map(), src = cols.map(colSelf);
    for (let n = 1; n < NN; n++) {
      if (!src.some((a) => a[n] > 0)) continue;
      let at = 0;
      for (let m = n; m !== 0; m = T.parent[m]) {
        const f = T.frame[m], fr = F[f], k = at + '\n' + fr[0] + '\n' + fr[3];
        let c = key.get(k);
        if (c === undefined) { c = frame.length; key.set(k, c); frame.push(f); parent.push(at); self.forEach((a) => a.push(0)); }
        at = c;
      }
      src.forEach((a, i) => (self[i][at] += a[n]));
    }
  }
  // A diff's width: the larger of A and B at each node, summed up the tree, so that what went
  // away (B = 0) still shows; tot[0] and tot[1] are A's and B's own totals.
  if (DIFF) self.push(Array.from(self[0], (x, n) => Math.max(x, self[1][n])));
  const N = frame.length, tot = self.map((a) => Float64Array.from(a));
  for (let n = N - 1; n > 0; n--) for (const t of tot) t[parent[n]] += t[n];
  const nv = VIEWS[view].cols.length, val = DIFF ? tot[2] : new Float64Array(N);
  if (!DIFF) for (let n = 0; n < N; n++) for (let i = 0; i < nv; i++) val[n] += tot[i][n];
  const kids = Array.from({ length: N }, () => []);
  for (let n = 1; n < N; n++) if (val[n] > 0) kids[parent[n]].push(n);
  for (const k of kids) k.sort((a, b) => val[b] - val[a]);
  return { frame, parent, kids, tot, val, nv, blocks: VIEWS[view].blocks ? tot[nv] : null, N };
}

const rootOf = (t) => (DIFF ? t.tot[0][0] + ' → ' + t.tot[1][0] : t.val[0]);
function flame() {
  const s = panel('flame', 'Flame graph');
  if (NN <= 1) {
    s.append(el('p', { class: 'mute', text: cfg.stack_depth === 0 ? 'No stacks in this report (stats-only mode, MEMTRACK_STACK_DEPTH=0): run with stacks on for a flame graph.' : 'No allocation sites in this report.' }));
    stats.flame = { views: {} };
    return;
  }
  const pick = el('select', { 'aria-label': 'view' }, ...Object.keys(VIEWS).map((v) => el('option', { value: v, text: VIEWS[v].label })));
  const orient = el('button', { type: 'button' }), merge = el('button', { type: 'button' });
  const search = el('input', { type: 'search', placeholder: 'search functions (regex)', 'aria-label': 'search' });
  const matched = el('span', { class: 'mute' });
  const crumbs = el('div', { class: 'crumbs' });
  const c = el('canvas', { id: 'flame' });
  const legend = el('div', { class: 'legend' });
  s.append(el('div', { class: 'ctl' }, pick, orient, merge, search, matched), crumbs, c, legend);
  let view = VIEWS[params.get('flame')] ? params.get('flame') : 'peak';
  let icicle = params.get('orient') !== 'flame', inverted = params.get('merge') === 'site';
  let tree, focus = 0, re = null, boxes = [];
  pick.value = view;
  const ROW = 18, MINW = 2;
  const progModule = R.program || '';
  function colour(n) {
    const fr = F[tree.frame[n]], name = S[fr[0]], mod = S[fr[3]];
    if (re && re.test(name)) return css('--hit');
    if (DIFF) {
      // Red grew, blue shrank, the deeper the larger the change relative to the node.
      const a = tree.tot[0][n], b = tree.tot[1][n], r = Math.min(1, Math.abs(b - a) / Math.max(a, b, 1));
      return a === b ? '#d5d5d5' : 'hsl(' + (b > a ? 0 : 215) + ',85%,' + (90 - 40 * r) + '%)';
    }
    if (name.startsWith('[')) return '#9e9e9e';
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
    const v = (h >>> 0) % 1000 / 1000;
    if (mod === progModule) return 'hsl(' + (95 + 40 * v) + ',55%,' + (48 + 12 * v) + '%)';
    if (/\/lib(c|stdc\+\+|m|pthread|gcc_s)[.-]/.test(mod)) return 'hsl(' + (55 + 12 * v) + ',45%,' + (52 + 10 * v) + '%)';
    return 'hsl(' + (160 + 25 * v) + ',40%,' + (50 + 12 * v) + '%)';
  }
  function label(n) { return S[F[tree.frame[n]][0]]; }
  const amount = (n) => { const u = VIEWS[view].unit; if (!DIFF) return u(tree.val[n]); const a = tree.tot[0][n], b = tree.tot[1][n]; return u(a) + ' → ' + u(b) + ' (' + (a === b ? '=' : signed(u, b - a)) + ')'; };
  function rebuild() { tree = buildTree(view, inverted); focus = 0; }
  function draw() {
    const W = c.clientWidth || 900;
    // Depth of the focused subtree (and its ancestors above it).
    const anc = [];
    for (let n = focus; n !== 0; n = tree.parent[n]) anc.unshift(n);
    let depth = 0;
    const walk = (n, d) => { depth = Math.max(depth, d); for (const k of tree.kids[n]) if (tree.val[k] / tree.val[focus] * W >= MINW) walk(k, d + 1); else { depth = Math.max(depth, d + 1); break; } };
    walk(focus, anc.length);
    const rows = depth + 1, H = Math.max(rows * ROW + 4, 60);
    const g = hidpi(c, W, H);
    g.fillStyle = css('--bg'); g.fillRect(0, 0, W, H);
    g.font = '12px sans-serif'; g.textBaseline = 'middle';
    boxes = [];
    const yOf = (d) => (icicle ? d * ROW : H - (d + 1) * ROW);
    const box = (x, w, d, fill, text, info) => {
      const y = yOf(d);
      g.fillStyle = fill; g.fillRect(x, y, Math.max(w - 1, 1), ROW - 1);
      if (w > 28) {
        g.fillStyle = '#111'; let t = text;
        const max = w - 6;
        if (g.measureText(t).width > max) {
          let lo = 0, hi = t.length;
          while (lo < hi) { const m = (lo + hi + 1) >> 1; if (g.measureText(t.slice(0, m) + '…').width <= max) lo = m; else hi = m - 1; }
          t = lo > 0 ? t.slice(0, lo) + '…' : '';
        }
        g.fillText(t, x + 3, y + ROW / 2);
      }
      boxes.push({ x, y, w, h: ROW, info });
    };
    const segments = (n, x, w, d) => {
      if (DIFF || view !== 'leaked' || re && re.test(label(n)) || label(n).startsWith('[')) return false;
      let at = x;
      for (let i = 0; i < 3; i++) { const sw = w * tree.tot[i][n] / tree.val[n]; if (sw > 0) { g.fillStyle = LEAK_COLORS[i]; g.fillRect(at, yOf(d), Math.max(sw - 1, 0.5), ROW - 1); } at += sw; }
      return true;
    };
    // The root, then the ancestors of the focus at full width.
    const chain = [0].concat(anc);
    chain.forEach((n, d) => {
      const name = n === 0 ? 'all (' + VIEWS[view].label.toLowerCase() + ')' : label(n);
      box(0, W, d, n === focus ? colour(n) : css('--line'), name + '  ' + amount(n), { n });
      if (n === focus && n !== 0) segments(n, 0, W, d);
    });
    const total = tree.val[focus];
    const lay = (n, x, d) => {
      let at = x;
      const kids = tree.kids[n];
      for (let i = 0; i < kids.length; i++) {
        const k = kids[i], w = tree.val[k] / total * W;
        if (w < MINW) {
          // The rest are smaller still (sorted): one box for all of them, its total exact.
          let v = 0; for (let j = i; j < kids.length; j++) v += tree.val[kids[j]];
          const mw = v / total * W;
          if (mw >= 0.5) box(at, mw, d, '#bdbdbd', '[' + (kids.length - i) + ' smaller' + (DIFF ? '' : ': ' + VIEWS[view].unit(v)) + ']', { merged: kids.length - i, v, parent: n });
          break;
        }
        box(at, w, d, colour(k), label(k), { n: k });
        segments(k, at, w, d);
        lay(k, at, d + 1);
        at += w;
      }
    };
    lay(focus, 0, chain.length);
    // Crumbs and the matched share.
    crumbs.replaceChildren(...chain.flatMap((n, i) => {
      const a = el('a', { text: n === 0 ? 'all' : label(n) });
      a.addEventListener('click', () => { focus = n; draw(); });
      return i ? [' › ', a] : [a];
    }));
    if (re) {
      let v = 0, nodes = 0;
      const visit = (n) => { if (n && re.test(label(n))) { v += tree.val[n]; nodes++; return; } for (const k of tree.kids[n]) visit(k); };
      visit(0);
      matched.textContent = nodes ? 'matched ' + VIEWS[view].unit(v) + ' (' + pct(v, tree.val[0]) + ') in ' + nodes + ' frames' : 'no match';
      stats.search = { nodes, value: v, share: tree.val[0] ? v / tree.val[0] : 0 };
    } else matched.textContent = '';
    orient.textContent = icicle ? 'icicle ▾' : 'flame ▴';
    merge.textContent = inverted ? 'allocation site first' : 'callers first';
    legend.replaceChildren(...(DIFF ? [['hsl(0,85%,55%)', 'grew (B > A)'], ['hsl(215,85%,55%)', 'shrank'], ['#d5d5d5', 'the same']].map(([c, t]) => el('span', null, el('i', { style: 'background:' + c }), t)) : []),
      ...(view === 'leaked' && !DIFF ? ['direct', 'indirect', 'possible'].map((k, i) => el('span', null, el('i', { style: 'background:' + LEAK_COLORS[i] }), k)) : []),
      el('span', null, el('i', { style: 'background:' + css('--hit') }), 'search match'),
      el('span', null, el('i', { style: 'background:#bdbdbd' }), 'smaller siblings, merged'),
      el('span', { text: 'click to zoom, Esc or double-click to reset; total ' + amount(0) + (DIFF ? '; width: the larger of A and B' : '') }));
  }
  function at(ev) {
    const r = c.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    return boxes.find((b) => x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h);
  }
  c.addEventListener('mousemove', (ev) => {
    const b = at(ev);
    if (!b) return hideTip();
    const V = VIEWS[view], root = tree.val[0];
    if (b.info.merged) return showTip(ev, [el('b', { text: b.info.merged + ' smaller frames' }), el('div', { text: V.unit(b.info.v) + ' (' + pct(b.info.v, root) + ' of the view), each too narrow to draw' })]);
    const n = b.info.n, f = frame(tree.frame[n]);
    let self = tree.val[n];
    for (const k of tree.kids[n]) self -= tree.val[k];
    const lines = [el('b', { text: n ? f.fn : 'all' })];
    if (f.file) lines.push(el('div', { text: f.file + ':' + f.line + (f.inl ? ' [inlined]' : '') }));
    else if (f.inl) lines.push(el('div', { text: '[inlined]' }));
    if (f.mod) lines.push(el('div', { class: 'mute', text: f.mod }));
    if (DIFF) lines.push(el('div', { text: 'A ' + V.unit(tree.tot[0][n]) + ', B ' + V.unit(tree.tot[1][n]) + ': ' + amount(n).replace(/.*→ /, '') + (tree.tot[0][n] ? ', ' + signed((x) => (100 * x).toFixed(1) + '%', tree.tot[1][n] / tree.tot[0][n] - 1) : ', new') }));
    else lines.push(el('div', { text: 'total ' + V.unit(tree.val[n]) + ' (' + pct(tree.val[n], root) + ' of the view), self ' + V.unit(self) }));
    if (tree.blocks) lines.push(el('div', { text: num(tree.blocks[n]) + (view.startsWith('alloc') ? ' allocations' : ' blocks') }));
    if (view === 'leaked') lines.push(el('div', { text: ['direct', 'indirect', 'possible'].map((k, i) => k + ' ' + bytes(tree.tot[i][n])).join(', ') }));
    showTip(ev, lines);
  });
  c.addEventListener('mouseleave', hideTip);
  c.addEventListener('click', (ev) => { const b = at(ev); if (b && b.info.n != null) { focus = b.info.n; draw(); } else if (b && b.info.merged) { focus = b.info.parent; draw(); } });
  c.addEventListener('dblclick', () => { focus = 0; draw(); });
  addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { focus = 0; draw(); } });
  pick.addEventListener('change', () => { view = pick.value; rebuild(); draw(); });
  orient.addEventListener('click', () => { icicle = !icicle; draw(); });
  merge.addEventListener('click', () => { inverted = !inverted; rebuild(); draw(); });
  search.addEventListener('input', () => {
    const q = search.value;
    try { re = q ? new RegExp(q, 'i') : null; } catch (e) { re = new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'); }
    draw();
  });
  addEventListener('resize', draw);
  rebuild();
  if (params.get('search')) { search.value = params.get('search'); search.dispatchEvent(new Event('input')); }
  draw();
  stats.flame = { views: {}, canvas: c, boxes: () => boxes, crumbs, orient, focus: () => focus };
  stats.flame.setView = (v) => { view = v; pick.value = v; rebuild(); draw(); };
  stats.flame.setInverted = (v) => { inverted = v; rebuild(); draw(); return rootOf(tree); };
  stats.flame.tree = () => tree;
}

// ---- 4. sites ---------------------------------------------------------------------------
function sites() {
  const s = panel('sites', 'Top allocation sites');
  const rows = D.sites;
  stats.sites = { rows: 0, listed: rows.length, first: () => tbody.firstChild };
  if (!rows.length) { s.append(el('p', { class: 'mute', text: cfg.stack_depth === 0 ? 'No sites in stats-only mode.' : 'No sites in this report.' })); return; }
  // [stack, allocations, bytes_allocated, frees, peak_bytes, peak_blocks, exit_bytes, exit_blocks, temporary, largest, first_allocation]
  const cols = [['at peak', 4, bytes], ['blocks', 5, num], ['at exit', 6, bytes], ['blocks', 7, num], ['allocated', 2, bytes],
    ['allocations', 1, num], ['frees', 3, num], ['temporary', 8, num], ['largest', 9, bytes]];
  let sortCol = 4, desc = true, shown = 200, filter = null;
  const locs = [];
  const loc = (i) => locs[i] ?? (locs[i] = where(programFrame(rows[i][0])) || (rows[i][0] === 0 ? '(no stack recorded)' : '(stack ' + rows[i][0] + ', not symbolized)'));
  const hay = new Map();
  const text = (i) => { let t = hay.get(i); if (t == null) { t = loc(i) + '\n' + stackText(rows[i][0]); hay.set(i, t); } return t; };
  const input = el('input', { type: 'search', placeholder: 'filter by function or file (regex)', 'aria-label': 'filter sites' });
  const count = el('span', { class: 'mute' });
  const hasSeq = rows.some((r) => r[10] != null);
  const tbody = el('tbody');
  const more = el('button', { type: 'button', text: 'show more' });
  s.append(el('div', { class: 'ctl' }, input, count), hasSeq ? null : el('p', { class: 'mute', text: 'This report has no first allocation number per site, so there is no MEMTRACK_BREAK_ALLOC button here (the leaks below have theirs).' }),
    el('table', null, el('thead', null, el('tr', null, ...cols.map((c) => {
      const th = el('th', { class: 'n', text: c[0] });
      th.addEventListener('click', () => { if (sortCol === c[1]) desc = !desc; else { sortCol = c[1]; desc = true; } render(); });
      return th;
    }), el('th', { text: 'site (first frame of the program)' }))), tbody), more);
  function render() {
    let idx = rows.map((_, i) => i);
    if (filter) idx = idx.filter((i) => filter.test(text(i)));
    idx.sort((a, b) => (desc ? rows[b][sortCol] - rows[a][sortCol] : rows[a][sortCol] - rows[b][sortCol]) || a - b);
    const view = idx.slice(0, shown);
    tbody.replaceChildren(...view.map((i) => {
      const r = rows[i];
      const tr = el('tr', { class: 'site' }, ...cols.map((c) => el('td', { class: 'n', text: c[2](r[c[1]]) })), el('td', { class: 'loc', text: loc(i) }));
      tr.addEventListener('click', () => {
        if (tr.nextSibling && tr.nextSibling.className === 'detail') { tr.nextSibling.remove(); return; }
        const td = el('td', { colspan: cols.length + 1 }, el('div', { class: 'stack', text: stackText(r[0]) }));
        if (r[10] != null) td.append(copyButton('copy MEMTRACK_BREAK_ALLOC=' + r[10], 'MEMTRACK_BREAK_ALLOC=' + r[10]));
        tr.after(el('tr', { class: 'detail' }, td));
      });
      return tr;
    }));
    stats.sites.rows = view.length;
    count.textContent = 'showing ' + num(view.length) + ' of ' + num(idx.length) + (filter ? ' matching' : '') + ' sites';
    more.style.display = idx.length > shown ? '' : 'none';
  }
  more.addEventListener('click', () => { shown += 200; render(); });
  input.addEventListener('input', () => {
    try { filter = input.value ? new RegExp(input.value, 'i') : null; } catch (e) { filter = null; }
    shown = 200; render();
  });
  render();
}

// ---- 5. leaks -----------------------------------------------------------------------------
function leaks() {
  const s = panel('leaks', 'Leaks');
  stats.leaks = { groups: 0 };
  if (!R.leak_checked) { s.append(el('p', { class: 'mute', text: 'The leak check was off (MEMTRACK_LEAK_CHECK=0).' })); return; }
  const kinds = [['direct', 'Direct leaks', 'no pointer reaches them'], ['indirect', 'Indirect leaks', 'reached only from other leaked blocks'],
    ['possible', 'Possible leaks', 'reached only through interior pointers (not counted by the gates)'], ['suppressed', 'Suppressed', 'matched a suppression']];
  for (const [k, title, why] of kinds) {
    const groups = D.leaks[k] || [];
    const h = el('h3', { text: title + ': ' + bytes(LT[k + '_bytes'] || 0) + ' in ' + num(LT[k + '_blocks'] || 0) + ' blocks' });
    h.dataset.kind = k; h.dataset.bytes = String(LT[k + '_bytes'] || 0);
    s.append(h, el('div', { class: 'mute', text: why }));
    for (const g of groups) {
      const [b, blocks, stack, first, last, type] = g;
      const pf = programFrame(stack);
      const d = el('div', { class: 'group' });
      d.dataset.kind = k;
      d.append(el('div', null, el('b', { text: bytes(b) }), ' in ' + num(blocks) + ' block' + (blocks === 1 ? '' : 's') +
        (str(type) ? ' of ' + str(type) : '') + (first != null ? ' [allocations #' + first + (last !== first ? '..#' + last : '') + ']' : '') + ' from ' + (where(pf) || '(no stack)')));
      const det = el('details', null, el('summary', { text: 'stack' }), el('div', { class: 'stack', text: stackText(stack) }));
      d.append(det);
      const btns = el('div', { class: 'ctl' });
      if (pf) btns.append(copyButton('copy suppression', 'leak:' + pf.fn));
      if (first != null) btns.append(copyButton('copy MEMTRACK_BREAK_ALLOC=' + first, 'MEMTRACK_BREAK_ALLOC=' + first));
      if (btns.childNodes.length) d.append(btns);
      s.append(d);
      stats.leaks.groups++;
    }
    if (!groups.length) s.append(el('div', { class: 'mute', text: 'none' }));
  }
}

// ---- 6. reference cycles -------------------------------------------------------------------
function cycles() {
  const s = panel('cycles', 'Reference cycles');
  stats.cycles = { shown: 0 };
  if (!R.leak_checked) { s.append(el('p', { class: 'mute', text: 'The leak check was off.' })); return; }
  if (!D.cycles.length) { s.append(el('p', { class: 'mute', text: 'No reference cycles among the unreachable blocks.' })); return; }
  for (const cy of D.cycles) {
    const names = cy.members.map((m) => str(m[3]) || (programFrame(m[1]) || { fn: bytes(m[0]) }).fn);
    const ring = names.concat(names.length ? [names[0]] : []).join(' → ') + (cy.size > cy.members.length ? ' … (' + cy.size + ' members)' : '');
    const d = el('div', { class: 'group' });
    d.dataset.cycle = String(cy.size);
    d.append(el('div', null, el('b', { text: cy.size + ' blocks, ' + bytes(cy.bytes / Math.max(cy.count, 1)) + ' each cycle' }),
      (cy.count > 1 ? ', ×' + num(cy.count) + ' (' + bytes(cy.bytes) + ' in all)' : '') + (cy.pure ? '; nothing else points at it' : '; other leaked blocks point at it') + (cy.reached_from_direct ? '; a direct leak leads to it' : '')),
    el('div', { class: 'stack', text: ring }));
    if (cy.members.length <= 12) {
      const c = el('canvas', { class: 'ring', width: 200, height: 200, style: 'width:200px;height:200px' });
      d.append(c);
      drawRing(c, cy.members.map((m) => bytes(m[0])));
    }
    d.append(table([['#', 1], ['size', 1], ['type', 0], ['allocation', 1], ['site', 0]],
      cy.members.map((m, i) => [String(i), bytes(m[0]), str(m[3]) || '—', m[2] != null ? '#' + m[2] : '—', where(programFrame(m[1])) || '(no stack)'])));
    s.append(d);
    stats.cycles.shown++;
  }
}
function drawRing(c, labels) {
  const g = hidpi(c, 200, 200), n = labels.length, R0 = n === 1 ? 0 : 70, cx = 100, cy = 100;
  const pos = labels.map((_, i) => [cx + R0 * Math.cos(-Math.PI / 2 + 2 * Math.PI * i / n), cy + R0 * Math.sin(-Math.PI / 2 + 2 * Math.PI * i / n)]);
  g.strokeStyle = css('--mute'); g.fillStyle = css('--mute'); g.lineWidth = 1.5;
  const arrow = (a, b) => {
    const dx = b[0] - a[0], dy = b[1] - a[1], L = Math.hypot(dx, dy), ux = dx / L, uy = dy / L;
    const off = n === 2 ? 7 : 0;  // two members: the two arrows side by side, not on one line
    const s = [a[0] + ux * 18 - uy * off, a[1] + uy * 18 + ux * off], e = [b[0] - ux * 18 - uy * off, b[1] - uy * 18 + ux * off];
    g.beginPath(); g.moveTo(s[0], s[1]); g.lineTo(e[0], e[1]); g.stroke();
    g.beginPath(); g.moveTo(e[0], e[1]); g.lineTo(e[0] - ux * 8 - uy * 4, e[1] - uy * 8 + ux * 4); g.lineTo(e[0] - ux * 8 + uy * 4, e[1] - uy * 8 - ux * 4); g.fill();
  };
  if (n === 1) { g.beginPath(); g.arc(cx, cy - 30, 22, 0.6, Math.PI * 2 - 0.6 + Math.PI); g.stroke(); }
  else for (let i = 0; i < n; i++) arrow(pos[i], pos[(i + 1) % n]);
  g.font = '10px sans-serif'; g.textAlign = 'center'; g.textBaseline = 'middle';
  pos.forEach((p, i) => {
    g.fillStyle = css('--acc'); g.beginPath(); g.arc(p[0], p[1], 16, 0, 7); g.fill();
    g.fillStyle = '#fff'; g.fillText(String(i), p[0], p[1] - 4); g.fillText(labels[i].replace(' ', ''), p[0], p[1] + 6);
  });
}

// ---- 7. gc, scan, configuration --------------------------------------------------------------
function gcScanConfig() {
  const s = panel('gc', 'Generations, scan and configuration');
  const gc = R.gc;
  if (gc) {
    const maxb = Math.max(1, ...(gc.live_bytes || [0]));
    s.append(el('h3', { text: 'Generations' }), table([['generation', 0], ['threshold', 1], ['count', 1], ['collections', 1], ['collected', 1], ['live blocks', 1], ['live bytes', 1]],
      [0, 1, 2].map((i) => [String(i), num((gc.threshold || [])[i]), num((gc.count || [])[i]), num((gc.collections || [])[i]), num((gc.collected || [])[i]), num((gc.live_blocks || [])[i]), bytes((gc.live_bytes || [])[i])])));
    for (let i = 0; i < 3; i++) {
      const b = el('div', { class: 'bar', title: 'generation ' + i + ': ' + bytes((gc.live_bytes || [])[i]) });
      b.style.width = (100 * ((gc.live_bytes || [])[i] || 0) / maxb) + '%';
      s.append(el('div', { class: 'legend', text: 'gen ' + i + ' live bytes' }), b);
    }
    s.append(el('p', { text: 'pauses: ' + secs(gc.total_pause_s) + ' in total, longest ' + secs(gc.max_pause_s) }));
  }
  const kv = (title, o) => {
    if (!o) return;
    s.append(el('h3', { text: title }), table([['field', 0], ['value', 0]], Object.keys(o).map((k) => {
      const v = o[k];
      return [k, typeof v === 'number' && /bytes/.test(k) ? bytes(v) + ' (' + num(v) + ')' : typeof v === 'object' ? JSON.stringify(v) : String(v)];
    })));
  };
  kv('Scan', R.scan);
  kv('Configuration', R.config);
  kv('Site table', R.site_table);
  kv('Unwind check', R.unwind_check);
}

// ---- layout, fragments, self-test ---------------------------------------------------------------
const nav = document.getElementById('nav');
document.getElementById('app').replaceChildren();
const timings = { parse: Math.round(performance.now() - T0) };
for (const f of DIFF ? [comparison, flame] : [summary, timeline, flame, sites, leaks, cycles, gcScanConfig]) {
  const t = performance.now();
  try { f(); } catch (e) { errors.push('render ' + f.name + ': ' + (e && e.stack || e)); }
  timings[f.name] = Math.round(performance.now() - t);
}
nav.append(el('b', { text: 'memtrack · ' + base(R.program || '?') }), ...panels.map(([id, t]) => el('a', { href: '#view=' + id, text: t })));
function goto() {
  const p = new Map(location.hash.slice(1).split('&').map((kv) => kv.split('=')));
  const v = p.get('view');
  const target = v && document.getElementById('p-' + v);
  if (target) target.scrollIntoView();
}
addEventListener('hashchange', goto);
goto();
const renderMs = performance.now() - T0;

function selftest() {
  const checks = [];
  const check = (name, ok, detail) => checks.push({ name, ok: !!ok, detail: detail == null ? '' : String(detail) });
  for (const el2 of document.querySelectorAll('[data-key]')) {
    const k = el2.dataset.key, want = { exit_status: R.exit_status, wall_s: proc.wall_s, max_rss_bytes: proc.max_rss_bytes, cycles: LT.cycles,
      leaked_bytes: (LT.direct_bytes || 0) + (LT.indirect_bytes || 0) }[k] ?? heap[k];
    check('summary ' + k, String(want) === el2.dataset.value, el2.dataset.value + ' vs ' + want);
  }
  const canvasInk = (c) => {
    if (!c || !c.width || !c.height) return 0;
    // A copy read once (reading the drawn canvas back twice makes Chromium warn).
    const copy = document.createElement('canvas');
    copy.width = c.width; copy.height = c.height;
    const g = copy.getContext('2d', { willReadFrequently: true });
    g.drawImage(c, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data, seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
    return seen.size;
  };
  if (!DIFF && D.timeline.length) {
    check('timeline drawn', canvasInk(document.getElementById('timeline')) > 2, canvasInk(document.getElementById('timeline')) + ' colours');
    const inTimeline = D.timeline.some((r) => r[1] === heap.peak_bytes);
    check('timeline max is the peak', !inTimeline || stats.timeline.max === heap.peak_bytes, stats.timeline.max + ' vs ' + heap.peak_bytes);
  }
  const flameOut = {};
  if (stats.flame && stats.flame.canvas) {
    for (const v in VIEWS) { const t = buildTree(v, false), e = VIEWS[v].total(); stats.flame.views[v] = { root: rootOf(t), expected: DIFF ? e[0] + ' → ' + e[1] : e || 0, tree: t }; }
    for (const v in stats.flame.views) {
      const fv = stats.flame.views[v], t = fv.tree;
      flameOut[v] = fv.root;
      if (v !== 'peak' || R.sites_recorded) check('flame ' + v + ' root equals the report total', fv.root === fv.expected, fv.root + ' vs ' + fv.expected);
      let ok = true;
      for (let n = 1; n < t.N; n++) if (t.val[n] > t.val[t.parent[n]] + 1e-9 || t.val[n] < 0) ok = false;
      check('flame ' + v + ': children never exceed their parent', ok);
    }
    check('flame canvas drawn', canvasInk(stats.flame.canvas) > 3, canvasInk(stats.flame.canvas) + ' colours');
    if (DIFF) {
      // #grown=RE&shrunk=RE: the first drawn box of a function that grew is red, of one that shrank blue.
      const c = stats.flame.canvas, g = el('canvas', { width: c.width, height: c.height }).getContext('2d', { willReadFrequently: true }), r = window.devicePixelRatio || 1;
      g.drawImage(c, 0, 0);
      for (const [k, up] of [['grown', true], ['shrunk', false]]) {
        if (!params.get(k)) continue;
        const t = stats.flame.tree(), pr = new RegExp(params.get(k));
        const b = stats.flame.boxes().find((x) => x.info.n > 0 && x.w > 2 && pr.test(S[F[t.frame[x.info.n]][0]]));
        const p = b ? g.getImageData(Math.floor((b.x + 1) * r), Math.floor((b.y + 1) * r), 1, 1).data : [0, 0, 0];
        const n = b ? b.info.n : 0, d = b ? t.tot[1][n] - t.tot[0][n] : 0;
        check(k + ' "' + params.get(k) + '" is ' + (up ? 'red' : 'blue'), b && (up ? d > 0 && p[0] > p[2] + 40 : d < 0 && p[2] > p[0] + 40), b ? S[F[t.frame[n]][0]] + ' ' + t.tot[0][n] + ' → ' + t.tot[1][n] + ' rgb ' + p[0] + ',' + p[1] + ',' + p[2] : 'no box');
      }
    }
    const inv = stats.flame.setInverted(true);
    check('inverted flame keeps the total', inv === stats.flame.views.peak.root, inv);
    stats.flame.setInverted(false);
    if (params.get('probe')) {
      // The first node (callers first, peak view) whose function matches: its total and children.
      const t = stats.flame.views.peak.tree, pr = new RegExp(params.get('probe'));
      let n = 1;
      while (n < t.N && !(t.val[n] > 0 && pr.test(S[F[t.frame[n]][0]]))) n++;
      stats.probe = n < t.N ? { fn: S[F[t.frame[n]][0]], total: t.val[n], kids: t.kids[n].map((k) => [S[F[t.frame[k]][0]], t.val[k]]) } : null;
      check('probe "' + params.get('probe') + '" found', stats.probe);
    }
    // Interaction through real events: click a box to zoom, Esc to reset, flip the orientation.
    const c = stats.flame.canvas, rc = c.getBoundingClientRect();
    const bx = stats.flame.boxes().find((b) => b.info.n > 0 && b.y !== stats.flame.boxes()[0].y && b.w > 4);
    if (bx) {
      c.dispatchEvent(new MouseEvent('click', { clientX: rc.left + bx.x + 2, clientY: rc.top + bx.y + 2, bubbles: true }));
      check('click zooms into a frame', stats.flame.focus() === bx.info.n && stats.flame.crumbs.textContent.endsWith(S[F[T.frame[bx.info.n]][0]]), stats.flame.crumbs.textContent);
      dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
      check('Esc resets the zoom', stats.flame.focus() === 0 && stats.flame.crumbs.textContent === 'all', stats.flame.crumbs.textContent);
    }
    const y0 = stats.flame.boxes()[0].y;
    stats.flame.orient.click();
    check('the orientation toggle moves the root', stats.flame.boxes()[0].y !== y0, y0 + ' -> ' + stats.flame.boxes()[0].y);
    stats.flame.orient.click();
    if (params.get('search')) check('search "' + params.get('search') + '" finds frames', stats.search && stats.search.nodes > 0, JSON.stringify(stats.search));
  }
  if (DIFF) check('totals table rows', document.querySelectorAll('#totals tr').length === stats.totals + 1, stats.totals);
  else check('site rows', stats.sites.rows === Math.min(200, D.sites.length), stats.sites.rows);
  if (!DIFF && D.sites.length > 1) {
    const th = [...document.querySelectorAll('#p-sites th')].find((t) => t.textContent === 'allocations');
    th.click();
    const most = Math.max(...D.sites.map((r) => r[1]));
    check('sorting by allocations puts the most first', stats.sites.first().children[5].textContent === num(most), stats.sites.first().children[5].textContent + ' vs ' + most);
    th.click();
    const least = Math.min(...D.sites.map((r) => r[1]));
    check('a second click sorts the other way', stats.sites.first().children[5].textContent === num(least), stats.sites.first().children[5].textContent);
    stats.sites.first().click();
    check('a row expands to its stack', stats.sites.first().nextSibling.className === 'detail');
  }
  if (!DIFF && stats.timeline.toggle) {
    stats.timeline.toggle();
    check('the stacked top-sites chart draws', canvasInk(document.getElementById('timeline')) > 4, canvasInk(document.getElementById('timeline')) + ' colours');
    stats.timeline.toggle();
  }
  if (!DIFF && D.timeline.length > 2 && stats.timeline.canvas) {
    const tc = stats.timeline.canvas, r = tc.getBoundingClientRect(), before = stats.timeline.view();
    const ev = (type, x) => tc.dispatchEvent(new MouseEvent(type, { clientX: r.left + x, clientY: r.top + 50, bubbles: true }));
    ev('mousedown', r.width * 0.3); ev('mousemove', r.width * 0.6); ev('mouseup', r.width * 0.6);
    const after = stats.timeline.view();
    check('dragging zooms the timeline', after[0] > before[0] && after[1] < before[1], before + ' -> ' + after);
    ev('dblclick', 100);
    check('double-click resets it', String(stats.timeline.view()) === String(before));
  }
  if (!DIFF) {
    const listed = ['direct', 'indirect', 'possible', 'suppressed'].reduce((a, k) => a + (D.leaks[k] || []).length, 0);
    check('leak groups listed', stats.leaks.groups === (R.leak_checked ? listed : 0), stats.leaks.groups);
    check('cycles drawn', stats.cycles.shown === (R.leak_checked ? D.cycles.length : 0), stats.cycles.shown);
  }
  check('nothing from the data became markup', document.querySelectorAll('img,iframe,object,embed,svg,script:not([nonce]):not(#memtrack-data)').length === 0);
  if (params.get('view')) {
    const target = document.getElementById('p-' + params.get('view'));
    check('#view=' + params.get('view') + ' scrolls to its panel', target && scrollY > 0 && Math.abs(target.getBoundingClientRect().top - 40) < 4, target && target.getBoundingClientRect().top);
  }
  const budget = Number(params.get('budget') || 3000);
  check('rendered within ' + budget + ' ms', renderMs < budget, renderMs.toFixed(0) + ' ms');
  check('no errors', errors.length === 0, errors.join(' | '));
  const ok = checks.every((c) => c.ok);
  const out = { status: ok ? 'pass' : 'fail', render_ms: Math.round(renderMs), timings, errors, checks,
    values: { summary: stats.summary, flame: flameOut, timeline_points: DIFF ? 0 : D.timeline.length, site_rows: DIFF ? 0 : stats.sites.rows, leak_groups: DIFF ? 0 : stats.leaks.groups, cycles: DIFF ? 0 : stats.cycles.shown, search: stats.search || null, probe: stats.probe || null, nodes: NN } };
  const pre = el('pre', { id: 'selftest-result', 'data-status': out.status, text: JSON.stringify(out) });
  document.body.append(pre);
}
if (params.has('selftest')) setTimeout(() => { try { selftest(); } catch (e) { document.body.append(el('pre', { id: 'selftest-result', 'data-status': 'fail', text: JSON.stringify({ status: 'fail', errors: [String(e && e.stack || e)] }) })); } }, 0);
})();
