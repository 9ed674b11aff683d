import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderStore } from './adapters/folder-store.js';
import { MemoryBus } from './adapters/memory-bus.js';
import { createError } from './errors/index.js';
import { eventKeysOf } from './events/sign.js';
import { OutboxMailer } from './adapters/outbox-mailer.js';
import { Duck, duckdbOptions } from './duck/index.js';
import { exportCsv } from './duck/export.js';
import { DEFAULT_READ_LIMITS, type ReadLimits } from './excel/read.js';
import type { Bus, Subscription } from './ports/bus.js';
import type { Mailer } from './ports/mailer.js';
import type { ObjectStore } from './ports/object-store.js';
import type { ConfigFor, ServiceName } from './service/variables.js';
import type { AlertConfig, Logger, ProgressListener, StageContext, StageHandler } from './stage/context.js';
import { silentLogger } from './stage/context.js';
import type { CheckSettings } from './assets/settings.js';
import { StoreIO } from './stage/io.js';
import { ReadOnce } from './stage/read-once.js';
import type { Prefetch } from './stage/prefetch.js';
import { bindStage } from './stage/runner.js';
import { s3ClientSettingsFor } from './adapters/s3-errors.js';
import { InlineRunner, WorkerPool, type TaskRunner } from './workers/pool.js';

/**
 * The one place adapters are chosen and a stage context is built: for the services (Kafka, S3,
 * SendGrid), for `bottleneck run` (in-memory bus, folder store, outbox) and for tests (any mix).
 * Kafka, S3 and SendGrid are imported only by `serviceAdapters`, so the embedded path never loads them.
 */
export interface Adapters {
  bus: Bus;
  store: ObjectStore;
  mailer?: Mailer;
  /** Closes what the adapters hold open (sockets, clients). */
  close?(): Promise<void> | void;
}

/** The embedded adapters: the in-memory bus, the folder `out` as the store, its outbox/ as the mailer. */
/** The embedded adapters, typed as what they are: the CLI reads the bus's log and the folder's paths. */
export interface EmbeddedAdapters extends Adapters {
  bus: MemoryBus;
  store: FolderStore;
  mailer: OutboxMailer;
}

export function embeddedAdapters(out: string, now: () => Date = () => new Date()): EmbeddedAdapters {
  return { bus: new MemoryBus(), store: new FolderStore(out), mailer: new OutboxMailer(join(out, 'outbox'), now) };
}

/** What the services' adapters are built from (their validated configuration). */
export interface ServiceAdapterSettings {
  kafka: {
    brokers: string[];
    clientId: string;
    topicPrefix: string;
    numPartitions: number;
    replicationFactor: number | 'auto';
    ssl: boolean;
    sessionTimeoutMs: number;
    sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
    /** A person is waiting (the CLI): fewer, quicker connection tries. */
    quick?: boolean;
    /** Months (topic partitions) handled at once by each subscription: one slow or stuck month does not hold the others. */
    partitionsConsumedConcurrently?: number;
    /** Months handled at once by each subscription, each in its own lane (BN_MONTHS_IN_FLIGHT). */
    monthsInFlight?: number;
    /** BN_EVENT_KEYS: the first signs every event produced, all verify every event consumed (none: no signing, one WARN). */
    eventKeys?: string[];
  };
  s3: {
    bucket: string;
    prefix?: string;
    endpoint?: string;
    region: string;
    forcePathStyle: boolean;
    credentials?: { accessKeyId: string; secretAccessKey: string };
    /** From the retry budget (`s3ClientSettingsFor`): the client's timeouts, and one attempt per request. */
    socketTimeoutMs?: number;
    connectionTimeoutMs?: number;
    maxAttempts?: number;
  };
  /** Only the alerter sends mail. */
  sendgrid?: { apiKey: string; baseUrl: string };
  log: Logger;
}

type KafkaConfig = Pick<
  ConfigFor<'cli'>,
  | 'KAFKA_CLIENT_ID'
  | 'KAFKA_TOPIC_PREFIX'
  | 'KAFKA_SSL'
  | 'KAFKA_SASL_MECHANISM'
  | 'KAFKA_SASL_USERNAME'
  | 'KAFKA_SASL_PASSWORD'
  | 'BN_EVENT_KEYS'
> & { KAFKA_BROKERS: string[] };

