import type { Db } from '../duck/index.js';
import type { CellLocation, ErrorCode } from '../errors/index.js';
import type { CheckResult, Expectations, Materialization } from '../events/index.js';
import type { ReadLimits } from '../excel/read.js';
import type { GetOptions, ObjectStore } from '../ports/object-store.js';
import type { Logger } from '../stage/context.js';
import type { TaskRunner } from '../workers/pool.js';
import type { ReadOnce } from '../stage/read-once.js';
import { EXPECTATION_CHECK } from '../stage/checks.js';
import type { CheckSettings } from './settings.js';
import { ASSET_STAGE, type AssetKey, type AssetStage, type Stage } from './keys.js';

export type { AssetKey, Stage } from './keys.js';

/**
 * Declares a check (Dagster's AssetCheckSpec). `blocking` is its own field: by default an ERROR
 * check blocks and a WARN check does not, and an ERROR check may say `blocking: false` (reported
 * as an error, nothing stopped). A failed blocking ERROR check stops everything downstream of its asset.
 */
export interface AssetCheckSpec<N extends string = string> {
  name: N;
  description: string;
  severity: 'ERROR' | 'WARN';
  blocking: boolean;
}

/** What evaluating a check gives (Dagster's AssetCheckResult, without the spec). A failed check is a result, never a throw. */
export interface CheckOutcome {
  passed: boolean;
  metadata?: Record<string, unknown>;
  /** What was found, in words (failed checks); `found` of the definition writes it otherwise. */
  message?: string;
  /** For a check that stands for an input error (ingest's vital check): the error code and cell it names. */
  error?: { code: ErrorCode; location?: CellLocation };
}

/** A check with what evaluates it: a `.sql` file next to the asset, or a function. */
export interface CheckDefinition<N extends string = string> extends AssetCheckSpec<N> {
  /** Other assets the check reads (a cross-asset check): it runs once they are materialized too. */
  deps: readonly AssetKey[];
  /**
   * A `.sql` file (name without extension, in the asset's folder) returning one row: a boolean
   * `passed` column, every other column becomes metadata (snake_case names in camelCase).
   */
  sql?: string;
  run?: (ctx: AssetContext) => Promise<CheckOutcome> | CheckOutcome;
  /** For a failed check: what was found, from its metadata ("2 products have a negative price: 5017, 6594"). */
  found?: (metadata: Record<string, unknown>) => string;
}

/** Metadata an asset records with its materialization (Dagster's MaterializeResult metadata). */
export interface AssetMetadata {
  rowCount?: number;
  columns?: { name: string; type: string }[];
  /** Set by the runner for a published asset: the name under extracts/ and the staged object to copy there. */
  publish?: { as: string; location: string };
  [k: string]: unknown;
}

/**
 * What computing an asset gives, by kind:
 * - `table`: the asset is the DuckDB table named by its key, created by `compute`; the runner
 *   records its rows and columns and persists it (Parquet in the store, or kept in memory);
 * - `file`: a local file (a CSV, a workbook) the runner stores under the asset's file name;
 * - `source` and `sink`: the asset observed or wrote its object itself and returns its materialization.
 */
export type ComputeResult =
  | { kind: 'table'; metadata?: AssetMetadata }
  | { kind: 'file'; path: string; metadata?: AssetMetadata }
  | { kind: 'object'; materialization: Materialization; path?: string };

/** A run's identity, as a stage sees it. */
export interface RunInfo {
  runId: string;
  partition: string;
  /** When the run started (its trigger's time, ISO 8601). */
  startedAt: string;
  expectations?: Expectations;
  /** The versions (ETags) of the input objects the run's trigger pinned, by object key. */
  pins?: Readonly<Record<string, string>>;
}

/** An upstream asset as the computation gets it: its materialization, and a local copy when it is a file. */
export interface LoadedInput {
  materialization: Materialization;
  /** A local file of the object (files and sources); tables are views in the stage's DuckDB schema instead. */
  path?: string;
}

/** What an asset's compute and checks may use. */
export interface AssetContext {
  readonly run: RunInfo;
  readonly asset: AssetDefinition;
  /** A DuckDB connection in this stage run's schema: upstream tables are there by their keys. */
  db(): Promise<Db>;
  /** An upstream asset (a dependency of this asset or check). */
  input(key: AssetKey): Promise<LoadedInput>;
  /** The local file of an upstream file asset or source (an error for a table). */
  inputFile(key: AssetKey): Promise<string>;
  /** The materialization of an upstream asset or of an asset computed earlier in this stage. */
  materialization(key: AssetKey): Materialization;
  /** Everything the run recorded so far: the event's materializations and checks, and this stage's. */
  lineage(): { materializations: Readonly<Record<string, Materialization>>; checks: readonly CheckResult[] };
  /** A local copy of an object of the store, removed when the stage run ends (the folder store gives the file itself). */
  fetch(key: string, opts?: GetOptions): Promise<string>;
  /** The text of a `.sql` file of this asset's folder (name without extension). */
  sql(name: string): string;
  /** A private scratch folder for this stage run. */
  readonly workDir: string;
  readonly store: ObjectStore;
  readonly tasks: TaskRunner;
  readonly limits: ReadLimits;
  readonly log: Logger;
  /** Thresholds of the checks that read settings (month over month). */
  readonly settings: CheckSettings;
  now(): Date;
  /** In-process runs only: each workbook parsed once, by ingest's vital check, its rows taken by clean. */
  readonly readOnce?: ReadOnce;
}

