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
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('bn-console-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
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
  if (!r.ok) throw new Error(body.message || `${r.status} ${r.statusText}`);
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
  const W = 124,
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
function linePlot(title, months, series, fmt) {
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
  const step = Math.max(1, Math.ceil(months.length / 8));
  months.forEach((m, i) => {
    if (i % step === 0 || i === months.length - 1)
      svg.append(s('text', { x: x(i), y: H - 6, 'text-anchor': 'middle' }, m));
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
  if (series.length > 1)
    series.forEach((se, i) => svg.append(s('text', { x: L + 150 + i * 120, y: 12, fill: se.color }, `— ${se.name}`)));
  return svg;
}

function renderPlots() {
  const ps = state.partitions;
  const months = ps.map((p) => p.partition);
  const revenue = ps.map((p) => (p.figures.totalRevenue === null ? null : Number(p.figures.totalRevenue)));
  const premium = ps.map((p) => p.figures.premium);
  const rows = (k) => ps.map((p) => p.figures.rowCounts[k] ?? null);
  $('plots').replaceChildren(
    linePlot('Total revenue', months, [{ name: 'revenue', values: revenue, color: '#2e7d32' }], (v) =>
      v === null ? '' : v.toLocaleString('en', { maximumFractionDigits: 0 }),
    ),
    linePlot('Premium wines', months, [{ name: 'premium', values: premium, color: '#6a1b9a' }], fmtInt),
    linePlot(
      'Row counts',
      months,
      [
        { name: 'raw_web', values: rows('raw_web'), color: '#1565c0' },
        { name: 'web_clean', values: rows('web_clean'), color: '#8d6e00' },
        { name: 'merged', values: rows('merged_with_revenue'), color: '#c62828' },
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
          h('code', {}, r.runId),
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
        ['dead-letter', run.deadLetter ? run.deadLetter.key : null],
        [
          'alert',
          run.alert
            ? `${run.alert.status}${run.alert.attempts ? ` after ${run.alert.attempts} attempt(s)` : ''}${run.alert.error ? `: ${run.alert.error}` : ''}`
            : null,
        ],
        ['published', run.published ? `${run.published.files.map((f) => f.name).join(', ')} (current set)` : null],
        ['code version', run.codeVersion],
      ]),
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
  state.runs = state.month ? (await api(`/api/runs?partition=${encodeURIComponent(state.month)}`)).body.runs : [];
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

async function selectMonth(p) {
  state.month = p;
  state.runId = null;
  await renderAll().catch(onError);
}
async function selectRun(id) {
  state.runId = id;
  renderRuns();
  await renderRun().catch(onError);
}
async function selectAsset(key) {
  state.asset = key;
  await renderAsset().catch(onError);
  $('asset').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

async function poll(first) {
  try {
    const r = first || (await api('/api/partitions', { headers: state.etag ? { 'if-none-match': state.etag } : {} }));
    setLive(true);
    if (r.notModified) return;
    state.etag = r.etag;
    state.partitions = r.body.partitions;
    // The default month is the latest one not dismissed.
    if (!state.month || !state.partitions.some((p) => p.partition === state.month))
      state.month = (state.partitions.filter((p) => !p.dismissed).at(-1) || state.partitions.at(-1))?.partition ?? null;
    await renderAll();
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
  if (r) followBackfill(r.id);
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
    // The graph and the months at once: one round trip before the first drawing.
    const [graph, partitions] = await Promise.all([api('/api/graph'), api('/api/partitions')]);
    state.graph = graph.body;
    first = partitions;
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
  $('rerun').addEventListener('click', () => void rerun());
  $('backfill').addEventListener('click', () => void backfill());
  $('fix').addEventListener('click', () => void fix());
  $('dismiss').addEventListener('click', () => void dismiss());
  $('restore').addEventListener('click', () => void restore());
  void start();
});
