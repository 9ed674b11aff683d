import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_READ_LIMITS, readSheetChecked, type RowBatch } from '../excel/read.js';
import type { Converted } from '../excel/cells.js';
import { SOURCES } from '../sources.js';
import type { InputName } from '../keys.js';
import type { PrefetchMessage } from './prefetch.js';

/**
 * The prefetch's worker thread (stage/prefetch.ts): reads each workbook of the input folder whole,
 * with the default limits, and posts its content hash, its rows in batches and its outcome. The
 * hash is taken before and after the read: rows of bytes that changed meanwhile are never claimed.
 */
const { files } = workerData as { files: { name: InputName; path: string }[] };
const port = parentPort;
const BATCH_ROWS = 4096;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function readOne(name: InputName, path: string): Promise<void> {
  const spec = SOURCES[name];
  const post = (m: PrefetchMessage) => port?.postMessage(m);
  let before: string;
  try {
    before = await sha256(path);
  } catch {
    post({ type: 'end', file: spec.file, ok: false });
    return;
  }
  post({ type: 'start', file: spec.file, sha256: before, limits: JSON.stringify(DEFAULT_READ_LIMITS) });
  const fresh = (): RowBatch => ({ columns: spec.columns.map((): Converted[] => []), rows: [] });
  let batch = fresh();
  try {
    const read = await readSheetChecked(path, spec, DEFAULT_READ_LIMITS, {
      row(values, row) {
        // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- within the row's bounds, per cell
        for (let i = 0; i < values.length; i++) batch.columns[i]!.push(values[i]!);
        batch.rows.push(row);
        if (batch.rows.length >= BATCH_ROWS) {
          post({ type: 'batch', file: spec.file, batch });
          batch = fresh();
        }
      },
    });
    if (batch.rows.length) post({ type: 'batch', file: spec.file, batch });
    const after = await sha256(path);
    post(
      after === before
        ? { type: 'end', file: spec.file, ok: true, sheet: read.sheet, zip: read.zip }
        : { type: 'end', file: spec.file, ok: false },
    );
  } catch {
    // The run's own read meets the error and reports it; the prefetch only says it has nothing.
    post({ type: 'end', file: spec.file, ok: false });
  }
}

for (const f of files) await readOne(f.name, f.path);
