// `npm run bench`: times the whole `bottleneck run` process on generated months of K times the
// reference size (and on the reference month itself, when ../shared/data/reference is present),
// beside the pandas baseline (scripts/bench/pandas_baseline.py: the same work with pandas and
// openpyxl, run with /usr/bin/python3), and checks the performance targets against it.
//
// Usage: node scripts/bench.mjs [--scales 1,10,20] [--runs 5] [--seed 1] [--partition 2024-01]
//                               [--timeout 300] [--keep] [--json]
//
// Each case: one untimed warm-up run of the pipeline and of the baseline (so the file cache is
// warm), then --runs timed runs of each, interleaved. Wall time is measured around the whole child
// process (spawn to exit). Peak RSS: the pipeline's comes from the child itself via
// scripts/bench-rss.mjs, preloaded with `node --import`, which writes process.resourceUsage().maxRSS
// to $BOTTLENECK_BENCH_RSS_FILE on exit; the baseline prints its own (getrusage) in its JSON line.
// The baseline needs Debian's python3-pandas and python3-openpyxl: the bench installs them with
// apt-get when they are missing, and says so.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'cli', 'dist', 'bin.js');
const PANDAS = join(ROOT, 'scripts', 'bench', 'pandas_baseline.py');
const PYTHON = '/usr/bin/python3';
const RSS_HOOK = pathToFileURL(join(ROOT, 'scripts', 'bench-rss.mjs')).href;
const REFERENCE = resolve(ROOT, '..', 'shared', 'data', 'reference');

/** From issue 8: wall time as a fraction of the pandas baseline's, peak RSS, linearity. */
const TARGETS = {
  referenceRatio: 0.8,
  k20Ratio: 0.25,
  k20RssMiB: 250,
  linearRatio: 1.5,
  millionRatio: 0.25,
  millionRssMiB: 1024,
};

/** Web rows per unit of K the generator makes (30,826 at K = 20): K for a month of a million web rows. */
const WEB_ROWS_PER_K = 30826 / 20;
const MILLION_K = Math.ceil(1_000_000 / WEB_ROWS_PER_K);

const HELP = `Usage: node scripts/bench.mjs [options]
  --scales LIST   generated month sizes, K times the reference (default 1,10,20)
  --runs N        timed runs per case (default 5), after one untimed warm-up run
  --seed N        generator seed (default 1)
  --partition P   partition passed to bottleneck run (default 2024-01)
  --timeout SEC   give up on any single child process after SEC seconds (default 300)
  --million       add a month of a million web rows (K = ${MILLION_K}; slow: minutes per run, pandas longer)
  --keep          keep the temp dirs (their path is printed to stderr)
  --json          print the results as one JSON object instead of the table
`;

class BenchError extends Error {}

// ---------------------------------------------------------------- arguments

function parseOptions(argv) {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        scales: { type: 'string', default: '1,10,20' },
        runs: { type: 'string', default: '5' },
        seed: { type: 'string', default: '1' },
        partition: { type: 'string', default: '2024-01' },
        timeout: { type: 'string', default: '300' },
        keep: { type: 'boolean', default: false },
        million: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (e) {
    usageExit(e.message);
  }
  if (v.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const wholeNumber = (name, s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) usageExit(`--${name} must be a whole number >= 1 (got ${JSON.stringify(s)})`);
    return n;
  };
  const scales = v.scales
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => wholeNumber('scales', s));
  if (scales.length === 0) usageExit('--scales needs at least one K');
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(v.partition))
    usageExit(`--partition must be YYYY-MM (got ${JSON.stringify(v.partition)})`);
  return {
    scales: [...new Set(scales)].sort((a, b) => a - b),
    runs: wholeNumber('runs', v.runs),
    seed: wholeNumber('seed', v.seed),
    partition: v.partition,
    timeoutMs: wholeNumber('timeout', v.timeout) * 1000,
    keep: v.keep,
    million: v.million,
    json: v.json,
  };
}

function usageExit(msg) {
  process.stderr.write(`bench: ${msg}\n${HELP}`);
  process.exit(2);
}

