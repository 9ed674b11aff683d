import { tmpdir } from 'node:os';
import { checkSettingsOf } from '../assets/settings.js';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger as PinoLogger } from 'pino';
import type { Stage } from '../assets/keys.js';
import { DEFAULT_READ_LIMITS, type ReadLimits } from '../excel/read.js';
import type { PipelineEvent } from '../events/index.js';
import type { Bus, EventHandler } from '../ports/bus.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { StageContext, StageHandler } from '../stage/context.js';
import { createContext, limitsOf, serviceAdapters, serviceSettings, subscribeStages } from '../wiring.js';
import { loadConfig, redactedConfig, type ServiceConfig } from './config.js';
import { defined, errorMessage } from '../errors/index.js';
import { buildHttp, type NotReady } from './http.js';
import { createMetrics, type Metrics } from './metrics.js';
import { RunTracker } from './status.js';
import { startStep, type StartPatience } from './start.js';
import { routeProcessWarnings } from './warnings.js';

/** What a service's extra machinery (a watcher, a scheduler) gets, and gives back. */
export interface ServiceRuntime {
  stage: Stage;
  /** The settings every service reads; a service's own are `loadConfig(<its stage>, env)`, validated at start too. */
  config: ServiceConfig;
  env: NodeJS.ProcessEnv;
  log: PinoLogger;
  bus: Bus;
  store: ObjectStore;
  ctx: StageContext;
  metrics: Metrics;
}

export interface ServiceExtra {
  stop(): Promise<void>;
  status?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** null when ready, else why not. */
  readiness?(): Promise<string | null>;
}

export interface ServiceDefinition {
  stage: Stage;
  handler: StageHandler;
  version: string;
  /** Started after the stage's subscription; called again when it throws a retriable error (a cold cluster), so it must be safe to repeat. */
  extra?: (rt: ServiceRuntime) => Promise<ServiceExtra>;
}

export interface RunningService extends ServiceRuntime {
  http: FastifyInstance;
  /** The HTTP address actually bound. */
  address: string;
  stop(): Promise<void>;
}

const SECRET_PATHS = [
  'settings.SENDGRID_API_KEY',
  'config.SENDGRID_API_KEY',
  'config.S3_SECRET_ACCESS_KEY',
  'config.S3_ACCESS_KEY_ID',
  'config.KAFKA_SASL_PASSWORD',
  'config.BN_STATUS_TOKEN',
  'req.headers.authorization',
];

