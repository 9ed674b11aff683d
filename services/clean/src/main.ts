import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { assetStageHandler } from '@bottleneck/shared/stage/handler';
import { cleanStage } from './index.js';

main({ stage: 'clean', handler: assetStageHandler(cleanStage), version: packageVersion(import.meta.url) });
