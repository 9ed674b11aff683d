import { isMainThread } from 'node:worker_threads';

/**
 * BN_PROFILE=1: each phase's start and duration (ms since the process started, so overlapping
 * phases show as such), the process's CPU time during it (user + system, all threads: phases that
 * overlap share it) and the resident memory when it ended, printed to stderr when the process
 * exits, then the whole process's wall and CPU time and peak RSS. Off, `timed` is one branch.
 *
 * @example
 * const rows = await timed('clean: parse web.xlsx', () => readSheetInto(...));
 */
export const PROFILING = ['1', 'true', 'yes'].includes((process.env.BN_PROFILE ?? '').trim().toLowerCase());

const spans: { label: string; start: number; end: number; cpuMs: number; rssMiB: number }[] = [];

/** The process's CPU time so far (user + system, all threads), ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

if (PROFILING) {
  process.on('exit', () => {
    const thread = isMainThread ? '' : ' (worker)';
    const lines = [...spans]
      .sort((a, b) => a.start - b.start)
      .map(
        (s) =>
          `bn-profile${thread} ${s.start.toFixed(0).padStart(6)} ms +${(s.end - s.start).toFixed(0).padStart(5)} ms cpu ${s.cpuMs.toFixed(0).padStart(5)} ms ${s.rssMiB.toFixed(0).padStart(4)} MiB  ${s.label}`,
      );
    lines.push(
      `bn-profile${thread} total ${performance.now().toFixed(0)} ms wall, cpu ${cpuMs().toFixed(0)} ms; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
    );
    process.stderr.write(`${lines.join('\n')}\n`);
  });
}

/**
 * Records a phase that started at `start` (performance.now()) and ends now; `cpuStart` is `cpuMs()`
 * when it started (0 for a phase from the process's start).
 */
export function mark(label: string, start: number, cpuStart = 0): void {
  if (PROFILING)
    spans.push({
      label,
      start,
      end: performance.now(),
      cpuMs: cpuMs() - cpuStart,
      rssMiB: process.memoryUsage.rss() / 2 ** 20,
    });
}

/** Runs `fn`, recording its duration under `label` when profiling. */
export async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  if (!PROFILING) return fn();
  const start = performance.now();
  const cpu = cpuMs();
  try {
    return await fn();
  } finally {
    mark(label, start, cpu);
  }
}
