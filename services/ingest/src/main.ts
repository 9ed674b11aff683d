import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { assetStageHandler } from '@bottleneck/shared/stage/handler';
import { ingestStage } from './index.js';
import { startWatcher } from './watcher.js';

main({
  stage: 'ingest',
  handler: assetStageHandler(ingestStage),
  version: packageVersion(import.meta.url),
  extra: startWatcher,
});
