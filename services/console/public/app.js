// The BottleNeck console page: plain JavaScript over the console's JSON API, no build step, nothing
// loaded from elsewhere. The token comes from the URL fragment (#token=..., never sent to the
// server in a URL) or is asked for once; it is kept in this tab's sessionStorage and sent in the
// Authorization header only (no cookie, so no request can be forged from another site).
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const POLL_MS = 2000;
const state = {
  token: null,
  graph: null,
  partitions: [],
  etag: null,
  month: null,
  runs: [],
  runId: null,
  asset: null,
  live: false,
  // The view the URL names (#/months/<YYYY-MM>, #/runs/<id>, #/assets/<key>, #/runs?..., #/backfills[/<id>], #/sensors).
  page: 'month',
  query: new URLSearchParams(),
  backfillId: null,
};

// ---- small DOM helpers (text only: data never becomes markup) ----
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat())
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat())
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const $ = (id) => document.getElementById(id);
const fmtMs = (ms) => (ms === null || ms === undefined ? '' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);
const fmtTime = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
const fmtInt = (n) => (n === null || n === undefined ? '' : Number(n).toLocaleString('en'));
function toast(msg) {
  const t = $('toast');
  t.textContent = msg;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 4000);
}

// ---- the token and the API ----
function takeToken() {
  const m = /(?:^#|[&?])token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('bn-console-token', decodeURIComponent(m[1]));
    // The token leaves the URL at once; the view the link names stays.
    const rest = location.hash.replace(/([&?]|^#)token=[^&]+&?/, '$1').replace(/[&?]$/, '');
    history.replaceState(null, '', location.pathname + location.search + (rest === '#' ? '' : rest));
  }
  return sessionStorage.getItem('bn-console-token');
}

class Unauthorized extends Error {}

async function api(path, opts = {}) {
  const headers = { accept: 'application/json', ...(opts.headers || {}) };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, {
    method: opts.method || 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    cache: 'no-store',
    credentials: 'omit',
  });
  if (r.status === 401) throw new Unauthorized('the token was refused');
  if (r.status === 304) return { notModified: true };
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(body.message || `${r.status} ${r.statusText}`), { status: r.status });
  return { body, etag: r.headers.get('etag') };
}

function askToken(message) {
  state.token = null;
  sessionStorage.removeItem('bn-console-token');
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token').focus();
}

// ---- the graph: columns by depth, state of the chosen month ----
function layoutGraph(assets) {
  const depth = new Map();
  const d = (a) => {
    if (depth.has(a.key)) return depth.get(a.key);
    const v = a.deps.length ? 1 + Math.max(...a.deps.map((k) => d(assets.find((x) => x.key === k)))) : 0;
    depth.set(a.key, v);
    return v;
  };
  assets.forEach(d);
  const cols = [];
  for (const a of assets) (cols[depth.get(a.key)] ||= []).push(a);
  // Wide enough for the longest name (11px text, about 6.6px a character): no label is clipped.
  const W = Math.max(124, Math.ceil(Math.max(...assets.map((a) => a.key.length)) * 6.6) + 16),
    H = 30,
    GX = 26,
    GY = 12,
    TOP = 22;
  const pos = new Map();
  const tallest = Math.max(...cols.map((c) => c.length));
  cols.forEach((c, i) =>
    c.forEach((a, j) => {
      const offset = ((tallest - c.length) * (H + GY)) / 2;
      pos.set(a.key, { x: 8 + i * (W + GX), y: TOP + offset + j * (H + GY), w: W, h: H });
    }),
  );
  return { pos, width: 16 + cols.length * (W + GX) - GX, height: TOP + tallest * (H + GY) };
}

function renderGraph() {
  const p = currentPartition();
  $('graph-month').textContent = p ? `${p.partition}: ${p.status}` : '';
  const { pos, width, height } = layoutGraph(state.graph.assets);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'asset graph' });
  let lastStage = null;
  for (const a of state.graph.assets) {
    const q = pos.get(a.key);
    if (a.stage !== lastStage && q) svg.append(s('text', { x: q.x, y: 12, class: 'stage-label' }, a.stage));
    lastStage = a.stage;
  }
  for (const a of state.graph.assets)
    for (const dep of a.deps) {
      const f = pos.get(dep),
        t = pos.get(a.key);
      const x1 = f.x + f.w,
        y1 = f.y + f.h / 2,
        x2 = t.x,
        y2 = t.y + t.h / 2,
        mx = (x1 + x2) / 2;
      svg.append(
        s('path', {
          class: 'edge',
          d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
          'marker-end': 'url(#arrow)',
        }),
      );
    }
  svg.prepend(
    s(
      'defs',
      {},
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 6,
          markerHeight: 6,
          orient: 'auto-start-reverse',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#b0b0b0' }),
      ),
    ),
  );
  const colors = {
    materialized: ['#e3f1e4', '#2e7d32'],
    failed: ['#fbe4e4', '#c62828'],
    running: ['#e2ecf9', '#1565c0'],
    'not-run': ['#f4f4f4', '#9e9e9e'],
  };
  for (const a of state.graph.assets) {
    const q = pos.get(a.key);
    const st = p?.assets[a.key] || { state: 'not-run', warnings: 0, errors: 0 };
    const [fill, stroke] = colors[st.state] || colors['not-run'];
    const title = `${a.key} (${a.stage}): ${st.state}${st.rowCount !== undefined ? `, ${fmtInt(st.rowCount)} rows` : ''}${st.warnings ? `, ${st.warnings} WARN` : ''}${st.errors ? `, ${st.errors} ERROR` : ''}\n${a.description}`;
    const g = s(
      'g',
      {
        class: `node ${st.state}`,
        'data-asset': a.key,
        'data-state': st.state,
        tabindex: 0,
        onclick: () => selectAsset(a.key),
      },
      s('title', {}, title),
      s('rect', { x: q.x, y: q.y, width: q.w, height: q.h, rx: 5, fill, stroke }),
      s('text', { x: q.x + 7, y: q.y + 13 }, a.key),
      s(
        'text',
        { x: q.x + 7, y: q.y + 25, fill: '#6b6b70' },
        st.rowCount !== undefined ? `${fmtInt(st.rowCount)} rows` : st.state,
      ),
    );
    if (st.warnings)
      g.append(
        s(
          'circle',
          { cx: q.x + q.w - 8, cy: q.y + 8, r: 5, fill: '#f0b400' },
          s('title', {}, `${st.warnings} WARN check(s) failed`),
        ),
      );
    svg.append(g);
  }
  $('graph').replaceChildren(svg);
}

