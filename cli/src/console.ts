import type { FastifyInstance } from 'fastify';
import type { CheckSettings } from '@bottleneck/shared/assets/settings';
import { ASSETS, STAGE_HANDLERS } from '@bottleneck/shared/assets/graph';
import { createHash } from 'node:crypto';
import { ActionRefused, Actions } from '@bottleneck/shared/catalog/actions';
import { dismissedMonths, readDismissals } from '@bottleneck/shared/catalog/dismissed';
import { Catalog } from '@bottleneck/shared/catalog/index';
import { errorMessage } from '@bottleneck/shared/errors/index';
import { INPUT_NAMES, parseIncomingKey } from '@bottleneck/shared/keys';
import { recordUnrecognised, unrecognisedReason } from '@bottleneck/shared/uploads';
import { writeWatcherState, type Became } from '@bottleneck/shared/catalog/sensors';
import type { ObjectInfo } from '@bottleneck/shared/ports/object-store';
import { silentLogger, type Logger } from '@bottleneck/shared/stage/context';
import { createContext, embeddedAdapters, subscribeStages, type EmbeddedAdapters } from '@bottleneck/shared/wiring';
import { recordDeadLetters } from '@bottleneck/alerter/embedded';
import { sessionName } from './embedded.js';

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
    /** The console's address (BN_CONSOLE_URL): alert mails link to the failed run. */
    private readonly o: { consoleUrl?: string; settings?: CheckSettings } = {},
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
        ...(this.o.settings ? { settings: this.o.settings } : {}),
        alert: {
          to: ['data-team@bottleneck.example'],
          from: 'pipeline@bottleneck.example',
          pipelineName: 'BottleNeck pipeline',
          ...(this.o.consoleUrl ? { consoleUrl: this.o.consoleUrl } : {}),
        },
      });
      this.closeContext = close;
      await subscribeStages(this.adapters.bus, STAGE_HANDLERS, ctx);
      // Dead letters recorded as the services' alerter does (refused events under refused/).
      await recordDeadLetters(this.adapters.bus, ctx, sessionName(new Date()));
      return new Actions(this.adapters.store, this.adapters.bus, { codeVersions: graphSpec().codeVersions });
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

export interface WatchOptions {
  /** How often incoming/ is listed, ms. */
  intervalMs?: number;
  /** A month's files must be unchanged this long before it runs (files dropped together give one run), ms. */
  settleMs?: number;
  /** BN_FILES_DUE_DAY: late months are alerted once each (a mail in outbox/), as the alerter does. */
  filesDueDay?: number;
  /** BN_CONSOLE_URL: the late month's mail links to it. */
  consoleUrl?: string;
}

/** How often `bottleneck ui`'s watcher looks for late months, ms. */
const LATE_LOOK_MS = 60_000;

/**
 * `bottleneck ui`'s folder watcher: lists incoming/ every intervalMs and keeps a cursor (each
 * month's files as last seen: keys and ETags), as the ingest service's watcher does. A month whose
 * files changed since, that has all three, quiet for settleMs, and that is waiting for files,
 * failed, or new, is run (a re-run pinned to those files). Published months are left to the
 * operator (the page shows them stale); dismissed months are left alone; files a run already
 * refused are not run again (refused in words in the log). What was there when the watcher
 * started is the cursor's start (starting the console re-runs nothing), except months with all
 * three files and no run at all, which are run as new.
 */
/** How often `bottleneck ui`'s watcher lists the whole folder for misplaced uploads, ms. */
const WIDE_LIST_MS = 30_000;

export class MonthWatcher {
  private readonly cursor = new Map<string, string>();
  private baseline = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | null = null;
  private readonly catalog: Catalog;
  readonly triggered: { partition: string; runId: string; at: string }[] = [];
  /** Uploads it could not place, recorded (or found recorded): not written again. */
  readonly unplaced = new Set<string>();
  private wideAt = -Infinity;
  private lateAt = -Infinity;

