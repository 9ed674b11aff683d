/**
 * The console's pages beyond the month view (issue 16), through its API with app.inject(): the runs
 * of every month (filtered, paged on the server), the backfills (listed, cancelled half-way: the
 * months not started stay unstarted), the sensors and the schedule (pause and resume, recorded),
 * and the published files and dead-letter records served read-only (only keys the catalog lists).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleControl } from '@bottleneck/shared/catalog/sensors';
import { embeddedConsole, MonthWatcher } from '@bottleneck/cli/console';
import { cleanupTmp, tmp } from './helpers.js';
import {
  addFreshMonths,
  FAILED,
  heldEngine,
  makeConsoleStore,
  PUBLISHED,
  WAITING,
  type ConsoleStore,
} from './console-store.js';

const TOKEN = 'console-pages-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const FRESH = ['2027-01', '2027-02', '2027-03'];

let store: ConsoleStore;
let app: FastifyInstance;
let held: ReturnType<typeof heldEngine>;

beforeAll(async () => {
  store = await makeConsoleStore(await tmp('bn-console-pages-'));
  await addFreshMonths(store, FRESH);
  held = heldEngine(store.out);
  ({ app } = await embeddedConsole(store.out, { token: TOKEN, refreshMs: 0, engine: held.engine }));
});

afterAll(async () => {
  held?.release();
  await app?.close();
  await cleanupTmp();
});

const get = (url: string, headers: Record<string, string> = auth) => app.inject({ method: 'GET', url, headers });
const post = (url: string, payload?: object, headers: Record<string, string> = auth) =>
  app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });

type RunsPage = {
  total: number;
  offset: number;
  limit: number;
  next: number | null;
  runs: { runId: string; partition: string; status: string; trigger: { source: string } }[];
};

describe('GET /api/runs: every month, filtered and paged on the server', () => {
  it('pages newest first, with the total and the next offset', async () => {
    const all = (await get('/api/runs')).json<RunsPage>();
    expect(all.total).toBe(2);
    expect(all.runs.map((r) => r.runId)).toEqual([store.failedRunId, store.publishedRunId]);
    const first = (await get('/api/runs?limit=1')).json<RunsPage>();
    expect(first).toMatchObject({ total: 2, offset: 0, limit: 1, next: 1 });
    expect(first.runs.map((r) => r.runId)).toEqual([store.failedRunId]);
    const second = (await get('/api/runs?limit=1&offset=1')).json<RunsPage>();
    expect(second).toMatchObject({ total: 2, offset: 1, next: null });
    expect(second.runs.map((r) => r.runId)).toEqual([store.publishedRunId]);
  });

  it('filters by status, trigger and month range', async () => {
    const ids = async (q: string) => (await get(`/api/runs?${q}`)).json<RunsPage>().runs.map((r) => r.runId);
    expect(await ids('status=failed')).toEqual([store.failedRunId]);
    expect(await ids('trigger=cli')).toEqual([store.failedRunId, store.publishedRunId]);
    expect(await ids('trigger=schedule')).toEqual([]);
    expect(await ids(`from=${FAILED}`)).toEqual([store.failedRunId]);
    expect(await ids(`to=${PUBLISHED}`)).toEqual([store.publishedRunId]);
    expect(await ids(`from=${PUBLISHED}&to=${FAILED}&status=published`)).toEqual([store.publishedRunId]);
  });

  it('refuses bad filters in words (400)', async () => {
    for (const [q, message] of [
      ['limit=0', 'limit must be a whole number from 1 to 500 (got "0")'],
      ['limit=501', 'limit must be a whole number from 1 to 500 (got "501")'],
      ['offset=-1', 'offset must be a whole number from 0 (got "-1")'],
      [
        'trigger=cron',
        'trigger must be one of schedule, manual, cli, upload, backfill, reexecution, console (got "cron")',
      ],
      ['from=2026-13', 'from must be YYYY-MM (got "2026-13")'],
      ['from=2026-11&to=2026-10', 'to (2026-10) is before from (2026-11)'],
    ] as const) {
      const r = await get(`/api/runs?${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.json(), q).toEqual({ error: 'bad request', message });
    }
  });
});

describe('GET /api/overview: what the page draws first, in one round trip', () => {
  it("holds the graph, the months (with /api/partitions' ETag) and the runs of the month asked for", async () => {
    const o = (await get(`/api/overview?month=${PUBLISHED}`)).json<{
      etag: string;
      graph: { assets: unknown[] };
      partitions: { partition: string }[];
      month: string;
      runs: { runId: string }[];
    }>();
    expect(o.graph).toEqual((await get('/api/graph')).json());
    // The months as the page draws them: /api/partitions?view=page (no file lists, no data versions).
    const months = await get('/api/partitions?view=page');
    expect(o.partitions).toEqual(months.json<{ partitions: unknown[] }>().partitions);
    expect(o.etag).toBe(months.headers.etag);
    expect(o.month).toBe(PUBLISHED);
    expect(o.runs.map((r) => r.runId)).toEqual([store.publishedRunId]);
    // No month asked (or one not in the store): the latest month.
    const latest = o.partitions.at(-1)!.partition;
    expect((await get('/api/overview')).json<{ month: string }>().month).toBe(latest);
    expect((await get('/api/overview?month=2031-01')).json<{ month: string }>().month).toBe(latest);
    expect((await get('/api/overview?month=x')).statusCode).toBe(400);
    expect((await get('/api/overview', {})).statusCode).toBe(401);
  });

  it('serves the page files with an ETag: a reload revalidates them (304)', async () => {
    for (const url of ['/', '/app.js', '/app.css']) {
      const r = await app.inject({ url });
      expect(r.headers.etag, url).toMatch(/^"[0-9a-f]{16}"$/);
      const again = await app.inject({ url, headers: { 'if-none-match': r.headers.etag as string } });
      expect(again.statusCode, url).toBe(304);
    }
  });
});

describe('published files and dead-letter records, read-only', () => {
  it("serves the published set's files and the dead-letter record as attachments, behind the token", async () => {
    const run = (await get(`/api/runs/${store.publishedRunId}`)).json<{
      published: { files: { name: string; key: string }[]; manifestKey: string };
    }>();
    expect(run.published.files.length).toBeGreaterThan(0);
    for (const f of run.published.files) {
      const r = await get(`/api/files?key=${encodeURIComponent(f.key)}`);
      expect(r.statusCode, f.key).toBe(200);
      expect(r.headers['content-disposition']).toBe(`attachment; filename="${f.key.split('/').pop()}"`);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.rawPayload.equals(await readFile(join(store.out, f.key)))).toBe(true);
      expect((await get(`/api/files?key=${encodeURIComponent(f.key)}`, {})).statusCode).toBe(401);
    }
    const dead = (await get(`/api/runs/${store.failedRunId}`)).json<{ deadLetter: { key: string } }>().deadLetter;
    const r = await get(`/api/files?key=${encodeURIComponent(dead.key)}`);
    expect(r.statusCode).toBe(200);
    expect(r.json<{ runId: string }>().runId).toBe(store.failedRunId);
  });

  it('serves nothing else: inputs, state, paths out of the store are refused', async () => {
    for (const [key, status] of [
      [`incoming/${PUBLISHED}/erp.xlsx`, 404],
      ['state/console/outbox/x.json', 404],
      [`extracts/${PUBLISHED}/_current.json`, 404],
      ['../../etc/passwd', 400],
      [`extracts/${PUBLISHED}/../../incoming/${PUBLISHED}/erp.xlsx`, 400],
      ['/etc/passwd', 400],
      ['', 400],
    ] as const) {
      const r = await get(`/api/files?key=${encodeURIComponent(key)}`);
      expect(r.statusCode, key).toBe(status);
    }
    expect(
      (await get(`/api/files?key=${encodeURIComponent(`incoming/${PUBLISHED}/erp.xlsx`)}`)).json<{ message: string }>()
        .message,
    ).toBe(`"incoming/${PUBLISHED}/erp.xlsx" is not a published file or a dead-letter record of a run in the store`);
  });
});

describe('sensors and the schedule', () => {
  it('shows what the folder watcher saw, and what each object became', async () => {
    expect((await get('/api/sensors')).json()).toEqual({ watchers: [], schedule: null, control: null });
    const watcher = new MonthWatcher(held.engine, { settleMs: 60_000 });
    await watcher.tick();
    const { watchers } = (await get('/api/sensors')).json<{
      watchers: {
        where: string;
        polls: number;
        objectsSeen: number;
        objects: { key: string; became: string; runId?: string }[];
      }[];
    }>();
    expect(watchers).toHaveLength(1);
    const w = watchers[0]!;
    expect(w).toMatchObject({ where: 'ui', polls: 1 });
    const became = Object.fromEntries(w.objects.map((o) => [o.key, [o.became, o.runId]]));
    expect(became[`incoming/${PUBLISHED}/erp.xlsx`]).toEqual(['run', store.publishedRunId]);
    expect(became[`incoming/${WAITING}/erp.xlsx`]).toEqual(['waiting', undefined]);
    expect(w.objectsSeen).toBe(w.objects.length);
  });

  it('pauses and resumes the schedule: recorded in the store, refused from another site', async () => {
    const paused = await post('/api/schedule/pause');
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ schedule: { paused: true, by: 'console' } });
    expect(await scheduleControl(held.engine.adapters.store)).toMatchObject({ paused: true });
    expect((await get('/api/sensors')).json()).toMatchObject({ control: { paused: true } });
    const evil = await post('/api/schedule/resume', undefined, { ...auth, origin: 'http://evil.example' });
    expect(evil.statusCode).toBe(403);
    expect(await scheduleControl(held.engine.adapters.store)).toMatchObject({ paused: true });
    expect((await post('/api/schedule/resume', undefined, {})).statusCode).toBe(401);
    expect((await post('/api/schedule/resume')).json()).toMatchObject({ schedule: { paused: false } });
    expect(await scheduleControl(held.engine.adapters.store)).toMatchObject({ paused: false });
  });
});

describe('backfills: listed, and cancelled half-way', () => {
  it('a cancel leaves the months not started unstarted; the running month finishes', async () => {
    const b = await post('/api/backfills', { from: FRESH[0]!, to: FRESH.at(-1)! });
    expect(b.statusCode).toBe(202);
    const { id, runs } = b.json<{ id: string; runs: { partition: string; runId: string }[] }>();
    expect(runs.map((r) => r.partition)).toEqual(FRESH);
    // The first month is taken up; the others wait behind it.
    await expect.poll(() => held.held.length).toBe(1);
    const c = await post(`/api/backfills/${id}/cancel`);
    expect(c.statusCode).toBe(202);
    expect(c.json<{ cancelled: { id: string } }>().cancelled.id).toBe(id);
    held.release();
    await held.engine.idle();
    const view = (await get(`/api/backfills/${id}`)).json<{
      status: string;
      done: number;
      total: number;
      runs: { partition: string; status: string }[];
    }>();
    expect(Object.fromEntries(view.runs.map((r) => [r.partition, r.status]))).toEqual({
      [FRESH[0]!]: 'published',
      [FRESH[1]!]: 'not started',
      [FRESH[2]!]: 'not started',
    });
    expect(view).toMatchObject({ status: 'cancelled', done: 3, total: 3 });
    // No run of the months not started, in the store or the API.
    for (const p of FRESH.slice(1)) expect((await get(`/api/runs?partition=${p}`)).json<RunsPage>().total, p).toBe(0);
    const list = (await get('/api/backfills')).json<{ backfills: { id: string; status: string }[] }>().backfills;
    expect(list.map((x) => [x.id, x.status])).toEqual([[id, 'cancelled']]);
    // A second cancel changes nothing; an unknown backfill is 404.
    expect((await post(`/api/backfills/${id}/cancel`)).json<{ cancelled: unknown }>().cancelled).toEqual(
      c.json<{ cancelled: unknown }>().cancelled,
    );
    expect((await post('/api/backfills/bf-20990101T000000-abcdef/cancel')).statusCode).toBe(404);
    expect((await post('/api/backfills/..%2F..%2Fx/cancel')).statusCode).toBe(404);
  });
});
