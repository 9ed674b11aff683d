import { ASSET_STAGE, type AssetKey } from '../assets/keys.js';
import { createError } from '../errors/index.js';
import type { Materialization, PipelineEvent } from '../events/index.js';
import { layout } from '../keys.js';

/**
 * Refuses an upstream materialization that is not this run's: a hand-made or replayed event whose
 * locations point at another month or run (it would publish another month's figures). A dropped
 * file is under incoming/<partition>/, anything a stage made under staging/<partition>/<run-id>/.
 */
export function checkProvenance(event: PipelineEvent, key: AssetKey, m: Materialization): void {
  const source = ASSET_STAGE[key] === 'ingest';
  const prefix = source ? layout.incomingPrefix(event.partition) : layout.staging(event.partition, event.runId, '');
  // A re-execution from a failed stage reuses its parent run's upstream assets (same month only).
  const parent = !source && event.parentRunId ? layout.staging(event.partition, event.parentRunId, '') : null;
  const inside = m.location.startsWith(prefix) || (parent !== null && m.location.startsWith(parent));
  if (!inside || m.location.split('/').some((s) => s === '..' || s === '.')) {
    throw createError(
      'BN_ERR_EVENT_INVALID',
      `the ${event.type} event of run ${event.runId} (${event.partition}) names ${key} at ${m.location}, outside ${prefix}: refused (an event may only carry its own run's assets)`,
      { asset: key },
    );
  }
}

/**
 * Refuses an event before a stage records anything of it: every materialization it carries must be
 * its own run's (or its parent's, for a re-execution) and its own month's. A refused event is no
 * run: it goes to the dead-letter path (BN_ERR_EVENT_INVALID), and the alerter records it under
 * refused/ and alerts it in an hourly group.
 */
export function admitEvent(event: PipelineEvent): void {
  if (event.type === 'trigger') return;
  for (const [key, m] of Object.entries(event.materializations)) checkProvenance(event, key as AssetKey, m);
}
