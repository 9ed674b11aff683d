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
  /** Variables for one service only (its every replica), over extraEnv. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Replicas of a service (default 1 each): instances `<name>`, `<name>#2`, ... */
  replicas?: Partial<Record<ServiceName, number>>;
  /** The S3 endpoint the services use (e.g. a relay in front of the server); default S3_ENDPOINT. */
  s3Endpoint?: string;
  /**
   * Safety net on the wait for every service's /readyz at start (default PATIENCE_MS): the cluster
   * suite and the scale bench start many processes beside three JVMs on a loaded machine.
   */
  readyTimeoutMs?: number;
}

/** One service process slot: `merge` is the first replica of merge, `merge#2` the second. */
export type Instance = ServiceName | `${ServiceName}#${number}`;
export const serviceOf = (i: Instance): ServiceName => i.split('#')[0] as ServiceName;

export interface Stack {
  bucket: string;
  prefix: string;
  env: Record<string, string>;
  /** HTTP port of each instance (the first replica under the service's name). */
  ports: Record<ServiceName, number> & Partial<Record<Instance, number>>;
  procs: Map<Instance, ChildProcess>;
  logs: Map<Instance, string[]>;
  /** What each service process wrote (stdout and stderr, in order), one entry per process started. */
  outputs: { service: ServiceName; pid: number; chunks: string[]; killed: boolean }[];
  /** Every instance of the stack. */
  instances(): Instance[];
  /** Starts (again) an instance; `env` replaces its overrides from now on (restarts keep them). */
  start(name: Instance, env?: Record<string, string>): Promise<void>;
  kill(name: Instance, signal?: NodeJS.Signals): Promise<void>;
  /** Kill (SIGKILL by default), start again, and wait until it answers /readyz. */
  restart(name: Instance, o?: { signal?: NodeJS.Signals; env?: Record<string, string> }): Promise<void>;
  /** Starts one more replica of a service (`<name>#<n>`) and waits until it answers /readyz. */
  addReplica(name: ServiceName): Promise<Instance>;
  /** Whether the instance's process is running. */
  alive(name: Instance): boolean;
  /** GET a path of an instance's HTTP server: status and body (status 0 when it does not answer). */
  http(name: Instance, path: string, timeoutMs?: number): Promise<{ status: number; body: string; ms: number }>;
  /** Waits until every running instance (or the ones named) answers /readyz 200. */
  waitReady(timeoutMs?: number, only?: Instance[]): Promise<void>;
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

export interface WaitOptions {
  /** Safety net against a hang, not a speed target (default PATIENCE_MS). */
  timeoutMs?: number;
  everyMs?: number;
  /** A failed poll counts as "not yet" (a server being restarted), instead of failing the wait. */
  tolerateErrors?: boolean;
  /** Appended to the timeout's message: what a person needs to see why (a process's log). */
  context?: () => string;
}

/** Polls fn until it returns something truthy, and returns that. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  o: WaitOptions = {},
): Promise<T> {
  const timeoutMs = o.timeoutMs ?? PATIENCE_MS;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await (o.tolerateErrors ? fn().catch(() => null) : fn());
    if (v) return v;
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${o.context ? `; ${o.context()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, o.everyMs ?? 200));
  }
}

/** Each service's consumer groups and the topics they read (the stage subscriptions, the dead-letter and S3-notification consumers). */
export function consumerGroups(prefix: string, s3EventsTopic: string): { group: string; topics: string[] }[] {
  return [
    ...STAGES.map((s) => ({ group: `bottleneck-${s.stage}`, topics: s.consumes.map((t) => `${prefix}.${t}`) })),
    { group: 'bottleneck-alerter-dead-letters', topics: [`${prefix}.dead-letter`] },
    { group: 'bottleneck-ingest-s3events', topics: [s3EventsTopic] },
  ];
}

/** Messages not yet committed by each group, per topic (empty: idle). Committed offsets are read before the log ends, so a message produced in between counts as pending. */
export async function pendingMessages(
  brokers: string[],
  groups: { group: string; topics: string[] }[],
): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'e2e-idle', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await Promise.all(
      groups.map(async (g) => ({ ...g, offsets: await admin.fetchOffsets({ groupId: g.group, topics: g.topics }) })),
    );
    const pending: string[] = [];
    for (const g of committed) {
      for (const t of g.offsets) {
        const ends = await admin.fetchTopicOffsets(t.topic);
        const done = new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]));
        const behind = ends.reduce(
          (n, p) => n + Math.max(0, Number(p.high) - Math.max(0, done.get(p.partition) ?? 0)),
          0,
        );
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
    endpoint: process.env.S3_ENDPOINT!,
    region: process.env.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  const EVENT_KEY = randomBytes(32).toString('hex');
  const env: Record<string, string> = {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_TOPIC_PARTITIONS: '3',
    KAFKA_REPLICATION_FACTOR: '1',
    // A killed consumer's partitions move after this: the broker's minimum, to keep the test short.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    S3_BUCKET: bucket,
    S3_ENDPOINT: o.s3Endpoint ?? process.env.S3_ENDPOINT!,
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
    // Events are signed and checked, as in production (a random key per stack: nothing in the repo).
    BN_EVENT_KEYS: EVENT_KEY,
    // Refused events are mailed in hourly groups; the first waits this long for the others.
    BN_ALERT_GROUP_MS: '2000',
    ...o.extraEnv,
  };
  const instances: Instance[] = SERVICES.flatMap((svc) =>
    Array.from({ length: o.replicas?.[svc] ?? 1 }, (_, i): Instance => (i === 0 ? svc : `${svc}#${i + 1}`)),
  );
  const ports = Object.fromEntries(
    await Promise.all(instances.map(async (s) => [s, await freePort()])),
  ) as Stack['ports'];
  const procs = new Map<Instance, ChildProcess>();
  const logs = new Map<Instance, string[]>();
  const outputs: Stack['outputs'] = [];
  const overrides = new Map<Instance, Record<string, string>>();

  const startOne = async (name: Instance, extra?: Record<string, string>) => {
    if (extra) overrides.set(name, extra);
    const svc = serviceOf(name);
    // Only what the service needs: not the runner's BN_* variables (refused as unknown), nor its
    // switch for the AWS SDK's Node-version warning (a service must show it, as a JSON record).
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !/^(BN_|KAFKA_|S3_|VITEST|AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING)/.test(k),
      ),
    );
    const p = spawn(process.execPath, [join(ROOT, 'services', svc, 'dist', 'main.js')], {
      env: { ...base, ...env, ...o.serviceEnv?.[svc], ...overrides.get(name), HTTP_PORT: String(ports[name]) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = logs.get(name) ?? [];
    logs.set(name, lines);
    const output = { service: svc, pid: p.pid ?? -1, chunks: [] as string[], killed: false };
    outputs.push(output);
    const record = (d: Buffer) => {
      lines.push(String(d));
      output.chunks.push(String(d));
    };
    p.stdout.on('data', record);
    p.stderr.on('data', record);
    p.once('exit', (_code, signal) => {
      output.killed = signal === 'SIGKILL';
    });
    procs.set(name, p);
  };

  const running = (name: Instance) => {
    const p = procs.get(name);
    return Boolean(p && p.exitCode === null && p.signalCode === null);
  };

  const get = async (name: Instance, path: string, timeoutMs = 10_000) => {
    const t0 = Date.now();
    try {
      const r = await fetch(`http://127.0.0.1:${ports[name]}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: r.status, body: await r.text(), ms: Date.now() - t0 };
    } catch {
      return { status: 0, body: '', ms: Date.now() - t0 };
    }
  };

  const stack: Stack = {
    bucket,
    prefix,
    env,
    ports,
    procs,
    logs,
    outputs,
    instances: () => [...instances],
    start: startOne,
    alive: running,
    http: get,
    async addReplica(svc) {
      const n = instances.filter((i) => serviceOf(i) === svc).length + 1;
      const name: Instance = n === 1 ? svc : `${svc}#${n}`;
      ports[name] = await freePort();
      instances.push(name);
      await startOne(name);
      await stack.waitReady(PATIENCE_MS, [name]);
      return name;
    },
    async kill(name, signal = 'SIGKILL') {
      const p = procs.get(name);
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      await exited;
    },
    async restart(name, r = {}) {
      await stack.kill(name, r.signal ?? 'SIGKILL');
      await startOne(name, r.env);
      await stack.waitReady(PATIENCE_MS, [name]);
    },
    async waitReady(timeoutMs = PATIENCE_MS, only) {
      const t0 = Date.now();
      const which = only ?? instances.filter((i) => procs.has(i));
      for (;;) {
        const answers = await Promise.all(which.map((i) => get(i, '/readyz', 5_000)));
        if (answers.every((a) => a.status === 200)) return;
        const dead = which.filter((s) => !running(s));
        if (dead.length)
          throw new Error(
            `services exited: ${dead.map((s) => `${s} (${String(procs.get(s)?.exitCode)}): ${(logs.get(s) ?? []).join('').slice(-800)}`).join('; ')}`,
          );
        if (Date.now() - t0 > timeoutMs) {
          // What each instance not ready answered (its reason), or that it did not answer yet (still
          // starting: what it last said is in its output).
          const why = which.flatMap((s, i) => {
            const a = answers[i]!;
            if (a.status === 200) return [];
            const said = a.status
              ? `/readyz ${a.status} ${a.body.slice(0, 300)}`
              : `/readyz not answering yet; its output ends: ${(logs.get(s) ?? []).join('').slice(-400) || '(nothing)'}`;
            return [`${s}: ${said}`];
          });
          throw new Error(
            `waited ${Math.round((Date.now() - t0) / 1000)} s (net ${timeoutMs} ms) for /readyz 200 from ${which.length} service instance(s); not ready: ${why.join('; ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async waitIdle(timeoutMs = PATIENCE_MS) {
      const end = Date.now() + timeoutMs;
      const groups = consumerGroups(prefix, env.S3_EVENTS_TOPIC!);
      for (;;) {
        // A broker restarting (the fault suite) answers nothing for a while: that is not idle.
        const pending = await pendingMessages(env.KAFKA_BROKERS!.split(','), groups).catch((e: unknown) => [
          `Kafka: ${String(e)}`,
        ]);
        if (!pending.length) return;
        if (Date.now() > end) throw new Error(`not idle after ${timeoutMs} ms: ${pending.join('; ')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      await Promise.all(instances.map((s) => stack.kill(s, 'SIGTERM')));
    },
  };
  // A test process that ends without stop() (interrupted, timed out) takes its services with it.
  process.once('exit', () => {
    for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
  for (const s of instances) await startOne(s);
  try {
    await stack.waitReady(o.readyTimeoutMs ?? PATIENCE_MS);
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}
