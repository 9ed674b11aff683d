import type { FastifyInstance } from 'fastify';
import { ASSETS, STAGE_HANDLERS } from '@bottleneck/shared/assets/graph';
import { Actions } from '@bottleneck/shared/catalog/actions';
import { Catalog } from '@bottleneck/shared/catalog/index';
import type { Logger } from '@bottleneck/shared/stage/context';
import { createContext, embeddedAdapters, subscribeStages, type EmbeddedAdapters } from '@bottleneck/shared/wiring';

/**
 * The console over a folder store (what `bottleneck run` writes, the bucket's layout): the same
 * catalog, API and page as the console service; actions run the stages in this process, on the
 * in-memory bus, started on the first action.
 */
export const graphSpec = () => ({
  assets: ASSETS,
  codeVersions: Object.fromEntries(STAGE_HANDLERS.map((h) => [h.stage, h.codeVersion])),
});

/** The six stages over the folder store `out`, subscribed to an in-memory bus: what the embedded actions publish to. */
export class EmbeddedEngine {
  readonly adapters: EmbeddedAdapters;
  private started: Promise<Actions> | null = null;
  private closeContext: (() => Promise<void>) | null = null;

  constructor(
    out: string,
    private readonly log?: Logger,
  ) {
    this.adapters = embeddedAdapters(out);
  }

  get catalog(): Catalog {
    return new Catalog(this.adapters.store, graphSpec());
  }

  /** The actions, with the stages subscribed (once). */
  actions(): Promise<Actions> {
    this.started ??= (async () => {
      const { ctx, close } = await createContext(this.adapters, {
        ...(this.log ? { log: this.log } : {}),
        alert: {
          to: ['data-team@bottleneck.example'],
          from: 'pipeline@bottleneck.example',
          pipelineName: 'BottleNeck pipeline',
        },
      });
      this.closeContext = close;
      await subscribeStages(this.adapters.bus, STAGE_HANDLERS, ctx);
      return new Actions(this.adapters.store, this.adapters.bus);
    })();
    return this.started;
  }

  /** Resolves when every event published so far has been handled. */
  idle(): Promise<void> {
    return this.adapters.bus.idle();
  }

  async close(): Promise<void> {
    await this.adapters.bus.close();
    await this.closeContext?.();
  }
}

/** The console app over a folder store; close() stops the stages too. */
export async function embeddedConsole(
  out: string,
  o: { token?: string; refreshMs?: number; log?: Logger } = {},
): Promise<{ app: FastifyInstance; engine: EmbeddedEngine }> {
  const { buildConsole } = await import('@bottleneck/console/app');
  const engine = new EmbeddedEngine(out, o.log);
  const app = buildConsole({
    store: engine.adapters.store,
    graph: graphSpec(),
    actions: () => engine.actions(),
    ...(o.token ? { token: o.token } : {}),
    refreshMs: o.refreshMs ?? 500,
  });
  app.addHook('onClose', async () => {
    await engine.close();
  });
  return { app, engine };
}
