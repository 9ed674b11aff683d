import type { StageDefinition } from '../assets/define.js';
import { consumedEvents } from '../assets/keys.js';
import { runStage } from './assets-runner.js';
import type { StageHandler } from './context.js';

/**
 * A stage's assets as a bus handler: it consumes the hand-over event of the stages that own its
 * upstream assets (derived from the graph) and runs them with the one stage runner.
 */
export function assetStageHandler(def: StageDefinition): StageHandler {
  const deps = def.assets.flatMap((a) => [...a.deps, ...a.checks.flatMap((c) => c.deps)]);
  const consumes = consumedEvents(def.stage, deps);
  return { stage: def.stage, consumes, handle: (event, ctx) => runStage(def, event, ctx) };
}