// ---------------------------------------------------------------- children

let current = null; // the child process running right now, so Ctrl-C can stop it
let tempRoot = null;
let keepTemp = false;

function progress(msg) {
  process.stderr.write(`bench: ${msg}\n`);
}

/** Runs `node args...` to completion; resolves { code, signal, stdout, stderr, wallMs }. */
function runNode(args, opts) {
  return runCommand(process.execPath, args, opts);
}

/** Runs `command args...` to completion; resolves { code, signal, stdout, stderr, wallMs }. */
function runCommand(command, args, { env = {}, timeoutMs }) {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    current = child;
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      current = null;
      reject(e);
    });
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - t0;
      clearTimeout(timer);
      current = null;
      const result = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        wallMs,
      };
      if (timedOut)
        reject(
          new BenchError(`timed out after ${timeoutMs / 1000} s: ${command} ${args.join(' ')}\n${tail(result.stderr)}`),
        );
      else resolveRun(result);
    });
  });
}

function tail(s, n = 4000) {
  return s.length > n ? `...${s.slice(-n)}` : s;
}

function failure(what, r) {
  return new BenchError(
    `${what} failed (exit ${r.code}${r.signal ? `, signal ${r.signal}` : ''})\n--- stderr ---\n${tail(r.stderr) || '(empty)'}\n--- stdout ---\n${tail(r.stdout) || '(empty)'}`,
  );
}

/** One measured child process: wall time (ms) and peak RSS (KB) from the preloaded hook. */
async function measured(args, rssFile, timeoutMs) {
  rmSync(rssFile, { force: true });
  const r = await runNode(['--import', RSS_HOOK, ...args], { env: { BOTTLENECK_BENCH_RSS_FILE: rssFile }, timeoutMs });
  let rssKB = null;
  let cpuMs = null;
  try {
    [rssKB, cpuMs] = readFileSync(rssFile, 'utf8').trim().split(' ').map(Number);
  } catch {
    // reported below if the run otherwise succeeded
  }
  return { ...r, rssKB, cpuMs };
}

async function pipelineRun(input, out, rssFile, o) {
  const args = [BIN, 'run', '--input', input, '--out', out, '--partition', o.partition, '--json'];
  const r = await measured(args, rssFile, o.timeoutMs);
  if (r.code !== 0) throw failure(`bottleneck run --input ${input}`, r);
  let summary;
  try {
    summary = JSON.parse(r.stdout);
  } catch {
    throw failure(`bottleneck run --input ${input} (stdout is not one JSON object)`, r);
  }
  if (summary.status !== 'succeeded')
    throw failure(`bottleneck run --input ${input} (status ${JSON.stringify(summary.status)})`, r);
  if (!Number.isFinite(r.rssKB))
    throw new BenchError(`bottleneck run did not report its peak RSS (is ${RSS_HOOK} loadable?)`);
  return { wallMs: r.wallMs, rssKB: r.rssKB, cpuMs: r.cpuMs, summary };
}

async function pandasRun(input, out, o) {
  const r = await runCommand(PYTHON, [PANDAS, input, out], { timeoutMs: o.timeoutMs });
  if (r.code !== 0) throw failure(`pandas baseline ${input}`, r);
  let summary;
  try {
    summary = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    throw failure(`pandas baseline ${input} (unexpected stdout)`, r);
  }
  return { wallMs: r.wallMs, rssKB: summary.peakRssKB, cpuMs: summary.cpuMs, summary };
}

/** The baseline's Python packages: Debian's, installed with apt-get when missing (said on stderr). */
async function ensurePandas(o) {
  const probe = () =>
    runCommand(PYTHON, ['-c', 'import pandas, openpyxl'], { timeoutMs: o.timeoutMs }).catch(() => ({ code: -1 }));
  if ((await probe()).code === 0) return;
  progress(
    'the pandas baseline needs python3-pandas and python3-openpyxl: installing them with apt-get install -y python3-pandas python3-openpyxl',
  );
  const r = await runCommand('apt-get', ['install', '-y', 'python3-pandas', 'python3-openpyxl'], {
    timeoutMs: 600_000,
  }).catch((e) => ({ code: -1, stderr: String(e), stdout: '' }));
  if (r.code !== 0 || (await probe()).code !== 0) {
    throw new BenchError(
      `the pandas baseline cannot run: ${PYTHON} lacks pandas or openpyxl and apt-get install -y python3-pandas python3-openpyxl failed (run it as root, or install them)\n${tail(r.stderr ?? '')}`,
    );
  }
}

