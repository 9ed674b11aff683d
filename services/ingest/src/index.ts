import { defined, INPUT_NAMES, type Materialization } from '@bottleneck/shared';
import { defineStage } from '@bottleneck/shared/assets/define';
import { rawErp, rawLiaison, rawWeb } from './assets/raw.js';

/** ingest: the month's three exports, observed and checked (the watcher that starts runs is in watcher.ts). */
export const ingestStage = defineStage({
  stage: 'ingest',
  assets: [rawErp, rawWeb, rawLiaison],
  payload: (m: Record<string, Materialization>) => ({
    files: Object.fromEntries(
      INPUT_NAMES.map((n) => {
        const r = defined(m[`raw_${n}`], `raw_${n}`);
        return [n, { key: r.location, sha256: r.dataVersion, bytes: r.metadata.bytes ?? 0 }];
      }),
    ),
  }),
});