// ---- the months x assets grid ----
function renderGrid() {
  const assets = state.graph.assets;
  const head = h(
    'tr',
    {},
    h('th', {}, 'month'),
    h('th', {}, 'status'),
    assets.map((a) => h('th', { class: 'asset', title: a.description, onclick: () => selectAsset(a.key) }, a.key)),
    h('th', {}, 'in words'),
  );
  const rows = [...state.partitions].reverse().map((p) =>
    h(
      'tr',
      {
        class: `${p.partition === state.month ? 'selected' : ''}${p.dismissed ? ' dismissed' : ''}`,
        'data-partition': p.partition,
      },
      h('td', { class: 'month', onclick: () => selectMonth(p.partition) }, p.partition),
      h('td', {}, h('span', { class: `st ${p.status}` }, p.status)),
      assets.map((a) => {
        const st = p.assets[a.key];
        return h(
          'td',
          {
            class: `cell ${st.state}${st.warnings && st.state === 'materialized' ? ' warn' : ''}`,
            title: `${p.partition} ${a.key}: ${st.state}${st.rowCount !== undefined ? `, ${st.rowCount} rows` : ''}${st.warnings ? `, ${st.warnings} WARN` : ''}`,
            onclick: () => {
              selectMonth(p.partition);
              selectAsset(a.key);
            },
          },
          st.state === 'failed' ? '✕' : st.warnings ? '!' : '',
        );
      }),
      h('td', { class: 'words' }, p.dismissed ? `dismissed (${p.dismissed.reason}); ${p.words}` : p.words),
    ),
  );
  $('grid').replaceChildren(h('thead', {}, head), h('tbody', {}, rows));
}

// ---- figures per month: total revenue, premium wines, row counts ----
// Series with no value are left out, and series with the same values are one line named by all of
// them: the legend names exactly the lines drawn.
function mergeSeries(series) {
  const out = [];
  for (const se of series) {
    if (!se.values.some((v) => v !== null && v !== undefined)) continue;
    const same = out.find((o) => JSON.stringify(o.values) === JSON.stringify(se.values));
    if (same) same.name = `${same.name} = ${se.name}`;
    else out.push({ ...se });
  }
  return out;
}

// `marks[i]`: the words of what warned for months[i] (a month-over-month check), drawn as a ring
// on the first series' point with the words in its tooltip, and counted under the title.
function linePlot(title, months, allSeries, fmt, marks = []) {
  const series = mergeSeries(allSeries);
  const W = 520,
    H = 120,
    L = 64,
    R = 26,
    T = 18,
    B = 22;
  const all = series.flatMap((x) => x.values).filter((v) => v !== null);
  const svg = s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'plot' },
    s('text', { x: 4, y: 12, class: 'title' }, title),
  );
  if (!all.length) return (svg.append(s('text', { x: L, y: H / 2 }, 'nothing published yet')), svg);
  const max = Math.max(...all),
    min = Math.min(0, ...all);
  const x = (i) => L + (months.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (months.length - 1));
  const y = (v) => T + (H - T - B) * (1 - (v - min) / (max - min || 1));
  svg.append(
    s('line', { x1: L, y1: y(min), x2: W - R, y2: y(min), stroke: '#ddd' }),
    s('text', { x: 2, y: y(max) + 4 }, fmt(max)),
    s('text', { x: 2, y: y(min) }, fmt(min)),
  );
  // Labels at least their own width apart (10px text, about 6px a character), a repeated month once.
  const labelW = Math.max(...months.map((m) => String(m).length)) * 6 + 10;
  const span = months.length > 1 ? (W - L - R) / (months.length - 1) : W;
  const step = Math.max(1, Math.ceil(labelW / span));
  let lastX = -Infinity;
  let lastLabel = null;
  months.forEach((m, i) => {
    if (i % step !== 0 || m === lastLabel || x(i) - lastX < labelW) return;
    svg.append(s('text', { x: x(i), y: H - 6, 'text-anchor': 'middle', class: 'tick' }, m));
    lastX = x(i);
    lastLabel = m;
  });
  for (const se of series) {
    const pts = se.values.map((v, i) => (v === null ? null : [x(i), y(v)]));
    let d = '';
    pts.forEach((p, i) => {
      if (p) d += `${d && pts[i - 1] ? 'L' : 'M'}${p[0].toFixed(1)},${p[1].toFixed(1)} `;
    });
    svg.append(s('path', { class: 'line', d, stroke: se.color }));
    pts.forEach((p, i) => {
      if (p)
        svg.append(
          s(
            'circle',
            { cx: p[0], cy: p[1], r: 3, fill: se.color },
            s('title', {}, `${se.name} ${months[i]}: ${fmt(se.values[i])}`),
          ),
        );
    });
  }
  const first = series[0];
  const marked = months.filter((_m, i) => marks[i]?.length && first.values[i] !== null);
  months.forEach((m, i) => {
    if (!marks[i]?.length || first.values[i] === null) return;
    svg.append(
      s(
        'circle',
        { class: 'mark warn', 'data-month': m, cx: x(i), cy: y(first.values[i]), r: 7 },
        s('title', {}, `${m}: ${marks[i].join('; ')}`),
      ),
    );
  });
  if (marked.length)
    svg.append(
      s(
        'text',
        { x: W - R, y: 12, 'text-anchor': 'end', class: 'marks' },
        `○ WARN against the month before: ${marked.length > 3 ? `${marked.length} months` : marked.join(', ')}`,
      ),
    );
  if (series.length > 1) {
    const legend = s('g', { class: 'legend' });
    let lx = L + 110;
    for (const se of series) {
      legend.append(
        s('text', { x: lx, y: 12, fill: se.color, class: 'series', 'data-series': se.name }, `— ${se.name}`),
      );
      lx += (se.name.length + 2) * 6 + 10;
    }
    svg.append(legend);
  }
  return svg;
}