  constructor(
    private readonly engine: EmbeddedEngine,
    private readonly o: WatchOptions & { log?: Logger; now?: () => Date } = {},
  ) {
    this.catalog = new Catalog(engine.adapters.store, graphSpec());
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  private async unrecognised(objects: readonly ObjectInfo[]): Promise<void> {
    const log = this.o.log ?? silentLogger;
    for (const o of objects) {
      if (this.unplaced.has(o.key) || parseIncomingKey(o.key) || !unrecognisedReason(o.key)) continue;
      try {
        const r = await recordUnrecognised(this.engine.adapters.store, o, 'ui', this.now());
        this.unplaced.add(o.key);
        if (r) log.warn({ key: o.key, bytes: o.bytes, why: r.why }, 'upload not recognised: listed in the console');
      } catch (e) {
        log.warn({ key: o.key, err: errorMessage(e) }, 'unrecognised upload not recorded yet: next look');
      }
    }
  }

  /** Late months (BN_FILES_DUE_DAY) alerted once each, through the same records and queue as the alerter's. */
  private async late(dueDay: number): Promise<void> {
    const { store, mailer } = this.engine.adapters;
    const [{ queueLateAlerts }, { AlertDelivery }] = await Promise.all([
      import('@bottleneck/alerter/late'),
      import('@bottleneck/alerter/delivery'),
    ]);
    const log = this.o.log ?? silentLogger;
    const delivery = new AlertDelivery({ store, mailer, log: silentLogger, retryForMs: 24 * 3600_000 });
    const alert = {
      to: ['data-team@bottleneck.example'],
      from: 'pipeline@bottleneck.example',
      pipelineName: 'BottleNeck pipeline',
      ...(this.o.consoleUrl ? { consoleUrl: this.o.consoleUrl } : {}),
    };
    for (const p of await queueLateAlerts(store, delivery, alert, dueDay, this.now()))
      log.warn({ partition: p }, `files late for ${p}: alert in outbox/ (once for the month)`);
  }

  private polls = 0;
  private seen: ObjectInfo[] = [];
  private readonly became = new Map<string, { became: Became; runId?: string; why?: string }>();

  /** One look at incoming/: the runs it started (and its state recorded for the console's sensors page). */
  async tick(): Promise<{ partition: string; runId: string }[]> {
    const started = await this.look();
    this.polls++;
    await writeWatcherState(this.engine.adapters.store, {
      where: 'ui',
      lastPollAt: this.now().toISOString(),
      polls: this.polls,
      cursor: Object.fromEntries(this.cursor),
      objectsSeen: this.seen.length,
      objects: this.seen.map((o) => {
        const k = parseIncomingKey(o.key);
        const b = k
          ? (this.became.get(k.partition) ?? { became: 'seen before' as const })
          : {
              became: 'unrecognised' as const,
              why: this.unplaced.has(o.key)
                ? 'listed under unrecognised uploads'
                : "not a month's erp.xlsx, web.xlsx or liaison.xlsx",
            };
        return { key: o.key, etag: o.etag, bytes: o.bytes, modified: o.modified.toISOString(), ...b };
      }),
      triggered: this.triggered,
    }).catch((e: unknown) =>
      (this.o.log ?? silentLogger).warn({ err: errorMessage(e) }, 'folder watcher state not recorded'),
    );
    return started;
  }

  private async look(): Promise<{ partition: string; runId: string }[]> {
    const store = this.engine.adapters.store;
    const log = this.o.log ?? silentLogger;
    const months = new Map<string, ObjectInfo[]>();
    const objects = await store.list('incoming/');
    this.seen = objects;
    for (const obj of objects) {
      const k = parseIncomingKey(obj.key);
      if (k) months.set(k.partition, [...(months.get(k.partition) ?? []), obj]);
    }
    // Uploads it cannot place (in incoming/, or a misspelt prefix beside it: the whole folder is
    // listed at most every 30 s) are recorded once per key, as the ingest service's watcher does:
    // the console lists them under unrecognised uploads.
    const wide = this.now().getTime() - this.wideAt >= WIDE_LIST_MS;
    if (wide) this.wideAt = this.now().getTime();
    await this.unrecognised(wide ? await store.list('') : objects);
    if (this.o.filesDueDay && this.now().getTime() - this.lateAt >= LATE_LOOK_MS) {
      this.lateAt = this.now().getTime();
      await this.late(this.o.filesDueDay);
    }
    const versionOf = (objs: ObjectInfo[]) =>
      createHash('sha256')
        .update(
          objs
            .map((x) => `${x.key}:${x.etag}`)
            .sort()
            .join('\n'),
        )
        .digest('hex')
        .slice(0, 24);
    if (!this.baseline) {
      // The cursor's start: what is there now, except months with all three files and no run yet
      // (dropped while no watcher ran): those are run as new.
      const s = await this.catalog.snapshot();
      for (const [p, objs] of months)
        if (objs.length < INPUT_NAMES.length || s.runs.some((r) => r.partition === p))
          this.cursor.set(p, versionOf(objs));
      this.baseline = true;
    }
    for (const [p, objs] of months)
      if (objs.length < INPUT_NAMES.length)
        this.became.set(p, {
          became: 'waiting',
          why: `${INPUT_NAMES.length - objs.length} of the three files missing`,
        });
    const changed = [...months].filter(([p, objs]) => this.cursor.get(p) !== versionOf(objs));
    if (!changed.length) return [];
    // Starting a run is an action: decided on the records themselves, not only their index.
    this.catalog.checkRecords();
    const [snapshot, dismissals] = await Promise.all([this.catalog.snapshot(), readDismissals(store)]);
    const dismissed = dismissedMonths(dismissals.records);
    const started: { partition: string; runId: string }[] = [];
    for (const [p, objs] of changed.sort(([a], [b]) => a.localeCompare(b))) {
      const version = versionOf(objs);
      if (objs.length < INPUT_NAMES.length) {
        this.cursor.set(p, version);
        this.became.set(p, {
          became: 'waiting',
          why: `${INPUT_NAMES.length - objs.length} of the three files missing`,
        });
        continue;
      }
      const youngest = Math.max(...objs.map((x) => x.modified.getTime()));
      if (this.now().getTime() - youngest < (this.o.settleMs ?? 5_000)) {
        this.became.set(p, { became: 'settling', why: 'files still changing: the run starts once they settle' });
        continue;
      }
      this.cursor.set(p, version);
      const month = snapshot.partitions.find((x) => x.partition === p);
      const eligible =
        !dismissed.has(p) &&
        (!month ||
          month.status === 'waiting-for-files' ||
          month.status === 'late' ||
          month.status === 'failed' ||
          (month.status === 'stale' && !month.latestRun && !month.published));
      if (!eligible) {
        this.became.set(p, {
          became: 'not run',
          why: dismissed.has(p)
            ? 'the month is dismissed'
            : `the month is ${month?.status ?? 'new'}: re-run it from the console`,
        });
        continue;
      }
      try {
        const r = await (await this.engine.actions()).rerun(p, 'upload', snapshot);
        this.became.set(p, { became: 'run', runId: r.runId });
        started.push({ partition: p, runId: r.runId });
        this.triggered.unshift({ partition: p, runId: r.runId, at: this.now().toISOString() });
        this.triggered.length = Math.min(this.triggered.length, 20);
        log.info({ partition: p, runId: r.runId }, 'new files: run started by the folder watcher');
      } catch (e) {
        if (!(e instanceof ActionRefused)) throw e;
        this.became.set(p, { became: 'not run', why: e.message });
        log.warn({ partition: p, reason: e.message }, 'new files: not run');
      }
    }
    return started;
  }

  start(): void {
    const loop = () => {
      this.running = this.tick()
        .catch((e: unknown) =>
          (this.o.log ?? silentLogger).error({ err: errorMessage(e) }, 'folder watcher: look failed'),
        )
        .finally(() => {
          this.running = null;
          if (this.timer !== undefined) this.timer = setTimeout(loop, this.o.intervalMs ?? 1_000);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/** The console app over a folder store; close() stops the watcher and the stages too. */
export async function embeddedConsole(
  out: string,
  o: {
    token?: string;
    refreshMs?: number;
    log?: Logger;
    hosts?: readonly string[];
    watch?: WatchOptions | false;
    /** Where the folder watcher says what it started or refused (default: `log`). */
    watchLog?: Logger;
    /** The console's address (BN_CONSOLE_URL): alert mails link to the failed run. */
    consoleUrl?: string;
    /** Thresholds of the month-over-month checks (BN_MOM_*). */
    settings?: CheckSettings;
    /** BN_FILES_DUE_DAY: late months shown as such, and alerted once each (the outbox). */
    filesDueDay?: number;
    /** The stages to act with (default: a new engine over `out`); tests pass one they can hold. */
    engine?: EmbeddedEngine;
  } = {},
): Promise<{ app: FastifyInstance; engine: EmbeddedEngine; watcher: MonthWatcher | null }> {
  const { buildConsole } = await import('@bottleneck/console/app');
  const engine =
    o.engine ??
    new EmbeddedEngine(out, o.log, {
      ...(o.consoleUrl ? { consoleUrl: o.consoleUrl } : {}),
      ...(o.settings ? { settings: o.settings } : {}),
    });
  const app = buildConsole({
    store: engine.adapters.store,
    graph: graphSpec(),
    actions: () => engine.actions(),
    ...(o.token ? { token: o.token } : {}),
    ...(o.hosts ? { hosts: o.hosts } : {}),
    refreshMs: o.refreshMs ?? 500,
    ...(o.filesDueDay ? { filesDueDay: o.filesDueDay } : {}),
  });
  const wlog = o.watchLog ?? o.log;
  const watcher = o.watch
    ? new MonthWatcher(engine, {
        ...o.watch,
        ...(wlog ? { log: wlog } : {}),
        ...(o.filesDueDay ? { filesDueDay: o.filesDueDay } : {}),
        ...(o.consoleUrl ? { consoleUrl: o.consoleUrl } : {}),
      })
    : null;
  watcher?.start();
  app.addHook('onClose', async () => {
    await watcher?.stop();
    await engine.close();
  });
  return { app, engine, watcher };
}
