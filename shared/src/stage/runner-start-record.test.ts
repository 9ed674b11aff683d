import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../adapters/folder-store.js';
import { MemoryBus } from '../adapters/memory-bus.js';
import { makeEvent, type PipelineEvent } from '../events/index.js';
import type { ObjectStore, PutOptions } from '../ports/object-store.js';
import { readStageRecord, runRecordKey } from '../runs/record.js';
import { createContext } from '../wiring.js';
import type { StageHandler } from './context.js';
import { bindStage } from './runner.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const RECORD = runRecordKey('2026-11', 'run-1', 'merge');

const validated = () =>
  makeEvent(
    'validated',
    { runId: 'run-1', partition: '2026-11', materializations: {}, checks: [], payload: {} },
    new Date('2026-11-26T09:00:00Z'),
    'run-1.validated',
  );

/**
 * A folder store whose write of the stage's `running` record is held until `release()`; every
 * write of the record is logged, as it starts and as it lands, with the status it carries.
 */
function heldStore(folder: FolderStore) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let released = false;
  const writes: string[] = [];
  const store: ObjectStore = Object.create(folder) as ObjectStore;
  store.put = async (key: string, body: Buffer | string, opts?: PutOptions) => {
    if (key !== RECORD) return folder.put(key, body, opts);
    const status = (JSON.parse(body.toString()) as { status: string }).status;
    writes.push(`start ${status}`);
    if (status === 'running') await gate;
    const put = await folder.put(key, body, opts);
    writes.push(`landed ${status}`);
    return put;
  };
  return {
    store,
    writes,
    released: () => released,
    release: () => {
      released = true;
      release();
    },
  };
}

async function setup(startRecordBesideWork: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'bn-runner-start-'));
  dirs.push(dir);
  const held = heldStore(new FolderStore(dir));
  const bus = new MemoryBus();
  const { ctx, close } = await createContext(
    { bus, store: held.store },
    { workRoot: dir, now: () => new Date('2026-11-26T10:00:00Z'), startRecordBesideWork },
  );
  closers.push(close, () => bus.close());
  let ran!: (recordHeld: boolean) => void;
  const handlerRan = new Promise<boolean>((r) => (ran = r));
  const handler: StageHandler = {
    stage: 'merge',
    consumes: ['validated'],
    handle: async (e: PipelineEvent) => {
      ran(!held.released());
      return [
        makeEvent(
          'merged',
          { runId: e.runId, partition: e.partition, checks: [], payload: {}, materializations: {} },
          new Date('2026-11-26T10:00:00Z'),
          'run-1.merged',
        ),
      ];
    },
  };
  return { dir, bus, held, handlerRan, handle: bindStage(handler, ctx, bus) };
}

describe('bindStage: the start record', () => {
  it('is written before the work by default: the stage waits for it', async () => {
    const s = await setup(false);
    const handling = s.handle(validated());
    // The record's write has started and is held: the stage's work has not begun.
    while (s.held.writes.length === 0) await tick();
    await tick();
    s.held.release();
    expect(await s.handlerRan).toBe(false);
    await handling;
    expect(s.held.writes).toEqual(['start running', 'landed running', 'start succeeded', 'landed succeeded']);
  });

  it('in one process (startRecordBesideWork) is written while the work runs, and lands before the events and the outcome', async () => {
    const s = await setup(true);
    const handling = s.handle(validated());
    // The work ran while the start record was still being written.
    expect(await s.handlerRan).toBe(true);
    // Every microtask of the handling done: nothing said yet, neither event nor outcome record.
    await tick();
    await tick();
    expect(s.bus.messages()).toEqual([]);
    expect(s.held.writes).toEqual(['start running']);
    s.held.release();
    await handling;
    expect(s.bus.messages().map((m) => m.event.type)).toEqual(['merged']);
    expect(s.held.writes).toEqual(['start running', 'landed running', 'start succeeded', 'landed succeeded']);
    expect((await readStageRecord(new FolderStore(s.dir), '2026-11', 'run-1', 'merge'))?.status).toBe('succeeded');
  });
});
