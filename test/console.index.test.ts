/**
 * The console's speed guarantee (issue 16, item 9), with app.inject() over a store written by the
 * pipeline: once the run index is checked against the records, a request does not list runs/ (the
 * run index is read instead, one object a month); a record the index missed (a crash between the
 * record and its index update) still shows on its run at once and is repaired into the index.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '@bottleneck/console/app';
import { graphSpec } from '@bottleneck/cli/console';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { readMonthIndex, RUN_INDEX_PREFIX } from '@bottleneck/shared/runs/run-index';
import { runRecordKey } from '@bottleneck/shared/runs/record';
import { CallLog, recordingStore } from '@bottleneck/shared/testing/recording';
import { cleanupTmp, tmp } from './helpers.js';
import { FAILED, makeConsoleStore, PUBLISHED, type ConsoleStore } from './console-store.js';

let store: ConsoleStore;
let app: FastifyInstance;
const log = new CallLog();

beforeAll(async () => {
  store = await makeConsoleStore(await tmp('bn-console-index-'));
  const folder = recordingStore(new FolderStore(store.out), log);
  // refreshMs 0: every request builds its snapshot from the store as it is (the worst case).
  app = buildConsole({
    store: folder,
    graph: graphSpec(),
    actions: () => Promise.reject(new Error('no actions')),
    refreshMs: 0,
  });
});

afterAll(async () => {
  await app?.close();
  await cleanupTmp();
});

const get = (url: string) => app.inject({ method: 'GET', url });
const listed = () => log.calls.filter((c) => c.op === 'list').map((c) => c.target);

describe('the console reads the run index, not every run record', () => {
  it('lists runs/ on its first snapshot only (checking the index), then reads the index per request', async () => {
    expect((await get('/api/overview')).statusCode).toBe(200);
    expect(listed()).toContain('runs/');
    log.restart();
    for (const url of [
      '/api/overview',
      '/api/partitions',
      '/api/partitions?view=page',
      '/api/runs',
      `/api/runs?partition=${FAILED}`,
      '/api/assets/merged_with_revenue',
    ])
      expect((await get(url)).statusCode, url).toBe(200);
    expect(listed()).not.toContain('runs/');
    expect(listed()).toContain(RUN_INDEX_PREFIX);
    // A run's detail lists that run's own records only (to show them as they are now).
    log.restart();
    const run = (await get(`/api/runs/${store.publishedRunId}`)).json<{ status: string }>();
    expect(run.status).toBe('published');
    expect(listed().filter((p) => p.startsWith('runs/'))).toEqual([`runs/${PUBLISHED}/${store.publishedRunId}/`]);
  });

  it('the page view of the months leaves out what the page does not draw, and says the same otherwise', async () => {
    const whole = (await get('/api/partitions')).json<{ partitions: Record<string, unknown>[] }>().partitions;
    const page = (await get('/api/partitions?view=page')).json<{ partitions: Record<string, unknown>[] }>().partitions;
    expect(page.map((p) => [p.partition, p.status, p.words])).toEqual(
      whole.map((p) => [p.partition, p.status, p.words]),
    );
    expect(page.every((p) => !('incoming' in p))).toBe(true);
    expect(JSON.stringify(page).length).toBeLessThan(JSON.stringify(whole).length * 0.8);
    expect((await get('/api/partitions?view=other')).statusCode).toBe(400);
  });

  it('a record the index missed (crash between the record and its index update) shows on its run, and is repaired into the index', async () => {
    const key = runRecordKey(FAILED, store.failedRunId, 'ingest');
    const path = join(store.out, key);
    const rec = JSON.parse(await readFile(path, 'utf8')) as { error: { message: string } };
    // The record rewritten behind the index's back: what a crash after the record's put leaves.
    await writeFile(path, JSON.stringify({ ...rec, error: { ...rec.error, message: 'rewritten after the index' } }));
    const run = (await get(`/api/runs/${store.failedRunId}`)).json<{ error: { message: string } }>();
    expect(run.error.message).toBe('rewritten after the index');
    const { index } = await readMonthIndex(new FolderStore(store.out), FAILED);
    expect((index?.entries[key]?.record.error as { message: string } | undefined)?.message).toBe(
      'rewritten after the index',
    );
  });
});