/** Figures an asset contributes to an expectations file's checks (`bottleneck run --expect`). */
export type ExpectedFigures = Partial<{ totalRevenue: string; premium: number; ordinary: number }>;

/**
 * An asset: its declaration (Dagster's AssetSpec) and the code that materializes and checks it.
 * `K` is its key and `N` the names of its checks, so `checkKey(asset, 'name')` of a check the
 * asset does not declare does not compile.
 */
export interface AssetDefinition<K extends AssetKey = AssetKey, N extends string = string> {
  key: K;
  stage: AssetStage;
  deps: readonly AssetKey[];
  description: string;
  kind: 'table' | 'file' | 'source' | 'sink';
  /** Object name of its materialization under staging/<partition>/<run-id>/ (tables: `<key>.parquet`). */
  file: string;
  /** Name under extracts/<partition>/ when published; a table is published as the CSV its `publishSql` selects. */
  publishAs?: string;
  publishSql?: string;
  checks: readonly CheckDefinition<N>[];
  /**
   * For a sink that takes every published asset (the publisher's `extracts`): its inputs are the
   * assets that declare `publishAs`, found in the graph (`resolvePublishedInputs`), not a list kept by hand.
   */
  inputs?: 'published';
  /** Folder of its `.sql` files. */
  sqlDir: URL;
  compute: (ctx: AssetContext) => Promise<ComputeResult>;
  /** Figures of this asset that an expectations file may give (its row count is always compared). */
  figures?: (metadata: AssetMetadata) => ExpectedFigures;
}

export interface DefineAssetOptions<K extends AssetKey = AssetKey, N extends string = string> {
  key: K;
  /** Its upstream assets; `'published'`: every asset of the graph that declares `publishAs` (a publishing sink). */
  deps?: readonly AssetKey[] | 'published';
  description: string;
  kind: AssetDefinition['kind'];
  file?: string;
  publishAs?: string;
  publishSql?: string;
  checks?: readonly CheckDefinition<N>[];
  /** `import.meta.url` of the defining module: its `.sql` files sit beside it. */
  module: string;
  compute: (ctx: AssetContext) => Promise<ComputeResult>;
  figures?: (metadata: AssetMetadata) => ExpectedFigures;
}

/**
 * Defines an asset next to its SQL. The stage comes from `ASSET_STAGE`; a table's file is
 * `<key>.parquet` unless given.
 *
 * @example
 * export const erpClean = defineAsset({
 *   key: 'erp_clean', deps: ['raw_erp'], kind: 'table', module: import.meta.url,
 *   description: 'ERP rows with a product_id, exact duplicates dropped',
 *   checks: [errorCheck('product_id_unique', 'no product_id twice', { sql: 'check_erp_clean_product_id_unique' })],
 *   async compute(ctx) { const db = await ctx.db(); await db.run(ctx.sql('create_erp_clean')); return { kind: 'table' }; },
 * });
 */
export function defineAsset<const K extends AssetKey, const N extends string = never>(
  o: DefineAssetOptions<K, N>,
): AssetDefinition<K, N> {
  // Checked at run time too: a definition can come from JavaScript.
  const stage = (ASSET_STAGE as Partial<Record<string, AssetStage>>)[o.key];
  if (stage === undefined) throw new TypeError(`defineAsset: unknown asset key ${o.key}`);
  const file = o.file ?? (o.kind === 'table' ? `${o.key}.parquet` : undefined);
  if (!file) throw new TypeError(`defineAsset: asset ${o.key} of kind ${o.kind} needs a file name`);
  const names = (o.checks ?? []).map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new TypeError(`defineAsset: asset ${o.key} declares check ${twice} twice`);
  const published = o.deps === 'published';
  if (published && o.kind !== 'sink')
    throw new TypeError(`defineAsset: asset ${o.key} takes the published assets but is a ${o.kind}, not a sink`);
  return {
    key: o.key,
    stage,
    // A publishing sink's inputs are filled in from the graph (resolvePublishedInputs).
    deps: o.deps === 'published' ? [] : (o.deps ?? []),
    ...(published ? { inputs: 'published' as const } : {}),
    description: o.description,
    kind: o.kind,
    file,
    ...(o.publishAs ? { publishAs: o.publishAs } : {}),
    ...(o.publishSql ? { publishSql: o.publishSql } : {}),
    checks: o.checks ?? [],
    sqlDir: new URL('.', o.module),
    compute: o.compute,
    ...(o.figures ? { figures: o.figures } : {}),
  };
}

