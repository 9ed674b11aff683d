import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { cleanStage } from './stage.js';

main({ stage: 'clean', handler: cleanStage, version: packageVersion(import.meta.url) });
