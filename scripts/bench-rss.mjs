// Preloaded into a benchmarked child with `node --import <this file> ...` (see scripts/bench.mjs).
// On exit it writes the process's peak resident set size (process.resourceUsage().maxRSS, in KB)
// and its CPU time (user + system, all threads, ms) to the file named by BOTTLENECK_BENCH_RSS_FILE, leaving
// the child's stdout and stderr untouched.
import { writeFileSync } from 'node:fs';

const file = process.env.BOTTLENECK_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    try {
      const u = process.resourceUsage();
      writeFileSync(file, `${u.maxRSS} ${Math.round((u.userCPUTime + u.systemCPUTime) / 1000)}\n`);
    } catch {
      // never change the child's exit status because of the measurement
    }
  });
}
