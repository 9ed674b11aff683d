/**
 * npm run bench:scale (issue 19): a backfill of BENCH_MONTHS months (60 by default) dropped in the
 * bucket at once, through the six services as processes, with 1 and then with 2 replicas of every
 * stage. For each: wall time from the first upload to the last month published, months per minute,
 * CPU seconds per month (user + system of the service processes, from /proc), and the load average,
 * since the machine is shared. Writes .cache/scale/table.md. A month is through once published or
 * failed (a dead-letter record); the test asserts that none failed.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { layout } from '@bottleneck/shared';
import { readCurrent } from '@bottleneck/shared/published';
import { S3Store } from '@bottleneck/shared/adapters/s3-store';
import { generateMonth } from '@bottleneck/cli/generate/index';
import { ROOT } from '../helpers.js';
import { STANDIN_API_KEY, start as startStandIn } from '../sendgrid-standin.js';
import { SERVICES, startStack, waitFor, type Stack } from '../integration/stack.js';

const MONTHS = Number(process.env.BENCH_MONTHS ?? 60);
const SCALE = Number(process.env.BENCH_SCALE ?? 0.25);
const TICKS = 100; // USER_HZ on Linux

interface Result {
  replicas: number;
  months: number;
  /** Months that failed (a dead-letter record) instead of publishing: named in the table. */
  failed: string[];
  wallS: number;
  perMinute: number;
  cpuPerMonth: number;
  cpuS: number;
  load: string;
}
const results: Result[] = [];

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return 0;
  }
}
const stackCpu = (s: Stack) => [...s.procs.values()].reduce((n, p) => n + (p.pid ? cpuSeconds(p.pid) : 0), 0);

function monthsFrom(first: string, n: number): string[] {
  const [y, m] = first.split('-').map(Number) as [number, number];
  return Array.from({ length: n }, (_, i) => {
    const k = y * 12 + (m - 1) + i;
    return `${Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, '0')}`;
  });
}

async function backfill(replicas: number, first: string): Promise<Result> {
  const standin = await startStandIn({ apiKey: STANDIN_API_KEY });
  const start = () =>
    startStack({
      sendgridUrl: standin.url,
      sendgridKey: STANDIN_API_KEY,
      pollIntervalMs: 1000,
      replicas: Object.fromEntries(SERVICES.map((s) => [s, replicas])),
      extraEnv: { KAFKA_TOPIC_PARTITIONS: '12' },
      // Up to twelve Node processes starting together on a shared 2-core machine.
      readyTimeoutMs: 900_000,
    });
  // A service that meets a cold broker (NOT_LEADER at start) waits for it (shared/src/service/start.ts).
  const stack = await start();
  try {
    const store = new S3Store({
      bucket: stack.bucket,
      endpoint: process.env.S3_ENDPOINT!,
      region: process.env.S3_REGION ?? 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
    });
    const dir = await mkdtemp(join(tmpdir(), 'bn-scale-'));
    await generateMonth({ outDir: dir, scale: SCALE, seed: 7 });
    const months = monthsFrom(first, MONTHS);
    const cpu0 = stackCpu(stack);
    const t0 = Date.now();
    for (const m of months)
      for (const n of ['erp', 'web', 'liaison'] as const)
        await store.putFile(layout.incoming(m, n), join(dir, `${n}.xlsx`));
    let done = 0;
    let failed: string[] = [];
    // A month is through once published, or failed (its dead-letter record written: at load 40 the
    // wall-clock read limit failed three months at ingest, and a wait for 60 published never ended).
    await waitFor(
      `${MONTHS} months published or failed`,
      async () => {
        const flags = await Promise.all(months.map(async (m) => Boolean(await readCurrent(store, m))));
        done = flags.filter(Boolean).length;
        const dead = new Set((await store.list('dead-letter/')).map((o) => o.key.split('/')[1]));
        failed = months.filter((m, i) => !flags[i] && dead.has(m));
        return done + failed.length === months.length;
      },
      { timeoutMs: 3_000_000, everyMs: 2000, context: () => `${done} published, ${failed.length} failed` },
    );
    const wallS = (Date.now() - t0) / 1000;
    const cpuS = stackCpu(stack) - cpu0;
    const r: Result = {
      replicas,
      months: done,
      failed,
      wallS,
      perMinute: done / (wallS / 60),
      cpuS,
      cpuPerMonth: cpuS / Math.max(1, done),
      load: loadavg()
        .map((x) => x.toFixed(1))
        .join(' '),
    };
    process.stderr.write(`scale: ${JSON.stringify(r)}\n`);
    return r;
  } finally {
    await stack.stop();
    await standin.close();
  }
}

/** BENCH_REPLICAS: which runs (default 1,2). */
const RUNS = (process.env.BENCH_REPLICAS ?? '1,2').split(',').map(Number);

it.skipIf(!RUNS.includes(1))('backfill with 1 replica per stage', async () => {
  results.push(await backfill(1, '2050-01'));
  expect(results.at(-1)!.failed, 'months failed').toEqual([]);
});

it.skipIf(!RUNS.includes(2))('backfill with 2 replicas per stage', async () => {
  results.push(await backfill(2, '2060-01'));
  expect(results.at(-1)!.failed, 'months failed').toEqual([]);
});

afterAll(async () => {
  const lines = [
    '| replicas per stage | months published | failed | wall | months/min | CPU s (services) | CPU s/month | load average (1, 5, 15 min) at the end |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |',
    ...results.map(
      (r) =>
        `| ${r.replicas} | ${r.months} | ${r.failed.length ? r.failed.join(' ') : 'none'} | ${r.wallS.toFixed(0)} s | ${r.perMinute.toFixed(1)} | ${r.cpuS.toFixed(0)} | ${r.cpuPerMonth.toFixed(2)} | ${r.load} |`,
    ),
  ];
  const text = `${lines.join('\n')}\n\nmonths of generator scale ${SCALE}; ${new Date().toISOString()}\n`;
  const dir = join(ROOT, '.cache', 'scale');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'table.md'), text);
  process.stdout.write(`\nScale-out\n\n${text}`);
});
