import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { assetStageHandler } from '@bottleneck/shared/stage/handler';
import { publisherStage } from './index.js';
import { startScheduler } from './scheduler.js';

main({
  stage: 'publisher',
  handler: assetStageHandler(publisherStage),
  version: packageVersion(import.meta.url),
  extra: (rt) => startScheduler(rt),
});
