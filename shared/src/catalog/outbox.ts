import { randomBytes } from 'node:crypto';
import { isBottleneckError } from '../errors/index.js';
import type { PipelineEvent } from '../events/index.js';
import type { Bus } from '../ports/bus.js';
import type { ObjectStore } from '../ports/object-store.js';

/**
 * The console's outbox, as ingest's claims are for uploads (services/ingest/src/claims.ts): an
 * action's trigger events are written to the store first (state/console/outbox/<id>.json,
 * `pending`), then given to the bus; the record goes once the bus has taken them all. A bus that
 * does not answer within `waitMs` leaves the action pending (the API answers 202 at once) and the
 * sweep sends it again until the bus takes it. Event ids are fixed by the record, so a second send
 * is recognised downstream, never a second run.
 */
export const OUTBOX_PREFIX = 'state/console/outbox/';

export interface OutboxRecord {
  id: string;
  kind: 'rerun' | 'backfill' | 'reexecution' | 'watch';
  createdAt: string;
  events: PipelineEvent[];
  status: 'pending';
  attempts: number;
  lastError?: string;
}

export interface Submitted {
  id: string;
  /** true: the bus did not take the events within waitMs; they are sent when it is back. */
  pending: boolean;
}

const sleep = (ms: number) =>
  new Promise<'timeout'>((r) => {
    const t = setTimeout(() => r('timeout'), ms);
    t.unref();
  });

export class Outbox {
  private readonly inFlight = new Map<string, Promise<boolean>>();
  /** The bus's last answer: null when it took the last events, else why not (readiness reads it). */
  lastBusError: string | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly bus: Bus,
    private readonly o: { waitMs?: number; now?: () => Date } = {},
  ) {}

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  /** Records the events, then sends them; answers within waitMs whether the bus took them or not. */
  async submit(kind: OutboxRecord['kind'], events: PipelineEvent[]): Promise<Submitted> {
    const now = this.now();
    const id = `${now.toISOString().replace(/[-:.]/g, '').slice(0, 18)}-${randomBytes(4).toString('hex')}`;
    const rec: OutboxRecord = { id, kind, createdAt: now.toISOString(), events, status: 'pending', attempts: 0 };
    await this.store.put(`${OUTBOX_PREFIX}${id}.json`, JSON.stringify(rec) + '\n', {
      contentType: 'application/json',
      ifNoneMatch: true,
    });
    const sent = this.send(rec);
    const r = await Promise.race([sent, sleep(this.o.waitMs ?? 500)]);
    return { id, pending: r !== true };
  }

  /** Gives the record's events to the bus; true once they are all taken and the record is removed. */
  private send(rec: OutboxRecord): Promise<boolean> {
    const running = this.inFlight.get(rec.id);
    if (running) return running;
    const p = (async () => {
      try {
        for (const e of rec.events) await this.bus.publish(e);
        this.lastBusError = null;
      } catch (e) {
        this.lastBusError = e instanceof Error ? e.message : String(e);
        await this.store
          .put(
            `${OUTBOX_PREFIX}${rec.id}.json`,
            JSON.stringify({ ...rec, attempts: rec.attempts + 1, lastError: this.lastBusError }) + '\n',
            { contentType: 'application/json' },
          )
          .catch(() => undefined);
        return false;
      }
      await this.store.delete(`${OUTBOX_PREFIX}${rec.id}.json`).catch(() => undefined);
      return true;
    })().finally(() => this.inFlight.delete(rec.id));
    this.inFlight.set(rec.id, p);
    return p;
  }

  /** The actions whose events the bus has not taken yet, oldest first. */
  pending(): Promise<OutboxRecord[]> {
    return pendingActions(this.store);
  }

  /** The sweep: every pending action older than graceMs (its sender died, or the bus was down) is sent again. */
  async sweep(graceMs: number): Promise<string[]> {
    const sent: string[] = [];
    for (const rec of await this.pending()) {
      if (this.inFlight.has(rec.id) || this.now().getTime() - Date.parse(rec.createdAt) < graceMs) continue;
      if (await this.send(rec)) sent.push(rec.id);
    }
    return sent;
  }

  /** Resolves when the sends started by this process have ended. */
  async settled(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }
}

/** The actions whose events the bus has not taken yet, oldest first (read from the store alone). */
export async function pendingActions(store: ObjectStore): Promise<OutboxRecord[]> {
  const keys = (await store.list(OUTBOX_PREFIX)).map((o) => o.key).filter((k) => k.endsWith('.json'));
  const out: OutboxRecord[] = [];
  for (const k of keys.sort()) {
    try {
      out.push(JSON.parse((await store.get(k)).toString('utf8')) as OutboxRecord);
    } catch (e) {
      if (!(isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') && !(e instanceof SyntaxError)) throw e;
    }
  }
  return out;
}
