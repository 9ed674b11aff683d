import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { assetStageHandler } from '@bottleneck/shared/stage/handler';
import { analyticsStage } from './index.js';

main({ stage: 'analytics', handler: assetStageHandler(analyticsStage), version: packageVersion(import.meta.url) });