function renderPlots() {
  const ps = state.partitions;
  const months = ps.map((p) => p.partition);
  const revenue = ps.map((p) => (p.figures.totalRevenue === null ? null : Number(p.figures.totalRevenue)));
  const premium = ps.map((p) => p.figures.premium);
  const rows = (k) => ps.map((p) => p.figures.rowCounts[k] ?? null);
  $('plots').replaceChildren(
    linePlot(
      'Total revenue',
      months,
      [{ name: 'revenue', values: revenue, color: '#2e7d32' }],
      (v) => (v === null ? '' : v.toLocaleString('en', { maximumFractionDigits: 0 })),
      ps.map((p) => (p.figures.monthOverMonth ?? []).map((c) => c.message)),
    ),
    linePlot('Premium wines', months, [{ name: 'premium', values: premium, color: '#6a1b9a' }], fmtInt),
    linePlot(
      'Row counts',
      months,
      [
        { name: 'erp_clean', values: rows('erp_clean'), color: '#1565c0' },
        { name: 'web_clean', values: rows('web_clean'), color: '#8d6e00' },
        { name: 'merged_with_revenue', values: rows('merged_with_revenue'), color: '#c62828' },
      ],
      fmtInt,
    ),
  );
}

// ---- runs with a per-stage Gantt ----
function gantt(run, scale) {
  const W = 420,
    H = 14 * run.stages.length + 16,
    L = 70;
  const t0 = Date.parse(run.startedAt);
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'gantt',
    role: 'img',
    'aria-label': `timeline of ${run.runId}`,
  });
  const px = (ms) => L + (Math.max(0, ms) / scale) * (W - L - 8);
  run.stages.forEach((st, i) => {
    const a = Date.parse(st.startedAt) - t0;
    const b = st.endedAt ? Date.parse(st.endedAt) - t0 : Date.now() - t0;
    svg.append(
      s('text', { x: 0, y: 11 + i * 14 }, st.stage),
      s(
        'rect',
        { class: `bar ${st.status}`, x: px(a), y: 2 + i * 14, width: Math.max(2, px(b) - px(a)), height: 11, rx: 2 },
        s('title', {}, `${st.stage} on ${st.consumed}: ${st.status}, ${fmtMs(st.durationMs)} (from +${fmtMs(a)})`),
      ),
    );
  });
  svg.append(s('text', { x: L, y: H - 2 }, '0'), s('text', { x: W - 40, y: H - 2 }, fmtMs(Math.round(scale))));
  return svg;
}

function renderRuns() {
  $('runs-month').textContent = state.month ? `of ${state.month}` : '';
  if (!state.runs.length)
    return $('runs').replaceChildren(h('p', { class: 'muted' }, `No run recorded for ${state.month || 'this store'}.`));
  const scale = Math.max(...state.runs.map((r) => (r.durationMs ?? Date.now() - Date.parse(r.startedAt)) || 1));
  $('runs').replaceChildren(
    ...state.runs.map((r) =>
      h(
        'div',
        {
          class: `run-row${r.runId === state.runId ? ' selected' : ''}`,
          'data-run': r.runId,
          'data-status': r.status,
          onclick: () => selectRun(r.runId),
        },
        h(
          'div',
          { class: 'head' },
          h('span', { class: `st ${r.status}` }, r.status),
          h('a', { href: `#/runs/${encodeURIComponent(r.runId)}`, class: 'run-link' }, h('code', {}, r.runId)),
          h(
            'span',
            { class: 'muted' },
            `${r.trigger.source}${r.trigger.parentRunId ? ` of ${r.trigger.parentRunId}` : ''}`,
          ),
          h('span', { class: 'muted' }, `${fmtTime(r.startedAt)} · ${fmtMs(r.durationMs)}`),
          r.failedChecks.WARN ? h('span', { class: 'st warn' }, `${r.failedChecks.WARN} WARN`) : null,
        ),
        gantt(r, scale),
        r.error ? h('div', { class: 'error' }, r.error.words) : null,
      ),
    ),
  );
}

