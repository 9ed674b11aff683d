/**
 * End to end: Kafka, S3 and the SendGrid stand-in, and the six services as separate OS processes.
 * Files dropped in incoming/ start runs; outputs appear under extracts/ with a manifest; a bad
 * month is dead-lettered and alerted once; a service killed mid-run picks up where it stopped.
 * Needs `npm run build` first (npm test builds).
 */
import { readFile, truncate, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout, type PipelineEvent } from '@bottleneck/shared';
import { readCurrent, readPublished } from '@bottleneck/shared/published';
import { S3Store } from '@bottleneck/shared/adapters/s3-store';
import { runEmbedded } from '@bottleneck/cli/embedded';
import { generateMonth } from '@bottleneck/cli/generate/index';
import { cli, NO_REFERENCE, publishedPath, REFERENCE } from '../helpers.js';
import { STANDIN_API_KEY, start as startStandIn, type StandIn } from '../sendgrid-standin.js';
import { SERVICES, startStack, waitFor, type Stack } from './stack.js';

if (!REFERENCE) console.warn(`${NO_REFERENCE} (test/integration/services.e2e.test.ts)`);

let stack: Stack;
let standin: StandIn;
let store: S3Store;
let scratch: string;

/** Every event of one type on the bus so far, read with a plain consumer from the start. */
async function eventsOf(type: string): Promise<PipelineEvent[]> {
  const kafka = new Kafka({
    clientId: 'e2e-reader',
    brokers: process.env.KAFKA_BROKERS!.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${stack.prefix}.${type}`;
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((n, p) => n + Number(p.high), 0);
  const out: PipelineEvent[] = [];
  let seen = 0;
  if (total === 0) return out;
  const consumer = kafka.consumer({ groupId: `e2e-reader-${Date.now()}-${Math.random()}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen++;
        // A poison message (another test puts one on a topic) is counted, not parsed.
        try {
          out.push(JSON.parse(message.value!.toString('utf8')) as PipelineEvent);
        } catch {
          /* not an event */
        }
        if (seen >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return out;
}

async function upload(partition: string, dir: string): Promise<number> {
  for (const n of ['erp', 'web', 'liaison'] as const)
    await store.putFile(layout.incoming(partition, n), join(dir, `${n}.xlsx`));
  return Date.now();
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'bn-e2e-'));
  standin = await startStandIn({ apiKey: STANDIN_API_KEY });
  stack = await startStack({ sendgridUrl: standin.url, sendgridKey: STANDIN_API_KEY, pollIntervalMs: 500 });
  store = new S3Store({
    bucket: stack.bucket,
    endpoint: process.env.S3_ENDPOINT!,
    region: process.env.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
  });
});

