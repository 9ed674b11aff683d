import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderStore } from './adapters/folder-store.js';
import { MemoryBus } from './adapters/memory-bus.js';
import type { PipelineEvent } from './events/index.js';
import type { StageContext, StageHandler } from './stage/context.js';
import { createContext, type ContextOptions } from './wiring.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bn-wiring-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** DuckDB's settings as the context's instance has them. */
async function settingsOf(duckdb: ContextOptions['duckdb']) {
  const store = new FolderStore(join(root, 'store'));
  const { ctx, close } = await createContext(
    { bus: new MemoryBus(), store },
    { workRoot: root, ...(duckdb ? { duckdb } : {}) },
  );
  try {
    return await ctx.duck.with((db) =>
      db.one(
        `SELECT current_setting('threads')::VARCHAR AS threads, current_setting('memory_limit') AS memory_limit, current_setting('allocator_bulk_deallocation_flush_threshold') AS flush`,
      ),
    );
  } finally {
    await close();
  }
}

describe("createContext: DuckDB's settings for the run", () => {
  it('gives DuckDB the threads and memory limit asked for, and returns freed memory early only when asked', async () => {
    const lean = await settingsOf({ threads: 1, memoryLimit: '256MB', returnFreedMemory: true });
    expect(lean.threads).toBe('1');
    expect(lean.memory_limit).toMatch(/^2\d\d\.\d MiB$/);
    expect(lean.flush).toBe('1.9 MiB');

    const usual = await settingsOf({ threads: 1, memoryLimit: '256MB' });
    expect(usual.flush).toBe('512.0 MiB');
  });
});

describe("createContext: DuckDB's settings per stage (wrapStage, `bottleneck run`)", () => {
  /** What each stage's handler saw of DuckDB's settings, the stages run in this order through `wrapStage`. */
  async function seenByStages(duckdb: ContextOptions['duckdb'], order: string[]) {
    const store = new FolderStore(join(root, 'store-stages'));
    const debug: unknown[] = [];
    const log = { debug: (o: unknown) => debug.push(o), info() {}, warn() {}, error() {} };
    const { ctx, close, wrapStage } = await createContext(
      { bus: new MemoryBus(), store },
      { workRoot: root, log, ...(duckdb ? { duckdb } : {}) },
    );
    const seen: Record<string, string>[] = [];
    try {
      const read = (c: StageContext) =>
        c.duck.with((db) =>
          db.one("SELECT current_setting('threads')::VARCHAR AS threads, current_setting('memory_limit') AS mem"),
        );
      for (const stage of order) {
        const h = { stage, consumes: ['trigger'], handle: async () => [] } as unknown as StageHandler;
        const handler = wrapStage(h, async () => {
          seen.push({ stage, ...((await read(ctx)) as Record<string, string>) });
        });
        await handler({} as PipelineEvent);
      }
      return { seen, debug };
    } finally {
      await close();
    }
  }

  it("sets each stage's own memory limit and threads as it starts, and the run's again for the stages without their own", async () => {
    const { seen, debug } = await seenByStages(
      { threads: 2, memoryLimit: '512MB', stages: { ingest: { memoryLimit: '256MB' }, merge: { threads: 1 } } },
      ['ingest', 'clean', 'merge', 'analytics', 'publisher'],
    );
    expect(seen).toEqual([
      { stage: 'ingest', threads: '2', mem: '244.1 MiB' },
      { stage: 'clean', threads: '2', mem: '488.2 MiB' },
      { stage: 'merge', threads: '1', mem: '488.2 MiB' },
      { stage: 'analytics', threads: '2', mem: '488.2 MiB' },
      { stage: 'publisher', threads: '2', mem: '488.2 MiB' },
    ]);
    // Set only when they change: ingest, clean, merge, analytics (the publisher keeps analytics').
    expect(debug).toEqual([
      { stage: 'ingest', threads: 2, memoryLimit: '244.1 MiB' },
      { stage: 'clean', threads: 2, memoryLimit: '488.2 MiB' },
      { stage: 'merge', threads: 1, memoryLimit: '488.2 MiB' },
      { stage: 'analytics', threads: 2, memoryLimit: '488.2 MiB' },
    ]);
  });

  it('leaves DuckDB as the run set it without per-stage settings (the small months, the services)', async () => {
    const { seen, debug } = await seenByStages({ threads: 1, memoryLimit: '256MB' }, ['ingest', 'clean']);
    expect(seen).toEqual([
      { stage: 'ingest', threads: '1', mem: '244.1 MiB' },
      { stage: 'clean', threads: '1', mem: '244.1 MiB' },
    ]);
    expect(debug).toEqual([]);
  });
});