// ---------------------------------------------------------------- statistics

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function stats(samples) {
  const wall = samples.map((x) => x.wallMs / 1000);
  const rss = samples.map((x) => x.rssKB / 1024);
  const cpu = samples.map((x) => x.cpuMs / 1000);
  return {
    medianS: median(wall),
    minS: Math.min(...wall),
    maxS: Math.max(...wall),
    wallS: wall,
    medianRssMB: median(rss),
    medianCpuS: median(cpu),
    rssMB: rss,
  };
}

// ---------------------------------------------------------------- cases

async function benchCase(c, o) {
  const caseDir = join(tempRoot, c.label.replace(/[^\w.-]+/g, '_'));
  const rssFile = join(caseDir, 'rss.txt');
  const outDir = (i) => join(caseDir, `out-${i}`);
  const pandasDir = (i) => join(caseDir, `pandas-${i}`);
  const done = (i) => {
    if (!o.keep) for (const d of [outDir(i), pandasDir(i)]) rmSync(d, { recursive: true, force: true });
  };

  progress(`${c.label}: warm-up (pipeline + pandas)`);
  const warm = await pipelineRun(c.input, outDir('warmup'), rssFile, o);
  const warmPandas = await pandasRun(c.input, pandasDir('warmup'), o);
  done('warmup');
  // Both must have done the same work: the same figures, or the comparison means nothing.
  const same =
    warm.summary.totalRevenue === warmPandas.summary.totalRevenue &&
    warm.summary.premium === warmPandas.summary.premium &&
    warm.summary.rowCounts.merged_with_revenue === warmPandas.summary.rows.merged;
  if (!same)
    throw new BenchError(
      `${c.label}: the pipeline and the pandas baseline disagree: ${JSON.stringify({ pipeline: [warm.summary.totalRevenue, warm.summary.premium, warm.summary.rowCounts.merged_with_revenue], pandas: [warmPandas.summary.totalRevenue, warmPandas.summary.premium, warmPandas.summary.rows.merged] })}`,
    );

  const pipe = [];
  const pandas = [];
  for (let i = 1; i <= o.runs; i++) {
    const p = await pipelineRun(c.input, outDir(i), rssFile, o);
    pipe.push(p);
    const b = await pandasRun(c.input, pandasDir(i), o);
    pandas.push(b);
    done(i);
    progress(
      `${c.label}: run ${i}/${o.runs}: pipeline ${(p.wallMs / 1000).toFixed(3)} s ${(p.rssKB / 1024).toFixed(0)} MiB, pandas ${(b.wallMs / 1000).toFixed(3)} s ${(b.rssKB / 1024).toFixed(0)} MiB`,
    );
  }

  const ps = stats(pipe);
  const bs = stats(pandas);
  return {
    case: c.label,
    k: c.k,
    input: c.input,
    webRows: c.webRows,
    pipeline: ps,
    pandas: bs,
    ratio: ps.medianS / bs.medianS,
    load1: loadavg()[0],
    run: {
      totalRevenue: warm.summary.totalRevenue,
      premium: warm.summary.premium,
      rowCounts: warm.summary.rowCounts,
      durationMs: pipe.map((p) => p.summary.durationMs),
    },
  };
}

