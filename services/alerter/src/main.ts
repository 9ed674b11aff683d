import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { startDeadLetterConsumer } from './dead-letters.js';
import { alerterStage } from './stage.js';

main({ stage: 'alerter', handler: alerterStage, version: packageVersion(import.meta.url), extra: startDeadLetterConsumer });
