/**
 * The console on the services stack: Kafka, S3, the six services as processes and the console as
 * a seventh. Three months of files sit in incoming/ (ingest's polling off, and the S3 test server
 * sends no notifications: nothing starts by itself); a backfill asked of the console's API runs
 * each month once: three published sets, one `published` event per month, and the backfill's
 * progress says done. Needs `npm run build` first (npm test builds).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout, type PipelineEvent } from '@bottleneck/shared';
import { readCurrent } from '@bottleneck/shared/published';
import { S3Store } from '@bottleneck/shared/adapters/s3-store';
import { generateMonth } from '@bottleneck/cli/generate/index';
import { ROOT, cleanupTmp, cli, tmp } from '../helpers.js';
import { STANDIN_API_KEY, start as startStandIn, type StandIn } from '../sendgrid-standin.js';
import { freePort, startStack, waitFor as waitForCondition, type Stack } from './stack.js';

const TOKEN = 'e2e-console-token-0123456789abcdef';
const MONTHS = ['2026-07', '2026-08', '2026-09'];

let stack: Stack;
let standin: StandIn;
let store: S3Store;
let consoleProc: ChildProcess | undefined;
let consoleUrl: string;
let monthDir: string;
const consoleLog: string[] = [];

/** Waits as the stack's waitFor does, with the console's log in the message on a timeout. */
const waitFor = <T>(what: string, fn: () => Promise<T | null | undefined | false>) =>
  waitForCondition(what, fn, { context: () => `console log: ${consoleLog.join('').slice(-1000)}` });

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${consoleUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });

