import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { publisherStage } from './stage.js';
import { startScheduler } from './scheduler.js';

main({ stage: 'publisher', handler: publisherStage, version: packageVersion(import.meta.url), extra: (rt) => startScheduler(rt) });