/** What reading workbooks may cost, and on how many worker threads, for the services that read them. */
function workbookSettings(stage: Stage, env: NodeJS.ProcessEnv): { limits: ReadLimits; workers: number } {
  switch (stage) {
    case 'clean':
    case 'analytics': {
      const c = loadConfig(stage, env);
      return { limits: limitsOf(c), workers: c.BN_EXCEL_WORKERS };
    }
    case 'ingest':
      return { limits: limitsOf(loadConfig(stage, env)), workers: 0 };
    default:
      return { limits: DEFAULT_READ_LIMITS, workers: 0 };
  }
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
      if (tracker.isInFlight(event.id))
        tracker.finish({
          runId: event.runId,
          partition: event.partition,
          eventId: event.id,
          consumed: event.type,
          emitted: [],
          outcome: 'skipped',
          durationMs: 0,
        });
    } catch (e) {
      metrics.consumed.inc({ type: event.type, outcome: 'error' });
      tracker.finish({
        runId: event.runId,
        partition: event.partition,
        eventId: event.id,
        consumed: event.type,
        emitted: [],
        outcome: 'error',
        durationMs: 0,
        error: errorMessage(e),
      });
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
export async function runService(
  def: ServiceDefinition,
  env: NodeJS.ProcessEnv = process.env,
  opts: { signals?: boolean; processWarnings?: boolean } = {},
): Promise<RunningService> {
  const config: ServiceConfig = loadConfig<Stage>(def.stage, env);
  const { limits, workers } = workbookSettings(def.stage, env);
  const alerting = def.stage === 'alerter' ? loadConfig('alerter', env) : undefined;
  // Synchronous writes, as Node's own stdout on a pipe: with pino's default asynchronous ones, the
  // last lines before exit were written out of order (a write still in flight landed after the
  // exit-time flush). Log volume here is a few lines per event.
  const log = pino(
    { level: config.LOG_LEVEL, base: { service: def.stage }, redact: { paths: SECRET_PATHS, censor: '[secret]' } },
    pino.destination({ dest: 1, sync: true }),
  );
  // The log is JSON lines: Node's plain-text warnings (deprecations, the AWS SDK's) go through it, once each.
  const unrouteWarnings = opts.processWarnings === false ? () => {} : routeProcessWarnings(log);
  const startedAt = Date.now();
  const sendgrid = alerting ? { apiKey: alerting.SENDGRID_API_KEY, baseUrl: alerting.SENDGRID_API_URL } : undefined;
  const adapters = await serviceAdapters(serviceSettings(config, log.child({ component: 'kafka' }), sendgrid));
  const { bus: rawBus, store } = adapters;
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
    publishRaw: (t, v, k) => rawBus.publishRaw(t, v, k),
    subscribeRaw: (o) => rawBus.subscribeRaw(o),
    subscribeDeadLetters: (o) => rawBus.subscribeDeadLetters(o),
    close: () => rawBus.close(),
  };
  const { ctx, close: closeContext } = await createContext(adapters, {
    workers,
    limits,
    log,
    workRoot: join(config.BN_WORK_DIR ?? tmpdir(), 'bottleneck', def.stage),
    retryBudgetMs: config.BN_RETRY_BUDGET_MS,
    settings: checkSettingsOf(config),
    progress: {
      onStage: (p) =>
        tracker.finish({
          runId: p.runId,
          partition: p.partition,
          eventId: p.eventId,
          consumed: p.consumed,
          emitted: p.emitted,
          outcome: p.emitted.includes('failed') ? 'failed' : 'ok',
          durationMs: p.durationMs,
        }),
    },
    ...(alerting
      ? {
          alert: {
            to: alerting.ALERT_TO,
            from: alerting.ALERT_FROM,
            pipelineName: alerting.BN_PIPELINE_NAME,
            retryForMs: alerting.BN_ALERT_RETRY_MS,
            ...(alerting.BN_CONSOLE_URL ? { consoleUrl: alerting.BN_CONSOLE_URL } : {}),
          },
        }
      : {}),
  });
  const rt: ServiceRuntime = { stage: def.stage, config, env, log, bus, store, ctx, metrics };
  // A cold cluster (leaders not elected yet) or brokers still starting: wait, saying for what, within
  // the retry budget, as a run waits out an outage; an orchestrator need not restart us meanwhile.
  const patience: StartPatience = { budgetMs: config.BN_RETRY_BUDGET_MS, log };
  const [subscription] = await startStep(
    `the Kafka brokers ${config.KAFKA_BROKERS.join(',')} (bus topics, consumer group bottleneck-${def.stage})`,
    () =>
      subscribeStages(
        bus,
        [def.handler],
        ctx,
        (stage) => `bottleneck-${stage}`,
        (_h, bound) => instrument(bound, metrics, tracker),
      ),
    patience,
  );
  const sub = defined(subscription, 'the stage subscription');
  const startExtra = def.extra;
  const extra = startExtra
    ? await startStep(`the ${def.stage} service's own consumers (Kafka)`, () => startExtra(rt), patience)
    : undefined;

  const readiness = async (): Promise<NotReady | null> => {
    const b = (await rawBus.readiness?.()) ?? null;
    if (b) return { reason: 'Kafka unreachable or consumer not assigned', details: b };
    try {
      await store.list(`_readyz/`);
    } catch (e) {
      return { reason: 'object store unreachable', details: errorMessage(e) };
    }
    const x = (await extra?.readiness?.()) ?? null;
    return x ? { reason: x } : null;
  };
  const lagTimer = setInterval(() => {
    void rawBus.lag?.().then(
      (lag) => {
        for (const [topic, n] of Object.entries(lag)) metrics.lag.set({ topic }, n);
      },
      () => undefined,
    );
  }, 10_000);
  lagTimer.unref();
  const http = buildHttp({
    service: def.stage,
    version: def.version,
    startedAt,
    readiness,
    metrics,
    tracker,
    liveness: () => rawBus.liveness?.() ?? null,
    ...(config.BN_STATUS_TOKEN ? { statusToken: config.BN_STATUS_TOKEN } : {}),
    extraStatus: async () => ({
      // The Excel workers per month (clean, analytics): a month slow to parse shows here.
      ...(ctx.tasks.snapshot ? { workers: ctx.tasks.snapshot() } : {}),
      ...(rawBus.lanes ? { lanes: rawBus.lanes() } : {}),
      ...((await extra?.status?.()) ?? {}),
    }),
  });
  const address = await http.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
  log.info(
    {
      address,
      group: `bottleneck-${def.stage}`,
      consumes: def.handler.consumes,
      settings: redactedConfig(def.stage, config),
    },
    'service started',
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info({}, 'stopping: finishing the event in flight');
      clearInterval(lagTimer);
      await extra?.stop();
      await sub.close();
      await bus.close();
      await http.close();
      await closeContext();
      await adapters.close?.();
      log.info({}, 'stopped');
      unrouteWarnings();
    })();
    return stopping;
  };
  if (opts.signals !== false) {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        void stop().then(
          () => process.exit(0),
          (e: unknown) => {
            log.error({ err: errorMessage(e) }, 'stop failed');
            process.exit(1);
          },
        );
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
    process.stderr.write(
      `${JSON.stringify({ level: 60, time: Date.now(), service: def.stage, code, msg: `cannot start: ${errorMessage(e)}` })}\n`,
    );
    process.exit(code === 'BN_ERR_CONFIG_INVALID' ? 78 : 1);
  });
}
