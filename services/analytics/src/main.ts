import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { analyticsStage } from './stage.js';

main({ stage: 'analytics', handler: analyticsStage, version: packageVersion(import.meta.url) });
