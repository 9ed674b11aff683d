import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { assetStageHandler } from '@bottleneck/shared/stage/handler';
import { mergeStage } from './index.js';

main({ stage: 'merge', handler: assetStageHandler(mergeStage), version: packageVersion(import.meta.url) });
