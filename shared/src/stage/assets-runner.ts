import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  AssetContext,
  AssetDefinition,
  AssetMetadata,
  CheckDefinition,
  CheckOutcome,
  ComputeResult,
  LoadedInput,
  RunInfo,
  StageDefinition,
} from '../assets/define.js';
import { declaredCheck } from '../assets/define.js';
import { DEFAULT_CHECK_SETTINGS } from '../assets/settings.js';
import { STAGE_EVENTS, isAssetKey, type AssetKey } from '../assets/keys.js';
import { capMetadata } from '../events/cap.js';
import type { Db, Json } from '../duck/index.js';
import {
  assetErrorBoundary,
  BottleneckError,
  type CellLocation,
  createError,
  defined,
  type ErrorCode,
  errorField,
  isErrorCode,
  withDetails,
} from '../errors/index.js';
import {
  makeEvent,
  carry,
  stageEventId,
  type CheckResult,
  type EventType,
  type Materialization,
  type PipelineEvent,
} from '../events/index.js';
import { expectationResult } from './checks.js';
import type { LocalFile } from '../ports/object-store.js';
import type { StageContext } from './context.js';
import { loadSqlOf, type AssetIO, type DuckScope } from './io.js';
import { checkProvenance } from './provenance.js';
import { timed } from '../profile.js';

export { checkProvenance } from './provenance.js';

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Check results and materializations gathered so far: what a `failed` event carries when the stage stops. */
export interface StageProgress {
  materializations: Record<string, Materialization>;
  checks: CheckResult[];
}

/** An asset's hold on the stage run's DuckDB scope: the connection it opened there, if any (its persist reuses it). */
interface Conn {
  scope: DuckScope;
  db?: Promise<Db>;
}

/** The blocking ERROR checks among `results` that failed. */
export function blockingFailures(results: readonly CheckResult[]): CheckResult[] {
  return results.filter((r) => !r.passed && r.blocking && r.severity === 'ERROR');
}

/**
 * The error that stops a run when blocking checks failed: BN_ERR_CHECK_FAILED, or
 * BN_ERR_EXPECTATION_FAILED when only expectations failed, or the input error a check stands for
 * (ingest's vital check: BN_ERR_INPUT_CORRUPT, with its file, sheet, column and row).
 */
export function gateError(stage: string, failed: readonly CheckResult[], progress: StageProgress): BottleneckError {
  const first = defined(failed[0], 'a failed check');
  const inputError = (r: CheckResult) => inputErrorOf(r.metadata.error);
  const details = {
    failedChecks: failed.map((r) => `${r.asset}.${r.check}`),
    checks: progress.checks,
    materializations: progress.materializations,
  };
  // Checks that stand for input errors (a damaged file): the run fails with the first one's code and cell.
  const input = inputError(first);
  if (input?.code && failed.every((r) => inputError(r)?.code && r.message)) {
    return createError(input.code, failed.map((r) => r.message).join('; '), {
      asset: first.asset,
      stage,
      details,
      ...(input.location ? { location: input.location } : {}),
    });
  }
  const summary = failed
    .map(
      (r) => `${r.asset}.${r.check}: ${r.message ?? `${r.description}: ${JSON.stringify(r.metadata).slice(0, 300)}`}`,
    )
    .join('; ');
  const code = failed.every((r) => r.check === 'matches_expectations')
    ? 'BN_ERR_EXPECTATION_FAILED'
    : 'BN_ERR_CHECK_FAILED';
  return createError(code, `blocking check failed in stage ${stage}: ${summary}`, {
    asset: first.asset,
    stage,
    details,
  });
}

/** The input error a check's metadata names (`CheckOutcome.error`), read without trusting its shape: a code of the registry, and a cell. */
export function inputErrorOf(v: unknown): { code: ErrorCode; location?: CellLocation } | undefined {
  const code = errorField(v, 'code');
  if (typeof code !== 'string' || !isErrorCode(code)) return undefined;
  const loc = errorField(v, 'location');
  if (typeof loc !== 'object' || loc === null) return { code };
  const location: CellLocation = {};
  for (const k of ['file', 'sheet', 'column'] as const) {
    const f = errorField(loc, k);
    if (typeof f === 'string') location[k] = f;
  }
  const row = errorField(loc, 'row');
  if (typeof row === 'number') location.row = row;
  return { code, location };
}

/**
 * A check's result from its definition and what evaluating it gave. Given the asset's definition,
 * the check is resolved through it: a result for a check the asset does not declare is refused
 * (Dagster's resolve_target_check_key), and severity and blocking are the declared ones.
 */
