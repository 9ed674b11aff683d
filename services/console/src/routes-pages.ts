import { posix } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PartitionSchema } from '@bottleneck/shared/events/envelope';
import type { ObjectStore } from '@bottleneck/shared/ports/object-store';
import { summarize, type Snapshot } from '@bottleneck/shared/catalog/index';
import type { Actions } from '@bottleneck/shared/catalog/actions';
import {
  BACKFILL_ID,
  backfillView,
  cancelBackfill,
  listBackfills,
  readCancellation,
} from '@bottleneck/shared/catalog/backfills';
import { readSensors, setSchedulePaused } from '@bottleneck/shared/catalog/sensors';
import { isNotFound } from '@bottleneck/shared/catalog/index';
import { validateKey } from '@bottleneck/shared/keys';

/**
 * The console's pages beyond the month view (issue 16): the runs of every month (filtered, paged
 * on the server), the backfills (with cancel), the sensors and the schedule (with pause and
 * resume), and the published files and dead-letter records, served read-only. Registered from
 * app.ts, so the same Host, Origin and token rules apply; every action is recorded in the store.
 */
export interface PageRouteOptions {
  store: ObjectStore;
  snapshot: () => Promise<Snapshot & { version: string }>;
  actions: () => Promise<Actions>;
  invalidate: () => void;
  now: () => Date;
}

const RUN_STATUSES = ['running', 'published', 'succeeded', 'failed', 'superseded'] as const;
const TRIGGERS = ['schedule', 'manual', 'cli', 'upload', 'backfill', 'reexecution', 'console'] as const;
/** Most runs one page of /api/runs holds. */
export const MAX_PAGE = 500;

const bad = (reply: FastifyReply, message: string) => reply.code(400).send({ error: 'bad request', message });
const show = (v: string) => JSON.stringify(v.slice(0, 100));

/** A file name safe in a Content-Disposition header (the key's last segment, other characters replaced). */
export function dispositionName(key: string): string {
  return (posix.basename(key).replace(/[^A-Za-z0-9._-]/g, '_') || 'download').slice(0, 120);
}

