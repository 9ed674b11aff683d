import type { EventType } from '../events/index.js';

/** The six stages: five that materialize assets, and the alerter. */
export const STAGE_NAMES = ['ingest', 'clean', 'merge', 'analytics', 'publisher', 'alerter'] as const;
export type Stage = (typeof STAGE_NAMES)[number];

/**
 * Every asset key, with the stage that materializes it: how the graph is cut into services. The
 * definitions themselves (dependencies, checks, compute) live next to their SQL in
 * `services/<stage>/src/assets/<key>.ts`; `AssetKey` makes a misspelt dependency a compile error.
 */
export const ASSET_STAGE = {
  raw_erp: 'ingest',
  raw_web: 'ingest',
  raw_liaison: 'ingest',
  erp_clean: 'clean',
  web_clean: 'clean',
  liaison_clean: 'clean',
  merged_with_revenue: 'merge',
  revenue_per_product: 'analytics',
  wine_price_zscores: 'analytics',
  premium_wines: 'analytics',
  ordinary_wines: 'analytics',
  revenue_report: 'analytics',
  extracts: 'publisher',
} as const satisfies Record<string, Stage>;

export type AssetKey = keyof typeof ASSET_STAGE;
export const ASSET_KEYS = Object.keys(ASSET_STAGE) as AssetKey[];

export function isAssetKey(k: string): k is AssetKey {
  return Object.hasOwn(ASSET_STAGE, k);
}

/**
 * What each asset stage emits when its assets are materialized (`done`) and, for a stage with a
 * quality gate, when every blocking check passed (`gate`: downstream stages start on it). A stage
 * consumes the last event of the stage that owns its upstream assets; ingest consumes `trigger`
 * and the alerter `failed`.
 */
export const STAGE_EVENTS = {
  ingest: { done: 'file-arrived' },
  clean: { done: 'cleaned', gate: 'validated' },
  merge: { done: 'merged' },
  analytics: { done: 'analysed' },
  publisher: { done: 'published' },
} as const satisfies Record<Exclude<Stage, 'alerter'>, { done: EventType; gate?: EventType }>;

export type AssetStage = keyof typeof STAGE_EVENTS;

/** The event a stage hands over on: downstream stages start when it is published. */
export function handOverEvent(stage: AssetStage): EventType {
  const e: { done: EventType; gate?: EventType } = STAGE_EVENTS[stage];
  return e.gate ?? e.done;
}

/**
 * The event a stage consumes, derived from where its upstream assets are materialized: the
 * hand-over event of the last upstream stage in pipeline order (each event carries every
 * materialization of the run so far), `trigger` for a stage without upstream assets.
 */
export function consumedEvents(stage: Stage, deps: readonly AssetKey[]): EventType[] {
  if (stage === 'alerter') return ['failed'];
  const upstream = deps.map((d) => ASSET_STAGE[d]).filter((s): s is AssetStage => s !== stage);
  if (upstream.length === 0) return ['trigger'];
  const last = upstream.reduce((a, b) => (STAGE_NAMES.indexOf(b) > STAGE_NAMES.indexOf(a) ? b : a));
  if (STAGE_NAMES.indexOf(last) >= STAGE_NAMES.indexOf(stage))
    throw new TypeError(`stage ${stage} reads assets of stage ${last}, which runs after it`);
  return [handOverEvent(last)];
}
