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
import { STAGE_EVENTS, type AssetKey } from '../assets/keys.js';
import { capMetadata } from '../events/cap.js';
import type { Db, Json } from '../duck/index.js';
import { assetErrorBoundary, BottleneckError, defined, type ErrorCode } from '../errors/index.js';
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
import { loadSqlOf, type AssetIO } from './io.js';
import { checkProvenance } from './provenance.js';

export { checkProvenance } from './provenance.js';

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Check results and materializations gathered so far: what a `failed` event carries when the stage stops. */
export interface StageProgress {
  materializations: Record<string, Materialization>;
  checks: CheckResult[];
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
  const inputError = (r: CheckResult) =>
    r.metadata.error as { code?: ErrorCode; location?: Record<string, unknown> } | undefined;
  const details = {
    failedChecks: failed.map((r) => `${r.asset}.${r.check}`),
    checks: progress.checks,
    materializations: progress.materializations,
  };
  // Checks that stand for input errors (a damaged file): the run fails with the first one's code and cell.
  const input = inputError(first);
  if (input?.code && failed.every((r) => inputError(r)?.code && r.message)) {
    return new BottleneckError(input.code, failed.map((r) => r.message).join('; '), {
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
  return new BottleneckError(code, `blocking check failed in stage ${stage}: ${summary}`, {
    asset: first.asset,
    stage,
    details,
  });
}

/** A check's result from its definition and what evaluating it gave. */
export function checkResultOf(asset: AssetKey, c: CheckDefinition, o: CheckOutcome): CheckResult {
  const full = { ...(o.metadata ?? {}), ...(o.error ? { error: o.error } : {}) };
  const found = o.passed ? undefined : (o.message ?? c.found?.(full));
  // What travels in events is bounded: a huge cell or a list of every id cannot make them too large.
  const metadata = capMetadata(full) as Record<string, unknown>;
  const message = found === undefined ? undefined : (capMetadata(found) as string);
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

interface Settled {
  ok: boolean;
  blocked: boolean;
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
  def: StageDefinition,
  event: PipelineEvent,
  ctx: StageContext & { io: AssetIO },
): Promise<PipelineEvent[]> {
  const run: RunInfo = {
    runId: event.runId,
    partition: event.partition,
    startedAt: event.runStartedAt ?? event.ts,
    ...(event.expectations ? { expectations: event.expectations } : {}),
    ...(event.type === 'trigger' && event.payload.files
      ? { pins: Object.fromEntries(Object.values(event.payload.files).map((f) => [f.key, f.etag])) }
      : {}),
  };
  const own = new Map<AssetKey, AssetDefinition>(def.assets.map((a) => [a.key, a]));
  const progress: StageProgress = { materializations: {}, checks: [] };
  const upstream = (key: AssetKey): Materialization => {
    const m = progress.materializations[key] ?? event.materializations[key];
    if (!m)
      throw new BottleneckError(
        'BN_ERR_EVENT_INVALID',
        `the ${event.type} event of run ${event.runId} has no materialization of ${key}, which stage ${def.stage} needs`,
        { stage: def.stage },
      );
    return m;
  };
  // Every upstream asset the stage reads must come with the event, and be this run's, before anything runs.
  for (const a of def.assets)
    for (const d of [...a.deps, ...a.checks.flatMap((c) => c.deps)])
      if (!own.has(d)) checkProvenance(event, d, upstream(d));

  const workDir = await mkdtemp(join(ctx.workDir, `${def.stage}-`));
  const scope = await ctx.io.openScope(run);
  const loaded = new Map<AssetKey, Promise<LoadedInput>>();
  /** Per asset of the stage: materialized (true) or not; then settled, with its checks. */
  const computed = new Map<AssetKey, Promise<boolean>>();
  const settled = new Map<AssetKey, Promise<Settled>>();
  const errors = new Map<AssetKey, unknown>();
  /** Local files of the file assets computed here, for the checks and assets of this stage that read them. */
  const ownFiles = new Map<AssetKey, string>();
  const copies: LocalFile[] = [];

  const load = (key: AssetKey): Promise<LoadedInput> => {
    let p = loaded.get(key);
    if (!p) {
      const m = upstream(key);
      // Assets of this stage are in the scope already; upstream ones come through the IO manager.
      const path = ownFiles.get(key);
      p = own.has(key)
        ? Promise.resolve({ materialization: m, ...(path ? { path } : {}) })
        : ctx.io.load(key, m, scope);
      loaded.set(key, p);
    }
    return p;
  };

  const contextFor = (asset: AssetDefinition, conn: { db?: Promise<Db> }): AssetContext => ({
    run,
    asset,
    workDir,
    store: ctx.store,
    tasks: ctx.tasks,
    limits: ctx.limits,
    log: ctx.log,
    now: ctx.now,
    db: () => (conn.db ??= scope.connect()),
    input: async (key) => {
      if (own.has(key) && !(await computed.get(key))) throw new TypeError(`asset ${key} was not materialized`);
      return load(key);
    },
    inputFile: async (key) => {
      if (own.has(key) && !(await computed.get(key))) throw new TypeError(`asset ${key} was not materialized`);
      const { path } = await load(key);
      if (!path) throw new TypeError(`asset ${key} is not a file: it has no local path`);
      return path;
    },
    materialization: upstream,
    lineage: () => ({
      materializations: { ...event.materializations, ...progress.materializations },
      checks: [...event.checks, ...progress.checks],
    }),
    sql: (name) => loadSqlOf(asset, name),
    fetch: async (key, opts) => {
      const local = await ctx.store.getToFile(key, opts);
      copies.push(local);
      return local.path;
    },
  });

  /** A check runs once its asset and the assets it reads are materialized; null: one of them was not. */
  const evaluate = async (
    asset: AssetDefinition,
    c: CheckDefinition,
    actx: AssetContext,
  ): Promise<CheckResult | null> => {
    for (const d of c.deps) if (own.has(d) && !(await computed.get(d))) return null;
    let outcome: CheckOutcome;
    try {
      for (const d of c.deps) await load(d);
      if (c.sql) outcome = await sqlCheck(await actx.db(), actx.sql(c.sql));
      else if (c.run) outcome = await c.run(actx);
      else throw new TypeError(`check ${c.name} has neither sql nor run`);
    } catch (e) {
      throw assetErrorBoundary(def.stage, asset.key, e);
    }
    const r = checkResultOf(asset.key, c, outcome);
    ctx.progress?.onCheck?.({ ...r, runId: run.runId });
    return r;
  };

  const compute = async (asset: AssetDefinition, actx: AssetContext, conn: { db?: Promise<Db> }): Promise<boolean> => {
    // Upstream assets of this stage first: a failed one, or one whose blocking check failed, stops this one.
    const ups = await Promise.all(
      asset.deps.filter((d) => own.has(d)).map((d) => defined(settled.get(d), `the state of asset ${d}`)),
    );
    if (ups.some((u) => !u.ok || u.blocked)) return false;
    const t0 = performance.now();
    try {
      for (const d of asset.deps) await actx.input(d);
      const result = await asset.compute(actx);
      const m = await persist(asset, result, conn, t0);
      if (result.kind !== 'table' && result.path) ownFiles.set(asset.key, result.path);
      progress.materializations[asset.key] = m;
      ctx.progress?.onAsset?.({ stage: def.stage, asset: asset.key, materialization: m, runId: run.runId });
      return true;
    } catch (e) {
      errors.set(asset.key, assetErrorBoundary(def.stage, asset.key, e));
      return false;
    }
  };

  const check = async (asset: AssetDefinition, actx: AssetContext): Promise<Settled> => {
    if (!(await computed.get(asset.key))) return { ok: false, blocked: true };
    const m = defined(progress.materializations[asset.key], `the materialization of ${asset.key}`);
    const results: CheckResult[] = [];
    try {
      for (const c of asset.checks) {
        const r = await evaluate(asset, c, actx);
        if (r) results.push(r);
      }
    } catch (e) {
      errors.set(asset.key, e);
      return { ok: false, blocked: true };
    }
    const exp = expectationResult(
      asset.key,
      { rowCount: m.metadata.rowCount, ...(asset.figures?.(m.metadata) ?? {}) },
      run.expectations,
    );
    if (exp) {
      results.push(exp);
      ctx.progress?.onCheck?.({ ...exp, runId: run.runId });
    }
    progress.checks.push(...results);
    return { ok: true, blocked: blockingFailures(results).length > 0 };
  };

  const persist = async (
    asset: AssetDefinition,
    result: ComputeResult,
    conn: { db?: Promise<Db> },
    t0: number,
  ): Promise<Materialization> => {
    if (result.kind === 'object') {
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
      db = await (conn.db ??= scope.connect());
      metadata.rowCount ??= await db.count(asset.key);
      metadata.columns ??= await db.columns(asset.key);
    }
    const { bytes, published, ...where } = await ctx.io.persist({
      asset,
      run,
      metadata,
      workDir,
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
  };

  try {
    for (const a of ordered(def.assets)) {
      const conn: { db?: Promise<Db> } = {};
      const actx = contextFor(a, conn);
      computed.set(a.key, compute(a, actx, conn));
      settled.set(a.key, check(a, actx));
    }
    await Promise.all(settled.values());
  } finally {
    for (const c of copies) await c.release().catch(() => undefined);
    await ctx.io.closeScope(scope).catch(() => undefined);
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
  // Reported in declaration order, whichever failed first in time: the same bad month, the same error.
  for (const a of def.assets) {
    const e = errors.get(a.key);
    if (e) throw withProgress(e, progress);
  }
  progress.checks.sort((x, y) => order(def, x) - order(def, y));
  const failed = blockingFailures(progress.checks);
  if (failed.length) throw gateError(def.stage, failed, progress);

  const base = carry(event);
  Object.assign(base.materializations, progress.materializations);
  base.checks.push(...progress.checks);
  const events: { done: EventType; gate?: EventType } = STAGE_EVENTS[def.stage];
  const out: PipelineEvent[] = [
    makeEvent(
      events.done,
      { ...base, payload: (def.payload?.(base.materializations) ?? {}) as never },
      ctx.now(),
      stageEventId(run.runId, events.done),
    ),
  ];
  if (events.gate)
    out.push(makeEvent(events.gate, { ...base, payload: {} }, ctx.now(), stageEventId(run.runId, events.gate)));
  return out;
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
function withProgress(e: unknown, progress: StageProgress): unknown {
  if (!(e instanceof BottleneckError)) return e;
  return new BottleneckError(e.code, e.message, {
    cause: e.cause,
    retriable: e.retriable,
    ...(e.location ? { location: e.location } : {}),
    ...(e.asset ? { asset: e.asset } : {}),
    ...(e.stage ? { stage: e.stage } : {}),
    details: { ...e.details, checks: progress.checks, materializations: progress.materializations },
  });
}
