import type { Stage } from '../assets/keys.js';
import type { Duck } from '../duck/index.js';
import type { ReadLimits } from '../excel/read.js';
import type { CheckResult, EventType, Materialization, PipelineEvent } from '../events/index.js';
import type { Mailer } from '../ports/mailer.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { TaskRunner } from '../workers/pool.js';
import type { AssetIO } from './io.js';
import type { CheckSettings } from '../assets/settings.js';
import type { ReadOnce } from './read-once.js';

/** The logging surface stages use (pino's, so a pino logger fits as is). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Callbacks for people watching a run (the CLI's progress lines, a service's status page). */
export interface ProgressListener {
  onAsset?(p: { stage: Stage; asset: string; materialization: Materialization; runId: string }): void;
  onCheck?(r: CheckResult & { runId: string }): void;
  onStage?(p: {
    stage: Stage;
    consumed: EventType;
    emitted: EventType[];
    durationMs: number;
    runId: string;
    partition: string;
    eventId: string;
  }): void;
}

/** Alert settings the alerter needs. */
export interface AlertConfig {
  to: string[];
  from: string;
  pipelineName: string;
  /** How long an alert that cannot be sent is retried, ms (BN_ALERT_RETRY_MS; default a day). */
  retryForMs?: number;
  /** The console's address (BN_CONSOLE_URL): the mail links to the failed run. */
  consoleUrl?: string;
}

/** Everything a stage may use. Adapters are chosen in one place, `wiring.ts` (services, CLI and tests). */
export interface StageContext {
  store: ObjectStore;
  duck: Duck;
  /** How assets are persisted and loaded between stages (Parquet in the store, or kept in memory). */
  io: AssetIO;
  /** Where costly Excel work runs: a worker pool, or inline. */
  tasks: TaskRunner;
  /** A private scratch folder for local copies and DuckDB files. */
  workDir: string;
  log: Logger;
  limits: ReadLimits;
  mailer?: Mailer;
  alert?: AlertConfig;
  progress?: ProgressListener;
  now: () => Date;
  /** How long transient errors (store, bus) are retried before a run fails, ms. */
  retryBudgetMs: number;
  /** Thresholds of the checks that read settings (BN_MOM_*); the defaults when unset. */
  settings?: CheckSettings;
  /** In-process runs only: ingest's vital check reads each workbook whole and clean takes its rows (read-once.ts). */
  readOnce?: ReadOnce;
  /**
   * In-process runs only: a stage's start record is written while its work begins (awaited before its
   * events, its log, its outcome record and its marker), not before it (bindStage).
   */
  startRecordBesideWork?: boolean;
  /**
   * In-process runs only: a table's SQL checks run while it is persisted, as soon as its table is
   * made, instead of after its Parquet and CSV are written (assets-runner.ts, `earlyChecks`).
   */
  checksBesidePersist?: boolean;
}

/** A stage: which events it consumes and what it does with one; it returns the events to publish. */
export interface StageHandler {
  stage: Stage;
  consumes: readonly EventType[];
  /** A hash of what the stage runs (its definitions and SQL): run records carry it, so a set made by older code shows as stale. */
  codeVersion?: string;
  handle(event: PipelineEvent, ctx: StageContext): Promise<PipelineEvent[]>;
}
