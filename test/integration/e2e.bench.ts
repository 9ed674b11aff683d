/**
 * npm run bench:e2e: the six services on real Kafka and S3, 20 uploads of the reference month.
 * For each: the time from the last file's upload (and the S3 notification versitygw would send, which
 * S3Proxy does not) to the `published` event, and each stage's share, from the events' own
 * timestamps. Prints p50 and p95. A benchmark, not a test: it asserts only that runs complete.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { layout, type PipelineEvent } from '@bottleneck/shared';
import { S3Store } from '@bottleneck/shared/adapters/s3-store';
import { REFERENCE } from '../helpers.js';
import { STANDIN_API_KEY, start as startStandIn, type StandIn } from '../sendgrid-standin.js';
import { startStack, type Stack } from './stack.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const ORDER = ['trigger', 'file-arrived', 'cleaned', 'validated', 'merged', 'analysed', 'published'] as const;
const STEP_NAMES: Record<string, string> = {
  trigger: 'notification -> trigger (ingest watcher)',
  'file-arrived': 'trigger -> file-arrived (ingest: vital check)',
  cleaned: 'file-arrived -> cleaned (clean: read Excel, clean)',
  validated: 'cleaned -> validated (clean: quality gate)',
  merged: 'validated -> merged (merge)',
  analysed: 'merged -> analysed (analytics: reports)',
  published: 'analysed -> published (publisher)',
};

let stack: Stack;
let standin: StandIn;
const seen = new Map<string, Map<string, { ts: number; at: number }>>();
let consumer: ReturnType<Kafka['consumer']>;
let producer: ReturnType<Kafka['producer']>;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

beforeAll(async () => {
  standin = await startStandIn({ apiKey: STANDIN_API_KEY });
  stack = await startStack({ sendgridUrl: standin.url, sendgridKey: STANDIN_API_KEY, pollIntervalMs: 0 });
  const kafka = new Kafka({
    clientId: 'bench-e2e',
    brokers: process.env.KAFKA_BROKERS!.split(','),
    logLevel: logLevel.NOTHING,
  });
  producer = kafka.producer();
  await producer.connect();
  consumer = kafka.consumer({ groupId: `bench-e2e-${randomUUID()}`, maxWaitTimeInMs: 20 });
  await consumer.connect();
  await consumer.subscribe({ topics: ORDER.map((t) => `${stack.prefix}.${t}`), fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const e = JSON.parse(message.value!.toString('utf8')) as PipelineEvent;
      const m = seen.get(e.partition) ?? new Map();
      seen.set(e.partition, m);
      m.set(e.type, { ts: Date.parse(e.ts), at: Date.now() });
    },
  });
}, 180_000);

afterAll(async () => {
  await consumer?.disconnect();
  await producer?.disconnect();
  await stack?.stop();
  await standin?.close();
}, 60_000);

it.skipIf(!REFERENCE)(
  `times ${RUNS} uploads of the reference month, upload to published`,
  async () => {
    const store = new S3Store({
      bucket: stack.bucket,
      endpoint: process.env.S3_ENDPOINT!,
      region: process.env.S3_REGION ?? 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
    });
    const totals: number[] = [];
    const steps = new Map<string, number[]>();
    for (let i = 0; i < RUNS + 1; i++) {
      const partition = `20${40 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`;
      for (const n of ['erp', 'web', 'liaison'] as const)
        await store.putFile(layout.incoming(partition, n), join(REFERENCE!, `${n}.xlsx`));
      const uploaded = Date.now();
      const records = (['erp', 'web', 'liaison'] as const).map((n) => ({
        eventName: 's3:ObjectCreated:Put',
        s3: { bucket: { name: stack.bucket }, object: { key: layout.incoming(partition, n) } },
      }));
      await producer.send({
        topic: `${stack.prefix}.s3-events`,
        messages: [{ value: JSON.stringify({ Records: records }) }],
      });
      const end = Date.now() + 30_000;
      while (!seen.get(partition)?.has('published')) {
        if (Date.now() > end) throw new Error(`run for ${partition} not published in 30 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      if (i === 0) continue; // warm-up: connections, JIT, DuckDB's first load
      const m = seen.get(partition)!;
      totals.push(m.get('published')!.at - uploaded);
      let prev = uploaded;
      for (const t of ORDER) {
        const ts = m.get(t)!.ts;
        steps.set(t, [...(steps.get(t) ?? []), ts - prev]);
        prev = ts;
      }
    }
    const p50 = pct(totals, 50);
    const lines = [
      '',
      `bench:e2e: ${RUNS} uploads of the reference month, last upload -> published event (6 services, Kafka, S3Proxy, loopback)`,
      `  p50 ${p50} ms   p95 ${pct(totals, 95)} ms   min ${Math.min(...totals)} ms   max ${Math.max(...totals)} ms`,
      '  stage shares (p50 of each step; event timestamps are taken when a stage emits):',
      ...ORDER.map((t) => {
        const xs = steps.get(t)!;
        return `    ${STEP_NAMES[t]!.padEnd(52)} p50 ${String(pct(xs, 50)).padStart(5)} ms  (${Math.round((100 * pct(xs, 50)) / p50)}%)`;
      }),
      `  target p50 < 2000 ms: ${p50 < 2000 ? 'met' : 'MISSED'}`,
      '',
    ];
    console.log(lines.join('\n'));
    expect(totals).toHaveLength(RUNS);
  },
  900_000,
);