export function checkResultOf(
  target: AssetKey | Pick<AssetDefinition, 'key' | 'checks'>,
  check: CheckDefinition,
  o: CheckOutcome,
): CheckResult {
  const asset = typeof target === 'string' ? target : target.key;
  const spec = typeof target === 'string' ? check : declaredCheck(target, check.name);
  const c = { ...check, severity: spec.severity, blocking: spec.blocking };
  const full = { ...(o.metadata ?? {}), ...(o.error ? { error: o.error } : {}) };
  // A passed check says something only when it has to (the first month: nothing to compare).
  const found = o.passed ? o.message : (o.message ?? c.found?.(full));
  // What travels in events is bounded: a huge cell or a list of every id cannot make them too large.
  const metadata = capMetadata(full) as Record<string, unknown>;
  const message = capMetadata(found) as string | undefined;
  return {
    asset,
    check: c.name,
    passed: o.passed,
    severity: c.severity,
    blocking: c.blocking,
    description: c.description,
    ...(message ? { message } : {}),
    metadata,
  };
}

/** Runs a check's SQL: one row, a boolean `passed`, the other columns as camelCase metadata. */
async function sqlCheck(db: Db, text: string): Promise<CheckOutcome> {
  const row = await db.one(text);
  if (typeof row.passed !== 'boolean') throw new TypeError('a check query must return a boolean column "passed"');
  const metadata: Record<string, Json> = {};
  for (const [k, v] of Object.entries(row)) if (k !== 'passed') metadata[camel(k)] = v;
  return { passed: row.passed, metadata };
}

/**
 * The one stage runner (Dagster's executor for a stage): takes the stage's assets, fetches their
 * upstream assets from the event, computes each under the error boundary (independent assets
 * concurrently), runs its checks as soon as what they read is there, persists it through the IO
 * manager, reports progress, and stops everything downstream of a failed blocking check. It
 * returns the stage's events: `done` (and the gate's event) carrying every materialization and
 * check result, or throws the error a `failed` event is made of.
 */
export async function runStage(
  stage: StageDefinition,
  event: PipelineEvent,
  ctx: StageContext & { io: AssetIO },
): Promise<PipelineEvent[]> {
  // A publishing sink's inputs: the assets that declare publishAs (resolved by the graph, or found in the event).
  const def: StageDefinition = {
    ...stage,
    assets: stage.assets.map((a) => (a.inputs === 'published' ? withPublishedInputs(a, event) : a)),
  };
  verifyInputs(def, event);
  const run = new StageRun(def, event, runInfoOf(event), ctx);
  await run.materializeAll();
  stopIfFailed(def, run.errors, run.progress);
  return stageEvents(def, event, run.progress, ctx.now());
}

/**
 * Step 3, one stage run's materializations: each asset computed once its upstream assets of the
 * stage settled (`compute`), persisted through the IO manager (`persist`), then checked
 * (`check`, each check by `evaluate` as soon as what it reads is there). Errors are kept per
 * asset (`errors`), never thrown: `stopIfFailed` decides.
 */
export class StageRun {
  readonly progress: StageProgress = { materializations: {}, checks: [] };
  readonly errors = new Map<AssetKey, BottleneckError>();
  private readonly own: Map<AssetKey, AssetDefinition>;
  private readonly loaded = new Map<AssetKey, Promise<LoadedInput>>();
  /** Per asset of the stage: its materialization (undefined: not materialized); then whether what is downstream of it may run, once its checks ran. */
  private readonly computed = new Map<AssetKey, Promise<Materialization | undefined>>();
  private readonly settled = new Map<AssetKey, Promise<boolean>>();
  /** Per asset of the stage: whether compute made it (its table is in the scope), before it is persisted. */
  private readonly made = new Map<AssetKey, Promise<boolean>>();
  /** Local files of the file assets computed here, for the checks and assets of this stage that read them. */
  private readonly ownFiles = new Map<AssetKey, string | undefined>();
  private readonly copies: LocalFile[] = [];
  private workDir!: string;

  constructor(
    private readonly def: StageDefinition,
    private readonly event: PipelineEvent,
    private readonly run: RunInfo,
    private readonly ctx: StageContext & { io: AssetIO },
  ) {
    this.own = new Map(def.assets.map((a) => [a.key, a]));
  }

