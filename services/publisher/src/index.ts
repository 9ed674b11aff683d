import { defined, type Materialization } from '@bottleneck/shared';
import { defineStage } from '@bottleneck/shared/assets/define';
import { extracts } from './assets/extracts.js';

export { acquirePublishLock, STALE_LOCK_MS } from './lock.js';
export type { Manifest } from './assets/extracts.js';
export { KEEP_PUBLISHED_RUNS } from './assets/extracts.js';

/** publisher: publishes the run's outputs (and owns the monthly schedule, see scheduler.ts). */
export const publisherStage = defineStage({
  stage: 'publisher',
  assets: [extracts],
  payload: (m: Record<string, Materialization>) => {
    const { location, metadata } = defined(m.extracts, 'the extracts materialization');
    return { manifestKey: location, pointerKey: metadata.pointer, files: metadata.files };
  },
});