function kv(pairs) {
  return h(
    'dl',
    {},
    pairs
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

async function renderRun() {
  if (!state.runId) return $('run').replaceChildren(h('p', { class: 'muted' }, 'Choose a run.'));
  let run;
  try {
    run = (await api(`/api/runs/${encodeURIComponent(state.runId)}`)).body;
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    return $('run').replaceChildren(h('p', { class: 'error' }, e.message));
  }
  const checks = [...run.checks]
    .sort(
      (a, b) =>
        Number(a.passed) - Number(b.passed) || (a.severity === 'ERROR' ? -1 : 1) - (b.severity === 'ERROR' ? -1 : 1),
    )
    .map((c) =>
      h(
        'tr',
        { class: c.passed ? '' : c.severity === 'ERROR' ? 'failed' : 'warn' },
        h('td', {}, c.passed ? 'passed' : 'FAILED'),
        h('td', {}, c.severity),
        h('td', {}, `${c.asset}.${c.check}`),
        h('td', {}, c.message || c.description),
      ),
    );
  const mats = Object.entries(run.materializations).map(([k, m]) =>
    h(
      'tr',
      {},
      h('td', {}, k),
      h('td', {}, m.stage),
      h('td', {}, fmtInt(m.metadata.rowCount)),
      h('td', {}, fmtMs(m.metadata.durationMs)),
      h('td', {}, h('code', { title: m.dataVersion }, m.dataVersion.slice(0, 12))),
      h('td', {}, m.location),
    ),
  );
  // Only the action that can succeed is offered (the month's offer says which, and why).
  const offer = (state.partitions.find((p) => p.partition === run.partition) || {}).offer;
  const actions = h(
    'div',
    { class: 'actions' },
    run.status === 'failed' && offer && offer.action === 'reexecute' && offer.runId === run.runId
      ? h(
          'button',
          { id: 'reexecute', type: 'button', onclick: () => reexecute(run) },
          `Re-execute from ${run.error ? run.error.stage : 'failure'}…`,
        )
      : null,
    h('button', { type: 'button', onclick: () => rerun(run.partition) }, `Re-run ${run.partition}…`),
  );
  $('run').replaceChildren(
    ...[
      h('h3', {}, h('span', { class: `st ${run.status}` }, run.status), ' ', h('code', {}, run.runId)),
      run.error ? h('div', { class: 'error-box', id: 'run-error' }, run.error.words) : null,
      actions,
      kv([
        ['month', run.partition],
        [
          'trigger',
          `${run.trigger.source}${run.trigger.parentRunId ? ` (re-executes ${run.trigger.parentRunId})` : ''}`,
        ],
        ['started', fmtTime(run.startedAt)],
        ['ended', fmtTime(run.endedAt)],
        ['duration', fmtMs(run.durationMs)],
        ['re-executed by', run.children.join(', ')],
        [
          'error code',
          run.error
            ? `${run.error.code}${run.error.location ? ` at ${JSON.stringify(run.error.location)}` : ''}`
            : null,
        ],
        [
          'dead-letter',
          run.deadLetter
            ? h(
                'span',
                {},
                h('code', {}, run.deadLetter.key),
                ' ',
                h(
                  'button',
                  { type: 'button', id: 'open-dead-letter', onclick: () => openRecord(run.deadLetter.key) },
                  'Open',
                ),
                ' ',
                h('button', { type: 'button', onclick: () => download(run.deadLetter.key) }, 'Download'),
              )
            : null,
        ],
        [
          'alert',
          run.alert
            ? `${run.alert.status}${run.alert.attempts ? ` after ${run.alert.attempts} attempt(s)` : ''}${run.alert.error ? `: ${run.alert.error}` : ''}`
            : null,
        ],
        [
          'published',
          run.published
            ? h(
                'span',
                { id: 'published-files' },
                run.published.files.map((f) =>
                  h(
                    'button',
                    { type: 'button', class: 'file', 'data-key': f.key, onclick: () => download(f.key) },
                    `⤓ ${f.name}`,
                  ),
                ),
                ' (current set)',
              )
            : null,
        ],
        ['code version', run.codeVersion],
      ]),
      h('pre', { id: 'record', class: 'record', hidden: true }),
      h('h4', {}, 'Logs'),
      logControls(run),
      h('div', { id: 'logs', class: 'logs' }, h('p', { class: 'muted' }, 'Loading the logs…')),
      h('h4', {}, 'Inputs'),
      h(
        'table',
        {},
        h('tr', {}, h('th', {}, 'file'), h('th', {}, 'ETag'), h('th', {}, 'sha256'), h('th', {}, 'bytes')),
        run.inputs.map((i) =>
          h(
            'tr',
            {},
            h('td', {}, i.key),
            h('td', {}, i.etag || ''),
            h('td', {}, h('code', { title: i.sha256 || '' }, (i.sha256 || '').slice(0, 12))),
            h('td', {}, fmtInt(i.bytes)),
          ),
        ),
      ),
      h('h4', {}, `Checks (${run.checks.filter((c) => !c.passed).length} failed of ${run.checks.length})`),
      h(
        'table',
        { id: 'checks' },
        h('tr', {}, h('th', {}, ''), h('th', {}, 'severity'), h('th', {}, 'check'), h('th', {}, 'what was found')),
        checks,
      ),
      h('h4', {}, 'Materializations'),
      h(
        'table',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'asset'),
          h('th', {}, 'stage'),
          h('th', {}, 'rows'),
          h('th', {}, 'time'),
          h('th', {}, 'data version'),
          h('th', {}, 'location'),
        ),
        mats,
      ),
    ].filter(Boolean),
  );
  await renderLogs(run);
}

// ---- a run's logs per stage (GET /api/runs/:id/logs), with a level filter and a search ----
function logControls(run) {
  const level = h(
    'select',
    { id: 'log-level', 'aria-label': 'log level' },
    ['', 'debug', 'info', 'warn', 'error'].map((l) =>
      h('option', { value: l, selected: (state.query.get('level') || '') === l }, l || 'any level'),
    ),
  );
  const q = h('input', {
    id: 'log-search',
    type: 'search',
    placeholder: 'search the log',
    'aria-label': 'search the log',
    value: state.query.get('q') || '',
  });
  const apply = () => {
    const params = new URLSearchParams();
    if (level.value) params.set('level', level.value);
    if (q.value.trim()) params.set('q', q.value.trim());
    const qs = params.toString();
    // The filter is part of the link (replaced, not pushed: Back leaves the run, not the keystroke).
    history.replaceState(null, '', `#/runs/${encodeURIComponent(run.runId)}${qs ? `?${qs}` : ''}`);
    state.query = params;
    void renderLogs(run).catch(onError);
  };
  level.addEventListener('change', apply);
  q.addEventListener('input', () => {
    clearTimeout(logControls.timer);
    logControls.timer = setTimeout(apply, 250);
  });
  return h('div', { class: 'filters' }, level, q);
}

async function renderLogs(run) {
  const el = $('logs');
  if (!el) return;
  const params = new URLSearchParams();
  for (const k of ['level', 'q', 'stage']) if (state.query.get(k)) params.set(k, state.query.get(k));
  let body;
  try {
    const qs = params.toString();
    body = (await api(`/api/runs/${encodeURIComponent(run.runId)}/logs${qs ? `?${qs}` : ''}`)).body;
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    if (e.status === 404)
      return el.replaceChildren(h('p', { class: 'muted', id: 'no-logs' }, 'No logs recorded for this run.'));
    return el.replaceChildren(h('p', { class: 'error' }, `The logs could not be read: ${e.message}`));
  }
  if (state.runId !== run.runId) return;
  const records = body.records || [];
  const stages = [
    ...new Set([
      ...(body.stages || []).map((x) => (typeof x === 'string' ? x : x.stage)),
      ...records.map((r) => r.stage),
    ]),
  ].filter(Boolean);
  if (!records.length)
    return el.replaceChildren(
      h(
        'p',
        { class: 'muted', id: 'no-logs' },
        params.toString() ? 'No log line matches.' : 'No logs recorded for this run.',
      ),
    );
  const line = (r) => {
    const { time, level: raw, stage: _stage, msg, ...fields } = r;
    // pino's numeric levels, or their names.
    const level =
      typeof raw === 'number'
        ? ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }[raw] ?? String(raw))
        : String(raw);
    const extra = Object.keys(fields).length ? JSON.stringify(fields) : '';
    return h(
      'div',
      { class: `log-line ${level}` },
      h('span', { class: 'muted' }, fmtTime(typeof time === 'number' ? new Date(time).toISOString() : time)),
      ' ',
      h('span', { class: `lvl ${level}` }, String(level).toUpperCase()),
      ' ',
      msg,
      extra ? h('span', { class: 'fields' }, ` ${extra}`) : null,
    );
  };
  el.replaceChildren(
    ...stages.map((st) => {
      const lines = records.filter((r) => r.stage === st);
      return h(
        'details',
        { class: 'log-stage', 'data-stage': st, open: lines.length > 0 },
        h('summary', {}, `${st} (${lines.length} line${lines.length === 1 ? '' : 's'})`),
        lines.map(line),
      );
    }),
    // replaceChildren writes a null as the text "null": only what is there.
    ...(body.dropped
      ? [h('p', { class: 'muted' }, `${body.dropped} older line(s) were not kept (bounded per run).`)]
      : []),
  );
}