  /** Computes and checks every asset (independent ones concurrently), then releases the run's scratch space. */
  async materializeAll(): Promise<void> {
    this.workDir = await mkdtemp(join(this.ctx.workDir, `${this.def.stage}-`));
    let scope: DuckScope | undefined;
    try {
      scope = await this.ctx.io.openScope(this.run);
      for (const a of ordered(this.def.assets)) {
        const conn: Conn = { scope };
        const actx = this.contextFor(a, conn);
        let made!: (ok: boolean) => void;
        this.made.set(a.key, new Promise<boolean>((r) => (made = r)));
        this.computed.set(a.key, this.compute(a, actx, conn, made));
        this.settled.set(a.key, this.check(a, actx, scope));
      }
      await Promise.all(this.settled.values());
    } finally {
      for (const c of this.copies) await c.release().catch(() => undefined);
      if (scope) await this.ctx.io.closeScope(scope).catch(() => undefined);
      await rm(this.workDir, { recursive: true }).catch(() => undefined);
    }
  }

  private upstream(key: AssetKey): Materialization {
    return upstreamOf(this.def.stage, this.event, this.progress.materializations, key);
  }

  private load(key: AssetKey, scope: DuckScope): Promise<LoadedInput> {
    let p = this.loaded.get(key);
    if (!p) {
      const m = this.upstream(key);
      // Assets of this stage are in the scope already; upstream ones come through the IO manager.
      const path = this.ownFiles.get(key);
      p = this.own.has(key)
        ? Promise.resolve({ materialization: m, ...(path ? { path } : {}) })
        : timed(`${this.def.stage}: load ${key}`, () => this.ctx.io.load(key, m, scope));
      this.loaded.set(key, p);
    }
    return p;
  }

  private contextFor(asset: AssetDefinition, conn: Conn): AssetContext {
    const { ctx, event, progress } = this;
    const materialized = async (key: AssetKey) => {
      if (this.own.has(key) && !(await this.computed.get(key)))
        throw new TypeError(`asset ${key} was not materialized`);
    };
    return {
      run: this.run,
      asset,
      workDir: this.workDir,
      store: ctx.store,
      tasks: ctx.tasks,
      limits: ctx.limits,
      log: ctx.log,
      settings: ctx.settings ?? DEFAULT_CHECK_SETTINGS,
      now: ctx.now,
      ...(ctx.readOnce ? { readOnce: ctx.readOnce } : {}),
      db: () => (conn.db ??= conn.scope.connect()),
      input: async (key) => {
        await materialized(key);
        return this.load(key, conn.scope);
      },
      inputFile: async (key) => {
        await materialized(key);
        const { path } = await this.load(key, conn.scope);
        if (!path) throw new TypeError(`asset ${key} is not a file: it has no local path`);
        return path;
      },
      materialization: (key) => this.upstream(key),
      lineage: () => ({
        materializations: { ...event.materializations, ...progress.materializations },
        checks: [...event.checks, ...progress.checks],
      }),
      sql: (name) => loadSqlOf(asset, name),
      fetch: async (key, opts) => {
        const local = await ctx.store.getToFile(key, opts);
        this.copies.push(local);
        return local.path;
      },
    };
  }

  /** A check runs once its asset and the assets it reads are materialized; null: one of them was not. Throws what the check threw (`check` wraps it). */
  private async evaluate(
    asset: AssetDefinition,
    c: CheckDefinition,
    actx: AssetContext,
    scope: DuckScope,
    early?: Promise<CheckOutcome | null>,
  ): Promise<CheckResult | null> {
    for (const d of c.deps) if (this.own.has(d) && !(await this.computed.get(d))) return null;
    let outcome: CheckOutcome;
    for (const d of c.deps) await this.load(d, scope);
    const label = `${this.def.stage}: check ${asset.key}.${c.name}`;
    const before = early ? await early : null;
    if (before) outcome = before;
    else if (c.sql) {
      const sql = actx.sql(c.sql);
      outcome = await timed(label, async () => sqlCheck(await actx.db(), sql));
    } else if (c.run) {
      const run = c.run;
      outcome = await timed(label, async () => run(actx));
    } else throw new TypeError(`check ${c.name} has neither sql nor run`);
    const r = checkResultOf(asset, c, outcome);
    this.logCheck(r);
    this.ctx.progress?.onCheck?.({ ...r, runId: this.run.runId });
    return r;
  }

