import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { bundleIsCurrent } from '../bundle.js';
import type { RowBatch, SheetSummary, ZipSummary } from '../excel/read.js';

/** How many bytes of workbooks the prefetch reads at most (Prefetch.start). */
export const PREFETCH_MAX_BYTES = 2 * 1024 * 1024;

/** What the prefetch's worker posts, per workbook, in this order: start, batches, end. */
export type PrefetchMessage =
  | { type: 'start'; file: string; sha256: string; limits: string }
  | { type: 'batch'; file: string; batch: RowBatch }
  | { type: 'end'; file: string; ok: true; sheet: SheetSummary; zip: ZipSummary }
  | { type: 'end'; file: string; ok: false };

/** A claimed prefetched read: its batches as they arrive, then the whole read's result (null: it failed, use none of it). */
export interface PrefetchedRead {
  batches: AsyncIterable<RowBatch>;
  result: () => Promise<{ sheet: SheetSummary; zip: ZipSummary } | null>;
}

interface FileState {
  start?: { sha256: string; limits: string };
  batches: RowBatch[];
  end?: { ok: true; sheet: SheetSummary; zip: ZipSummary } | { ok: false };
  claimed: boolean;
  wake: (() => void)[];
}

/**
 * The input workbooks read on a worker thread from the very start of `bottleneck run`, while the
 * main thread imports the asset graph and starts DuckDB (issue 18: start-up off the critical path).
 * Ingest's whole read (stage/read-once.ts) claims a file's rows by its data version and limits:
 * the worker's rows are used only if it read the very bytes ingest checked (sha256 before and after
 * its read equal to ingest's data version) with the same limits; otherwise, or when the worker's
 * read failed or the worker died, ingest reads the file itself as before. The worker holds nothing
 * the run needs: its failure only costs the time it saved.
 *
 * @example
 * const prefetch = await Prefetch.start([{ name: 'erp', file: 'erp.xlsx', path: '/in/erp.xlsx' }]);
 * const pre = await prefetch.claim('erp.xlsx', dataVersion, JSON.stringify(limits)); // null: read it yourself
 */
export class Prefetch {
  private readonly files = new Map<string, FileState>();
  private dead = false;

  private constructor(private readonly worker: Worker | undefined) {
    if (!worker) {
      this.dead = true;
      return;
    }
    worker.on('message', (m: PrefetchMessage) => this.receive(m));
    const die = () => {
      this.dead = true;
      for (const s of this.files.values()) this.notify(s);
    };
    worker.on('error', die);
    worker.on('exit', die);
  }

  /**
   * Starts the worker on `files` (read in this order), as long as their sizes add up to at most
   * `maxBytes`: the worker is worth what it reads while the main thread starts (about 0.4 s of
   * CPU); a larger workbook would then cost more in copies of its rows between threads than it
   * saves (measured at K = 20: 0.5 s more CPU), so ingest reads it itself. An unreadable file
   * ends the list (ingest meets it itself). The worker is spawned before this returns (no await
   * before it: cli/src/early.ts starts it while the CLI's modules are still being evaluated).
   */
  static async start(
    files: { name: string; file: string; path: string }[],
    maxBytes = PREFETCH_MAX_BYTES,
  ): Promise<Prefetch> {
    const chosen: typeof files = [];
    let total = 0;
    for (const f of files) {
      let size = Infinity;
      try {
        const s = statSync(f.path);
        if (s.isFile()) size = s.size;
      } catch {
        // Unreadable: the list ends here.
      }
      if (total + size > maxBytes) break;
      total += size;
      chosen.push(f);
    }
    files = chosen;
    if (files.length === 0) return new Prefetch(undefined);
    const worker = new Worker(workerUrl(), {
      workerData: { files: files.map((f) => ({ name: f.name, path: f.path })) },
    });
    const p = new Prefetch(worker);
    for (const f of files) p.files.set(f.file, { batches: [], claimed: false, wake: [] });
    return p;
  }

  private receive(m: PrefetchMessage): void {
    const s = this.files.get(m.file);
    if (!s) return;
    if (m.type === 'start') s.start = { sha256: m.sha256, limits: m.limits };
    else if (m.type === 'batch') {
      if (!s.end) s.batches.push(m.batch);
    } else s.end = m.ok ? { ok: true, sheet: m.sheet, zip: m.zip } : { ok: false };
    this.notify(s);
  }

  private notify(s: FileState): void {
    for (const w of s.wake.splice(0)) w();
  }

  private next(s: FileState): Promise<void> {
    return new Promise((resolve) => {
      if (this.dead) resolve();
      else s.wake.push(resolve);
    });
  }

  /**
   * The rows of `file` if the worker read the bytes whose sha256 is `dataVersion` with the limits
   * `limits` (JSON of the ReadLimits), claimed once; null otherwise (read it yourself).
   */
  async claim(file: string, dataVersion: string, limits: string): Promise<PrefetchedRead | null> {
    const s = this.files.get(file);
    if (!s || s.claimed) return null;
    while (!s.start && !s.end && !this.dead) await this.next(s);
    if (!s.start || s.start.sha256 !== dataVersion || s.start.limits !== limits) return null;
    s.claimed = true;
    const batches = async function* (this: Prefetch): AsyncGenerator<RowBatch> {
      for (;;) {
        const b = s.batches.shift();
        if (b) yield b;
        else if (s.end || this.dead) return;
        else await this.next(s);
      }
    }.call(this);
    const result = async () => {
      while (!s.end && !this.dead) await this.next(s);
      // Every batch was taken before the end was read (batches then end, in order).
      return s.end?.ok && s.batches.length === 0 ? { sheet: s.end.sheet, zip: s.end.zip } : null;
    };
    return { batches, result };
  }

  /** Stops the worker (the run is over, or will not use it). */
  async close(): Promise<void> {
    this.dead = true;
    for (const s of this.files.values()) this.notify(s);
    await this.worker?.terminate();
  }
}

/**
 * The worker's script: as the build bundled it (prefetch-worker.bundle.js, scripts/bundle-run.mjs:
 * one module instead of the reader's ~20, about 10 ms less CPU before the worker's first read)
 * when that bundle is there and every module in it is the file it was built from (size and mtime,
 * as listed in prefetch-worker.bundle.json: after a `tsc -b` alone the modules load as they are);
 * otherwise prefetch-worker.js. `dir`: the folder of both; `root`: the one the list's paths are from.
 */
export function workerUrl(dir = new URL('./', import.meta.url), root = new URL('../../../', import.meta.url)): URL {
  if (bundleIsCurrent(new URL('./prefetch-worker.bundle.json', dir), root))
    return new URL('./prefetch-worker.bundle.js', dir);
  // No bundle (no esbuild at build time), or a module of it changed or gone: the modules as they are.
  return new URL('./prefetch-worker.js', dir);
}