// ---- published files and dead-letter records, read through the API (the token in the header) ----
async function fetchFile(key) {
  const headers = {};
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const r = await fetch(`/api/files?key=${encodeURIComponent(key)}`, {
    headers,
    cache: 'no-store',
    credentials: 'omit',
  });
  if (r.status === 401) throw new Unauthorized('the token was refused');
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).message || `${r.status} ${r.statusText}`);
  return r.blob();
}
async function download(key) {
  try {
    const url = URL.createObjectURL(await fetchFile(key));
    const a = h('a', { href: url, download: key.split('/').pop() });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    onError(e);
  }
}
async function openRecord(key) {
  try {
    const text = await (await fetchFile(key)).text();
    const el = $('record');
    let shown = text;
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not JSON: shown as it is
    }
    el.textContent = shown;
    el.hidden = false;
  } catch (e) {
    onError(e);
  }
}

async function renderAsset() {
  if (!state.asset) return;
  const a = (await api(`/api/assets/${encodeURIComponent(state.asset)}`)).body;
  $('asset-name').textContent = a.key;
  const months = a.history.map((x) => `${x.partition}`);
  $('asset').replaceChildren(
    ...[
      h(
        'p',
        {},
        `${a.description}. Stage ${a.stage}; upstream: ${a.deps.join(', ') || 'none'}; downstream: ${a.downstream.join(', ') || 'none'}.`,
      ),
      a.history.some((x) => x.rowCount !== null)
        ? linePlot(
            `${a.key}: rows per materialization`,
            months,
            [{ name: 'rows', values: a.history.map((x) => x.rowCount), color: '#1565c0' }],
            fmtInt,
          )
        : null,
      h(
        'table',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'month'),
          h('th', {}, 'run'),
          h('th', {}, 'run status'),
          h('th', {}, 'rows'),
          h('th', {}, 'time'),
          h('th', {}, 'data version'),
          h('th', {}, 'checks'),
        ),
        [...a.history].reverse().map((x) =>
          h(
            'tr',
            {},
            h('td', {}, x.partition),
            h('td', {}, h('code', {}, x.runId)),
            h('td', {}, h('span', { class: `st ${x.runStatus}` }, x.runStatus)),
            h('td', {}, fmtInt(x.rowCount)),
            h('td', {}, fmtMs(x.durationMs)),
            h('td', {}, h('code', { title: x.dataVersion }, x.dataVersion.slice(0, 12))),
            h(
              'td',
              {},
              x.checks.map((c) =>
                h(
                  'span',
                  {
                    class: `st ${c.passed ? 'materialized' : c.severity === 'ERROR' ? 'failed' : 'warn'}`,
                    title: c.message || c.description,
                  },
                  c.check,
                ),
              ),
              // What a failed check found, in words (a month-over-month WARN names the month it compared with).
              x.checks
                .filter((c) => !c.passed && c.message)
                .map((c) => h('div', { class: 'check-words', 'data-check': c.check }, c.message)),
            ),
          ),
        ),
      ),
    ].filter(Boolean),
  );
}

// ---- selection and refresh ----
const currentPartition = () => state.partitions.find((p) => p.partition === state.month) || null;

function renderStatusLine() {
  const p = currentPartition();
  const el = $('status-line');
  el.className = `status-line ${p ? p.status : ''}`;
  el.textContent = p
    ? `${p.partition}: ${p.status} (${p.words})`
    : 'No month in the store yet: drop files in incoming/<YYYY-MM>/ or run bottleneck run.';
}

function renderOffer() {
  const p = currentPartition();
  const o = p ? p.offer : null;
  $('offer').hidden = !p;
  $('offer-why').textContent = o ? o.why : '';
  const fix = $('fix');
  fix.hidden = !o || o.action === 'none';
  fix.textContent = o && o.action !== 'none' ? o.label : '';
  fix.dataset.action = o ? o.action : '';
  $('dismiss').hidden = !p || Boolean(p.dismissed) || p.status === 'published' || p.status === 'running';
  $('restore').hidden = !p || !p.dismissed;
}

// One click: the offered action, without a confirmation (it is the one that can succeed).
async function fix() {
  const p = currentPartition();
  const o = p && p.offer;
  if (!o || o.action === 'none') return;
  if (o.action === 'reexecute') await act('re-execution', `/api/runs/${encodeURIComponent(o.runId)}/reexecute`);
  else await act('re-run', '/api/runs', { partition: o.partition });
}
async function dismiss() {
  const p = currentPartition();
  if (!p) return;
  if (
    !(await confirmDialog(
      `Dismiss ${p.partition}? It is hidden from the default view, the folder watcher and backfills leave it alone; its files and runs stay, and it can be restored.`,
    ))
  )
    return;
  await act('dismissed', `/api/partitions/${encodeURIComponent(p.partition)}/dismiss`, {
    reason: 'dismissed from the console',
  });
}
async function restore() {
  const p = currentPartition();
  if (p) await act('restored', `/api/partitions/${encodeURIComponent(p.partition)}/restore`);
}
async function renderPending() {
  const r = (await api('/api/actions/pending')).body;
  const el = $('pending');
  el.hidden = !r.pending.length;
  el.textContent = r.pending.length
    ? `${r.pending.length} action(s) recorded, not yet taken by the bus (${r.pending.map((a) => `${a.kind} of ${a.runs.map((x) => x.partition).join(', ')}`).join('; ')}): they are sent when it answers again.`
    : '';
}

function renderMonthSelect() {
  const sel = $('month');
  sel.replaceChildren(
    ...[...state.partitions]
      .reverse()
      .map((p) =>
        h(
          'option',
          { value: p.partition, selected: p.partition === state.month },
          `${p.partition} (${p.dismissed ? 'dismissed' : p.status})`,
        ),
      ),
  );
}

async function loadRuns() {
  const pre = state.preloaded;
  state.preloaded = null;
  state.runs =
    pre && pre.month === state.month
      ? pre.runs
      : state.month
        ? (await api(`/api/runs?partition=${encodeURIComponent(state.month)}&limit=100`)).body.runs
        : [];
  // A run the URL names stays chosen (it may not be listed yet); otherwise the month's latest.
  if (state.page === 'run') return;
  if (!state.runs.some((r) => r.runId === state.runId)) state.runId = state.runs[0]?.runId ?? null;
}

