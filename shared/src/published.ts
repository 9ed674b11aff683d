import { createError, isBottleneckError } from './errors/index.js';
import { layout } from './keys.js';
import type { ObjectStore } from './ports/object-store.js';

/** What the manifest of a run's published set says: written after the files, before the pointer. */
export interface Manifest {
  runId: string;
  partition: string;
  publishedAt: string;
  files: { name: string; key: string; bytes: number; sha256: string; asset: string }[];
  /** Data version of every asset of the run, and the input files it read. */
  assets: Record<string, string>;
  checks: { passed: number; warnings: string[] };
}

/**
 * extracts/<partition>/_current.json: the pointer readers follow. It is written last, in one put,
 * after the run's files and manifest under extracts/<partition>/<run-id>/: a reader sees the old
 * set or the new one, never a mix.
 */
export interface CurrentPointer {
  partition: string;
  runId: string;
  /** When the run started: a run never replaces a set published by a run that started after it. */
  runStartedAt: string;
  prefix: string;
  manifestKey: string;
  publishedAt: string;
  files: Manifest['files'];
}

/** The pointer of a month, or null when nothing is published for it. */
export async function readCurrent(store: ObjectStore, partition: string): Promise<CurrentPointer | null> {
  try {
    return JSON.parse((await store.get(layout.current(partition))).toString('utf8')) as CurrentPointer;
  } catch (e) {
    if (isBottleneckError(e) && e.code === 'BN_ERR_STORE_NOT_FOUND') return null;
    throw e;
  }
}

/**
 * What a reader of extracts/ does: follow the month's pointer to its run's set, and read a file of
 * it (by its published name). Throws BN_ERR_STORE_NOT_FOUND when the month has no published set.
 */
export async function readPublished(store: ObjectStore, partition: string, name: string): Promise<Buffer> {
  const current = await readCurrent(store, partition);
  const file = current?.files.find((f) => f.name === name);
  if (!current || !file)
    throw createError(
      'BN_ERR_STORE_NOT_FOUND',
      `${name} is not published for ${partition}${current ? ` (run ${current.runId})` : ''}`,
    );
  return store.get(file.key);
}