async function generate(k, o) {
  const dir = join(tempRoot, `k${k}`, 'input');
  progress(`K=${k}: generating (seed ${o.seed})`);
  const r = await runNode([BIN, 'generate', '--out', dir, '--scale', String(k), '--seed', String(o.seed)], {
    timeoutMs: o.timeoutMs,
  });
  if (r.code !== 0) throw failure(`bottleneck generate --scale ${k}`, r);
  const m = /(\d+) web rows/.exec(r.stdout);
  progress(`K=${k}: ${r.stdout.split('\n')[0].replace(/:$/, '')}`);
  return { input: dir, webRows: m ? Number(m[1]) : null };
}

// ---------------------------------------------------------------- targets

function evaluateTargets(results) {
  const byK = (k) => results.find((r) => r.case === `K=${k}`);
  const targets = [];
  const ref = results.find((r) => r.case === 'reference') ?? byK(1);
  const notMeasured = (target, why) => ({ target, measured: `not measured (${why})`, met: null });
  const refTarget = `reference-size month <= ${TARGETS.referenceRatio}x the pandas baseline`;
  targets.push(
    ref
      ? {
          target: refTarget,
          measured: `${ref.ratio.toFixed(2)}x (${ref.pipeline.medianS.toFixed(3)} s vs ${ref.pandas.medianS.toFixed(3)} s, ${ref.case})`,
          met: ref.ratio <= TARGETS.referenceRatio,
        }
      : notMeasured(refTarget, 'no reference dir, K=1 not in --scales'),
  );
  const k20 = byK(20);
  const k20Target = `K=20 <= ${TARGETS.k20Ratio}x the pandas baseline`;
  const rssTarget = `K=20 <= ${TARGETS.k20RssMiB} MiB peak RSS`;
  targets.push(
    k20
      ? {
          target: k20Target,
          measured: `${k20.ratio.toFixed(2)}x (${k20.pipeline.medianS.toFixed(3)} s vs ${k20.pandas.medianS.toFixed(3)} s)`,
          met: k20.ratio <= TARGETS.k20Ratio,
        }
      : notMeasured(k20Target, 'K=20 not in --scales'),
    k20
      ? {
          target: rssTarget,
          measured: `${k20.pipeline.medianRssMB.toFixed(0)} MiB`,
          met: k20.pipeline.medianRssMB <= TARGETS.k20RssMiB,
        }
      : notMeasured(rssTarget, 'K=20 not in --scales'),
  );
  // Linear: the cost of one more web row from K=10 to K=20 is within linearRatio of its cost from
  // K=1 to K=10 (fixed start-up costs cancel out of both).
  const [k1, k10] = [byK(1), byK(10)];
  const linTarget = `linear: ms per 1000 more web rows from K=10 to K=20 within ${TARGETS.linearRatio}x of K=1 to K=10`;
  if (k1 && k10 && k20 && k1.webRows && k10.webRows && k20.webRows) {
    const marginal = (a, b) => ((b.pipeline.medianS - a.pipeline.medianS) * 1000) / ((b.webRows - a.webRows) / 1000);
    const [lo, hi] = [marginal(k1, k10), marginal(k10, k20)];
    targets.push({
      target: linTarget,
      measured: `${(hi / lo).toFixed(2)}x (${hi.toFixed(1)} vs ${lo.toFixed(1)} ms/1000 rows)`,
      met: hi / lo <= TARGETS.linearRatio,
    });
  } else {
    targets.push(notMeasured(linTarget, 'needs K=1, K=10 and K=20'));
  }
  const m = results.find((r) => r.case === '1M rows');
  const mTarget = `1M rows <= ${TARGETS.millionRatio}x the pandas baseline and < ${TARGETS.millionRssMiB} MiB`;
  targets.push(
    m
      ? {
          target: mTarget,
          measured: `${m.ratio.toFixed(2)}x (${m.pipeline.medianS.toFixed(3)} s vs ${m.pandas.medianS.toFixed(3)} s), ${m.pipeline.medianRssMB.toFixed(0)} MiB`,
          met: m.ratio <= TARGETS.millionRatio && m.pipeline.medianRssMB < TARGETS.millionRssMiB,
        }
      : notMeasured(mTarget, 'no --million'),
  );
  return targets;
}

// ---------------------------------------------------------------- output

