import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { mergeStage } from './stage.js';

main({ stage: 'merge', handler: mergeStage, version: packageVersion(import.meta.url) });
