import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger as PinoLogger } from 'pino';
import type { Stage } from '../assets/graph.js';
import { Duck } from '../duck/index.js';
import { DEFAULT_READ_LIMITS, type ReadLimits } from '../excel/read.js';
import type { PipelineEvent } from '../events/index.js';
import type { Bus, EventHandler } from '../ports/bus.js';
import type { Mailer } from '../ports/mailer.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { StageContext, StageHandler } from '../stage/context.js';
import { bindStage } from '../stage/runner.js';
import { InlineRunner, WorkerPool, type TaskRunner } from '../workers/pool.js';
import { loadConfig, redactedConfig, type ServiceConfig } from './config.js';
import { buildHttp } from './http.js';
import { createMetrics, type Metrics } from './metrics.js';
import { RunTracker } from './status.js';
import { routeProcessWarnings } from './warnings.js';

/** What a service's extra machinery (a watcher, a scheduler) gets, and gives back. */
export interface ServiceRuntime {
  stage: Stage;
  config: ServiceConfig;
  log: PinoLogger;
  bus: Bus;
  store: ObjectStore;
  ctx: StageContext;
  metrics: Metrics;
}

export interface ServiceExtra {
  stop(): Promise<void>;
  status?(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** null when ready, else why not. */
  readiness?(): Promise<string | null>;
}

export interface ServiceDefinition {
  stage: Stage;
  handler: StageHandler;
  version: string;
  extra?: (rt: ServiceRuntime) => Promise<ServiceExtra>;
}

export interface RunningService extends ServiceRuntime {
  http: FastifyInstance;
  /** The HTTP address actually bound. */
  address: string;
  stop(): Promise<void>;
}

const SECRET_PATHS = ['settings.SENDGRID_API_KEY', 'config.SENDGRID_API_KEY', 'config.S3_SECRET_ACCESS_KEY', 'config.S3_ACCESS_KEY_ID', 'config.KAFKA_SASL_PASSWORD', 'config.BN_STATUS_TOKEN', 'req.headers.authorization'];

/** Builds the real adapters from the configuration. Kafka, S3 and SendGrid are loaded here only. */
async function adapters(stage: Stage, c: ServiceConfig, log: PinoLogger): Promise<{ bus: Bus; store: ObjectStore; mailer?: Mailer }> {
  const [{ KafkaBus }, { S3Store }] = await Promise.all([import('../adapters/kafka-bus.js'), import('../adapters/s3-store.js')]);
  const str = (k: string) => c[k] as string | undefined;
  const bus = new KafkaBus({
    brokers: c.KAFKA_BROKERS as string[],
    clientId: str('KAFKA_CLIENT_ID')!,
    topicPrefix: str('KAFKA_TOPIC_PREFIX')!,
    numPartitions: c.KAFKA_TOPIC_PARTITIONS as number,
    replicationFactor: c.KAFKA_REPLICATION_FACTOR as number,
    ssl: c.KAFKA_SSL as boolean,
    sessionTimeoutMs: c.KAFKA_SESSION_TIMEOUT_MS as number,
    ...(c.KAFKA_SASL_MECHANISM ? { sasl: { mechanism: c.KAFKA_SASL_MECHANISM, username: str('KAFKA_SASL_USERNAME')!, password: str('KAFKA_SASL_PASSWORD')! } as never } : {}),
    logger: log.child({ component: 'kafka' }),
  });
  const store = new S3Store({
    bucket: str('S3_BUCKET')!,
    ...(str('S3_PREFIX') ? { prefix: str('S3_PREFIX')! } : {}),
    ...(str('S3_ENDPOINT') ? { endpoint: str('S3_ENDPOINT')! } : {}),
    region: str('S3_REGION')!,
    forcePathStyle: c.S3_FORCE_PATH_STYLE as boolean,
    ...(str('S3_ACCESS_KEY_ID') ? { credentials: { accessKeyId: str('S3_ACCESS_KEY_ID')!, secretAccessKey: str('S3_SECRET_ACCESS_KEY')! } } : {}),
  });
  if (stage !== 'alerter') return { bus, store };
  const { SendGridMailer } = await import('../adapters/sendgrid-mailer.js');
  // The alerter retries sending itself (with the dead-letter record already written): no second loop here.
  return { bus, store, mailer: new SendGridMailer({ apiKey: str('SENDGRID_API_KEY')!, baseUrl: str('SENDGRID_API_URL')!, retries: 0 }) };
}

/** Counts, times and records every event a service handles (the outcome of a handled one comes from onStage). */
function instrument(inner: EventHandler, metrics: Metrics, tracker: RunTracker): EventHandler {
  return async (event: PipelineEvent) => {
    tracker.start(event.id, event.runId, event.partition, event.type);
    const end = metrics.duration.startTimer({ type: event.type });
    try {
      await inner(event);
      metrics.consumed.inc({ type: event.type, outcome: 'ok' });
      // Still in flight: bindStage skipped it as a redelivery (no onStage call).
      if (tracker.isInFlight(event.id)) tracker.finish({ runId: event.runId, partition: event.partition, eventId: event.id, consumed: event.type, emitted: [], outcome: 'skipped', durationMs: 0 });
    } catch (e) {
      metrics.consumed.inc({ type: event.type, outcome: 'error' });
      tracker.finish({ runId: event.runId, partition: event.partition, eventId: event.id, consumed: event.type, emitted: [], outcome: 'error', durationMs: 0, error: (e as Error).message });
      throw e;
    } finally {
      end();
    }
  };
}

/**
 * Starts one stage as a service: configuration from the environment (validated first), the real
 * adapters, the stage subscribed with its own consumer group, HTTP health/status/metrics, and a
 * graceful stop on SIGTERM (the event in flight finishes and is committed).
 */
export async function runService(def: ServiceDefinition, env: NodeJS.ProcessEnv = process.env, opts: { signals?: boolean; processWarnings?: boolean } = {}): Promise<RunningService> {
  const config = loadConfig(def.stage, env);
  // Synchronous writes, as Node's own stdout on a pipe: with pino's default asynchronous ones, the
  // last lines before exit were written out of order (a write still in flight landed after the
  // exit-time flush). Log volume here is a few lines per event.
  const log = pino({ level: config.LOG_LEVEL as string, base: { service: def.stage }, redact: { paths: SECRET_PATHS, censor: '[secret]' } }, pino.destination({ dest: 1, sync: true }));
  // The log is JSON lines: Node's plain-text warnings (deprecations, the AWS SDK's) go through it, once each.
  const unrouteWarnings = opts.processWarnings === false ? () => {} : routeProcessWarnings(log);
  const startedAt = Date.now();
  const { bus: rawBus, store, mailer } = await adapters(def.stage, config, log);
  const metrics = createMetrics(def.stage);
  const tracker = new RunTracker();
  // Every event this service publishes is counted, whichever code path publishes it.
  const bus: Bus = {
    publish: async (e) => {
      await rawBus.publish(e);
      metrics.produced.inc({ type: e.type });
      if (e.type === 'failed') metrics.failures.inc({ code: e.payload.code });
    },
    subscribe: (o) => rawBus.subscribe(o),
    close: () => rawBus.close(),
  };
  const workers = (config.BN_EXCEL_WORKERS as number | undefined) ?? 0;
  const tasks: TaskRunner = workers > 0 ? new WorkerPool({ size: workers }) : new InlineRunner();
  const duck = new Duck();
  const workRoot = join(config.BN_WORK_DIR as string, 'bottleneck');
  await mkdir(workRoot, { recursive: true });
  const limits: ReadLimits = {
    ...DEFAULT_READ_LIMITS,
    ...(config.BN_MAX_FILE_BYTES !== undefined ? { maxBytes: config.BN_MAX_FILE_BYTES as number } : {}),
    ...(config.BN_MAX_UNCOMPRESSED_BYTES !== undefined ? { maxUncompressedBytes: config.BN_MAX_UNCOMPRESSED_BYTES as number } : {}),
    ...(config.BN_MAX_ROWS !== undefined ? { maxRows: config.BN_MAX_ROWS as number } : {}),
    ...(config.BN_MAX_READ_MS !== undefined ? { maxMillis: config.BN_MAX_READ_MS as number } : {}),
  };
  const ctx: StageContext = {
    store, duck, tasks, limits, log, now: () => new Date(),
    progress: {
      onStage: (p) => tracker.finish({ runId: p.runId, partition: p.partition, eventId: p.eventId, consumed: p.consumed, emitted: p.emitted, outcome: p.emitted.includes('failed') ? 'failed' : 'ok', durationMs: p.durationMs }),
    },
    workDir: await mkdtemp(join(workRoot, `${def.stage}-`)),
    ...(mailer ? { mailer, alert: { to: config.ALERT_TO as string[], from: config.ALERT_FROM as string, pipelineName: config.BN_PIPELINE_NAME as string } } : {}),
  };
  const rt: ServiceRuntime = { stage: def.stage, config, log, bus, store, ctx, metrics };
  const handler = instrument(bindStage(def.handler, ctx, bus), metrics, tracker);
  const sub = await bus.subscribe({ group: `bottleneck-${def.stage}`, types: def.handler.consumes, handler });
  const extra = def.extra ? await def.extra(rt) : undefined;

  const readiness = async (): Promise<string | null> => {
    const b = (await rawBus.readiness?.()) ?? null;
    if (b) return `kafka: ${b}`;
    try {
      await store.list(`_readyz/`);
    } catch (e) {
      return `object store: ${(e as Error).message}`;
    }
    return (await extra?.readiness?.()) ?? null;
  };
  const lagTimer = setInterval(async () => {
    const lag = await rawBus.lag?.().catch(() => undefined);
    for (const [topic, n] of Object.entries(lag ?? {})) metrics.lag.set({ topic }, n);
  }, 10_000);
  lagTimer.unref();
  const http = buildHttp({
    service: def.stage, version: def.version, startedAt, readiness, metrics, tracker,
    ...(config.BN_STATUS_TOKEN ? { statusToken: config.BN_STATUS_TOKEN as string } : {}),
    ...(extra?.status ? { extraStatus: () => extra.status!() } : {}),
  });
  const address = await http.listen({ host: config.HTTP_HOST as string, port: config.HTTP_PORT as number });
  log.info({ address, group: `bottleneck-${def.stage}`, consumes: def.handler.consumes, settings: redactedConfig(def.stage, config) }, 'service started');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info({}, 'stopping: finishing the event in flight');
      clearInterval(lagTimer);
      await extra?.stop();
      await sub.close();
      await bus.close();
      await http.close();
      await tasks.close();
      await duck.close();
      log.info({}, 'stopped');
      unrouteWarnings();
    })();
    return stopping;
  };
  if (opts.signals !== false) {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        void stop().then(() => process.exit(0), (e: unknown) => {
          log.error({ err: (e as Error).message }, 'stop failed');
          process.exit(1);
        });
      });
    }
  }
  return { ...rt, http, address, stop };
}

/**
 * The whole of a service's main: runs it, and on a configuration error prints the message naming
 * the setting and exits 78 (EX_CONFIG); any other start failure exits 1.
 */
export function main(def: ServiceDefinition): void {
  runService(def).catch((e: unknown) => {
    const code = (e as { code?: string }).code;
    process.stderr.write(`${JSON.stringify({ level: 60, time: Date.now(), service: def.stage, code, msg: `cannot start: ${(e as Error).message}` })}\n`);
    process.exit(code === 'BN_ERR_CONFIG_INVALID' ? 78 : 1);
  });
}