export function registerPageRoutes(app: FastifyInstance, o: PageRouteOptions): void {
  const etagged = async <T>(req: FastifyRequest, reply: FastifyReply, body: (s: Snapshot) => T | Promise<T>) => {
    const s = await o.snapshot();
    const etag = `"${s.version}"`;
    void reply.header('etag', etag);
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return body(s);
  };

  app.get<{
    Querystring: {
      partition?: string;
      status?: string;
      trigger?: string;
      from?: string;
      to?: string;
      limit?: string;
      offset?: string;
    };
  }>('/api/runs', async (req, reply) => {
    const { partition, status, trigger, from, to } = req.query;
    for (const [name, v] of [
      ['partition', partition],
      ['from', from],
      ['to', to],
    ] as const)
      if (v !== undefined && !PartitionSchema.safeParse(v).success)
        return bad(reply, `${name} must be YYYY-MM (got ${show(v)})`);
    if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status))
      return bad(reply, `status must be one of ${RUN_STATUSES.join(', ')} (got ${show(status)})`);
    if (trigger !== undefined && !(TRIGGERS as readonly string[]).includes(trigger))
      return bad(reply, `trigger must be one of ${TRIGGERS.join(', ')} (got ${show(trigger)})`);
    if (from && to && to < from) return bad(reply, `to (${to}) is before from (${from})`);
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    const offset = req.query.offset === undefined ? 0 : Number(req.query.offset);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
      return bad(reply, `limit must be a whole number from 1 to ${MAX_PAGE} (got ${show(String(req.query.limit))})`);
    if (!Number.isInteger(offset) || offset < 0)
      return bad(reply, `offset must be a whole number from 0 (got ${show(String(req.query.offset))})`);
    return etagged(req, reply, (s) => {
      // Newest first: the catalog orders runs by when the store recorded them.
      const all = s.runs.filter(
        (r) =>
          (!partition || r.partition === partition) &&
          (!status || r.status === status) &&
          (!trigger || r.trigger.source === trigger) &&
          (!from || r.partition >= from) &&
          (!to || r.partition <= to),
      );
      const page = all.slice(offset, offset + limit).map(summarize);
      return {
        version: s.version,
        total: all.length,
        offset,
        limit,
        next: offset + limit < all.length ? offset + limit : null,
        runs: page,
      };
    });
  });

  app.get('/api/backfills', async () => {
    const s = await o.snapshot();
    return { version: s.version, backfills: await listBackfills(o.store, s) };
  });
  app.get<{ Params: { id: string } }>('/api/backfills/:id', async (req, reply) => {
    const rec = BACKFILL_ID.test(req.params.id) ? await (await o.actions()).backfillRecord(req.params.id) : null;
    if (!rec) return reply.code(404).send({ error: 'not found', message: `no backfill ${show(req.params.id)}` });
    return backfillView(rec, await readCancellation(o.store, rec.id), await o.snapshot());
  });
  app.post<{ Params: { id: string } }>('/api/backfills/:id/cancel', async (req, reply) => {
    const rec = BACKFILL_ID.test(req.params.id) ? await (await o.actions()).backfillRecord(req.params.id) : null;
    if (!rec) return reply.code(404).send({ error: 'not found', message: `no backfill ${show(req.params.id)}` });
    const c = await cancelBackfill(o.store, rec.id, o.now());
    o.invalidate();
    return reply.code(202).send(backfillView(rec, c, await o.snapshot()));
  });

  app.get('/api/sensors', async () => {
    const [sensors, s] = await Promise.all([readSensors(o.store), o.snapshot()]);
    // What an object became, from the runs the pipeline recorded: the run that read this very version.
    const readBy = new Map<string, string>();
    for (const r of [...s.runs].reverse())
      for (const i of r.inputs) if (i.etag) readBy.set(`${i.key}\u0000${i.etag}`, r.runId);
    for (const w of sensors.watchers)
      w.objects = w.objects.map((x) => {
        const runId = x.etag ? readBy.get(`${x.key}\u0000${x.etag}`) : undefined;
        return runId && (x.became === 'seen before' || x.became === 'run') ? { ...x, became: 'run', runId } : x;
      });
    return sensors;
  });
  for (const [path, paused] of [
    ['/api/schedule/pause', true],
    ['/api/schedule/resume', false],
  ] as const)
    app.post(path, async () => {
      const c = await setSchedulePaused(o.store, paused, o.now());
      return { schedule: c };
    });

  /**
   * A published file or a dead-letter record, read-only: only keys the catalog itself lists (a
   * run's published set, its manifest, its dead-letter record), so nothing else in the store can be
   * read through it (no path, no prefix, no `..`); sent as an attachment that the browser never runs.
   */
  app.get<{ Querystring: { key?: string } }>('/api/files', async (req, reply) => {
    const key = req.query.key;
    if (key === undefined || key === '')
      return bad(reply, 'key is required (a published file or a dead-letter record)');
    try {
      validateKey(key);
    } catch (e) {
      return bad(reply, (e as Error).message);
    }
    const s = await o.snapshot();
    const known = s.runs.some(
      (r) =>
        r.deadLetter?.key === key ||
        (r.published !== null && (r.published.manifestKey === key || r.published.files.some((f) => f.key === key))),
    );
    if (!known)
      return reply.code(404).send({
        error: 'not found',
        message: `${show(key)} is not a published file or a dead-letter record of a run in the store`,
      });
    let body: Buffer;
    try {
      body = await o.store.get(key);
    } catch (e) {
      if (isNotFound(e))
        return reply.code(404).send({ error: 'not found', message: `${show(key)} is gone from the store` });
      throw e;
    }
    const name = dispositionName(key);
    const type = name.endsWith('.json')
      ? 'application/json; charset=utf-8'
      : name.endsWith('.csv')
        ? 'text/csv; charset=utf-8'
        : 'application/octet-stream';
    return reply
      .type(type)
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .send(body);
  });
}
