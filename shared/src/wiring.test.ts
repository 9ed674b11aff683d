import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderStore } from './adapters/folder-store.js';
import { MemoryBus } from './adapters/memory-bus.js';
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
  it('gives DuckDB the threads and memory limit asked for, and returns freed memory at once only when asked', async () => {
    const lean = await settingsOf({ threads: 1, memoryLimit: '256MB', returnFreedMemory: true });
    expect(lean.threads).toBe('1');
    expect(lean.memory_limit).toMatch(/^2\d\d\.\d MiB$/);
    expect(lean.flush).toBe('0 bytes');

    const usual = await settingsOf({ threads: 1, memoryLimit: '256MB' });
    expect(usual.flush).not.toBe('0 bytes');
  });
});