async function renderAll() {
  renderMonthSelect();
  renderStatusLine();
  renderOffer();
  renderGraph();
  renderGrid();
  renderPlots();
  await loadRuns();
  renderRuns();
  await Promise.all([renderRun(), renderAsset()]);
}

// ---- links: every view has its URL; choosing something navigates, the router draws ----
function go(hash) {
  if (location.hash === hash) return void route();
  location.hash = hash; // a history entry: Back and Forward work
}
function selectMonth(p) {
  go(`#/months/${p}`);
}
function selectRun(id) {
  go(`#/runs/${encodeURIComponent(id)}`);
}
function selectAsset(key) {
  go(`#/assets/${encodeURIComponent(key)}${state.month ? `?month=${state.month}` : ''}`);
}

/** What the URL names: the page, and its subject and filters. */
function parseHash(hash) {
  const [path, qs] = hash.replace(/^#/, '').split('?');
  const parts = (path || '').split('/').filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(qs || '');
  const [head, id] = parts;
  if (head === 'months' && id) return { page: 'month', month: id, query };
  if (head === 'runs' && id) return { page: 'run', runId: id, query };
  if (head === 'runs') return { page: 'runs', query };
  if (head === 'assets' && id) return { page: 'asset', asset: id, month: query.get('month'), query };
  if (head === 'backfills') return { page: 'backfills', backfillId: id || null, query };
  if (head === 'sensors') return { page: 'sensors', query };
  return { page: 'month', month: null, query };
}

function showPage(name) {
  for (const p of ['month', 'runs', 'backfills', 'sensors']) $(`page-${p}`).hidden = p !== name;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('current', a.dataset.page === name);
}

let routing = Promise.resolve();
function route() {
  routing = routing.then(() => routeNow().catch(onError));
  return routing;
}
async function routeNow() {
  // A link with the token followed in an open page: taken out of the URL as at load.
  if (/(?:^#|[&?])token=/.test(location.hash)) state.token = takeToken();
  if (!state.graph) return;
  const r = parseHash(location.hash);
  state.page = r.page;
  state.query = r.query;
  if (r.page === 'runs') return (showPage('runs'), renderAllRuns());
  if (r.page === 'backfills') return ((state.backfillId = r.backfillId), showPage('backfills'), renderBackfills());
  if (r.page === 'sensors') return (showPage('sensors'), renderSensors());
  showPage('month');
  if (r.page === 'run') {
    state.runId = r.runId;
    const known = state.runs.find((x) => x.runId === r.runId);
    if (known) state.month = known.partition;
    else
      try {
        state.month = (await api(`/api/runs/${encodeURIComponent(r.runId)}`)).body.partition;
      } catch (e) {
        if (e instanceof Unauthorized) throw e;
        toast(e.message);
      }
  } else if (r.page === 'asset') {
    state.asset = r.asset;
    if (r.month) state.month = r.month;
  } else if (r.month) {
    state.month = r.month;
    state.runId = null;
  }
  if (!state.month || !state.partitions.some((p) => p.partition === state.month)) state.month = defaultMonth();
  await renderAll();
  if (r.page === 'asset') $('asset').scrollIntoView({ block: 'nearest' });
}
const defaultMonth = () =>
  (state.partitions.filter((p) => !p.dismissed).at(-1) || state.partitions.at(-1))?.partition ?? null;

// ---- the runs of every month: filtered and paged on the server ----
async function renderAllRuns() {
  const q = state.query;
  for (const k of ['status', 'trigger', 'from', 'to']) $(`f-${k}`).value = q.get(k) || '';
  const params = new URLSearchParams();
  for (const k of ['status', 'trigger', 'from', 'to', 'offset']) if (q.get(k)) params.set(k, q.get(k));
  params.set('limit', '50');
  const r = (await api(`/api/runs?${params}`)).body;
  const pageLink = (offset) => {
    const p = new URLSearchParams(q);
    if (offset) p.set('offset', String(offset));
    else p.delete('offset');
    const qs = p.toString();
    return `#/runs${qs ? `?${qs}` : ''}`;
  };
  $('all-runs').replaceChildren(
    h(
      'p',
      { class: 'muted', id: 'runs-count' },
      r.total ? `runs ${r.offset + 1}-${r.offset + r.runs.length} of ${r.total}` : 'No run matches.',
    ),
    h(
      'table',
      { id: 'runs-table' },
      h(
        'tr',
        {},
        ['status', 'run', 'month', 'trigger', 'started', 'duration', 'what happened'].map((x) => h('th', {}, x)),
      ),
      r.runs.map((x) =>
        h(
          'tr',
          { 'data-run': x.runId, 'data-status': x.status, 'data-trigger': x.trigger.source },
          h('td', {}, h('span', { class: `st ${x.status}` }, x.status)),
          h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(x.runId)}` }, h('code', {}, x.runId))),
          h('td', {}, h('a', { href: `#/months/${x.partition}` }, x.partition)),
          h('td', {}, `${x.trigger.source}${x.trigger.parentRunId ? ` of ${x.trigger.parentRunId}` : ''}`),
          h('td', {}, fmtTime(x.startedAt)),
          h('td', {}, fmtMs(x.durationMs)),
          h(
            'td',
            { class: x.error ? 'error' : 'muted' },
            x.error ? x.error.words : x.failedChecks.WARN ? `${x.failedChecks.WARN} WARN` : '',
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'actions' },
      r.offset > 0 ? h('a', { href: pageLink(Math.max(0, r.offset - r.limit)), id: 'runs-prev' }, '← newer') : null,
      r.next !== null ? h('a', { href: pageLink(r.next), id: 'runs-next' }, 'older →') : null,
    ),
  );
}

// ---- backfills: each month's state and run, progress, cancel ----
async function renderBackfills() {
  const { backfills } = (await api('/api/backfills')).body;
  if (!backfills.length)
    return $('backfills').replaceChildren(
      h('p', { class: 'muted' }, 'No backfill yet: start one with Backfill… above.'),
    );
  $('backfills').replaceChildren(
    ...backfills.map((b) =>
      h(
        'div',
        {
          class: `backfill${b.id === state.backfillId ? ' selected' : ''}`,
          'data-backfill': b.id,
          'data-status': b.status,
        },
        h(
          'div',
          { class: 'head' },
          h('span', { class: `st ${b.status}` }, b.status),
          ' ',
          h('a', { href: `#/backfills/${b.id}` }, h('code', {}, b.id)),
          ` ${b.from} to ${b.to}, started ${fmtTime(b.createdAt)}: `,
          h('span', { class: 'progress-text' }, `${b.done}/${b.total} done`),
          ' ',
          h('progress', { max: b.total || 1, value: b.done }),
          b.cancelled ? h('span', { class: 'muted' }, ` cancelled ${fmtTime(b.cancelled.cancelledAt)}`) : null,
          b.status === 'running' && !b.cancelled
            ? h('button', { type: 'button', class: 'cancel', onclick: () => cancelBackfill(b) }, 'Cancel…')
            : null,
        ),
        h(
          'table',
          {},
          h('tr', {}, h('th', {}, 'month'), h('th', {}, 'state'), h('th', {}, 'run')),
          b.runs.map((r) =>
            h(
              'tr',
              { 'data-partition': r.partition, 'data-status': r.status },
              h('td', {}, h('a', { href: `#/months/${r.partition}` }, r.partition)),
              h('td', {}, h('span', { class: `st ${r.status.replace(' ', '-')}` }, r.status)),
              h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(r.runId)}` }, h('code', {}, r.runId))),
            ),
          ),
          (b.skipped || []).map((x) =>
            h(
              'tr',
              { 'data-partition': x.partition, 'data-status': 'skipped' },
              h('td', {}, x.partition),
              h('td', {}, h('span', { class: 'st not-run' }, 'skipped')),
              h('td', { class: 'muted' }, x.why),
            ),
          ),
        ),
      ),
    ),
  );
  if (state.backfillId)
    document.querySelector(`[data-backfill="${state.backfillId}"]`)?.scrollIntoView({ block: 'nearest' });
}
async function cancelBackfill(b) {
  if (
    !(await confirmDialog(
      `Cancel backfill ${b.id}? Months not started yet are not started; a month already running finishes.`,
    ))
  )
    return;
  try {
    await api(`/api/backfills/${encodeURIComponent(b.id)}/cancel`, { method: 'POST' });
    toast(`backfill ${b.id} cancelled: months not started stay unstarted`);
  } catch (e) {
    onError(e);
  }
  await renderBackfills().catch(onError);
}

// ---- sensors and schedules ----
async function renderSensors() {
  const { watchers, schedule, control } = (await api('/api/sensors')).body;
  const paused = Boolean(control && control.paused);
  $('schedule').replaceChildren(
    h(
      'p',
      { id: 'schedule-state' },
      h('span', { class: `st ${paused ? 'failed' : 'published'}` }, paused ? 'paused' : 'running'),
      control
        ? h('span', { class: 'muted' }, ` (${paused ? 'paused' : 'resumed'} ${fmtTime(control.at)} by ${control.by})`)
        : null,
    ),
    h(
      'div',
      { class: 'actions' },
      paused
        ? h(
            'button',
            { type: 'button', id: 'schedule-resume', onclick: () => scheduleAction('resume') },
            'Resume the schedule',
          )
        : h(
            'button',
            { type: 'button', id: 'schedule-pause', onclick: () => scheduleAction('pause') },
            'Pause the schedule…',
          ),
    ),
    schedule
      ? kv([
          ['cron', `${schedule.cron} (${schedule.timeZone})`],
          [
            'last tick',
            schedule.lastTick
              ? h(
                  'span',
                  {},
                  `${fmtTime(schedule.lastTick.at)} for slot ${fmtTime(schedule.lastTick.slot)}: ${schedule.lastTick.did}`,
                  schedule.lastTick.runId
                    ? h(
                        'span',
                        {},
                        ' ',
                        h(
                          'a',
                          { href: `#/runs/${encodeURIComponent(schedule.lastTick.runId)}` },
                          schedule.lastTick.runId,
                        ),
                      )
                    : null,
                  schedule.lastTick.error ? `: ${schedule.lastTick.error}` : '',
                  schedule.lastTick.words ? `: ${schedule.lastTick.words}` : '',
                )
              : 'none yet',
          ],
          [
            'next tick',
            schedule.nextTick ? `${fmtTime(schedule.nextTick)}${paused ? ' (skipped while paused)' : ''}` : 'none',
          ],
          ['reported', fmtTime(schedule.updatedAt)],
        ])
      : h(
          'p',
          { class: 'muted' },
          "No schedule has reported to this store: the services' publisher runs the monthly schedule (BN_SCHEDULE_CRON); bottleneck ui has none. Pausing here is recorded and honoured when it runs.",
        ),
  );
  $('watchers').replaceChildren(
    ...(watchers.length
      ? watchers.map((w) =>
          h(
            'div',
            { class: 'watcher', 'data-where': w.where },
            kv([
              ['watcher', w.where === 'ui' ? 'bottleneck ui (folder)' : `${w.where} service`],
              ['last poll', fmtTime(w.lastPollAt)],
              ['polls', fmtInt(w.polls)],
              ['objects seen', fmtInt(w.objectsSeen)],
              [
                'cursor',
                Object.keys(w.cursor).length
                  ? Object.entries(w.cursor)
                      .map(([p, v]) => `${p}: ${String(v).slice(0, 10)}`)
                      .join(', ')
                  : 'empty',
              ],
            ]),
            h(
              'table',
              { class: 'objects' },
              h(
                'tr',
                {},
                ['object', 'bytes', 'modified', 'became', ''].map((x) => h('th', {}, x)),
              ),
              w.objects.map((o) =>
                h(
                  'tr',
                  { 'data-key': o.key, 'data-became': o.became },
                  h('td', {}, h('code', {}, o.key)),
                  h('td', {}, fmtInt(o.bytes)),
                  h('td', {}, fmtTime(o.modified)),
                  h('td', {}, o.became),
                  h(
                    'td',
                    { class: 'muted' },
                    o.runId ? h('a', { href: `#/runs/${encodeURIComponent(o.runId)}` }, o.runId) : o.why || '',
                  ),
                ),
              ),
            ),
          ),
        )
      : [
          h(
            'p',
            { class: 'muted' },
            'No watcher has reported to this store yet (bottleneck ui --no-watch, or ingest not started).',
          ),
        ]),
  );
}
async function scheduleAction(what) {
  if (
    what === 'pause' &&
    !(await confirmDialog('Pause the monthly schedule? Its slots are skipped until it is resumed.'))
  )
    return;
  try {
    await api(`/api/schedule/${what}`, { method: 'POST' });
    toast(`schedule ${what === 'pause' ? 'paused' : 'resumed'}`);
  } catch (e) {
    onError(e);
  }
  await renderSensors().catch(onError);
}

async function poll(first) {
  try {
    const r =
      first || (await api('/api/partitions?view=page', { headers: state.etag ? { 'if-none-match': state.etag } : {} }));
    setLive(true);
    if (r.notModified) return;
    state.etag = r.etag;
    state.partitions = r.body.partitions;
    // The default month is the latest one not dismissed.
    if (!state.month || !state.partitions.some((p) => p.partition === state.month)) state.month = defaultMonth();
    if (first) await route();
    else if (state.page === 'runs') await renderAllRuns();
    else if (state.page === 'backfills') await renderBackfills();
    else if (state.page === 'sensors') await renderSensors();
    else await renderAll();
    await renderPending();
  } catch (e) {
    setLive(false);
    onError(e);
  }
}
function setLive(on) {
  state.live = on;
  $('live').className = `live ${on ? 'on' : 'off'}`;
  $('live').textContent = on ? 'live' : 'offline';
}

function onError(e) {
  if (e instanceof Unauthorized) return askToken('The token was refused: enter it again.');
  toast(e.message || String(e));
}

// ---- actions, each with a confirmation ----
function confirmDialog(text, fields = []) {
  const dlg = $('confirm');
  $('confirm-text').textContent = text;
  $('confirm-fields').replaceChildren(...fields);
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
  });
}

