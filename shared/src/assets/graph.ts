/**
 * The asset graph: the typed list of every asset definition, each declared once next to its SQL in
 * `services/<stage>/src/assets/`. The services' subscriptions, the embedded runner, the Mermaid
 * diagram, the README's tables and the status pages are derived from this list.
 *
 * This module sits above the services in the build (tsconfig.graph.json): the services import the
 * rest of shared/, never this file, so nothing here can form a cycle.
 */
import { alerterStage } from '@bottleneck/alerter';
import { analyticsStage } from '@bottleneck/analytics';
import { cleanStage } from '@bottleneck/clean';
import { ingestStage } from '@bottleneck/ingest';
import { mergeStage } from '@bottleneck/merge';
import { publisherStage } from '@bottleneck/publisher';
import {
  declaredCheck,
  resolvePublishedInputs,
  type AssetCheckSpec,
  type AssetDefinition,
  type StageDefinition,
} from './define.js';
import {
  ASSET_KEYS,
  STAGE_EVENTS,
  STAGE_NAMES,
  consumedEvents,
  handOverEvent,
  isAssetKey,
  type AssetKey,
  type Stage,
} from './keys.js';
import type { EventType } from '../events/index.js';
import type { StageHandler } from '../stage/context.js';
import { EXPECTATION_CHECK } from '../stage/checks.js';
import { assetStageHandler } from '../stage/handler.js';

/**
 * The five asset stages, in pipeline order, with the publisher's inputs filled in from the
 * assets that declare `publishAs` (resolvePublishedInputs).
 */
export const STAGE_DEFINITIONS: readonly StageDefinition[] = resolvePublishedInputs([
  ingestStage,
  cleanStage,
  mergeStage,
  analyticsStage,
  publisherStage,
]);

/** Every asset, in pipeline order. */
export const ASSETS: readonly AssetDefinition[] = STAGE_DEFINITIONS.flatMap((s) => s.assets);

/** The six stages as bus handlers: the five asset stages run by the one stage runner, and the alerter. */
export const STAGE_HANDLERS: readonly StageHandler[] = [...STAGE_DEFINITIONS.map(assetStageHandler), alerterStage];

/** What each stage consumes and emits, derived from the definitions: the services' subscriptions. */
export const STAGES: readonly { stage: Stage; consumes: readonly EventType[]; emits: readonly EventType[] }[] =
  STAGE_NAMES.map((stage) => {
    const handler = STAGE_HANDLERS.find((h) => h.stage === stage);
    if (!handler) throw new TypeError(`the graph has no handler for stage ${stage}`);
    const emits: EventType[] =
      stage === 'alerter' ? [] : [...new Set([STAGE_EVENTS[stage].done, handOverEvent(stage)])];
    return { stage, consumes: handler.consumes, emits };
  });

const byKey = new Map<AssetKey, AssetDefinition>(ASSETS.map((a) => [a.key, a]));

export function assetDefinition(key: AssetKey): AssetDefinition {
  const a = byKey.get(key);
  if (!a) throw new Error(`unknown asset ${key}`);
  return a;
}

export function assetsOfStage(stage: Stage): AssetDefinition[] {
  return ASSETS.filter((a) => a.stage === stage);
}

/** The declaration of a check (its spec), wherever it is: an asset's check or the expectations check. */
export function checkSpec(asset: AssetKey, check: string): AssetCheckSpec {
  if (check === EXPECTATION_CHECK.name) return EXPECTATION_CHECK;
  const spec = byKey.get(asset)?.checks.find((c) => c.name === check);
  if (!spec) throw new Error(`unknown check ${asset}.${check}`);
  return { name: spec.name, description: spec.description, severity: spec.severity, blocking: spec.blocking };
}

/** The check's declaration for a result an event carries: a result for a check its asset does not declare is refused. */
export function resolveCheckResult(r: { asset: string; check: string }): AssetCheckSpec {
  const asset = isAssetKey(r.asset) ? byKey.get(r.asset) : undefined;
  if (!asset) throw new TypeError(`a check result names asset ${r.asset}, which the graph does not declare: refused`);
  return declaredCheck(asset, r.check);
}

/** The asset keys the definitions declare, and the ones ASSET_STAGE names: the same set (a test keeps them so). */
export function declaredKeys(): { defined: AssetKey[]; named: AssetKey[] } {
  return { defined: ASSETS.map((a) => a.key), named: ASSET_KEYS };
}

/** Assets in an order where every asset comes after its upstream assets (and declared order otherwise). */
export function topologicalOrder<A extends { key: string; deps: readonly string[] }>(assets: readonly A[]): A[] {
  const index = new Map(assets.map((a) => [a.key, a]));
  const done = new Set<string>();
  const out: A[] = [];
  const visit = (a: A, path: string[]) => {
    if (done.has(a.key)) return;
    if (path.includes(a.key)) throw new Error(`cycle in the asset graph: ${[...path, a.key].join(' -> ')}`);
    for (const d of a.deps) {
      const up = index.get(d);
      if (!up) throw new Error(`unknown asset ${d}`);
      visit(up, [...path, a.key]);
    }
    done.add(a.key);
    out.push(a);
  };
  for (const a of assets) visit(a, []);
  return out;
}

/** The graph as a Mermaid flowchart, one subgraph per stage. */
export function toMermaid(assets: readonly Pick<AssetDefinition, 'key' | 'stage' | 'deps'>[] = ASSETS): string {
  const lines = ['flowchart LR'];
  for (const stage of STAGE_NAMES) {
    const own = assets.filter((a) => a.stage === stage);
    if (!own.length) continue;
    lines.push(`  subgraph ${stage}`);
    for (const a of own) lines.push(`    ${a.key}[${a.key}]`);
    lines.push('  end');
  }
  for (const a of assets) for (const d of a.deps) lines.push(`  ${d} --> ${a.key}`);
  return lines.join('\n') + '\n';
}

export { consumedEvents };