/** KAFKA_REPLICATION_FACTOR: `auto` (the default) or a whole number >= 1. */
export function replicationSetting(raw: string | undefined): number | 'auto' {
  const v = (raw ?? 'auto').trim();
  if (v === 'auto') return 'auto';
  if (/^\d+$/.test(v) && Number(v) >= 1) return Number(v);
  throw createError(
    'BN_ERR_CONFIG_INVALID',
    `configuration: KAFKA_REPLICATION_FACTOR must be auto or a whole number >= 1 (got ${JSON.stringify(v)})`,
  );
}

/** The Kafka client settings of a validated configuration (TLS and SASL included), for the services and the CLI. */
export function kafkaSettings(
  c: KafkaConfig,
  topics?: Pick<
    ConfigFor<ServiceName>,
    'KAFKA_TOPIC_PARTITIONS' | 'KAFKA_REPLICATION_FACTOR' | 'KAFKA_SESSION_TIMEOUT_MS' | 'BN_MONTHS_IN_FLIGHT'
  >,
): ServiceAdapterSettings['kafka'] {
  const sasl =
    c.KAFKA_SASL_MECHANISM && c.KAFKA_SASL_USERNAME && c.KAFKA_SASL_PASSWORD
      ? { mechanism: c.KAFKA_SASL_MECHANISM, username: c.KAFKA_SASL_USERNAME, password: c.KAFKA_SASL_PASSWORD }
      : undefined;
  return {
    brokers: c.KAFKA_BROKERS,
    clientId: c.KAFKA_CLIENT_ID ?? 'bottleneck',
    topicPrefix: c.KAFKA_TOPIC_PREFIX,
    ssl: c.KAFKA_SSL,
    numPartitions: topics?.KAFKA_TOPIC_PARTITIONS ?? 12,
    replicationFactor: replicationSetting(topics?.KAFKA_REPLICATION_FACTOR),
    sessionTimeoutMs: topics?.KAFKA_SESSION_TIMEOUT_MS ?? 30_000,
    ...(topics
      ? { partitionsConsumedConcurrently: topics.KAFKA_TOPIC_PARTITIONS, monthsInFlight: topics.BN_MONTHS_IN_FLIGHT }
      : {}),
    ...(sasl ? { sasl } : {}),
    ...(c.BN_EVENT_KEYS?.length ? { eventKeys: c.BN_EVENT_KEYS } : {}),
  };
}

/** The adapters' settings from a service's validated configuration. */
export function serviceSettings(
  c: Pick<ConfigFor<ServiceName>, keyof ConfigFor<ServiceName>>,
  log: Logger,
  sendgrid?: ServiceAdapterSettings['sendgrid'],
): ServiceAdapterSettings {
  return {
    kafka: kafkaSettings(c, c),
    s3: {
      bucket: c.S3_BUCKET,
      region: c.S3_REGION,
      forcePathStyle: c.S3_FORCE_PATH_STYLE,
      ...(c.S3_PREFIX ? { prefix: c.S3_PREFIX } : {}),
      ...(c.S3_ENDPOINT ? { endpoint: c.S3_ENDPOINT } : {}),
      ...(c.S3_ACCESS_KEY_ID && c.S3_SECRET_ACCESS_KEY
        ? { credentials: { accessKeyId: c.S3_ACCESS_KEY_ID, secretAccessKey: c.S3_SECRET_ACCESS_KEY } }
        : {}),
      // A frozen store is given up on within the retry budget: short timeouts, one SDK attempt (our retry owns the budget).
      ...s3ClientSettingsFor(c.BN_RETRY_BUDGET_MS),
    },
    ...(sendgrid ? { sendgrid } : {}),
    log,
  };
}

/** The read limits a configuration sets (BN_MAX_*), over the defaults. */
export function limitsOf(
  c: Pick<ConfigFor<'cli'>, 'BN_MAX_FILE_BYTES' | 'BN_MAX_UNCOMPRESSED_BYTES' | 'BN_MAX_ROWS' | 'BN_MAX_READ_MS'>,
): ReadLimits {
  return {
    ...DEFAULT_READ_LIMITS,
    maxBytes: c.BN_MAX_FILE_BYTES,
    maxUncompressedBytes: c.BN_MAX_UNCOMPRESSED_BYTES,
    maxRows: c.BN_MAX_ROWS,
    maxMillis: c.BN_MAX_READ_MS,
  };
}

