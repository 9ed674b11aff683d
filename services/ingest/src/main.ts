import { main } from '@bottleneck/shared/service/run';
import { packageVersion } from '@bottleneck/shared/service/version';
import { ingestStage } from './stage.js';
import { startWatcher } from './watcher.js';

main({ stage: 'ingest', handler: ingestStage, version: packageVersion(import.meta.url), extra: startWatcher });
