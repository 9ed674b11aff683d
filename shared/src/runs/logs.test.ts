import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import { MemoryBus } from '../adapters/memory-bus.js';
import { createError } from '../errors/index.js';
import { makeEvent } from '../events/index.js';
import type { Logger, StageHandler } from '../stage/context.js';
import { bindStage } from '../stage/runner.js';
import { createContext } from '../wiring.js';
import {
  LOG_HEAD,
  LOG_MAX_MSG,
  LOG_MAX_RECORDS,
  LOG_TAIL,
  RunLogBuffer,
  readRunLogs,
  readStageLog,
  runLogKey,
  writeStageLog,
} from './logs.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
const folder = async () => {
  const d = await mkdtemp(join(tmpdir(), 'bn-logs-'));
  dirs.push(d);
  return new FolderStore(d);
};
const at = () => new Date('2026-11-26T10:00:00Z');

describe('RunLogBuffer: bounded per stage and run', () => {
  const fill = (n: number) => {
    const b = new RunLogBuffer('clean', at);
    for (let i = 1; i <= n; i++) b.add('info', { i }, `line ${i}`);
    return b;
  };

  it('the bound the README states: 200 records per stage and run, the first 150 and the last 50', () => {
    expect([LOG_MAX_RECORDS, LOG_HEAD, LOG_TAIL, LOG_MAX_MSG]).toEqual([200, 150, 50, 1_000]);
  });

  it(`keeps every record up to the bound (${LOG_MAX_RECORDS}) and drops none`, () => {
    const b = fill(LOG_MAX_RECORDS);
    expect(b.dropped).toBe(0);
    expect(b.records()).toHaveLength(LOG_MAX_RECORDS);
    expect(b.records().at(-1)!.msg).toBe(`line ${LOG_MAX_RECORDS}`);
  });

  it('one past the bound: the first and the last are kept, the one between dropped, counted, and said where', () => {
    const b = fill(LOG_MAX_RECORDS + 1);
    expect(b.dropped).toBe(1);
    const r = b.records();
    expect(r).toHaveLength(LOG_MAX_RECORDS + 1);
    expect(r[LOG_HEAD - 1]!.msg).toBe(`line ${LOG_HEAD}`);
    expect(r[LOG_HEAD]).toMatchObject({
      level: 'warn',
      dropped: 1,
      msg: `1 log record dropped here: a stage keeps the first ${LOG_HEAD} and the last ${LOG_TAIL} of a run`,
    });
    expect(r[LOG_HEAD + 1]!.msg).toBe(`line ${LOG_HEAD + 2}`);
    expect(r.at(-1)!.msg).toBe(`line ${LOG_MAX_RECORDS + 1}`);
  });

  it('a long run: memory stays bounded, the last records (where a failure is) are kept', () => {
    const b = fill(10_000);
    expect(b.dropped).toBe(10_000 - LOG_MAX_RECORDS);
    expect(b.records().slice(-LOG_TAIL)[0]!.msg).toBe(`line ${10_000 - LOG_TAIL + 1}`);
  });

  it('redacts secrets in messages and fields, cuts long messages, and leaves out the run identity', () => {
    const b = new RunLogBuffer('alerter', at);
    b.add(
      'error',
      {
        runId: 'r',
        partition: '2026-11',
        eventId: 'e',
        err: new Error('SendGrid refused key SG.abcdefgh12.ijklmnop34'),
        n: 3,
        nested: { apiKey: 'plain', url: 'https://user:pw@host/x' },
      },
      `password=hunter2 and ${'x'.repeat(LOG_MAX_MSG + 5)}`,
    );
    const [r] = b.records();
    expect(r).toEqual({
      time: '2026-11-26T10:00:00.000Z',
      level: 'error',
      stage: 'alerter',
      err: 'SendGrid refused key [redacted]',
      n: 3,
      nested: { apiKey: '[secret]', url: 'https://user:[redacted]@host/x' },
      msg: `password=[redacted] and ${'x'.repeat(LOG_MAX_MSG - 'password=[redacted] and '.length)}... (${'password=[redacted] and '.length + 5} more characters)`,
    });
  });

  it('tee: the service log still gets every record', () => {
    const seen: string[] = [];
    const base: Logger = {
      debug: (_o, m) => seen.push(`debug ${m}`),
      info: (_o, m) => seen.push(`info ${m}`),
      warn: (_o, m) => seen.push(`warn ${m}`),
      error: (_o, m) => seen.push(`error ${m}`),
    };
    const b = new RunLogBuffer('merge', at);
    const log = b.tee(base);
    log.info({}, 'a');
    log.error({}, 'b');
    expect(seen).toEqual(['info a', 'error b']);
    expect(b.records().map((r) => `${r.level} ${r.msg}`)).toEqual(['info a', 'error b']);
  });
});

