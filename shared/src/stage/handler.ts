import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StageDefinition } from '../assets/define.js';
import { STAGE_NAMES, consumedEvents, handOverEvent } from '../assets/keys.js';
import { runStage } from './assets-runner.js';
import type { StageHandler } from './context.js';

/**
 * A stage's assets as a bus handler: it consumes the hand-over event of the stages that own its
 * upstream assets (derived from the graph) and runs them with the one stage runner.
 */
export function assetStageHandler(def: StageDefinition): StageHandler {
  const deps = def.assets.flatMap((a) => [...a.deps, ...a.checks.flatMap((c) => c.deps)]);
  // A publishing sink not resolved by the graph (a service's own definition) reads what the stage before it hands over.
  const before = STAGE_NAMES[STAGE_NAMES.indexOf(def.stage) - 1];
  const consumes =
    deps.length === 0 && def.assets.some((a) => a.inputs === 'published') && before && before !== 'alerter'
      ? [handOverEvent(before)]
      : consumedEvents(def.stage, deps);
  return {
    stage: def.stage,
    consumes,
    codeVersion: stageCodeVersion(def),
    handle: (event, ctx) => runStage(def, event, ctx),
  };
}

const versions = new WeakMap<StageDefinition, string>();

/**
 * A hash of what a stage runs: each asset's declaration (key, dependencies, kind, files, checks)
 * and every .sql file beside it. The same code gives the same version in every process; a run
 * record carries it, and the console shows a set made by other code as stale.
 */
export function stageCodeVersion(def: StageDefinition): string {
  let v = versions.get(def);
  if (v) return v;
  const h = createHash('sha256');
  const dirs = new Set<string>();
  for (const a of def.assets) {
    h.update(
      JSON.stringify({
        key: a.key,
        // The same version whether the graph resolved a publishing sink's inputs or not.
        deps: a.inputs ?? a.deps,
        kind: a.kind,
        file: a.file,
        publishAs: a.publishAs,
        publishSql: a.publishSql,
        checks: a.checks.map((c) => [c.name, c.severity, c.blocking, c.deps, c.sql]),
      }),
    );
    dirs.add(fileURLToPath(a.sqlDir));
  }
  for (const dir of [...dirs].sort()) {
    for (const f of readdirSync(dir)
      .filter((n) => n.endsWith('.sql'))
      .sort())
      h.update(f).update(readFileSync(`${dir}/${f}`));
  }
  v = h.digest('hex').slice(0, 16);
  versions.set(def, v);
  return v;
}