type CheckImpl = Pick<CheckDefinition, 'sql' | 'run' | 'found'> & { deps?: readonly AssetKey[] };

function check<N extends string>(
  name: N,
  description: string,
  severity: 'ERROR' | 'WARN',
  blocking: boolean,
  impl: CheckImpl,
): CheckDefinition<N> {
  if (!impl.sql === !impl.run) throw new TypeError(`check ${name}: give exactly one of sql and run`);
  const { sql, run, found, deps } = impl;
  return {
    name,
    description,
    severity,
    blocking,
    deps: deps ?? [],
    ...(sql ? { sql } : {}),
    ...(run ? { run } : {}),
    ...(found ? { found } : {}),
  };
}

/**
 * An ERROR check, blocking unless it says `blocking: false`: when a blocking one fails, nothing
 * downstream of its asset runs; a non-blocking one is reported as an error and stops nothing.
 */
export function errorCheck<const N extends string>(
  name: N,
  description: string,
  impl: CheckImpl & { blocking?: boolean },
): CheckDefinition<N> {
  return check(name, description, 'ERROR', impl.blocking ?? true, impl);
}

/** A WARN check: reported (CLI, events, manifest), never blocking (a warning stops nothing). */
export function warnCheck<const N extends string>(name: N, description: string, impl: CheckImpl): CheckDefinition<N> {
  return check(name, description, 'WARN', false, impl);
}

/** The names of an asset's checks, and the expectations check every asset may get. */
export type CheckNameOf<A> = A extends AssetDefinition<AssetKey, infer N> ? N | typeof EXPECTATION_CHECK.name : never;

/** A check's key, `<asset>.<check>`, as events, manifests and the console name it. */
export type CheckKeyOf<A extends AssetDefinition> = `${A['key']}.${CheckNameOf<A>}`;

/**
 * The key of a check the asset declares: a misspelt or undeclared check does not compile.
 *
 * @example
 * checkKey(erpClean, 'product_id_unique') // 'erp_clean.product_id_unique'
 */
export function checkKey<A extends AssetDefinition>(asset: A, name: CheckNameOf<A>): CheckKeyOf<A> {
  return `${asset.key}.${declaredCheck(asset, name).name}` as CheckKeyOf<A>;
}

/**
 * The declaration of a check of `asset` by name (the expectations check included); a name the
 * asset does not declare is refused (Dagster's `resolve_target_check_key`): no result for an
 * undeclared check reaches an event.
 */
export function declaredCheck(asset: Pick<AssetDefinition, 'key' | 'checks'>, name: string): AssetCheckSpec {
  if (name === EXPECTATION_CHECK.name) return EXPECTATION_CHECK;
  const c = asset.checks.find((x) => x.name === name);
  if (!c)
    throw new TypeError(
      `asset ${asset.key} declares no check ${name} (it declares ${asset.checks.map((x) => x.name).join(', ') || 'none'}): a result for an undeclared check is refused`,
    );
  return c;
}

/**
 * The graph with every publishing sink's inputs filled in: the assets of earlier stages that
 * declare `publishAs`, in pipeline order. What the publisher copies comes from the assets'
 * declarations; adding `publishAs` to an asset is all it takes to publish it.
 */
export function resolvePublishedInputs(stages: readonly StageDefinition[]): StageDefinition[] {
  const published = stages.flatMap((s) => s.assets.filter((a) => a.publishAs !== undefined));
  return stages.map((s) => {
    if (!s.assets.some((a) => a.inputs === 'published')) return s;
    const before = published.filter((p) => p.stage !== s.stage).map((p) => p.key);
    if (before.length === 0)
      throw new TypeError(`stage ${s.stage} publishes, but no asset before it declares publishAs`);
    return {
      ...s,
      assets: s.assets.map((a) => (a.inputs === 'published' ? { ...a, deps: [...a.deps, ...before] } : a)),
    };
  });
}

/** The assets a stage materializes, and what its service or the embedded runner needs to run it. */
export interface StageDefinition {
  stage: AssetStage;
  assets: readonly AssetDefinition[];
  /** The payload of the stage's `done` event, from the run's materializations (default: empty). */
  payload?(materializations: Record<string, Materialization>): Record<string, unknown>;
}

/** Groups a stage's assets; every asset must belong to the stage. */
export function defineStage(s: StageDefinition): StageDefinition {
  for (const a of s.assets)
    if (a.stage !== s.stage) throw new TypeError(`defineStage(${s.stage}): asset ${a.key} belongs to stage ${a.stage}`);
  return s;
}

/** Stages are named in the ASSET_STAGE table; this re-export keeps the vocabulary in one import. */
export type { AssetStage };
export const stageOf = (key: AssetKey): Stage => ASSET_STAGE[key];
