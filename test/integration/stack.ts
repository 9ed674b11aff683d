/**
 * The six services as separate OS processes against real Kafka, real S3 and the SendGrid
 * stand-in: what the end-to-end test and `npm run bench:e2e` start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { STAGES } from '@bottleneck/shared/assets/graph';
import { ROOT } from '../helpers.js';

export const SERVICES = ['ingest', 'clean', 'merge', 'analytics', 'publisher', 'alerter'] as const;
export type ServiceName = (typeof SERVICES)[number];

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface StackOptions {
  sendgridUrl: string;
  sendgridKey: string;
  pollIntervalMs?: number;
  extraEnv?: Record<string, string>;
}

export interface Stack {
  bucket: string;
  prefix: string;
  env: Record<string, string>;
  ports: Record<ServiceName, number>;
  procs: Map<ServiceName, ChildProcess>;
  logs: Map<ServiceName, string[]>;
  /** What each service process wrote (stdout and stderr, in order), one entry per process started. */
  outputs: { service: ServiceName; pid: number; chunks: string[]; killed: boolean }[];
  start(name: ServiceName): Promise<void>;
  kill(name: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  waitReady(timeoutMs?: number): Promise<void>;
  /**
   * Waits until the pipeline is idle: every consumer group of the six services has committed every
   * message of the topics it reads. A service commits only after its handler's effects (objects,
   * mails, published events) are done, so once idle, what a run produced is all there: no event,
   * record or mail is still to come. Call it with every service running.
   */
  waitIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Safety net on each wait of the end-to-end tests: generous, as a cold, loaded 2-core machine needs; not a speed target. */
export const PATIENCE_MS = 180_000;

/** Each service's consumer groups and the topics they read (the stage subscriptions, the dead-letter and S3-notification consumers). */
export function consumerGroups(prefix: string, s3EventsTopic: string): { group: string; topics: string[] }[] {
  return [
    ...STAGES.map((s) => ({ group: `bottleneck-${s.stage}`, topics: s.consumes.map((t) => `${prefix}.${t}`) })),
    { group: 'bottleneck-alerter-dead-letters', topics: [`${prefix}.dead-letter`] },
    { group: 'bottleneck-ingest-s3events', topics: [s3EventsTopic] },
  ];
}

/** Messages not yet committed by each group, per topic (empty: idle). Committed offsets are read before the log ends, so a message produced in between counts as pending. */
async function pendingMessages(brokers: string[], groups: { group: string; topics: string[] }[]): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'e2e-idle', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await Promise.all(groups.map(async (g) => ({ ...g, offsets: await admin.fetchOffsets({ groupId: g.group, topics: g.topics }) })));
    const pending: string[] = [];
    for (const g of committed) {
      for (const t of g.offsets) {
        const ends = await admin.fetchTopicOffsets(t.topic);
        const done = new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]));
        const behind = ends.reduce((n, p) => n + Math.max(0, Number(p.high) - Math.max(0, done.get(p.partition) ?? 0)), 0);
        if (behind > 0) pending.push(`${g.group} ${t.topic}: ${behind}`);
      }
    }
    return pending;
  } finally {
    await admin.disconnect();
  }
}

/** Creates a fresh bucket and topic prefix, then starts the six services and waits until all answer /readyz. */
export async function startStack(o: StackOptions): Promise<Stack> {
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const bucket = `bn-e2e-${tag}`;
  const prefix = `bn-e2e-${tag}`;
  const s3 = new S3Client({
    endpoint: process.env.S3_ENDPOINT!, region: process.env.S3_REGION ?? 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  const env: Record<string, string> = {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_TOPIC_PARTITIONS: '3',
    KAFKA_REPLICATION_FACTOR: '1',
    // A killed consumer's partitions move after this: the broker's minimum, to keep the test short.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    S3_BUCKET: bucket,
    S3_ENDPOINT: process.env.S3_ENDPOINT!,
    S3_REGION: process.env.S3_REGION ?? 'us-east-1',
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID!,
    S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY!,
    S3_EVENTS_TOPIC: `${prefix}.s3-events`,
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    BN_POLL_INTERVAL_MS: String(o.pollIntervalMs ?? 1000),
    // Files of a month dropped together give one run: the tests drop them within a few ms.
    BN_SETTLE_MS: '300',
    SENDGRID_API_KEY: o.sendgridKey,
    SENDGRID_API_URL: o.sendgridUrl,
    ALERT_TO: 'data-team@bottleneck.example',
    ALERT_FROM: 'pipeline@bottleneck.example',
    ...o.extraEnv,
  };
  const ports = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await freePort()]))) as Record<ServiceName, number>;
  const procs = new Map<ServiceName, ChildProcess>();
  const logs = new Map<ServiceName, string[]>();
  const outputs: Stack['outputs'] = [];

  const startOne = async (name: ServiceName) => {
    // Only what the service needs: not the runner's BN_* variables (refused as unknown), nor its
    // switch for the AWS SDK's Node-version warning (a service must show it, as a JSON record).
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(BN_|KAFKA_|S3_|VITEST|AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING)/.test(k)));
    const p = spawn(process.execPath, [join(ROOT, 'services', name, 'dist', 'main.js')], {
      env: { ...base, ...env, HTTP_PORT: String(ports[name]) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = logs.get(name) ?? [];
    logs.set(name, lines);
    const output = { service: name, pid: p.pid ?? -1, chunks: [] as string[], killed: false };
    outputs.push(output);
    const record = (d: Buffer) => { lines.push(String(d)); output.chunks.push(String(d)); };
    p.stdout.on('data', record);
    p.stderr.on('data', record);
    p.once('exit', (_code, signal) => { output.killed = signal === 'SIGKILL'; });
    procs.set(name, p);
  };

  const ready = async (name: ServiceName): Promise<boolean> => {
    try {
      const r = await fetch(`http://127.0.0.1:${ports[name]}/readyz`);
      return r.status === 200;
    } catch {
      return false;
    }
  };

  const stack: Stack = {
    bucket, prefix, env, ports, procs, logs, outputs,
    start: startOne,
    async kill(name, signal = 'SIGKILL') {
      const p = procs.get(name);
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      await exited;
    },
    async waitReady(timeoutMs = PATIENCE_MS) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(SERVICES.map(ready));
        if (states.every(Boolean)) return;
        const dead = SERVICES.filter((s) => procs.get(s)?.exitCode !== null && procs.get(s)?.exitCode !== undefined);
        if (dead.length) throw new Error(`services exited: ${dead.map((s) => `${s} (${procs.get(s)!.exitCode}): ${logs.get(s)!.join('').slice(-800)}`).join('; ')}`);
        if (Date.now() > end) throw new Error(`not ready after ${timeoutMs} ms: ${SERVICES.filter((_, i) => !states[i]).join(', ')}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async waitIdle(timeoutMs = PATIENCE_MS) {
      const end = Date.now() + timeoutMs;
      const groups = consumerGroups(prefix, env.S3_EVENTS_TOPIC!);
      for (;;) {
        const pending = await pendingMessages(env.KAFKA_BROKERS!.split(','), groups);
        if (!pending.length) return;
        if (Date.now() > end) throw new Error(`not idle after ${timeoutMs} ms: ${pending.join('; ')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      await Promise.all(SERVICES.map((s) => stack.kill(s, 'SIGTERM')));
    },
  };
  for (const s of SERVICES) await startOne(s);
  try {
    await stack.waitReady();
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}