describe('stored logs', () => {
  it('round-trip through the store beside the run record, and filter by stage, level (and above) and text', async () => {
    const store = await folder();
    const run = { runId: '2026-11-run', partition: '2026-11' };
    const clean = new RunLogBuffer('clean', at);
    clean.add('info', { asset: 'erp_clean' }, 'materialized erp_clean');
    clean.add('warn', { asset: 'erp_clean' }, 'check erp_clean.price_not_negative failed');
    const merge = new RunLogBuffer('merge', at);
    merge.add('debug', {}, 'details');
    merge.add('error', { code: 'BN_ERR_X' }, 'merged_with_revenue failed');
    await writeStageLog(store, clean.toLog(run.runId, run.partition));
    await writeStageLog(store, merge.toLog(run.runId, run.partition));
    expect(runLogKey('2026-11', '2026-11-run', 'clean')).toBe('runs/2026-11/2026-11-run/clean.log.jsonl');
    expect((await readStageLog(store, '2026-11', '2026-11-run', 'clean'))?.records).toEqual(clean.records());
    expect(await readStageLog(store, '2026-11', '2026-11-run', 'ingest')).toBeNull();

    const stages = ['ingest', 'clean', 'merge'];
    const all = await readRunLogs(store, run, stages);
    expect(all.stages).toEqual(['clean', 'merge']);
    expect(all.records.map((r) => r.msg)).toEqual([
      'materialized erp_clean',
      'check erp_clean.price_not_negative failed',
      'details',
      'merged_with_revenue failed',
    ]);
    expect(all.dropped).toBe(0);
    expect((await readRunLogs(store, run, stages, { level: 'warn' })).records.map((r) => r.level)).toEqual([
      'warn',
      'error',
    ]);
    expect((await readRunLogs(store, run, stages, { stage: 'merge' })).records.map((r) => r.stage)).toEqual([
      'merge',
      'merge',
    ]);
    // Text in a field counts; the names of the record's own keys do not ("level" is in every record).
    expect((await readRunLogs(store, run, stages, { q: 'bn_err_x' })).records.map((r) => r.msg)).toEqual([
      'merged_with_revenue failed',
    ]);
    expect((await readRunLogs(store, run, stages, { q: 'level' })).records).toEqual([]);
  });
});

describe('bindStage keeps the stage log with the run record', () => {
  for (const fail of [false, true]) {
    it(`${fail ? 'a failing' : 'a succeeding'} stage: its own records, start to end, beside merge.json`, async () => {
      const store = await folder();
      const bus = new MemoryBus();
      const { ctx, close } = await createContext({ bus, store }, { workRoot: store.root, now: at });
      closers.push(close, () => bus.close());
      const handler: StageHandler = {
        stage: 'merge',
        consumes: ['validated'],
        handle: async (e, c) => {
          c.log.info({ asset: 'merged_with_revenue', token: 'token=abc123' }, 'working');
          if (fail) throw createError('BN_ERR_INPUT_BAD_VALUE', 'erp.xlsx, row 12: "x" is not a number');
          return [
            makeEvent(
              'merged',
              { runId: e.runId, partition: e.partition, checks: [], payload: {}, materializations: {} },
              at(),
            ),
          ];
        },
      };
      const event = makeEvent(
        'validated',
        { runId: 'run-1', partition: '2026-11', materializations: {}, checks: [], payload: {} },
        at(),
        'run-1.validated',
      );
      const bound = bindStage(handler, ctx, bus);
      await bound(event);
      const log = await readStageLog(store, '2026-11', 'run-1', 'merge');
      expect(log?.records.map((r) => `${r.level} ${r.msg}`)).toEqual([
        'info merge started on validated',
        'info working',
        ...(fail
          ? [
              'error stage failed: erp.xlsx, row 12: "x" is not a number',
              expect.stringMatching(/^info merge failed after \d+ ms$/),
            ]
          : [expect.stringMatching(/^info merge handed over merged after \d+ ms$/)]),
      ]);
      expect(log?.records[1]).toMatchObject({ asset: 'merged_with_revenue', token: '[secret]' });
      // A second event of the same stage gets a log of its own (the logger is not shared across handlings).
      const other = { ...event, id: 'run-2.validated', runId: 'run-2' };
      await bound(other);
      const second = await readStageLog(store, '2026-11', 'run-2', 'merge');
      expect(second?.records.map((r) => r.msg)).toHaveLength(log!.records.length);
      expect(second?.records[0]?.msg).toBe('merge started on validated');
    });
  }
});
