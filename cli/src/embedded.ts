import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  INPUT_NAMES,
  SOURCES,
  layout,
  makeEvent,
  newRunId,
  partitionOf,
  type CheckResult,
  type EventOf,
  type Expectations,
  type PipelineEvent,
} from '@bottleneck/shared';
import { timed } from '@bottleneck/shared/profile';
import type { Prefetch } from '@bottleneck/shared/stage/prefetch';
import type { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import type { ReadLimits } from '@bottleneck/shared/excel/read';
import type { CheckSettings } from '@bottleneck/shared/assets/settings';
import { STAGE_HANDLERS } from '@bottleneck/shared/assets/graph';
import type { Logger, ProgressListener } from '@bottleneck/shared/stage/context';
import { createContext, embeddedAdapters, subscribeStages } from '@bottleneck/shared/wiring';
import { recordDeadLetters } from '@bottleneck/alerter/embedded';
import { embeddedDuckdb, inputBytes } from './duckdb.js';

export { STAGE_HANDLERS };
// For the CLI's run path: from here, so that the bundled graph (scripts/bundle-run.mjs) is their one copy.
export { limitsOf } from '@bottleneck/shared/wiring';
export { checkSettingsOf } from '@bottleneck/shared/assets/settings';

export interface EmbeddedRunOptions {
  /** Folder with erp.xlsx, web.xlsx, liaison.xlsx. */
  input: string;
  /** Root of the local object store: extracts/, dead-letter/, outbox/, staging/, incoming/. */
  out: string;
  partition: string;
  expectations?: Expectations;
  progress?: ProgressListener;
  log?: Logger;
  limits?: Partial<ReadLimits>;
  runId?: string;
  now?: () => Date;
  /** Worker threads for Excel work (default 0: on this thread). */
  workers?: number;
  alertTo?: string[];
  alertFrom?: string;
  /** The console's address (BN_CONSOLE_URL): the alert mail links to the failed run. */
  consoleUrl?: string;
  /** Thresholds of the month-over-month checks (BN_MOM_*); the defaults when unset. */
  settings?: CheckSettings;
  /**
   * DuckDB's memory limit for the run (default 512MB: the tables of a month of a million web rows fit;
   * beyond, DuckDB spills to the scratch folder rather than growing the process). Threads: the
   * machine's cores.
   */
  duckdbMemoryLimit?: string;
  /** Workbooks larger than this in all (bytes) make DuckDB hand freed memory back at once (`RETURN_FREED_MEMORY_ABOVE`). */
  returnFreedMemoryAbove?: number;
  /** Workbooks larger than this in all (bytes) are read with DuckDB held lower (`LARGE_MONTH_ABOVE`, `LARGE_MONTH`). */
  largeMonthAbove?: number;
  /** The input's workbooks being read on a worker since the process started (`startPrefetch`): ingest takes their rows. */
  prefetch?: Prefetch;
}

export interface RunSummary {
  status: 'succeeded' | 'failed';
  runId: string;
  partition: string;
  rowCounts: Record<string, number>;
  totalRevenue: string | null;
  premium: number | null;
  ordinary: number | null;
  checks: CheckResult[];
  /** Output files under extracts/<partition>/ (success only). */
  outputs: { name: string; path: string; bytes: number }[];
  extractsDir: string | null;
  deadLetter: string | null;
  alert: string | null;
  error: { stage: string; asset?: string; code: string; message: string; location?: Record<string, unknown> } | null;
  durationMs: number;
  events: { type: string; id: string }[];
}

/**
 * The name of this process's in-process bus, for its dead letters' records: its offsets start at
 * 0 in every process, so records keyed by topic and offset need it (`session-20261206T061000123`).
 */
export function sessionName(d: Date): string {
  return `session-${d.toISOString().replace(/[-:.Z]/g, '')}`;
}

/** The current month in Europe/Paris, `YYYY-MM`: the default partition. */
export function currentPartition(now = new Date()): string {
  return partitionOf(now, 'Europe/Paris');
}

/**
 * Runs the whole asset graph in this process (Dagster's materialize_to_memory): the in-memory
 * bus, the folder store under `out`, the outbox mailer. The same stages as the services, wired here.
 */
export async function runEmbedded(opts: EmbeddedRunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const now = opts.now ?? (() => new Date());
  const runId = opts.runId ?? newRunId(opts.partition, now());
  const adapters = embeddedAdapters(opts.out, now);
  const { bus, store } = adapters;
  // Inline by default: one worker for web.xlsx (the other two read here meanwhile) measured slower
  // at K = 1 and K = 20 on this 2-core machine, busy with other work (issue 8): the worker pays its
  // own start, module loading and JIT warm-up, and copies every batch of rows back to this thread
  // and its appender. Workers add a hard memory cap per workbook for those who want it.
  const workers = opts.workers ?? 0;
  const { ctx, close, wrapStage } = await createContext(adapters, {
    workers,
    duckdb: embeddedDuckdb({
      ...(opts.duckdbMemoryLimit ? { memoryLimit: opts.duckdbMemoryLimit } : {}),
      inputBytes: inputBytes(
        opts.input,
        INPUT_NAMES.map((name) => SOURCES[name].file),
      ),
      ...(opts.returnFreedMemoryAbove !== undefined ? { returnFreedMemoryAbove: opts.returnFreedMemoryAbove } : {}),
      ...(opts.largeMonthAbove !== undefined ? { largeMonthAbove: opts.largeMonthAbove } : {}),
    }),
    // Every stage here: each workbook parsed once (ingest's check keeps the rows for clean), unless
    // workers are to parse them off this thread.
    readOnce: workers === 0,
    // One process runs every stage: a stage's start record is written beside its work.
    startRecordBesideWork: true,
    // And a table's SQL checks run while it is persisted.
    checksBesidePersist: true,
    ...(workers === 0 && opts.prefetch ? { prefetch: opts.prefetch } : {}),
    ...(workers > 0 ? { preload: [import.meta.resolve('@bottleneck/shared/excel/read')] } : {}),
    log: opts.log ?? silent,
    ...(opts.settings ? { settings: opts.settings } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    now,
    alert: {
      to: opts.alertTo ?? ['data-team@bottleneck.example'],
      from: opts.alertFrom ?? 'pipeline@bottleneck.example',
      pipelineName: 'BottleNeck pipeline',
      ...(opts.consoleUrl ? { consoleUrl: opts.consoleUrl } : {}),
    },
    ...(opts.progress ? { progress: opts.progress } : {}),
  });
  ctx.log.debug({ runId, workers }, 'excel workers');
  try {
    // The dropped files go where users drop them in production: incoming/<partition>/.
    await Promise.all(
      INPUT_NAMES.map(async (name) => {
        const src = join(opts.input, SOURCES[name].file);
        const key = layout.incoming(opts.partition, name);
        const exists = await stat(src).then(
          (s) => s.isFile(),
          () => false,
        );
        if (exists) await store.putFile(key, src);
        else await store.delete(key);
      }),
    );
    // Each stage with its DuckDB settings (a large month's ingest under a lower memory limit).
    await subscribeStages(bus, STAGE_HANDLERS, ctx, (s) => s, wrapStage);
    // Dead letters recorded as the services' alerter does (refused events under refused/).
    await recordDeadLetters(bus, ctx, sessionName(now()));
    await bus.publish(
      makeEvent(
        'trigger',
        {
          runId,
          partition: opts.partition,
          materializations: {},
          checks: [],
          ...(opts.expectations ? { expectations: opts.expectations } : {}),
          payload: { source: 'cli' },
        },
        now(),
      ),
    );
    await bus.idle();
    return await timed('run: summary', async () => {
      const events = bus
        .messages()
        .map((m) => m.event)
        .filter((e) => e.runId === runId);
      return await summarize(opts, store, runId, events, Math.round(performance.now() - t0));
    });
  } finally {
    await timed('run: close the bus, DuckDB, the scratch folder', async () => {
      await bus.close();
      await close();
    });
  }
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

async function summarize(
  opts: EmbeddedRunOptions,
  store: FolderStore,
  runId: string,
  events: PipelineEvent[],
  durationMs: number,
): Promise<RunSummary> {
  const last = events[events.length - 1];
  const failed = events.find((e): e is EventOf<'failed'> => e.type === 'failed');
  const published = events.find((e): e is EventOf<'published'> => e.type === 'published');
  const final = failed ?? published ?? last;
  const mats = final?.materializations ?? {};
  const rowCounts: Record<string, number> = {};
  for (const [k, m] of Object.entries(mats)) if (m.metadata.rowCount !== undefined) rowCounts[k] = m.metadata.rowCount;
  const num = (k: string) => mats[k]?.metadata.rowCount ?? null;
  const base = {
    runId,
    partition: opts.partition,
    rowCounts,
    totalRevenue: (mats.merged_with_revenue?.metadata.totalRevenue as string | undefined) ?? null,
    premium: num('premium_wines'),
    ordinary: num('ordinary_wines'),
    checks: final?.checks ?? [],
    durationMs,
    events: events.map((e) => ({ type: e.type, id: e.id })),
  };
  if (published && !failed) {
    const outputs = published.payload.files.map((f) => ({
      name: basename(f.key),
      path: store.describe(f.key),
      bytes: f.bytes,
    }));
    return {
      ...base,
      status: 'succeeded',
      outputs,
      extractsDir: store.describe(layout.extracts(opts.partition, runId, '').slice(0, -1)),
      deadLetter: null,
      alert: null,
      error: null,
    };
  }
  const dl = layout.deadLetter(opts.partition, runId);
  const hasDl = (await store.head(dl)) !== null;
  let alert: string | null = null;
  if (hasDl) {
    const rec = JSON.parse((await store.get(dl)).toString('utf8')) as { alert?: { id?: string } };
    if (rec.alert?.id) alert = join(opts.out, 'outbox', `${rec.alert.id}.json`);
  }
  const p = failed?.payload;
  return {
    ...base,
    status: 'failed',
    outputs: [],
    extractsDir: null,
    deadLetter: hasDl ? store.describe(dl) : null,
    alert,
    error: p
      ? {
          stage: p.stage,
          ...(p.asset ? { asset: p.asset } : {}),
          code: p.code,
          message: p.message,
          ...(p.location ? { location: p.location } : {}),
        }
      : {
          stage: 'runner',
          code: 'BN_ERR_ASSET_FAILED',
          message: `the run stopped after ${last?.type ?? 'nothing'} without publishing or failing`,
        },
  };
}