function table(rows, align) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) =>
    r
      .map((cell, i) => (align[i] === 'l' ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function report(results, targets, o) {
  const head = [
    'case',
    'K',
    'web rows',
    'pipeline s',
    'min–max s',
    'RSS MiB',
    'CPU s',
    'pandas s',
    'pandas RSS MiB',
    'pandas CPU s',
    'ratio',
    'load',
  ];
  const body = results.map((r) => [
    r.case,
    r.k === null ? '-' : String(r.k),
    r.webRows === null ? '-' : String(r.webRows),
    r.pipeline.medianS.toFixed(3),
    `${r.pipeline.minS.toFixed(3)}–${r.pipeline.maxS.toFixed(3)}`,
    r.pipeline.medianRssMB.toFixed(0),
    r.pipeline.medianCpuS.toFixed(2),
    r.pandas.medianS.toFixed(3),
    r.pandas.medianRssMB.toFixed(0),
    r.pandas.medianCpuS.toFixed(2),
    `${r.ratio.toFixed(2)}x`,
    r.load1.toFixed(1),
  ]);
  const out = [];
  out.push(
    `bottleneck run vs the pandas baseline: median of ${o.runs} runs after 1 warm-up (node ${process.version}, ${cpus().length} CPUs)`,
  );
  out.push('');
  out.push(table([head, ...body], ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  out.push('');
  out.push('CPU s: user + system time of the process, all its threads (on a busy machine, steadier than wall time).');
  out.push(
    'load: the 1-minute load average when the case ended (pandas runs beside the pipeline, under the same load).',
  );
  out.push(
    `load average while measuring: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(', ')} (1, 5, 15 min)`,
  );
  out.push('');
  out.push('targets:');
  const mark = (met) => (met === null ? 'n/a ' : met ? 'MET ' : 'MISS');
  for (const t of targets) out.push(`  [${mark(t.met)}] ${t.target}: ${t.measured}`);
  const missed = targets.filter((t) => t.met === false).length;
  out.push('');
  out.push(missed ? `${missed} target(s) missed` : 'all measured targets met');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------- main

function cleanup() {
  if (!tempRoot) return;
  if (keepTemp) progress(`kept temp dir ${tempRoot}`);
  else rmSync(tempRoot, { recursive: true, force: true });
  tempRoot = null;
}

function onSignal(sig) {
  progress(`${sig}: stopping`);
  if (current) current.kill('SIGKILL');
  cleanup();
  process.exit(130);
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  keepTemp = o.keep;
  if (!existsSync(BIN)) throw new BenchError(`${BIN} is missing: run "npm run build" first`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await ensurePandas(o);
  tempRoot = mkdtempSync(join(tmpdir(), 'bn-bench-'));
  progress(`temp dir ${tempRoot}; scales ${o.scales.join(',')}; ${o.runs} timed runs per case`);

  const cases = [];
  if (existsSync(join(REFERENCE, 'web.xlsx')))
    cases.push({ label: 'reference', k: null, input: REFERENCE, webRows: null });
  else progress(`no reference month at ${REFERENCE}: skipping the "reference" case`);
  for (const k of o.scales) {
    const g = await generate(k, o);
    cases.push({ label: `K=${k}`, k, input: g.input, webRows: g.webRows });
  }
  if (o.million) {
    const g = await generate(MILLION_K, o);
    cases.push({ label: '1M rows', k: MILLION_K, input: g.input, webRows: g.webRows });
  }

  const results = [];
  for (const c of cases) results.push(await benchCase(c, o));
  const targets = evaluateTargets(results);

  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ node: process.version, cpus: cpus().length, runs: o.runs, seed: o.seed, partition: o.partition, targets: TARGETS, results, checks: targets, allMet: targets.every((t) => t.met !== false) })}\n`,
    );
  } else {
    process.stdout.write(report(results, targets, o));
  }
}

main()
  .then(() => {
    cleanup();
  })
  .catch((e) => {
    process.stderr.write(`bench: ${e instanceof BenchError ? e.message : (e?.stack ?? String(e))}\n`);
    cleanup();
    process.exitCode = 1;
  });
