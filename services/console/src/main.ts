import { pino } from 'pino';
import { ASSETS, STAGE_HANDLERS } from '@bottleneck/shared/assets/graph';
import { Actions } from '@bottleneck/shared/catalog/actions';
import { errorMessage } from '@bottleneck/shared/errors/index';
import { loadConfig, redactedConfig } from '@bottleneck/shared/service/config';
import { routeProcessWarnings } from '@bottleneck/shared/service/warnings';
import { serviceAdapters, serviceSettings } from '@bottleneck/shared/wiring';
import { buildConsole } from './app.js';

/** How long an action may stay pending (its triggers not taken by Kafka) before the sweep sends it again, ms. */
const OUTBOX_GRACE_MS = 5_000;

/** The asset graph as the console shows it, with each stage's current code version (for staleness). */
export const consoleGraph = () => ({
  assets: ASSETS,
  codeVersions: Object.fromEntries(STAGE_HANDLERS.map((h) => [h.stage, h.codeVersion])),
});

/**
 * The console service: configuration validated first (no BN_CONSOLE_TOKEN: exit 78), the store
 * and the bus of the other services, the API and the page on HTTP_HOST:HTTP_PORT.
 */
async function start(): Promise<void> {
  const config = loadConfig('console', process.env);
  const log = pino(
    {
      level: config.LOG_LEVEL,
      base: { service: 'console' },
      redact: { paths: ['req.headers.authorization', 'config.BN_CONSOLE_TOKEN'], censor: '[secret]' },
    },
    pino.destination({ dest: 1, sync: true }),
  );
  routeProcessWarnings(log);
  const adapters = await serviceAdapters(serviceSettings(config, log.child({ component: 'kafka' })));
  const graph = consoleGraph();
  const actions = new Actions(adapters.store, adapters.bus, { codeVersions: graph.codeVersions });
  const app = buildConsole({
    store: adapters.store,
    graph,
    actions: async () => actions,
    token: config.BN_CONSOLE_TOKEN,
    refreshMs: config.BN_CONSOLE_REFRESH_MS,
    ...(config.BN_FILES_DUE_DAY ? { filesDueDay: config.BN_FILES_DUE_DAY } : {}),
    ...(config.BN_STATUS_TOKEN ? { statusToken: config.BN_STATUS_TOKEN } : {}),
    ...(config.BN_CONSOLE_HOSTS?.length
      ? { hosts: ['localhost', '127.0.0.1', '::1', ...config.BN_CONSOLE_HOSTS] }
      : {}),
  });
  // The outbox: actions whose triggers Kafka did not take (down, or a replica died in between) are sent again.
  const sweep = async () => {
    try {
      for (const id of await actions.outbox.sweep(OUTBOX_GRACE_MS))
        log.info({ action: id }, 'pending console action: triggers sent');
    } catch (e) {
      log.warn(
        { err: errorMessage(e) },
        'pending console actions: not sent yet (Kafka or the store?), trying again later',
      );
    }
  };
  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    void sweep().finally(() => (sweeping = false));
  }, OUTBOX_GRACE_MS / 2);
  sweeper.unref();
  const address = await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
  log.info({ address, settings: redactedConfig('console', config) }, 'console started');
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      void (async () => {
        clearInterval(sweeper);
        await app.close();
        await adapters.bus.close();
        await adapters.close?.();
        process.exit(0);
      })();
    });
  }
}

start().catch((e: unknown) => {
  const code = (e as { code?: string }).code;
  process.stderr.write(
    `${JSON.stringify({ level: 60, time: Date.now(), service: 'console', code, msg: `cannot start: ${errorMessage(e)}` })}\n`,
  );
  process.exit(code === 'BN_ERR_CONFIG_INVALID' ? 78 : 1);
});