/** Every event of one type on the bus so far. */
async function eventsOf(type: string): Promise<PipelineEvent[]> {
  const kafka = new Kafka({
    clientId: 'e2e-console-reader',
    brokers: process.env.KAFKA_BROKERS!.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${stack.prefix}.${type}`;
  const total = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  await admin.disconnect();
  const out: PipelineEvent[] = [];
  if (total === 0) return out;
  const consumer = kafka.consumer({
    groupId: `e2e-console-reader-${Date.now()}-${Math.random()}`,
    maxWaitTimeInMs: 50,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push(JSON.parse(message.value!.toString('utf8')) as PipelineEvent);
        if (out.length >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return out;
}

beforeAll(async () => {
  standin = await startStandIn({ apiKey: STANDIN_API_KEY });
  stack = await startStack({ sendgridUrl: standin.url, sendgridKey: STANDIN_API_KEY, pollIntervalMs: 0 });
  store = new S3Store({
    bucket: stack.bucket,
    endpoint: process.env.S3_ENDPOINT!,
    region: process.env.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
  });
  const dir = await tmp('bn-e2e-console-');
  monthDir = dir;
  await generateMonth({ outDir: dir, scale: 1, seed: 3 });
  for (const p of MONTHS)
    for (const n of ['erp', 'web', 'liaison'] as const)
      await store.putFile(layout.incoming(p, n), join(dir, `${n}.xlsx`));
  const port = await freePort();
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(BN_|KAFKA_|S3_|VITEST|AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING)/.test(k),
    ),
  );
  // The console reads what every service reads; the ingest-only and alerter-only settings are not its own.
  const env = Object.fromEntries(
    Object.entries(stack.env).filter(
      ([k]) => !/^(BN_POLL_INTERVAL_MS|BN_SETTLE_MS|S3_EVENTS_TOPIC|SENDGRID_|ALERT_)/.test(k),
    ),
  );
  consoleProc = spawn(process.execPath, [join(ROOT, 'services', 'console', 'dist', 'main.js')], {
    env: { ...base, ...env, HTTP_PORT: String(port), BN_CONSOLE_TOKEN: TOKEN, BN_CONSOLE_REFRESH_MS: '200' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  consoleProc.stdout!.on('data', (d) => consoleLog.push(String(d)));
  consoleProc.stderr!.on('data', (d) => consoleLog.push(String(d)));
  consoleUrl = `http://127.0.0.1:${port}`;
  await waitFor('the console to be ready', async () => {
    if (consoleProc!.exitCode !== null)
      throw new Error(`the console exited ${consoleProc!.exitCode}: ${consoleLog.join('')}`);
    return fetch(`${consoleUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
  });
});

afterAll(async () => {
  if (consoleProc && consoleProc.exitCode === null) {
    const exited = new Promise((r) => consoleProc!.once('exit', r));
    consoleProc.kill('SIGTERM');
    await exited;
  }
  await stack?.stop();
  store?.close();
  await standin?.close();
  await cleanupTmp();
});

describe('console on the services stack', () => {
  it('shows the three months as not run yet, and refuses an API call without the token', async () => {
    expect((await fetch(`${consoleUrl}/api/partitions`)).status).toBe(401);
    const { partitions } = (await (await api('/api/partitions')).json()) as {
      partitions: { partition: string; status: string; words: string }[];
    };
    expect(partitions.map((p) => [p.partition, p.status, p.words])).toEqual(
      MONTHS.map((p) => [p, 'stale', 'erp.xlsx, web.xlsx and liaison.xlsx arrived; no run yet']),
    );
  });

  it('a backfill of three months publishes three months, once each', async () => {
    const r = await api('/api/backfills', {
      method: 'POST',
      body: JSON.stringify({ from: MONTHS[0], to: MONTHS.at(-1) }),
    });
    expect(r.status).toBe(202);
    const { id, runs } = (await r.json()) as { id: string; runs: { partition: string; runId: string }[] };
    expect(runs.map((x) => x.partition)).toEqual(MONTHS);
    const progress = await waitFor('the backfill to finish', async () => {
      const b = (await (await api(`/api/backfills/${id}`)).json()) as {
        status: string;
        done: number;
        runs: { partition: string; status: string }[];
      };
      return b.status !== 'running' && b;
    });
    expect(progress.runs.map((x) => [x.partition, x.status])).toEqual(MONTHS.map((p) => [p, 'published']));
    await stack.waitIdle();
    const published = await eventsOf('published');
    expect(published.map((e) => e.partition).sort()).toEqual(MONTHS);
    for (const run of runs) expect((await readCurrent(store, run.partition))?.runId).toBe(run.runId);
    const triggers = (await eventsOf('trigger')).filter((e) => e.type === 'trigger');
    expect(triggers.map((e) => (e.type === 'trigger' ? e.payload.source : '')).sort()).toEqual([
      'backfill',
      'backfill',
      'backfill',
    ]);
    const { partitions } = (await (await api('/api/partitions')).json()) as {
      partitions: { partition: string; status: string }[];
    };
    expect(partitions.map((p) => p.status)).toEqual(['published', 'published', 'published']);
  });

  it('after a failure and a fixed file: the re-execution is refused in words (it would reuse the old file), the offered re-run publishes once', async () => {
    const month = '2026-10';
    const { readFile } = await import('node:fs/promises');
    const erp = await readFile(join(monthDir, 'erp.xlsx'));
    await store.put(layout.incoming(month, 'erp'), erp.subarray(0, 3000));
    for (const n of ['web', 'liaison'] as const)
      await store.putFile(layout.incoming(month, n), join(monthDir, `${n}.xlsx`));
    const r = await api('/api/runs', { method: 'POST', body: JSON.stringify({ partition: month }) });
    expect(r.status).toBe(202);
    const { runId } = (await r.json()) as { runId: string };
    const failed = await waitFor('the run to fail', async () => {
      const x = await api(`/api/runs/${runId}`);
      const run = x.ok ? ((await x.json()) as { status: string; error: { words: string } | null }) : null;
      return run?.status === 'failed' && run;
    });
    expect(failed.error?.words).toBe(
      'ingest (raw_erp) failed: erp.xlsx is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again',
    );
    // The same files again: refused in words, nothing sent (no second dead-letter record or mail).
    const same = await api('/api/runs', { method: 'POST', body: JSON.stringify({ partition: month }) });
    expect(same.status).toBe(409);
    await store.put(layout.incoming(month, 'erp'), erp);
    const env = {
      KAFKA_BROKERS: stack.env.KAFKA_BROKERS!,
      KAFKA_TOPIC_PREFIX: stack.prefix,
      BN_EVENT_KEYS: stack.env.BN_EVENT_KEYS!,
      S3_BUCKET: stack.bucket,
      S3_ENDPOINT: stack.env.S3_ENDPOINT!,
      S3_REGION: stack.env.S3_REGION!,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: stack.env.S3_ACCESS_KEY_ID!,
      S3_SECRET_ACCESS_KEY: stack.env.S3_SECRET_ACCESS_KEY!,
    };
    const out = await cli(['reexecute', runId, '--json'], env);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(
      `bottleneck: run ${runId} is not re-executed from ingest: erp.xlsx changed in incoming/${month}/ since it read it, and a re-execution reuses the old versions; re-run the month instead (it reads the new files)\n`,
    );
    const offer = await waitFor('the offered re-run', async () => {
      const { partitions } = (await (await api('/api/partitions')).json()) as {
        partitions: { partition: string; offer: { action: string; label?: string } }[];
      };
      const o = partitions.find((p) => p.partition === month)?.offer;
      return o?.action === 'rerun' && o;
    });
    expect(offer.label).toBe(`Re-run ${month} with the new files`);
    const again = await api('/api/runs', { method: 'POST', body: JSON.stringify({ partition: month }) });
    expect(again.status).toBe(202);
    const child = (await again.json()) as { runId: string };
    const done = await waitFor('the re-run to publish', async () => {
      const x = await api(`/api/runs/${child.runId}`);
      const run = x.ok ? ((await x.json()) as { status: string; trigger: { source: string } }) : null;
      return run && run.status !== 'running' && run;
    });
    expect(done).toMatchObject({ status: 'published', trigger: { source: 'console' } });
    await stack.waitIdle();
    expect((await eventsOf('published')).filter((e) => e.partition === month).map((e) => e.runId)).toEqual([
      child.runId,
    ]);
    const dead = (await store.list(`dead-letter/${month}/`)).filter((o) => o.key.endsWith('.json'));
    expect(dead).toHaveLength(1);
  });

  it('bottleneck backfill through the services skips a month without its files, naming them, and sends nothing for it', async () => {
    const month = '2026-11';
    await store.putFile(layout.incoming(month, 'erp'), join(monthDir, 'erp.xlsx'));
    const env = {
      KAFKA_BROKERS: stack.env.KAFKA_BROKERS!,
      KAFKA_TOPIC_PREFIX: stack.prefix,
      S3_BUCKET: stack.bucket,
      S3_ENDPOINT: stack.env.S3_ENDPOINT!,
      S3_REGION: stack.env.S3_REGION!,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: stack.env.S3_ACCESS_KEY_ID!,
      S3_SECRET_ACCESS_KEY: stack.env.S3_SECRET_ACCESS_KEY!,
    };
    const out = await cli(['backfill', '--from', month, '--to', month], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^backfill bf-\S+ sent to the services: no month to run\n/);
    expect(out.stdout).toContain(`  ${month}  skipped: web.xlsx and liaison.xlsx missing from incoming/${month}/\n`);
    expect((await eventsOf('trigger')).filter((e) => e.partition === month)).toEqual([]);
  });
});
