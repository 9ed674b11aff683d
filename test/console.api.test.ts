/**
 * The console's JSON API with app.inject() (no socket), over a folder store the pipeline wrote: a
 * published month, a failed month, a month waiting for a file. Actions run the stages in this
 * process (the embedded console of `bottleneck ui`).
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedConsole, type EmbeddedEngine } from '@bottleneck/cli/console';
import { cleanupTmp, tmp } from './helpers.js';
import { FAILED, makeConsoleStore, PUBLISHED, WAITING, type ConsoleStore } from './console-store.js';

const TOKEN = 'console-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

let store: ConsoleStore;
let app: FastifyInstance;
let engine: EmbeddedEngine;

beforeAll(async () => {
  store = await makeConsoleStore(await tmp('bn-console-api-'));
  ({ app, engine } = await embeddedConsole(store.out, { token: TOKEN, refreshMs: 0 }));
});

afterAll(async () => {
  await app?.close();
  await cleanupTmp();
});

const get = async (url: string, headers: Record<string, string> = auth) => app.inject({ method: 'GET', url, headers });
const post = async (url: string, payload?: unknown) =>
  app.inject({ method: 'POST', url, headers: auth, ...(payload === undefined ? {} : { payload: payload as object }) });

describe('console API: authentication', () => {
  it('refuses every API call without the bearer token, actions included, and accepts the scheme in any case', async () => {
    for (const [method, url] of [
      ['GET', '/api/graph'],
      ['GET', '/api/partitions'],
      ['GET', '/api/runs'],
      ['GET', `/api/runs/${store.failedRunId}`],
      ['GET', '/api/assets/raw_erp'],
      ['POST', '/api/runs'],
      ['POST', '/api/backfills'],
      ['POST', `/api/runs/${store.failedRunId}/reexecute`],
      ['GET', '/api/backfills/bf-20260101T000000-abcdef'],
    ] as const) {
      const none = await app.inject({ method, url });
      expect(none.statusCode, `${method} ${url}`).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      const wrong = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` } });
      expect(wrong.statusCode, `${method} ${url}`).toBe(401);
    }
    expect((await get('/api/graph', { authorization: `bEaReR ${TOKEN}` })).statusCode).toBe(200);
    expect((await get('/api/graph', { authorization: `Basic ${TOKEN}` })).statusCode).toBe(401);
  });

  it('serves the page without the token, and the page holds no secret and loads nothing from elsewhere', async () => {
    for (const url of ['/', '/app.js', '/app.css']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.body).not.toContain(TOKEN);
      expect(r.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    }
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['set-cookie']).toBeUndefined();
  });
});

describe('console API: reading', () => {
  it('GET /api/graph: every asset with its deps, stage and checks', async () => {
    const r = await get('/api/graph');
    expect(r.statusCode).toBe(200);
    const g = r.json<{
      assets: { key: string; stage: string; deps: string[]; checks: { name: string; severity: string }[] }[];
    }>();
    const merged = g.assets.find((a) => a.key === 'merged_with_revenue')!;
    expect(merged.stage).toBe('merge');
    expect(merged.deps.sort()).toEqual(['erp_clean', 'liaison_clean', 'web_clean']);
    expect(merged.checks.map((c) => c.name)).toContain('keys_unique');
    expect(g.assets.find((a) => a.key === 'extracts')!.stage).toBe('publisher');
  });

  it("GET /api/partitions: each month's status, in words, with per-asset state; ETag and 304", async () => {
    const r = await get('/api/partitions');
    expect(r.statusCode).toBe(200);
    const { partitions } = r.json<{
      partitions: {
        partition: string;
        status: string;
        words: string;
        assets: Record<string, { state: string; rowCount?: number }>;
        figures: { totalRevenue: string | null };
      }[];
    }>();
    const by = Object.fromEntries(partitions.map((p) => [p.partition, p]));
    expect(by[PUBLISHED]!.status).toBe('published');
    expect(by[PUBLISHED]!.assets.merged_with_revenue!.state).toBe('materialized');
    expect(by[PUBLISHED]!.assets.merged_with_revenue!.rowCount).toBeGreaterThan(0);
    expect(by[PUBLISHED]!.figures.totalRevenue).toMatch(/^\d+\.\d{2}$/);
    expect(by[FAILED]!.status).toBe('failed');
    expect(by[FAILED]!.words).toBe(
      'ingest (raw_erp) failed: erp.xlsx is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again',
    );
    expect(by[FAILED]!.assets.raw_erp!.state).toBe('failed');
    expect(by[FAILED]!.assets.merged_with_revenue!.state).toBe('not-run');
    expect(by[WAITING]!.status).toBe('waiting-for-files');
    expect(by[WAITING]!.words).toBe('erp.xlsx and web.xlsx arrived, waiting for liaison.xlsx');
    const again = await get('/api/partitions', { ...auth, 'if-none-match': r.headers.etag as string });
    expect(again.statusCode).toBe(304);
  });

  it('GET /api/runs filters by partition and status, newest first; bad filters are 400', async () => {
    const all = (await get('/api/runs')).json<{ runs: { runId: string; partition: string; status: string }[] }>().runs;
    expect(all.map((r) => r.runId)).toEqual(expect.arrayContaining([store.publishedRunId, store.failedRunId]));
    const failed = (await get('/api/runs?status=failed')).json<{ runs: { runId: string }[] }>().runs;
    expect(failed.map((r) => r.runId)).toContain(store.failedRunId);
    expect(failed.map((r) => r.runId)).not.toContain(store.publishedRunId);
    const oct = (await get(`/api/runs?partition=${PUBLISHED}`)).json<{ runs: { partition: string }[] }>().runs;
    expect(oct.length).toBeGreaterThan(0);
    expect(new Set(oct.map((r) => r.partition))).toEqual(new Set([PUBLISHED]));
    expect((await get('/api/runs?partition=2026-13')).json()).toEqual({
      error: 'bad request',
      message: 'partition must be YYYY-MM (got "2026-13")',
    });
    expect((await get('/api/runs?status=exploded')).statusCode).toBe(400);
  });

  it('GET /api/runs/:runId: trigger, inputs, stage timings, materializations, checks, the error in words, dead-letter and alert', async () => {
    const ok = (await get(`/api/runs/${store.publishedRunId}`)).json<Record<string, any>>();
    expect(ok.status).toBe('published');
    expect(ok.trigger.source).toBe('cli');
    expect(ok.stages.map((s: { stage: string }) => s.stage)).toEqual([
      'ingest',
      'clean',
      'merge',
      'analytics',
      'publisher',
    ]);
    for (const s of ok.stages) expect(s.durationMs).toBeGreaterThanOrEqual(0);
    expect(ok.inputs.map((i: { name: string }) => i.name)).toEqual(['erp.xlsx', 'web.xlsx', 'liaison.xlsx']);
    expect(ok.inputs[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(ok.materializations.merged_with_revenue.metadata.rowCount).toBeGreaterThan(0);
    expect(ok.checks.some((c: { severity: string }) => c.severity === 'WARN')).toBe(true);
    expect(ok.published.current).toBe(true);
    const ko = (await get(`/api/runs/${store.failedRunId}`)).json<Record<string, any>>();
    expect(ko.status).toBe('failed');
    expect(ko.error).toMatchObject({ stage: 'ingest', asset: 'raw_erp', code: 'BN_ERR_INPUT_CORRUPT' });
    expect(ko.deadLetter.key).toBe(`dead-letter/${FAILED}/${store.failedRunId}.json`);
    expect(ko.alert.status).toBe('sent');
    expect((await get('/api/runs/2026-01-nope')).statusCode).toBe(404);
    expect((await get('/api/runs/bad%20id')).statusCode).toBe(400);
  });

  it('GET /api/assets/:key: the history across months; an unknown asset is 404', async () => {
    const r = (await get('/api/assets/merged_with_revenue')).json<{
      history: { partition: string; rowCount: number; dataVersion: string; durationMs: number }[];
      downstream: string[];
    }>();
    expect(r.history.map((h) => h.partition)).toContain(PUBLISHED);
    expect(r.history[0]!.rowCount).toBeGreaterThan(0);
    expect(r.downstream).toContain('revenue_per_product');
    expect((await get('/api/assets/nope')).statusCode).toBe(404);
  });

  it("GET /api/runs/:runId/logs: each stage's log records of the run, filtered by stage, level and text", async () => {
    const r = await get(`/api/runs/${store.failedRunId}/logs`);
    expect(r.statusCode).toBe(200);
    const body = r.json<{
      runId: string;
      partition: string;
      stages: string[];
      records: { time: string; level: string; stage: string; msg: string; [k: string]: unknown }[];
      dropped: number;
    }>();
    expect(Object.keys(body).sort()).toEqual(['dropped', 'partition', 'records', 'runId', 'stages']);
    expect(body).toMatchObject({
      runId: store.failedRunId,
      partition: FAILED,
      stages: ['ingest', 'alerter'],
      dropped: 0,
    });
    expect(body.records[0]).toMatchObject({ level: 'info', stage: 'ingest', msg: 'ingest started on trigger' });
    expect(body.records.filter((x) => x.level === 'error')).toEqual([
      expect.objectContaining({
        stage: 'ingest',
        asset: 'raw_erp',
        check: 'vital',
        msg: 'check raw_erp.vital failed (blocking): erp.xlsx is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again',
      }),
      expect.objectContaining({
        stage: 'ingest',
        code: 'BN_ERR_INPUT_CORRUPT',
        msg: expect.stringMatching(/^stage failed: erp\.xlsx is truncated or corrupt/),
      }),
    ]);
    expect(body.records.some((x) => x.stage === 'alerter' && x.msg === 'alert sent')).toBe(true);
    const errors = (await get(`/api/runs/${store.failedRunId}/logs?level=error`)).json<typeof body>().records;
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((x) => x.level === 'error')).toBe(true);
    const alerter = (await get(`/api/runs/${store.failedRunId}/logs?stage=alerter`)).json<typeof body>();
    expect(new Set(alerter.records.map((x) => x.stage))).toEqual(new Set(['alerter']));
    expect(alerter.stages).toEqual(['ingest', 'alerter']);
    const q = (await get(`/api/runs/${store.failedRunId}/logs?q=TRUNCATED`)).json<typeof body>().records;
    expect(q.length).toBeGreaterThan(0);
    expect(q.every((x) => JSON.stringify(x).toLowerCase().includes('truncated'))).toBe(true);
    const ok = (await get(`/api/runs/${store.publishedRunId}/logs`)).json<typeof body>();
    expect(ok.stages).toEqual(['ingest', 'clean', 'merge', 'analytics', 'publisher']);
    expect(ok.records.filter((x) => x.msg.startsWith('materialized merged_with_revenue: '))).toHaveLength(1);
    expect((await get(`/api/runs/${store.failedRunId}/logs?stage=kafka`)).json()).toEqual({
      error: 'bad request',
      message: 'stage must be one of ingest, clean, merge, analytics, publisher, alerter (got "kafka")',
    });
    expect((await get(`/api/runs/${store.failedRunId}/logs?level=loud`)).statusCode).toBe(400);
    expect((await get('/api/runs/2026-01-nope/logs')).statusCode).toBe(404);
    expect((await get('/api/runs/bad%20id/logs')).statusCode).toBe(400);
  });

  it('GET /api/assets/:key: failed materializations are in the history with their error, beside the successes', async () => {
    const r = (await get('/api/assets/raw_erp')).json<{
      history: { partition: string; runId: string; status: string; dataVersion: string; error: any }[];
    }>();
    const failed = r.history.find((h) => h.runId === store.failedRunId);
    // raw_erp was made, and its blocking check refused it: a failed materialization, with the error and the check.
    expect(failed).toMatchObject({ partition: FAILED, status: 'failed', runStatus: 'failed' });
    expect(failed!.error).toMatchObject({ stage: 'ingest', asset: 'raw_erp', code: 'BN_ERR_INPUT_CORRUPT' });
    expect((failed as unknown as { checks: { check: string; passed: boolean }[] }).checks).toEqual([
      expect.objectContaining({ check: 'vital', passed: false }),
    ]);
    expect(r.history.find((h) => h.runId === store.publishedRunId)).toMatchObject({
      status: 'materialized',
      error: null,
    });
    // Downstream assets the failure stopped were never tried: not failures of theirs.
    const merged = (await get('/api/assets/merged_with_revenue')).json<{ history: { runId: string }[] }>();
    expect(merged.history.map((h) => h.runId)).not.toContain(store.failedRunId);
  });
});

describe('console API: late months (BN_FILES_DUE_DAY)', () => {
  it('a month past its due day with a file missing is late, in /api/partitions and /metrics; without the setting it waits', async () => {
    const [{ buildConsole }, { graphSpec }, { FolderStore }] = await Promise.all([
      import('@bottleneck/console/app'),
      import('@bottleneck/cli/console'),
      import('@bottleneck/shared/adapters/folder-store'),
    ]);
    const open = (o: { filesDueDay?: number }) =>
      buildConsole({
        store: new FolderStore(store.out),
        graph: graphSpec(),
        actions: () => engine.actions(),
        refreshMs: 0,
        // WAITING (2026-12) lacks liaison.xlsx: its files were due by 5 January 2027.
        now: () => new Date('2027-01-06T09:00:00Z'),
        ...o,
      });
    const late = open({ filesDueDay: 5 });
    const waiting = open({});
    try {
      const parts = (await late.inject({ method: 'GET', url: '/api/partitions' })).json<{
        partitions: { partition: string; status: string; words: string; late?: { missing: string[] } }[];
      }>().partitions;
      expect(parts.find((p) => p.partition === WAITING)).toMatchObject({
        status: 'late',
        words: 'late: liaison.xlsx was due by 5 January 2027 (BN_FILES_DUE_DAY=5) and has not arrived',
        late: { lateSince: '2027-01-05T23:00:00.000Z', missing: ['liaison'] },
      });
      // The months with their three files are not late, whatever their runs did.
      expect(parts.find((p) => p.partition === FAILED)?.status).not.toBe('late');
      const metrics = (await late.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/^bn_months_late(\{[^}]*\})? 1$/m);
      expect(metrics).toContain(`bn_month_status{partition="${WAITING}",status="late"`);
      const off = (await waiting.inject({ method: 'GET', url: '/api/partitions' })).json<{
        partitions: { partition: string; status: string }[];
      }>().partitions;
      expect(off.find((p) => p.partition === WAITING)?.status).toBe('waiting-for-files');
    } finally {
      await late.close();
      await waiting.close();
    }
  });
});

describe('console API: actions', () => {
  it('validates partitions and ranges', async () => {
    expect((await post('/api/runs', { partition: '2026-1' })).statusCode).toBe(400);
    expect((await post('/api/runs', {})).statusCode).toBe(400);
    expect((await post('/api/runs', { partition: '2026-10', extra: 1 })).statusCode).toBe(400);
    expect((await post('/api/backfills', { from: '2026-12', to: '2026-10' })).json()).toEqual({
      error: 'bad request',
      message: 'to (2026-10) is before from (2026-12)',
    });
    expect((await post('/api/backfills', { from: '2000-01', to: '2026-10' })).statusCode).toBe(400);
    expect((await get('/api/backfills/bf-20260101T000000-abcdef')).statusCode).toBe(404);
  });

  it('re-executes only a failed run: 404 for an unknown one, 409 for a published one', async () => {
    expect((await post('/api/runs/2026-01-nope/reexecute')).statusCode).toBe(404);
    const r = await post(`/api/runs/${store.publishedRunId}/reexecute`);
    expect(r.statusCode).toBe(409);
    expect(r.json<{ message: string }>().message).toContain('did not fail');
  });

  it('POST /api/runs re-runs a month (source console); POST /api/backfills runs each month with its files once, with progress, and skips the others', async () => {
    const r = await post('/api/runs', { partition: PUBLISHED });
    expect(r.statusCode).toBe(202);
    const { runId } = r.json<{ runId: string }>();
    await engine.idle();
    const run = (await get(`/api/runs/${runId}`)).json<{ status: string; trigger: { source: string } }>();
    expect(run).toMatchObject({ status: 'published', trigger: { source: 'console' } });

    const b = await post('/api/backfills', { from: PUBLISHED, to: WAITING });
    expect(b.statusCode).toBe(202);
    const { id, runs, skipped } = b.json<{
      id: string;
      runs: { partition: string }[];
      skipped: { partition: string; missing: string[]; why: string }[];
    }>();
    expect(runs.map((x) => x.partition)).toEqual([PUBLISHED]);
    // The failed month's files are the ones its run refused: running them again would only alert again.
    expect(skipped).toEqual([
      { partition: FAILED, why: `run ${store.failedRunId} already failed on these very files` },
      { partition: WAITING, missing: ['liaison.xlsx'], why: `liaison.xlsx missing from incoming/${WAITING}/` },
    ]);
    await engine.idle();
    const progress = (await get(`/api/backfills/${id}`)).json<{
      done: number;
      total: number;
      runs: { partition: string; status: string }[];
    }>();
    expect(progress.total).toBe(1);
    expect(progress.done).toBe(1);
    expect(Object.fromEntries(progress.runs.map((x) => [x.partition, x.status]))).toEqual({ [PUBLISHED]: 'published' });
    const known = await post('/api/runs', { partition: FAILED });
    expect(known.statusCode).toBe(409);
    expect(known.json<{ message: string }>().message).toMatch(
      new RegExp(
        `^${FAILED} is not run again: run ${store.failedRunId} already failed on these very files \\(ingest \\(raw_erp\\) failed: erp\\.xlsx is truncated`,
      ),
    );
    expect((await get(`/api/runs?partition=${WAITING}`)).json<{ runs: unknown[] }>().runs).toEqual([]);
  });

  it('refuses in words to run a month without its files (409), and sends nothing', async () => {
    for (const [partition, message] of [
      [
        WAITING,
        `${WAITING} cannot run: liaison.xlsx is missing from incoming/${WAITING}/ (a month needs erp.xlsx, web.xlsx and liaison.xlsx); drop it there, or dismiss the month`,
      ],
      [
        '2031-01',
        '2031-01 cannot run: erp.xlsx, web.xlsx and liaison.xlsx are missing from incoming/2031-01/ (a month needs erp.xlsx, web.xlsx and liaison.xlsx); drop them there, or dismiss the month',
      ],
    ] as const) {
      const r = await post('/api/runs', { partition });
      expect(r.statusCode).toBe(409);
      expect(r.json()).toEqual({ error: 'conflict', message });
    }
    await engine.idle();
    const months = (await get('/api/partitions')).json<{ partitions: { partition: string }[] }>().partitions;
    expect(months.map((p) => p.partition)).not.toContain('2031-01');
    expect((await get(`/api/runs?partition=${WAITING}`)).json<{ runs: unknown[] }>().runs).toEqual([]);
  });

  it('after the input is fixed, offers the re-run (not the re-execution, which would reuse the old file), and the re-run publishes', async () => {
    await store.fixFailedInput();
    const offer = () =>
      get('/api/partitions').then((r) =>
        r
          .json<{ partitions: { partition: string; status: string; offer: { action: string; why: string } }[] }>()
          .partitions.find((p) => p.partition === FAILED)!,
      );
    const before = await offer();
    expect(before.offer.action).toBe('rerun');
    expect(before.offer.why).toMatch(
      /^ingest failed in run .*; erp\.xlsx changed in incoming\/ since: a new run reads the new files/,
    );
    const r = await post(`/api/runs/${store.failedRunId}/reexecute`);
    expect(r.statusCode).toBe(409);
    expect(r.json<{ message: string }>().message).toBe(
      `run ${store.failedRunId} is not re-executed from ingest: erp.xlsx changed in incoming/${FAILED}/ since it read it, and a re-execution reuses the old versions; re-run the month instead (it reads the new files)`,
    );
    // The CLI says the same, and sends nothing.
    const { cli } = await import('./helpers.js');
    const c = await cli(['reexecute', store.failedRunId, '--out', store.out]);
    expect(c.code).toBe(2);
    expect(c.stderr).toBe(
      `bottleneck: run ${store.failedRunId} is not re-executed from ingest: erp.xlsx changed in incoming/${FAILED}/ since it read it, and a re-execution reuses the old versions; re-run the month instead (it reads the new files)\n`,
    );
    const ok = await post('/api/runs', { partition: FAILED });
    expect(ok.statusCode).toBe(202);
    await engine.idle();
    const run = (await get(`/api/runs/${ok.json<{ runId: string }>().runId}`)).json<{ status: string }>();
    expect(run.status).toBe('published');
    expect((await offer()).status).toBe('published');
  });

  it('GET /metrics: time since the last publish and failed checks by severity, per month', async () => {
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toMatch(
      new RegExp(`bn_month_seconds_since_publish\\{partition="${PUBLISHED}",service="console"\\} \\d`),
    );
    expect(r.body).toMatch(
      new RegExp(`bn_month_failed_checks\\{partition="${PUBLISHED}",severity="WARN",service="console"\\} [1-9]`),
    );
    expect(r.body).not.toMatch(new RegExp(`bn_month_seconds_since_publish\\{partition="${WAITING}"`));
  });
});

describe('console API: staleness', () => {
  it('shows a published month as stale when a file in incoming/ changed, or the code of a stage did, since its published run', async () => {
    const { readFile, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { Catalog } = await import('@bottleneck/shared/catalog/index');
    const { graphSpec } = await import('@bottleneck/cli/console');
    const { FolderStore } = await import('@bottleneck/shared/adapters/folder-store');
    const graph = graphSpec();
    const fresh = await new Catalog(new FolderStore(store.out), graph).snapshot();
    const before = fresh.partitions.find((p) => p.partition === PUBLISHED)!;
    expect(before.status).toBe('published');
    const older = await new Catalog(new FolderStore(store.out), {
      ...graph,
      codeVersions: { ...graph.codeVersions, merge: 'another-version' },
    }).snapshot();
    const coded = older.partitions.find((p) => p.partition === PUBLISHED)!;
    expect(coded.status).toBe('stale');
    expect(coded.words).toBe(`the code of merge changed since the published run ${before.published!.runId}`);
    const web = join(store.out, 'incoming', PUBLISHED, 'web.xlsx');
    const bytes = await readFile(web);
    // The same bytes written again: a new version of the object (S3 would give it a new ETag too).
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(web, bytes);
    const after = (await get('/api/partitions'))
      .json<{ partitions: { partition: string; status: string; words: string }[] }>()
      .partitions.find((p) => p.partition === PUBLISHED)!;
    expect(after).toMatchObject({
      status: 'stale',
      words: `web.xlsx changed in incoming/ since the published run ${before.published!.runId}`,
    });
  });
});

describe('console API: re-execution from a later stage', () => {
  it('reuses the upstream assets of the failed run: only the failed stage and what follows run again', async () => {
    const { runEmbedded } = await import('@bottleneck/cli/embedded');
    const month = '2026-09';
    // A blocking check that fails in analytics: the expectations travel with the run, and with its re-execution.
    const ko = await runEmbedded({
      input: store.good,
      out: store.out,
      partition: month,
      expectations: { premium: 99_999 },
    });
    expect(ko.error?.stage).toBe('analytics');
    // The same run, the same files: it would fail the same way, so it is refused...
    const same = await post(`/api/runs/${ko.runId}/reexecute`);
    expect(same.statusCode).toBe(409);
    expect(same.json<{ message: string }>().message).toMatch(
      new RegExp(
        `^run ${ko.runId} is not re-executed: it failed on its data \\(analytics .*\\) and the files are unchanged`,
      ),
    );
    // ...until the code of the failed stage changes (a fix deployed): the record says which code ran.
    const { readFile, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const recPath = join(store.out, 'runs', month, ko.runId, 'analytics.json');
    const rec = JSON.parse(await readFile(recPath, 'utf8')) as { codeVersion: string };
    await writeFile(recPath, JSON.stringify({ ...rec, codeVersion: 'the-code-before-the-fix' }));
    const r = await post(`/api/runs/${ko.runId}/reexecute`);
    expect(r.statusCode).toBe(202);
    const { runId, fromStage } = r.json<{ runId: string; fromStage: string }>();
    expect(fromStage).toBe('analytics');
    await engine.idle();
    const child = (await get(`/api/runs/${runId}`)).json<{
      status: string;
      stages: { stage: string }[];
      materializations: Record<string, { stage: string; location: string }>;
      error: { words: string };
    }>();
    expect(child.stages.map((x) => x.stage).filter((x) => x !== 'alerter')).toEqual(['analytics']);
    expect(child.materializations.merged_with_revenue).toMatchObject({
      stage: 'reused',
      location: `staging/${month}/${ko.runId}/merged_with_revenue.parquet`,
    });
    expect(child.materializations.premium_wines!.location.startsWith(`staging/${month}/${runId}/`)).toBe(true);
    expect(child.status).toBe('failed');
    expect(child.error.words).toMatch(/premium_wines\.matches_expectations: premium is \d+, expected 99999$/);
    const again = await post(`/api/runs/${runId}/reexecute`);
    expect(again.statusCode).toBe(409);
    expect(again.json<{ message: string }>().message).toBe(
      `run ${runId} reused erp_clean, liaison_clean, merged_with_revenue, web_clean from run ${ko.runId}: re-execute that run instead, or re-run the month`,
    );
  });
});

describe('console service: configuration', () => {
  it('will not start without BN_CONSOLE_TOKEN: exit 78, naming it', async () => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const { ROOT } = await import('./helpers.js');
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(BN_|KAFKA_|S3_|VITEST)/.test(k)));
    const p = spawn(process.execPath, [join(ROOT, 'services', 'console', 'dist', 'main.js')], {
      env: { ...base, KAFKA_BROKERS: '127.0.0.1:1', S3_BUCKET: 'b', HTTP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => p.on('close', r));
    expect(code).toBe(78);
    expect(JSON.parse(err.trim()).msg).toBe(
      'cannot start: configuration: BN_CONSOLE_TOKEN is required by the console service (or BN_CONSOLE_TOKEN_FILE)',
    );
  });
});

describe('bottleneck logs', () => {
  it("prints a run's log records as lines, filtered by stage and level, or as the API's JSON", async () => {
    const { cli } = await import('./helpers.js');
    const r = await cli(['logs', store.failedRunId, '--out', store.out, '--level', 'warn']);
    expect(r.code).toBe(0);
    const [head, ...lines] = r.stdout.trim().split('\n');
    expect(head).toMatch(
      new RegExp(`^run ${store.failedRunId} \\(${FAILED}, failed\\): \\d+ log records? at warn or above$`),
    );
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^\S+Z {2}(WARN |ERROR) {2}(ingest|alerter) +\S/);
    expect(r.stdout).toContain('check raw_erp.vital failed (blocking): erp.xlsx is truncated or corrupt');
    const j = await cli(['logs', store.failedRunId, '--out', store.out, '--stage', 'alerter', '--json']);
    const body = JSON.parse(j.stdout) as { runId: string; records: { stage: string }[]; dropped: number };
    expect(body.runId).toBe(store.failedRunId);
    expect(body.records.length).toBeGreaterThan(0);
    expect(body.records.every((x) => x.stage === 'alerter')).toBe(true);
    const unknown = await cli(['logs', '2026-01-nope', '--out', store.out]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`no run 2026-01-nope recorded in ${store.out}`);
    const badLevel = await cli(['logs', store.failedRunId, '--out', store.out, '--level', 'loud']);
    expect(badLevel.stderr).toContain('--level must be one of debug, info, warn, error (got "loud")');
  });
});

describe('bottleneck runs', () => {
  it('lists the recorded runs of a month as JSON, and refuses a bad status', async () => {
    const { cli } = await import('./helpers.js');
    const r = await cli(['runs', '--out', store.out, '--partition', PUBLISHED, '--json']);
    expect(r.code).toBe(0);
    const runs = (JSON.parse(r.stdout) as { runs: { partition: string; status: string }[] }).runs;
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((x) => x.partition === PUBLISHED)).toBe(true);
    const failed = await cli(['runs', '--out', store.out, '--status', 'failed'], {
      BN_CONSOLE_URL: 'https://console.example/ops/',
    });
    expect(failed.code).toBe(0);
    const lines = failed.stdout.trim().split('\n');
    // Only failed runs: each with its error in words and its link; no month summary after them.
    const runLines = lines.filter((l) => /^\d{4}-\d{2}-\S+ {2}\d{4}-\d{2} /.test(l));
    expect(runLines.length).toBeGreaterThan(0);
    expect(runLines.every((l) => l.split(/ +/)[2] === 'failed')).toBe(true);
    expect(failed.stdout).not.toContain(store.publishedRunId);
    expect(failed.stdout).toContain(`    https://console.example/ops/#/runs/${store.failedRunId}\n`);
    expect(lines.filter((l) => /^\d{4}-\d{2} {2}\S/.test(l))).toEqual([]);
    const none = await cli(['runs', '--out', store.out, '--status', 'superseded', '--partition', PUBLISHED]);
    expect(none.stdout).toBe(`no superseded run recorded in ${store.out} for ${PUBLISHED}\n`);
    const month = await cli(['runs', '--out', store.out, '--partition', PUBLISHED]);
    expect(month.stdout).not.toContain(store.failedRunId);
    expect(month.stdout).toMatch(new RegExp(`\\n${PUBLISHED} {2}\\S`));
    const bad = await cli(['runs', '--out', store.out, '--status', 'exploded']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '--status must be one of running, published, succeeded, failed, superseded (got "exploded")',
    );
  });
});
