// Latency of the Kafka bus on loopback: publish -> handler, through the Bus API (KafkaBus).
//
//   npx tsc -b shared && node scripts/bench-kafka.mjs     (or: npm run bench:kafka)
//
// Uses the broker in KAFKA_BROKERS, or starts one with scripts/kafka-local.sh and stops it at the
// end. Topics get a random prefix and are deleted afterwards. Environment: BENCH_EVENTS (default
// 1000), BENCH_WARMUP (default 50, not counted: connections, metadata and JIT warm up).
//
// Two phases, each BENCH_EVENTS trigger events of one month (one partition):
//   sequential: publish (await the ack), wait until the handler has it, then the next one. The
//               figure is the time from the publish call to the handler call.
//   pipelined:  publish back to back (await each ack, do not wait for delivery); the figure is the
//               same per event, and the throughput is events over first publish -> last delivery.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaBus } from '../shared/dist/adapters/kafka-bus.js';
import { makeEvent } from '../shared/dist/events/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.BENCH_EVENTS ?? 1000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 50);

let brokers = process.env.KAFKA_BROKERS?.trim();
let startedPort;
if (!brokers) {
  process.stderr.write('bench-kafka: starting a broker with scripts/kafka-local.sh\n');
  const out = execFileSync('bash', [path.join(ROOT, 'scripts/kafka-local.sh'), 'start'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  brokers = /^KAFKA_BROKERS=(.+)$/m.exec(out)?.[1]?.trim();
  if (!brokers) throw new Error('kafka-local.sh printed no KAFKA_BROKERS line');
  startedPort = brokers.split(',')[0].split(':').pop();
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const ms = (x) => x.toFixed(2);

function report(name, lat, wallMs) {
  const s = [...lat].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  console.log(
    `${name.padEnd(11)} n=${s.length}  p50 ${ms(pct(s, 50))} ms  p99 ${ms(pct(s, 99))} ms  max ${ms(s.at(-1))} ms  mean ${ms(mean)} ms  throughput ${(s.length / (wallMs / 1000)).toFixed(0)} events/s`,
  );
}

const prefix = `bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const bus = new KafkaBus({ brokers: brokers.split(','), topicPrefix: prefix, numPartitions: 3 });
const runId = `bench-${randomBytes(4).toString('hex')}`;
const trigger = () =>
  makeEvent('trigger', { runId, partition: '2031-07', materializations: {}, checks: [], payload: { source: 'cli' } });

/** event id -> performance.now() when the handler was called */
const deliveredAt = new Map();
let waiter;
try {
  const t0 = performance.now();
  await bus.start();
  await bus.subscribe({
    group: 'bench',
    types: ['trigger'],
    handler: async (e) => {
      deliveredAt.set(e.id, performance.now());
      if (waiter && waiter.id === e.id) waiter.resolve();
    },
  });
  console.log(
    `kafka-bus bench: brokers ${brokers}, prefix ${prefix}, ready (topics created, group joined) in ${(performance.now() - t0).toFixed(0)} ms`,
  );

  const deliveryOf = (id) =>
    deliveredAt.has(id)
      ? Promise.resolve()
      : new Promise((resolve) => {
          waiter = { id, resolve };
        });

  for (let i = 0; i < WARMUP; i++) {
    const e = trigger();
    await bus.publish(e);
    await deliveryOf(e.id);
  }

  // sequential
  {
    const lat = [];
    const ack = [];
    const w0 = performance.now();
    for (let i = 0; i < N; i++) {
      const e = trigger();
      const t = performance.now();
      await bus.publish(e);
      ack.push(performance.now() - t);
      await deliveryOf(e.id);
      lat.push(deliveredAt.get(e.id) - t);
    }
    const wall = performance.now() - w0;
    report('sequential', lat, wall);
    const a = [...ack].sort((x, y) => x - y);
    console.log(
      `${''.padEnd(11)} publish ack alone: p50 ${ms(pct(a, 50))} ms  p99 ${ms(pct(a, 99))} ms  max ${ms(a.at(-1))} ms`,
    );
  }

  // pipelined
  {
    const sent = [];
    const w0 = performance.now();
    for (let i = 0; i < N; i++) {
      const e = trigger();
      const t = performance.now();
      await bus.publish(e);
      sent.push([e.id, t]);
    }
    const publishMs = performance.now() - w0;
    await deliveryOf(sent.at(-1)[0]);
    const wall = performance.now() - w0;
    report(
      'pipelined',
      sent.map(([id, t]) => deliveredAt.get(id) - t),
      wall,
    );
    console.log(
      `${''.padEnd(11)} publishing alone: ${(N / (publishMs / 1000)).toFixed(0)} events/s (one awaited send per event)`,
    );
  }
} finally {
  await bus.close();
  const admin = new Kafka({
    clientId: 'bench-cleanup',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics: bus.topics(), timeout: 10_000 });
  } catch {
    // best effort
  } finally {
    await admin.disconnect();
  }
  if (startedPort)
    execFileSync('bash', [path.join(ROOT, 'scripts/kafka-local.sh'), 'stop', '--port', startedPort], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
}
