import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderStore } from '../adapters/folder-store.js';
import { MemoryBus } from '../adapters/memory-bus.js';
import type { Mailer } from '../ports/mailer.js';
import type { ObjectStore } from '../ports/object-store.js';
import { createContext, type ContextOptions, type Wired } from '../wiring.js';

/**
 * A stage context for tests: a fresh folder store (or the one given), the in-memory bus, and a
 * scratch folder; `cleanupTestContexts()` (in afterAll) closes and removes them all.
 *
 * @example
 * const { ctx, store, bus } = await testContext({ now: () => new Date('2026-11-26T10:00:00Z') });
 */
export async function testContext(
  o: ContextOptions & { store?: ObjectStore; mailer?: Mailer } = {},
): Promise<Wired & { store: ObjectStore; bus: MemoryBus; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bn-test-'));
  const store = o.store ?? new FolderStore(dir);
  const bus = new MemoryBus();
  const wired = await createContext({ bus, store, ...(o.mailer ? { mailer: o.mailer } : {}) }, { workRoot: dir, ...o });
  made.push({ close: wired.close, dir, bus });
  return { ...wired, store, bus, dir };
}

const made: { close: () => Promise<void>; dir: string; bus: MemoryBus }[] = [];

/** Closes every test context made so far and removes its folder. */
export async function cleanupTestContexts(): Promise<void> {
  for (const m of made.splice(0)) {
    await m.bus.close();
    await m.close();
    await rm(m.dir, { recursive: true, force: true });
  }
}