async function act(what, path, body) {
  try {
    const r = (await api(path, { method: 'POST', body })).body;
    const skipped =
      r.skipped && r.skipped.length ? `; skipped ${r.skipped.map((x) => `${x.partition} (${x.why})`).join(', ')}` : '';
    toast(
      `${what}: ${r.runId ? `run ${r.runId}` : r.runs ? `backfill ${r.id}, ${r.runs.length} month(s)${skipped}` : r.partition || 'done'}${r.pending ? ' (recorded: the bus has not taken it yet, it is sent when it answers)' : ''}`,
    );
    if (r.pending) void renderPending().catch(() => undefined);
    state.etag = null;
    if (r.partition) {
      // The month acted on is shown (and linked) at once.
      if (location.hash !== `#/months/${r.partition}`) history.pushState(null, '', `#/months/${r.partition}`);
      state.page = 'month';
      state.month = r.partition;
      showPage('month');
    }
    if (r.runId) {
      state.month = r.partition;
      state.runId = r.runId;
    }
    await poll();
    return r;
  } catch (e) {
    onError(e);
    return null;
  }
}

async function rerun(partition) {
  const p = partition || state.month;
  if (!p) return;
  if (
    await confirmDialog(
      `Re-run ${p} from its files in incoming/${p}/? A new run starts; the published set changes only if it succeeds.`,
    )
  )
    await act('re-run', '/api/runs', { partition: p });
}
async function reexecute(run) {
  if (
    await confirmDialog(
      `Re-execute run ${run.runId} from its failed stage (${run.error ? run.error.stage : '?'})? The assets it materialized upstream are reused.`,
    )
  )
    await act('re-execution', `/api/runs/${encodeURIComponent(run.runId)}/reexecute`);
}
async function backfill() {
  const months = state.partitions.map((p) => p.partition);
  const from = h('input', {
    id: 'bf-from',
    value: months[0] || '',
    pattern: '\\d{4}-\\d{2}',
    required: true,
    'aria-label': 'from',
  });
  const to = h('input', {
    id: 'bf-to',
    value: months.at(-1) || '',
    pattern: '\\d{4}-\\d{2}',
    required: true,
    'aria-label': 'to',
  });
  if (
    !(await confirmDialog('Backfill: one run per month, from its files in incoming/.', [
      h('label', {}, 'from ', from),
      h('label', {}, 'to ', to),
    ]))
  )
    return;
  const r = await act('backfill', '/api/backfills', { from: from.value, to: to.value });
  if (r && r.runs && r.runs.length) go(`#/backfills/${r.id}`);
  else if (r) followBackfill(r.id);
}
async function followBackfill(id) {
  try {
    const b = (await api(`/api/backfills/${encodeURIComponent(id)}`)).body;
    toast(`backfill ${id}: ${b.done}/${b.total} done${b.status !== 'running' ? ` (${b.status})` : ''}`);
    if (b.status === 'running') setTimeout(() => followBackfill(id), POLL_MS);
  } catch (e) {
    onError(e);
  }
}

