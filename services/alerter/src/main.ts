import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { alerterStage } from './stage.js';

main({ stage: 'alerter', handler: alerterStage, version: packageVersion(import.meta.url) });