/** The Kafka bus from its settings (loaded on demand: the embedded path never imports kafkajs). */
export async function kafkaBus(k: ServiceAdapterSettings['kafka'], log: Logger = silentLogger): Promise<Bus> {
  const { KafkaBus } = await import('./adapters/kafka-bus.js');
  const { quick, sasl, eventKeys: secrets, ...kafka } = k;
  const eventKeys = eventKeysOf(secrets);
  if (eventKeys) log.info({ signingKey: eventKeys.signingKeyId }, 'events are signed and checked (BN_EVENT_KEYS)');
  else
    log.warn(
      { eventKeys: 'unset' },
      'BN_EVENT_KEYS is not set: events are neither signed nor checked, so anyone who can write to a topic can fake a run (local use only; see the README, "Event signatures")',
    );
  return new KafkaBus({
    ...kafka,
    eventKeys,
    ...(sasl ? { sasl } : {}),
    logger: log,
    ...(quick ? { connectionTimeoutMs: 3_000, retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 1_000 } } : {}),
  });
}

/** The production adapters: KafkaBus, S3Store and (for the alerter) SendGridMailer, loaded on demand. */
export async function serviceAdapters(s: ServiceAdapterSettings): Promise<Adapters> {
  const [bus, { S3Store }] = await Promise.all([kafkaBus(s.kafka, s.log), import('./adapters/s3-store.js')]);
  const store = new S3Store(s.s3);
  let mailer: Mailer | undefined;
  if (s.sendgrid) {
    const { SendGridMailer } = await import('./adapters/sendgrid-mailer.js');
    // The alerter retries sending itself (with the dead-letter record already written): no second loop here.
    mailer = new SendGridMailer({ apiKey: s.sendgrid.apiKey, baseUrl: s.sendgrid.baseUrl, retries: 0 });
  }
  return { bus, store, ...(mailer ? { mailer } : {}), close: () => store.close() };
}

export interface ContextOptions {
  limits?: Partial<ReadLimits>;
  /** Worker threads for Excel work; 0: on this thread. */
  workers?: number;
  /** Modules the workers import as they start. */
  preload?: string[];
  log?: Logger;
  progress?: ProgressListener;
  alert?: AlertConfig;
  now?: () => Date;
  /** Folder under which the context's scratch folder is made (default: the system's temp folder). */
  workRoot?: string;
  /** How long transient errors are retried before a run fails, ms (default 30 s; the services' BN_RETRY_BUDGET_MS: 10 minutes). */
  retryBudgetMs?: number;
  /**
   * DuckDB's settings: threads (default 2) and memory limit (default DuckDB's own, 80% of RAM). With
   * a limit, what does not fit spills to a folder in the context's scratch folder.
   */
  /**
   * DuckDB's threads and memory limit (spilling to the scratch folder beyond it); `returnFreedMemory`
   * has its allocator hand freed memory back to the system at once (allocator_bulk_deallocation_flush_threshold
   * 0): a lower peak RSS, for some CPU time (issue 18: K = 20, 219-235 MiB instead of 268-311, 15% more CPU).
   */
  duckdb?: DuckdbSettings;
  /** Thresholds of the checks that read settings (BN_MOM_*: `checkSettingsOf(config)`). */
  settings?: CheckSettings;
  /** One process runs every stage (`bottleneck run`): each workbook is parsed once (stage/read-once.ts). */
  readOnce?: boolean;
  /** With readOnce: the workbooks being read on a worker since the process started (stage/prefetch.ts). */
  prefetch?: Prefetch;
  /** One process runs every stage: a stage's start record is written beside its work (StageContext). */
  startRecordBesideWork?: boolean;
  /** One process runs every stage: a table's SQL checks run beside its persist (StageContext). */
  checksBesidePersist?: boolean;
}

/** DuckDB's threads and memory limit at a time of the run. */
export interface DuckdbLimits {
  threads?: number;
  memoryLimit?: string;
}

/** What `createContext` gives DuckDB (`ContextOptions.duckdb`). */
export interface DuckdbSettings extends DuckdbLimits {
  /** Freed memory back to the system at once (allocator_bulk_deallocation_flush_threshold 0). */
  returnFreedMemory?: boolean;
  /** Rows appended from a sheet go to their table every that many rows (DuckDB's own: 204,800; `TableAppender`). */
  appendFlushRows?: number;
  /**
   * Per stage, in a process that runs every stage (`bottleneck run`): the threads and memory limit
   * a stage runs with, over the ones above, set as the stage starts (`Wired.wrapStage`).
   */
  stages?: Partial<Record<string, DuckdbLimits>>;
}

