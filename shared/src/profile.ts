import { isMainThread } from 'node:worker_threads';

/**
 * BN_PROFILE=1: each phase's start and duration (ms since the process started, so overlapping
 * phases show as such) and the resident memory when it ended, printed to stderr when the process
 * exits, then the peak RSS. Off, `timed` is one branch.
 *
 * @example
 * const rows = await timed('clean: parse web.xlsx', () => readSheetInto(...));
 */
export const PROFILING = ['1', 'true', 'yes'].includes((process.env.BN_PROFILE ?? '').trim().toLowerCase());

const spans: { label: string; start: number; end: number; rssMiB: number }[] = [];

if (PROFILING) {
  process.on('exit', () => {
    const thread = isMainThread ? '' : ' (worker)';
    const lines = [...spans]
      .sort((a, b) => a.start - b.start)
      .map(
        (s) =>
          `bn-profile${thread} ${s.start.toFixed(0).padStart(6)} ms +${(s.end - s.start).toFixed(0).padStart(5)} ms ${s.rssMiB.toFixed(0).padStart(4)} MiB  ${s.label}`,
      );
    lines.push(`bn-profile${thread} peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
    process.stderr.write(`${lines.join('\n')}\n`);
  });
}

/** Records a phase that started at `start` (performance.now()) and ends now. */
export function mark(label: string, start: number): void {
  if (PROFILING) spans.push({ label, start, end: performance.now(), rssMiB: process.memoryUsage.rss() / 2 ** 20 });
}

/** Runs `fn`, recording its duration under `label` when profiling. */
export async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  if (!PROFILING) return fn();
  const start = performance.now();
  try {
    return await fn();
  } finally {
    mark(label, start);
  }
}