  /**
   * `checksBesidePersist`: a table's SQL checks run as soon as compute has made its table (and the
   * own assets they read are made), on a connection of their own, one after the other, while the
   * table is persisted (Parquet, CSV) instead of after it. Their outcomes are taken, logged and
   * reported in the declared order once the asset is persisted (`check`, `evaluate`), as if run
   * then: a table is not changed by its persist. null: what the check reads was not made (the
   * check is then left to `evaluate`, which skips it).
   */
  private earlyChecks(
    asset: AssetDefinition,
    actx: AssetContext,
    scope: DuckScope,
  ): Map<CheckDefinition, Promise<CheckOutcome | null>> {
    const out = new Map<CheckDefinition, Promise<CheckOutcome | null>>();
    if (asset.kind !== 'table') return out;
    let db: Promise<Db> | undefined;
    let previous: Promise<unknown> = Promise.resolve();
    for (const c of asset.checks) {
      const sql = c.sql;
      if (!sql) continue;
      const run = previous.then(async () => {
        if (!(await this.made.get(asset.key))) return null;
        for (const d of c.deps) if (this.own.has(d) && !(await this.made.get(d))) return null;
        for (const d of c.deps) if (!this.own.has(d)) await this.load(d, scope);
        const text = actx.sql(sql);
        return timed(`${this.def.stage}: check ${asset.key}.${c.name}`, async () =>
          sqlCheck(await (db ??= scope.connect()), text),
        );
      });
      // Read by `evaluate` only once the asset is persisted: a rejection before then is not unhandled.
      run.catch(() => undefined);
      out.set(c, run);
      previous = run;
    }
    return out;
  }

  /** A check's outcome in the stage's log (kept with the run record): failed ones at their severity, in words. */
  private logCheck(r: CheckResult): void {
    const at = { asset: r.asset, check: r.check, severity: r.severity, blocking: r.blocking, passed: r.passed };
    if (r.passed) this.ctx.log.info(at, `check ${r.asset}.${r.check} passed${r.message ? `: ${r.message}` : ''}`);
    else
      this.ctx.log[r.severity === 'ERROR' ? 'error' : 'warn'](
        at,
        `check ${r.asset}.${r.check} failed${r.blocking ? ' (blocking)' : ''}: ${r.message ?? r.description}`,
      );
  }

  private async compute(
    asset: AssetDefinition,
    actx: AssetContext,
    conn: Conn,
    made: (ok: boolean) => void = () => undefined,
  ): Promise<Materialization | undefined> {
    try {
      return await this.computeAndPersist(asset, actx, conn, made);
    } finally {
      made(false); // (no effect once it said true)
    }
  }

  private async computeAndPersist(
    asset: AssetDefinition,
    actx: AssetContext,
    conn: Conn,
    made: (ok: boolean) => void,
  ): Promise<Materialization | undefined> {
    // Upstream assets of this stage first: a failed one, or one whose blocking check failed, stops this one.
    const ups = await Promise.all(
      asset.deps.filter((d) => this.own.has(d)).map((d) => defined(this.settled.get(d), `the state of asset ${d}`)),
    );
    if (!ups.every(Boolean)) return undefined;
    const t0 = performance.now();
    try {
      for (const d of asset.deps) await actx.input(d);
      const result = await timed(`${this.def.stage}: compute ${asset.key}`, () => asset.compute(actx));
      made(result.kind === 'table' && asset.kind === 'table');
      const m = await timed(`${this.def.stage}: persist ${asset.key}`, () => this.persist(asset, result, conn, t0));
      // A file's (or an object's) local copy, for what reads it in this stage; a table has none.
      this.ownFiles.set(asset.key, (result as { path?: string }).path);
      this.progress.materializations[asset.key] = m;
      this.ctx.log.info(
        {
          asset: asset.key,
          ...(m.metadata.rowCount !== undefined ? { rowCount: m.metadata.rowCount } : {}),
          durationMs: m.metadata.durationMs,
          dataVersion: m.dataVersion.slice(0, 12),
        },
        `materialized ${asset.key}${m.metadata.rowCount !== undefined ? `: ${m.metadata.rowCount} rows` : ''} in ${m.metadata.durationMs} ms`,
      );
      this.ctx.progress?.onAsset?.({
        stage: this.def.stage,
        asset: asset.key,
        materialization: m,
        runId: this.run.runId,
      });
      return m;
    } catch (e) {
      const err = assetErrorBoundary(this.def.stage, asset.key, e);
      this.ctx.log.error({ asset: asset.key, code: err.code }, `${asset.key} failed: ${err.message}`);
      this.errors.set(asset.key, err);
      return undefined;
    }
  }

