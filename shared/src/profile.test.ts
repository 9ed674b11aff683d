import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROFILE = fileURLToPath(new URL('../dist/profile.js', import.meta.url));
const script = `import(${JSON.stringify(PROFILE)}).then(async ({ timed, mark }) => { mark('start', 0); await timed('a phase', () => new Promise((r) => setTimeout(r, 20))); })`;
const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });

describe('BN_PROFILE', () => {
  it('=1 prints each phase, by start, with its duration, on stderr at exit', () => {
    const lines = run({ BN_PROFILE: '1' }).stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    // From the process's start: its CPU time so far (node's own start at least).
    const first = /^bn-profile +0 ms \+ +\d+ ms cpu +(\d+) ms +\d+ MiB {2}start$/.exec(lines[0]!);
    expect(Number(first?.[1])).toBeGreaterThan(0);
    // A phase that waits: its wall time, little CPU.
    const m = /^bn-profile +\d+ ms \+ +(\d+) ms cpu +(\d+) ms +\d+ MiB {2}a phase$/.exec(lines[1]!);
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(19);
    expect(Number(m?.[2])).toBeLessThan(Number(m?.[1]));
    expect(lines[2]).toMatch(/^bn-profile total \d+ ms wall, cpu \d+ ms; peak RSS \d+ MiB$/);
  });

  it('unset prints nothing', () => {
    expect(run({ BN_PROFILE: '' }).stderr).toBe('');
  });
});