// ---- start ----
async function start() {
  let first;
  try {
    // The graph, the months and the month's runs at once: one round trip before the first drawing.
    const asked = parseHash(location.hash).month;
    const o = (await api(`/api/overview${asked ? `?month=${encodeURIComponent(asked)}` : ''}`)).body;
    state.graph = o.graph;
    state.preloaded = o.month ? { month: o.month, runs: o.runs } : null;
    first = { body: { partitions: o.partitions }, etag: o.etag };
  } catch (e) {
    if (e instanceof Unauthorized) return askToken(state.token ? 'The token was refused: enter it again.' : '');
    return toast(e.message);
  }
  $('login').hidden = true;
  $('app').hidden = false;
  await poll(first);
  clearInterval(start.timer);
  start.timer = setInterval(() => void poll(), POLL_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  state.token = takeToken();
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('token').value.trim();
    $('token').value = '';
    if (state.token) sessionStorage.setItem('bn-console-token', state.token);
    void start();
  });
  $('month').addEventListener('change', (ev) => void selectMonth(ev.target.value));
  window.addEventListener('hashchange', () => void route());
  $('runs-filter').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const k of ['status', 'trigger', 'from', 'to'])
      if ($(`f-${k}`).value.trim()) p.set(k, $(`f-${k}`).value.trim());
    const qs = p.toString();
    go(`#/runs${qs ? `?${qs}` : ''}`);
  });
  for (const k of ['status', 'trigger']) $(`f-${k}`).addEventListener('change', () => $('runs-filter').requestSubmit());
  $('rerun').addEventListener('click', () => void rerun());
  $('backfill').addEventListener('click', () => void backfill());
  $('fix').addEventListener('click', () => void fix());
  $('dismiss').addEventListener('click', () => void dismiss());
  $('restore').addEventListener('click', () => void restore());
  void start();
});
