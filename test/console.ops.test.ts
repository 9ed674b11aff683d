/**
 * The console's operational guarantees, with app.inject() over a folder store: actions go through
 * the outbox (a bus that does not answer leaves them pending, sent when it is back), /readyz
 * answers whatever the store does, Host and Origin are checked, months can be dismissed and
 * restored, and `bottleneck ui` refuses to open itself to the network without a token.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '@bottleneck/console/app';
import { EmbeddedEngine, graphSpec, MonthWatcher } from '@bottleneck/cli/console';
import { dismissMonth } from '@bottleneck/shared/catalog/dismissed';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { MemoryBus } from '@bottleneck/shared/adapters/memory-bus';
import { Actions } from '@bottleneck/shared/catalog/actions';
import type { PipelineEvent } from '@bottleneck/shared/events/index';
import type { Bus } from '@bottleneck/shared/ports/bus';
import type { ObjectStore } from '@bottleneck/shared/ports/object-store';
import { BIN, cleanupTmp, cli, tmp } from './helpers.js';
import { generateMonth } from '@bottleneck/cli/generate/index';

/** A bus whose publish waits until the gate opens (Kafka down, then back), recording what it took. */
function gatedBus(): { bus: Bus; open: () => void; taken: PipelineEvent[] } {
  const inner = new MemoryBus();
  const taken: PipelineEvent[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const bus = Object.create(inner) as Bus;
  bus.publish = async (e) => {
    await gate;
    taken.push(e);
    await inner.publish(e);
  };
  return { bus, open, taken };
}

let out: string;
let good: string;
const MONTH = '2027-03';
const HALF = '2027-04';

beforeAll(async () => {
  const root = await tmp('bn-console-ops-');
  out = join(root, 'out');
  good = join(root, 'good');
  await generateMonth({ outDir: good, scale: 0.15, seed: 3 });
  await mkdir(join(out, 'incoming', MONTH), { recursive: true });
  await mkdir(join(out, 'incoming', HALF), { recursive: true });
  for (const n of ['erp', 'web', 'liaison'])
    await copyFile(join(good, `${n}.xlsx`), join(out, 'incoming', MONTH, `${n}.xlsx`));
  await copyFile(join(good, 'erp.xlsx'), join(out, 'incoming', HALF, 'erp.xlsx'));
});

afterAll(async () => {
  await cleanupTmp();
});

describe('console actions go through the outbox', () => {
  it('with the bus not answering: 202 at once, recorded as pending; sent by the sweep once the bus is back', async () => {
    const store = new FolderStore(out);
    const { bus, open, taken } = gatedBus();
    const actions = new Actions(store, bus, { waitMs: 200 });
    const app = buildConsole({ store, graph: graphSpec(), actions: async () => actions, refreshMs: 0 });
    const r = await app.inject({ method: 'POST', url: '/api/runs', payload: { partition: MONTH } });
    expect(r.statusCode).toBe(202);
    const body = r.json<{ runId: string; pending: boolean; id: string }>();
    expect(body.pending).toBe(true);
    const pending = (await app.inject({ url: '/api/actions/pending' })).json<{
      pending: { id: string; kind: string; runs: { partition: string; runId: string }[] }[];
    }>().pending;
    expect(pending).toEqual([
      expect.objectContaining({ id: body.id, kind: 'rerun', runs: [{ partition: MONTH, runId: body.runId }] }),
    ]);
    expect(taken).toEqual([]);
    // Kafka is back: the first send (still waiting) and the sweep deliver the trigger; its id is fixed, so once.
    open();
    await actions.outbox.settled();
    await actions.outbox.sweep(0);
    expect(taken.map((e) => [e.type, e.runId])).toEqual([['trigger', body.runId]]);
    expect(taken[0]!.type === 'trigger' && taken[0]!.payload.files?.erp.key).toBe(`incoming/${MONTH}/erp.xlsx`);
    expect((await app.inject({ url: '/api/actions/pending' })).json<{ pending: unknown[] }>().pending).toEqual([]);
    await app.close();
  });

  it('a pending action left by a process that died is sent by the next sweep', async () => {
    const store = new FolderStore(out);
    const first = gatedBus();
    const r = await new Actions(store, first.bus, { waitMs: 50 }).rerun(MONTH, 'console');
    expect(r.pending).toBe(true);
    // Another process (a restarted console) with a bus that answers.
    const second = gatedBus();
    second.open();
    const sent = await new Actions(store, second.bus).outbox.sweep(0);
    expect(sent).toEqual([r.id]);
    expect(second.taken.map((e) => e.runId)).toEqual([r.runId]);
  });
});

describe("the embedded engine's dead letters", () => {
  it('are recorded as the services record them: refused events under refused/<month>/, listed by the console, one mail per kind and hour', async () => {
    const root = await tmp('bn-console-dl-');
    const engine = new EmbeddedEngine(root);
    await engine.actions();
    const bus = engine.adapters.bus;
    // Unsigned events on a stage's topic (the in-process bus signs what it publishes itself).
    const forged = (n: number) =>
      JSON.stringify({
        id: `forged-${n}`,
        type: 'validated',
        v: 1,
        ts: '2027-05-01T00:00:00.000Z',
        runId: `2027-05-20990101T000000-f${n}`,
        partition: '2027-05',
        materializations: {},
        checks: [],
        payload: {},
      });
    for (const n of [1, 2, 3]) await bus.publishRaw(bus.topicOf('validated'), forged(n), '2027-05');
    await engine.idle();
    const refused = (await engine.catalog.snapshot()).refused.filter((r) => r.partition === '2027-05');
    expect(refused.map((r) => [r.kind, r.eventId]).sort()).toEqual([
      ['unsigned', 'forged-1'],
      ['unsigned', 'forged-2'],
      ['unsigned', 'forged-3'],
    ]);
    for (const r of refused)
      expect(r.key).toMatch(/^refused\/2027-05\/bus-bottleneck\.validated\.session-\d+T\d+-0-\d+\.json$/);
    const mails = await readdir(join(root, 'outbox'));
    const subjects = await Promise.all(
      mails.map(
        async (f) => (JSON.parse(await readFile(join(root, 'outbox', f), 'utf8')) as { subject: string }).subject,
      ),
    );
    expect(subjects).toEqual(['[BottleNeck pipeline] 1 refused event (unsigned)']);
    await engine.close();

    // A second process over the same folder: its bus counts offsets from 0 again, and its refused
    // events are new records, not taken for redeliveries of the first one's.
    const again = new EmbeddedEngine(root);
    await again.actions();
    await again.adapters.bus.publishRaw(again.adapters.bus.topicOf('validated'), forged(4), '2027-05');
    await again.idle();
    expect((await again.catalog.snapshot()).refused.filter((r) => r.partition === '2027-05')).toHaveLength(4);
    await again.close();
  });
});

describe('console /readyz', () => {
  it('answers within its probe time when the store does not answer at all', async () => {
    const frozen = new FolderStore(out) as ObjectStore;
    frozen.list = () => new Promise(() => undefined);
    const app = buildConsole({
      store: frozen,
      graph: graphSpec(),
      actions: () => Promise.reject(new Error('unused')),
      probeMs: 300,
    });
    const r = await app.inject({ url: '/readyz' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ status: 'not ready', reason: 'the object store did not answer within 300 ms' });
    // A second call does not pile up another probe: it waits on the same one.
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    await app.close();
  });
});

describe('console Host and Origin checks', () => {
  const make = () =>
    buildConsole({
      store: new FolderStore(out),
      graph: graphSpec(),
      actions: async () => new Actions(new FolderStore(out), new MemoryBus()),
      hosts: ['localhost', '127.0.0.1', 'console.lan'],
      refreshMs: 0,
    });

  it('refuses a Host that is not one of its names (DNS rebinding), in words', async () => {
    const app = make();
    const r = await app.inject({ url: '/api/partitions', headers: { host: 'evil.example' } });
    expect(r.statusCode).toBe(403);
    expect(r.json()).toEqual({
      error: 'forbidden',
      message:
        'Host "evil.example" is not a name this console serves (localhost, 127.0.0.1, console.lan): open it by one of those, or add the name to BN_CONSOLE_HOSTS',
    });
    expect((await app.inject({ url: '/api/partitions', headers: { host: 'console.lan:8090' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/', headers: { host: '127.0.0.1:8090' } })).statusCode).toBe(200);
    await app.close();
  });

  it('refuses a POST from another origin, or marked cross-site, even without a body', async () => {
    const app = make();
    const host = '127.0.0.1:8090';
    for (const headers of [
      { host, origin: 'http://evil.example' },
      { host, origin: 'http://127.0.0.1:9999' },
      { host, origin: 'null' },
      { host, 'sec-fetch-site': 'cross-site' },
    ]) {
      const r = await app.inject({ method: 'POST', url: '/api/runs/2027-03-x/reexecute', headers });
      expect(r.statusCode, JSON.stringify(headers)).toBe(403);
      expect(r.json<{ message: string }>().message).toMatch(
        /is refused: actions are taken from this console's own page only$/,
      );
    }
    // Its own page (same origin) and a client that sends no Origin (curl, the CLI) reach the route.
    const own = await app.inject({
      method: 'POST',
      url: '/api/runs',
      headers: { host, origin: `http://${host}` },
      payload: { partition: HALF },
    });
    expect(own.statusCode).toBe(409);
    await app.close();
  });
});

describe('dismissing a month', () => {
  it('is recorded and reversible; a backfill skips a dismissed month', async () => {
    const store = new FolderStore(out);
    const bus = new MemoryBus();
    const app = buildConsole({
      store,
      graph: graphSpec(),
      actions: async () => new Actions(store, bus),
      refreshMs: 0,
    });
    const month = () =>
      app
        .inject({ url: '/api/partitions' })
        .then((r) => r.json<{ partitions: { partition: string; dismissed?: { reason: string } }[] }>())
        .then((b) => b.partitions.find((p) => p.partition === HALF)!);
    const d = await app.inject({
      method: 'POST',
      url: `/api/partitions/${HALF}/dismiss`,
      payload: { reason: 'dropped under the wrong month' },
    });
    expect(d.statusCode).toBe(200);
    expect((await month()).dismissed).toEqual({ at: expect.any(String), reason: 'dropped under the wrong month' });
    const b = await app.inject({ method: 'POST', url: '/api/backfills', payload: { from: HALF, to: HALF } });
    expect(b.json<{ skipped: unknown[] }>().skipped).toEqual([{ partition: HALF, why: `${HALF} is dismissed` }]);
    expect((await app.inject({ method: 'POST', url: `/api/partitions/${HALF}/restore` })).statusCode).toBe(200);
    expect((await month()).dismissed).toBeUndefined();
    expect((await app.inject({ method: 'POST', url: `/api/partitions/${HALF}/restore` })).statusCode).toBe(404);
    await app.close();
  });
});

describe("bottleneck ui's folder watcher", () => {
  it('runs a new month once its three files have settled (one dropped before it started too); leaves a dismissed month and a published one alone', async () => {
    const dir = join(await tmp('bn-console-watch-'), 'out');
    await mkdir(join(dir, 'incoming'), { recursive: true });
    const engine = new EmbeddedEngine(dir);
    let now = Date.now();
    const watcher = new MonthWatcher(engine, { settleMs: 60_000, now: () => new Date(now) });
    try {
      const drop = async (m: string, names = ['erp', 'web', 'liaison']) => {
        await mkdir(join(dir, 'incoming', m), { recursive: true });
        for (const n of names) await copyFile(join(good, `${n}.xlsx`), join(dir, 'incoming', m, `${n}.xlsx`));
      };
      // Dropped before the watcher started, never run: run as new (once settled).
      await drop('2027-05');
      expect(await watcher.tick()).toEqual([]); // the cursor's start
      await drop('2027-06');
      await drop('2027-07');
      await dismissMonth(new FolderStore(dir), '2027-07', 'a test upload', new Date());
      expect(await watcher.tick()).toEqual([]); // not settled yet
      now += 61_000;
      const started = await watcher.tick();
      expect(started.map((x) => x.partition)).toEqual(['2027-05', '2027-06']);
      await engine.idle();
      expect(await watcher.tick()).toEqual([]); // the same files: nothing more
      // A published month whose file changes is left to the operator (the page shows it stale).
      await new Promise((r) => setTimeout(r, 20));
      await drop('2027-06', ['web']);
      now += 61_000;
      expect(await watcher.tick()).toEqual([]);
      const s = await engine.catalog.snapshot();
      expect(s.partitions.find((p) => p.partition === '2027-06')!.status).toBe('stale');
      expect(s.runs.filter((r) => r.partition === '2027-07')).toEqual([]);
    } finally {
      await engine.close();
    }
  });
  it('lists uploads it cannot place (a misspelt prefix, no month folder, not a month), once per key', async () => {
    const dir = join(await tmp('bn-console-unplaced-'), 'out');
    const put = async (key: string) => {
      await mkdir(join(dir, key, '..'), { recursive: true });
      await copyFile(join(good, 'erp.xlsx'), join(dir, key));
    };
    await mkdir(join(dir, 'incoming'), { recursive: true });
    const engine = new EmbeddedEngine(dir);
    const watcher = new MonthWatcher(engine, { settleMs: 60_000 });
    try {
      await put('incomming/2029-02/erp.xlsx');
      await put('incoming/erp.xlsx');
      await put('incoming/2028-13/web.xlsx');
      await put('incoming/2029-03/erp.xlsx'); // placeable: a month waiting for files
      await watcher.tick();
      await watcher.tick();
      const s = await engine.catalog.snapshot();
      expect(s.unrecognisedUploads.map((u) => u.key).sort()).toEqual([
        'incoming/2028-13/web.xlsx',
        'incoming/erp.xlsx',
        'incomming/2029-02/erp.xlsx',
      ]);
      expect(s.unrecognisedUploads.find((u) => u.key === 'incoming/2028-13/web.xlsx')!.why).toContain('not a month');
    } finally {
      await engine.close();
    }
  });
});

describe('bottleneck ui on a network', () => {
  it('refuses a --host other than loopback without BN_CONSOLE_TOKEN: exit 2, in words', async () => {
    const r = await cli(['ui', '--out', out, '--host', '0.0.0.0'], { BN_CONSOLE_TOKEN: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'bottleneck: --host 0.0.0.0 would open the console (its data and its actions) to the network without a token: set BN_CONSOLE_TOKEN',
    );
  });

  it('with a token, prints the address it really listens on', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '0.0.0.0', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const p = spawn(
      process.execPath,
      [BIN, 'ui', '--out', out, '--host', '0.0.0.0', '--port', String(port), '--no-watch'],
      {
        env: { ...process.env, BN_CONSOLE_TOKEN: 'a-token-for-the-ui-test-0123456789' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      p.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('Ctrl-C')) resolve();
      });
      p.on('close', (code) => reject(new Error(`ui exited ${code}`)));
    });
    expect(stdout).toContain(`at http://0.0.0.0:${port}/`);
    expect(stdout).not.toContain('127.0.0.1');
    p.kill('SIGTERM');
    await new Promise((r) => p.on('close', r));
  });
});