  /** Runs the asset's checks once it is materialized; true: what is downstream of it may run (no blocking check failed). */
  private async check(asset: AssetDefinition, actx: AssetContext, scope: DuckScope): Promise<boolean> {
    const early = this.ctx.checksBesidePersist
      ? this.earlyChecks(asset, actx, scope)
      : new Map<CheckDefinition, Promise<CheckOutcome | null>>();
    try {
      return await this.checkPersisted(asset, actx, scope, early);
    } finally {
      // None of them still running on the scope's connections when the scope closes.
      await Promise.allSettled(early.values());
    }
  }

  private async checkPersisted(
    asset: AssetDefinition,
    actx: AssetContext,
    scope: DuckScope,
    early: Map<CheckDefinition, Promise<CheckOutcome | null>>,
  ): Promise<boolean> {
    const m = await this.computed.get(asset.key);
    if (!m) return false;
    const results: CheckResult[] = [];
    try {
      for (const c of asset.checks) {
        const r = await this.evaluate(asset, c, actx, scope, early.get(c));
        if (r) results.push(r);
      }
    } catch (e) {
      this.errors.set(asset.key, assetErrorBoundary(this.def.stage, asset.key, e));
      return false;
    }
    const exp = expectationResult(
      asset.key,
      { rowCount: m.metadata.rowCount, ...(asset.figures?.(m.metadata) ?? {}) },
      this.run.expectations,
    );
    if (exp) {
      results.push(exp);
      this.logCheck(exp);
      this.ctx.progress?.onCheck?.({ ...exp, runId: this.run.runId });
    }
    this.progress.checks.push(...results);
    return blockingFailures(results).length === 0;
  }

  private async persist(
    asset: AssetDefinition,
    result: ComputeResult,
    conn: Conn,
    t0: number,
  ): Promise<Materialization> {
    if (result.kind === 'object') {
      const { location, dataVersion, metadata } = result.materialization;
      // A source this stage hashed: clean, in the same process, need not hash it again (the ETag still checked).
      if (typeof metadata.etag === 'string') this.ctx.io.observed?.(location, dataVersion, metadata.etag);
      return {
        ...result.materialization,
        metadata: { ...result.materialization.metadata, durationMs: Math.round(performance.now() - t0) },
      };
    }
    if (result.kind !== asset.kind)
      throw new TypeError(`asset ${asset.key} is a ${asset.kind} but compute returned a ${result.kind}`);
    const metadata: AssetMetadata = { ...result.metadata };
    let db: Db | undefined;
    if (result.kind === 'table') {
      db = await (conn.db ??= conn.scope.connect());
      metadata.rowCount ??= await db.count(asset.key);
      metadata.columns ??= await db.columns(asset.key);
    }
    const { bytes, published, ...where } = await this.ctx.io.persist({
      asset,
      run: this.run,
      metadata,
      workDir: this.workDir,
      ...(db ? { db } : {}),
      ...(result.kind === 'file' ? { path: result.path } : {}),
    });
    // What the publisher copies to extracts/: the file itself, or a table's CSV export.
    if (asset.publishAs) metadata.publish = { as: asset.publishAs, location: published ?? where.location };
    const capped = capMetadata(metadata) as AssetMetadata;
    return {
      ...where,
      metadata: {
        ...capped,
        ...(bytes !== undefined ? { bytes } : {}),
        durationMs: Math.round(performance.now() - t0),
      },
    };
  }
}

/** Step 1: the run as the stage's assets see it (its identity, expectations, and the input versions its trigger pinned). */
export function runInfoOf(event: PipelineEvent): RunInfo {
  return {
    runId: event.runId,
    partition: event.partition,
    startedAt: event.runStartedAt ?? event.ts,
    ...(event.expectations ? { expectations: event.expectations } : {}),
    ...(event.type === 'trigger' && event.payload.files
      ? { pins: Object.fromEntries(Object.values(event.payload.files).map((f) => [f.key, f.etag])) }
      : {}),
  };
}

/** An upstream asset's materialization: made earlier in this stage run (`made`), or carried by the event (else the event is refused). */
export function upstreamOf(
  stage: StageDefinition['stage'],
  event: PipelineEvent,
  made: Readonly<Record<string, Materialization>>,
  key: AssetKey,
): Materialization {
  const m = made[key] ?? event.materializations[key];
  if (!m)
    throw createError(
      'BN_ERR_EVENT_INVALID',
      `the ${event.type} event of run ${event.runId} has no materialization of ${key}, which stage ${stage} needs`,
      { stage },
    );
  return m;
}