afterAll(async () => {
  await stack?.stop();
  await standin?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('six services over Kafka and S3', () => {
  // How fast is measured by `npm run bench:e2e` (p50, p95), not here: this test waits for the
  // outcome, however long a cold, loaded machine takes to get there.
  it.skipIf(!REFERENCE)(
    'publishes the reference month dropped in incoming/, byte-identical to bottleneck run, once',
    async () => {
      await upload('2026-11', REFERENCE!);
      const manifest = await waitFor('extracts/2026-11/_current.json', () => readCurrent(store, '2026-11'));
      expect(manifest.files.map((f) => f.name).sort()).toEqual([
        'merged_with_revenue.csv',
        'ordinary_wines.csv',
        'premium_wines.csv',
        'revenue_per_product.xlsx',
      ]);

      const local = join(scratch, 'embedded');
      const s = await runEmbedded({ input: REFERENCE!, out: local, partition: '2026-11' });
      expect(s.status).toBe('succeeded');
      for (const f of ['merged_with_revenue.csv', 'premium_wines.csv', 'ordinary_wines.csv']) {
        const [a, b] = await Promise.all([
          readPublished(store, '2026-11', f),
          readFile(await publishedPath(local, '2026-11', f)),
        ]);
        expect(a.equals(b), f).toBe(true);
      }
      await waitFor('the published event', async () =>
        (await eventsOf('published')).some((e) => e.runId === manifest.runId),
      );
      await stack.waitIdle();
      const published = (await eventsOf('published')).filter((e) => e.runId === manifest.runId);
      expect(published).toHaveLength(1);

      for (const svc of SERVICES) {
        for (const path of ['/healthz', '/readyz']) {
          const r = await fetch(`http://127.0.0.1:${stack.ports[svc]}${path}`);
          expect(r.status, `${svc} ${path}`).toBe(200);
        }
      }
      const status = (await (await fetch(`http://127.0.0.1:${stack.ports.merge}/status`)).json()) as {
        recentRuns: { runId: string; outcome: string }[];
      };
      expect(status.recentRuns.some((r) => r.runId === manifest.runId && r.outcome === 'ok')).toBe(true);
      const metrics = await (await fetch(`http://127.0.0.1:${stack.ports.merge}/metrics`)).text();
      expect(metrics).toMatch(/bn_events_consumed_total\{type="validated",outcome="ok",service="merge"\} [1-9]/);
    },
  );

  it.skipIf(!REFERENCE)('re-runs a month on `bottleneck trigger`, replacing the published set', async () => {
    const before = (await readCurrent(store, '2026-11'))!;
    const r = await cli(['trigger', '--partition', '2026-11'], {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      KAFKA_TOPIC_PREFIX: stack.prefix,
      BN_EVENT_KEYS: stack.env.BN_EVENT_KEYS!,
    });
    expect(r.code, r.stderr).toBe(0);
    const runId = /run (\S+)/.exec(r.stdout)![1]!;
    expect(r.stdout).toBe(`trigger sent: partition 2026-11, run ${runId}\n`);
    const after = await waitFor('the pointer to the new run', async () => {
      const m = await readCurrent(store, '2026-11');
      return m?.runId === runId ? m : null;
    });
    expect(after.runId).not.toBe(before.runId);
    // The manifest is written before the published event is produced: wait for the event too.
    await waitFor('the published event', async () => (await eventsOf('published')).some((e) => e.runId === runId));
    await stack.waitIdle();
    expect((await eventsOf('published')).filter((e) => e.runId === runId)).toHaveLength(1);
  });

  it('dead-letters a truncated erp.xlsx, alerts once, publishes nothing', async () => {
    const month = join(scratch, 'bad');
    await generateMonth({ outDir: month, scale: 0.25, seed: 3 });
    const erp = join(month, 'erp.xlsx');
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(erp));
    await truncate(erp, Math.floor(size / 2));
    const before = standin.received().length;
    await upload('2026-12', month);
    const records = await waitFor('dead-letter/2026-12/', async () => {
      // S3Proxy's file backend lists an object being written under a temporary name: keep .json keys.
      const l = (await store.list('dead-letter/2026-12/')).filter((o) => o.key.endsWith('.json'));
      return l.length ? l : null;
    });
    await waitFor('the alert', async () => standin.received().length > before);
    await stack.waitIdle();
    expect((await store.list('dead-letter/2026-12/')).filter((o) => o.key.endsWith('.json')).map((o) => o.key)).toEqual(
      records.map((o) => o.key),
    );
    expect(records).toHaveLength(1);
    const record = JSON.parse((await store.get(records[0]!.key)).toString('utf8'));
    expect(record).toMatchObject({
      partition: '2026-12',
      stage: 'ingest',
      code: 'BN_ERR_INPUT_CORRUPT',
      alert: { status: 'sent' },
    });
    expect(record.message).toMatch(/^erp\.xlsx is truncated or corrupt/);
    const mails = standin.received().slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('[BottleNeck pipeline] run failed at stage ingest for 2026-12');
    expect(await store.list('extracts/2026-12/')).toEqual([]);
  });

  it('sets a poison message aside: a refused-event record, one grouped alert for its kind and hour, and the consumer goes on', async () => {
    const kafka = new Kafka({
      clientId: 'e2e-poison',
      brokers: process.env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    const before = standin.received().length;
    await producer.send({
      topic: `${stack.prefix}.merged`,
      messages: [{ key: '2026-09', value: 'this is not an event {' }],
    });
    await producer.disconnect();
    // A message that is no event is refused (kind invalid), never a run: recorded under refused/.
    const records = await waitFor('the refused-event record', async () => {
      const l = (await store.list('refused/unknown/')).filter(
        (o) => o.key.endsWith('.json') && o.key.includes(`bus-${stack.prefix}.merged-`),
      );
      return l.length ? l : null;
    });
    const record = JSON.parse((await store.get(records[0]!.key)).toString('utf8'));
    expect(record).toMatchObject({
      kind: 'refused-event',
      reason: 'invalid',
      code: 'BN_ERR_EVENT_INVALID',
      sourceTopic: `${stack.prefix}.merged`,
      group: 'bottleneck-analytics',
      value: 'this is not an event {',
    });
    const refusedMails = () =>
      standin
        .received()
        .slice(before)
        .filter((m) => / refused events? \(invalid\)$/.test(m.subject ?? ''));
    await waitFor('the grouped alert', async () => refusedMails().length > 0);
    await stack.waitIdle();
    expect(refusedMails()).toHaveLength(1);
    expect(refusedMails()[0]!.subject).toMatch(/^\[BottleNeck pipeline\] \d+ refused events? \(invalid\)$/);
  });

  it('finishes a run, once, when merge is killed with SIGKILL mid-run and restarted', async () => {
    const month = join(scratch, 'kill');
    await generateMonth({ outDir: month, scale: 1, seed: 11 });
    await stack.kill('merge', 'SIGKILL');
    await upload('2026-10', month);
    // The run reaches merge's topic while merge is down: it is in flight, waiting on its offset.
    const validated = await waitFor('validated for 2026-10', async () =>
      (await eventsOf('validated')).find((e) => e.partition === '2026-10'),
    );
    expect(await store.head(layout.current('2026-10'))).toBeNull();
    await stack.start('merge');
    await stack.waitReady();
    await waitFor('the pointer of 2026-10', () => store.head(layout.current('2026-10')));
    await stack.waitIdle();
    expect((await eventsOf('merged')).filter((e) => e.runId === validated.runId)).toHaveLength(1);
    expect((await eventsOf('published')).filter((e) => e.runId === validated.runId)).toHaveLength(1);
  });

  it('finishes a run, once, when clean is killed with SIGKILL in the middle of handling it', async () => {
    const month = join(scratch, 'kill-clean');
    await generateMonth({ outDir: month, scale: 8, seed: 5 });
    await upload('2026-08', month);
    // /status lists what is in flight: kill clean while it is reading this month's workbooks.
    const inFlight = await waitFor('clean handling 2026-08', async () => {
      const st = (await (await fetch(`http://127.0.0.1:${stack.ports.clean}/status`)).json()) as {
        inFlight: { partition: string; consumed: string; runId: string }[];
      };
      return st.inFlight.find((f) => f.partition === '2026-08' && f.consumed === 'file-arrived');
    });
    await stack.kill('clean', 'SIGKILL');
    expect((await eventsOf('cleaned')).filter((e) => e.runId === inFlight.runId)).toHaveLength(0);
    await stack.start('clean');
    await stack.waitReady();
    await waitFor('the pointer of 2026-08', () => store.head(layout.current('2026-08')));
    await stack.waitIdle();
    expect((await eventsOf('cleaned')).filter((e) => e.runId === inFlight.runId)).toHaveLength(1);
    expect((await eventsOf('published')).filter((e) => e.runId === inFlight.runId)).toHaveLength(1);
  });

  it('logged JSON lines only, each process warning once per process', async () => {
    expect(stack.outputs.length).toBeGreaterThanOrEqual(SERVICES.length);
    for (const o of stack.outputs) {
      const lines = o.chunks.join('').split('\n');
      // The last piece is empty after a final newline; a process killed with SIGKILL may have been cut mid-line.
      const last = lines.pop();
      if (!o.killed) expect(last, `${o.service} (pid ${o.pid}) ended without a newline`).toBe('');
      const records = lines.map((line) => {
        let rec: unknown;
        try {
          rec = JSON.parse(line);
        } catch {
          throw new Error(`${o.service} (pid ${o.pid}) wrote a line that is not JSON: ${line.slice(0, 300)}`);
        }
        expect(typeof (rec as { level?: unknown }).level, `${o.service}: ${line.slice(0, 200)}`).toBe('number');
        return rec as { msg?: string; warning?: { code?: string; name: string; message: string } };
      });
      const warnings = records
        .filter((r) => r.msg === 'process warning')
        .map((r) => r.warning!.code ?? `${r.warning!.name}: ${r.warning!.message.slice(0, 60)}`);
      expect(warnings, `${o.service} (pid ${o.pid})`).toEqual([...new Set(warnings)]);
    }
  });
});
