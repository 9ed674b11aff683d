import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { startAlerter } from './sender.js';
import { alerterStage } from './stage.js';

main({ stage: 'alerter', handler: alerterStage, version: packageVersion(import.meta.url), extra: startAlerter });