export interface Wired {
  ctx: StageContext;
  /**
   * For `subscribeStages`: each stage's handler run with its DuckDB settings (`duckdb.stages`, over
   * the run's), set before it starts when they differ from those in force. Without `duckdb.stages`
   * the handler as it is.
   */
  wrapStage: (h: StageHandler, bound: ReturnType<typeof bindStage>) => ReturnType<typeof bindStage>;
  /** Stops the workers, closes DuckDB, removes the scratch folder. */
  close: () => Promise<void>;
}

/** The stage context over a set of adapters: DuckDB, the task runner, the IO manager, a scratch folder. */
export async function createContext(a: Adapters, o: ContextOptions = {}): Promise<Wired> {
  const workers = o.workers ?? 0;
  const tasks: TaskRunner =
    workers > 0 ? new WorkerPool({ size: workers, ...(o.preload ? { preload: o.preload } : {}) }) : new InlineRunner();
  const root = o.workRoot ?? tmpdir();
  await mkdir(root, { recursive: true });
  const workDir = await mkdtemp(join(root, 'bottleneck-'));
  const duck = new Duck(
    duckdbOptions(o.duckdb ?? {}, join(workDir, 'duckdb-spill')),
    o.duckdb?.appendFlushRows ? { appendFlushRows: o.duckdb.appendFlushRows } : {},
  );
  duck.warm();
  const ctx: StageContext = {
    store: a.store,
    duck,
    io: new StoreIO(a.store, duck, exportCsv),
    tasks,
    workDir,
    log: o.log ?? silentLogger,
    limits: { ...DEFAULT_READ_LIMITS, ...o.limits },
    now: o.now ?? (() => new Date()),
    retryBudgetMs: o.retryBudgetMs ?? 30_000,
    ...(o.readOnce ? { readOnce: new ReadOnce(duck, o.prefetch) } : {}),
    ...(o.startRecordBesideWork ? { startRecordBesideWork: true } : {}),
    ...(o.checksBesidePersist ? { checksBesidePersist: true } : {}),
    ...(a.mailer ? { mailer: a.mailer } : {}),
    ...(o.alert ? { alert: o.alert } : {}),
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.settings ? { settings: o.settings } : {}),
  };
  return {
    ctx,
    wrapStage: o.duckdb?.stages ? duckdbPerStage(duck, o.duckdb, o.duckdb.stages, ctx.log) : (_h, bound) => bound,
    close: async () => {
      await tasks.close();
      await duck.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * Subscribes stages to their events on the bus, each bound with bindStage (idempotent, retried,
 * failures turned into `failed` events), in the consumer group `group(stage)`.
 */
export async function subscribeStages(
  bus: Bus,
  handlers: readonly StageHandler[],
  ctx: StageContext,
  group: (stage: string) => string = (s) => s,
  wrap: (h: StageHandler, bound: ReturnType<typeof bindStage>) => ReturnType<typeof bindStage> = (_h, b) => b,
): Promise<Subscription[]> {
  const subs: Subscription[] = [];
  for (const h of handlers)
    subs.push(
      await bus.subscribe({ group: group(h.stage), types: h.consumes, handler: wrap(h, bindStage(h, ctx, bus)) }),
    );
  return subs;
}

/**
 * Each stage's handler run with its DuckDB threads and memory limit (`stages[stage]` over `base`):
 * set on the instance as the stage starts, when they differ from the last set (DuckDB's settings
 * are the instance's: the stages of a run follow one another in one process). Logged at debug
 * level as DuckDB reports them.
 */
function duckdbPerStage(
  duck: Duck,
  base: DuckdbLimits,
  stages: Partial<Record<string, DuckdbLimits>>,
  log: Logger,
): Wired['wrapStage'] {
  let inForce = JSON.stringify({ threads: base.threads, memoryLimit: base.memoryLimit });
  return (h, bound) => async (event) => {
    const want: DuckdbLimits = {
      ...(base.threads !== undefined ? { threads: base.threads } : {}),
      ...(base.memoryLimit !== undefined ? { memoryLimit: base.memoryLimit } : {}),
      ...stages[h.stage],
    };
    const key = JSON.stringify({ threads: want.threads, memoryLimit: want.memoryLimit });
    if (key !== inForce) {
      const now = await duck.configure(want);
      inForce = key;
      log.debug({ stage: h.stage, ...now }, "DuckDB's threads and memory limit for the stage");
    }
    return bound(event);
  };
}
