import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'cli', 'dist', 'bin.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

/** The reference month beside the checkout, or null (tests then skip with a message). */
export const REFERENCE = (() => {
  const d = resolve(ROOT, '..', 'shared', 'data', 'reference');
  return existsSync(join(d, 'erp.xlsx')) ? d : null;
})();
export const NO_REFERENCE = 'the reference month is not at ../shared/data/reference: acceptance tests skipped';

const made: string[] = [];

/** A fresh temp folder, removed by `cleanupTmp` (call it in afterAll). */
export async function tmp(prefix = 'bn-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export async function cleanupTmp(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would, in its own process. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', rej);
    p.on('close', (code) => res({ code, stdout, stderr }));
  });
}

/** The path of a published file of a month in a local OUT folder, found as a reader would: through extracts/<partition>/_current.json. */
export async function publishedPath(out: string, partition: string, name: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pointer = JSON.parse(await readFile(join(out, 'extracts', partition, '_current.json'), 'utf8')) as {
    files: { name: string; key: string }[];
  };
  const f = pointer.files.find((x) => x.name === name);
  if (!f) throw new Error(`${name} is not published for ${partition} in ${out}`);
  return join(out, ...f.key.split('/'));
}