/**
 * Step 2, verify the inputs before anything runs: every upstream asset the stage's assets and
 * checks read comes with the event, and is this run's (checkProvenance).
 */
export function verifyInputs(def: StageDefinition, event: PipelineEvent): void {
  const own = new Set(def.assets.map((a) => a.key));
  for (const a of def.assets)
    for (const d of [...a.deps, ...a.checks.flatMap((c) => c.deps)])
      if (!own.has(d)) checkProvenance(event, d, upstreamOf(def.stage, event, {}, d));
}

/**
 * Step 4, the verdict: the first asset error in declaration order (whichever failed first in
 * time: the same bad month, the same error), else the failed blocking checks; nothing: the stage
 * passed. Sorts the check results in declaration order.
 */
export function stopIfFailed(
  def: StageDefinition,
  errors: ReadonlyMap<AssetKey, BottleneckError>,
  progress: StageProgress,
): void {
  for (const a of def.assets) {
    const e = errors.get(a.key);
    if (e) throw withProgress(e, progress);
  }
  progress.checks.sort((x, y) => order(def, x) - order(def, y));
  const failed = blockingFailures(progress.checks);
  if (failed.length) throw gateError(def.stage, failed, progress);
}

/**
 * Step 5, the stage's events: `done` (and the gate's event for a stage with a quality gate), each
 * carrying every materialization and check of the run so far, with ids derived from the run.
 */
export function stageEvents(
  def: StageDefinition,
  event: PipelineEvent,
  progress: StageProgress,
  now: Date,
): PipelineEvent[] {
  const base = carry(event);
  Object.assign(base.materializations, progress.materializations);
  base.checks.push(...progress.checks);
  const events: { done: EventType; gate?: EventType } = STAGE_EVENTS[def.stage];
  const out: PipelineEvent[] = [
    makeEvent(
      events.done,
      { ...base, payload: (def.payload?.(base.materializations) ?? {}) as never },
      now,
      stageEventId(event.runId, events.done),
    ),
  ];
  if (events.gate)
    out.push(makeEvent(events.gate, { ...base, payload: {} }, now, stageEventId(event.runId, events.gate)));
  return out;
}

/**
 * A publishing sink with its inputs: the assets the graph resolved (`resolvePublishedInputs`), and
 * every asset whose materialization in the event is marked published (the runner marks only
 * assets that declare `publishAs`). None at all: the event cannot be published (refused).
 */
export function withPublishedInputs(asset: AssetDefinition, event: PipelineEvent): AssetDefinition {
  const found = Object.entries(event.materializations)
    .filter(([, m]) => m.metadata.publish !== undefined)
    .map(([k]) => k)
    .filter((k): k is AssetKey => isAssetKey(k) && k !== asset.key);
  const deps = [...new Set([...asset.deps, ...found])];
  if (deps.length === 0)
    throw createError(
      'BN_ERR_EVENT_INVALID',
      `the ${event.type} event of run ${event.runId} carries no published asset (publishAs) for ${asset.key} to publish`,
      { asset: asset.key },
    );
  return { ...asset, deps };
}

function order(def: StageDefinition, r: CheckResult): number {
  const i = def.assets.findIndex((a) => a.key === r.asset);
  const j = def.assets[i]?.checks.findIndex((c) => c.name === r.check) ?? -1;
  return i * 1000 + (j < 0 ? 999 : j);
}

/** The stage's assets with every asset after its upstream assets of the same stage. */
function ordered(assets: readonly AssetDefinition[]): AssetDefinition[] {
  const byKey = new Map(assets.map((a) => [a.key, a]));
  const out: AssetDefinition[] = [];
  const seen = new Set<AssetKey>();
  const visit = (a: AssetDefinition, path: AssetKey[]) => {
    if (seen.has(a.key)) return;
    if (path.includes(a.key)) throw new TypeError(`cycle in the asset graph: ${[...path, a.key].join(' -> ')}`);
    for (const d of a.deps) {
      const up = byKey.get(d);
      if (up) visit(up, [...path, a.key]);
    }
    seen.add(a.key);
    out.push(a);
  };
  for (const a of assets) visit(a, []);
  return out;
}

/** The error a stage stops with, carrying what it materialized and checked before (for the failed event and the run record). */
function withProgress(e: BottleneckError, progress: StageProgress): BottleneckError {
  return withDetails(e, { details: { checks: progress.checks, materializations: progress.materializations } });
}
