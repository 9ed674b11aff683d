/**
 * The console shows only what the pipeline verified (issue 15, items 1 and 5), with app.inject():
 * a forged run (records no stage started, claiming 2099) and a refused event leave a published
 * month published, are listed under the month as refused events, and are counted in /metrics;
 * uploads the pipeline cannot place are listed with key, size, when and why.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedConsole } from '@bottleneck/cli/console';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { makeEvent } from '@bottleneck/shared/events/index';
import { writeStageRecord } from '@bottleneck/shared/runs/record';
import { recordUnrecognised } from '@bottleneck/shared/uploads';
import { cleanupTmp, tmp } from './helpers.js';
import { makeConsoleStore, PUBLISHED, type ConsoleStore } from './console-store.js';

const TOKEN = 'console-truth-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const FORGED = `${PUBLISHED}-20990101T000000-forged`;

let store: ConsoleStore;
let app: FastifyInstance;
let before: { status: string; latest: string | undefined };

beforeAll(async () => {
  store = await makeConsoleStore(await tmp('bn-console-truth-'));
  ({ app } = await embeddedConsole(store.out, { token: TOKEN, refreshMs: 0 }));
  const month = async () =>
    (
      (await app.inject({ method: 'GET', url: '/api/partitions', headers: auth })).json() as {
        partitions: { partition: string; status: string; latestRun: { runId: string } | null }[];
      }
    ).partitions.find((p) => p.partition === PUBLISHED);
  const m = await month();
  before = { status: m?.status ?? '', latest: m?.latestRun?.runId };
  const fs = new FolderStore(store.out);
  // What a forged file-arrived event left before events were checked: a failed clean record of a run no stage started.
  const event = makeEvent('cleaned', {
    runId: FORGED,
    partition: PUBLISHED,
    materializations: {},
    checks: [],
    runStartedAt: '2099-01-01T00:00:00.000Z',
    payload: {},
  });
  await writeStageRecord(fs, {
    runId: FORGED,
    partition: PUBLISHED,
    stage: 'merge',
    status: 'failed',
    runStartedAt: '2099-01-01T00:00:00.000Z',
    consumed: { id: event.id, type: 'cleaned', ts: event.ts },
    event,
    startedAt: '2099-01-01T00:00:00.000Z',
    endedAt: '2099-01-01T00:00:01.000Z',
    emitted: [],
    materializations: {},
    checks: [],
    error: { code: 'BN_ERR_EVENT_INVALID', message: 'refused', retriable: false },
    codeVersion: 'x',
  });
  // A refused event as the alerter records it.
  await fs.put(
    `refused/${PUBLISHED}/bus-bottleneck.file-arrived-0-7.json`,
    JSON.stringify({
      kind: 'refused-event',
      reason: 'unsigned',
      why: 'the event carries no signature (sig): refused',
      claimed: { id: 'forged-1', type: 'file-arrived', runId: FORGED, partition: PUBLISHED },
    }),
  );
  await fs.put('incomming/2029-02/x.xlsx', 'abcd');
  const [o] = await fs.list('incomming/');
  await recordUnrecognised(fs, o!, 'poll', new Date('2026-12-06T03:00:00Z'));
});

afterAll(async () => {
  await app?.close();
  await cleanupTmp();
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: auth });

describe('console: only verified facts', () => {
  it('a forged run and a refused event change neither the status nor the latest run of a month; both are listed under it', async () => {
    expect(before.status).toBe('published');
    const body = (await get('/api/partitions')).json() as {
      partitions: {
        partition: string;
        status: string;
        latestRun: { runId: string } | null;
        refused: { count: number; latest: { kind: string; runId: string | null }[] };
      }[];
    };
    const m = body.partitions.find((p) => p.partition === PUBLISHED);
    expect(m?.status).toBe('published');
    expect(m?.latestRun?.runId).toBe(before.latest);
    expect(m?.refused.count).toBe(2);
    expect(m?.refused.latest.map((r) => r.kind).sort()).toEqual(['unsigned', 'unverified-run']);
    expect(((await get('/api/runs')).json() as { runs: { runId: string }[] }).runs.map((r) => r.runId)).not.toContain(
      FORGED,
    );
    expect((await get(`/api/runs/${FORGED}`)).statusCode).toBe(404);
  });

  it('GET /api/refused filters by month and kind; a bad filter is 400 in words', async () => {
    const all = (await get(`/api/refused?partition=${PUBLISHED}`)).json() as { count: number };
    expect(all.count).toBe(2);
    const unsigned = (await get(`/api/refused?partition=${PUBLISHED}&kind=unsigned`)).json() as {
      refused: { why: string; eventId: string }[];
    };
    expect(unsigned.refused).toEqual([
      expect.objectContaining({ eventId: 'forged-1', why: 'the event carries no signature (sig): refused' }),
    ]);
    const bad = await get('/api/refused?kind=nope');
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as { message: string }).message).toBe(
      'kind must be one of unsigned, bad-signature, invalid, unverified-run (got "nope")',
    );
    expect((await app.inject({ method: 'GET', url: '/api/refused' })).statusCode).toBe(401);
  });

  it('GET /api/unrecognised-uploads: key, size, when, why', async () => {
    const r = (await get('/api/unrecognised-uploads')).json() as { count: number; uploads: unknown[] };
    expect(r.count).toBe(1);
    expect(r.uploads[0]).toMatchObject({
      key: 'incomming/2029-02/x.xlsx',
      bytes: 4,
      seenAt: '2026-12-06T03:00:00.000Z',
      why: expect.stringContaining('incomming/ looks like a misspelt incoming/') as string,
      alert: { status: 'pending', attempts: 0 },
    });
  });

  it('/metrics: the month is not failed; refused events and unrecognised uploads are counted', async () => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain(`bn_month_status{partition="${PUBLISHED}",status="published",service="console"} 1`);
    expect(text).not.toContain(`bn_month_status{partition="${PUBLISHED}",status="failed"`);
    expect(text).toContain(`bn_refused_events{partition="${PUBLISHED}",kind="unverified-run",service="console"} 1`);
    expect(text).toContain(`bn_refused_events{partition="${PUBLISHED}",kind="unsigned",service="console"} 1`);
    expect(text).toContain('bn_unrecognised_uploads{service="console"} 1');
  });
});
