/**
 * The compose stack in podman containers, driven through scripts/containers.sh (the commands the
 * README's compose section gives): prepare (images, the project's secrets and network), up (start,
 * wait until ready), down. What the containers run is docker-compose.yml with
 * docker-compose.local.yml on top.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

export const SCRIPT = join(ROOT, 'scripts', 'containers.sh');
export const CONTAINERS_CONF = join(ROOT, '.cache', 'containers', 'containers.conf');

/** The KEY=VALUE lines of scripts/containers.sh prepare / up. */
export interface ProjectEnv {
  BOTTLENECK_PROJECT: string;
  BOTTLENECK_SECRETS_DIR: string;
  BOTTLENECK_GATEWAY: string;
  KAFKA_HOST_PORT: string;
  S3_HOST_PORT: string;
  [name: string]: string;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, CONTAINERS_CONF, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ code: Number.isNaN(code) ? 1 : code, stdout, stderr });
      },
    );
  });
}

/** Runs scripts/containers.sh; throws with its stderr when it fails. */
export async function script(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await run('bash', [SCRIPT, ...args], env);
  // Its progress lines: worth seeing in the test's log (how long the images took, which were built).
  process.stderr.write(r.stderr);
  if (r.code !== 0) throw new Error(`scripts/containers.sh ${args.join(' ')} exited ${r.code}`);
  return r.stdout;
}

export function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** podman with the project's containers.conf; throws when it fails. */
export async function podman(args: string[]): Promise<string> {
  const r = await run('podman', args);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export const containerName = (project: string, service: string): string => `${project}_${service}_1`;

export interface ContainerState {
  status: string;
  pid: number;
  restarts: number;
  exitCode: number;
}

export async function containerState(project: string, service: string): Promise<ContainerState> {
  const out = await podman([
    'inspect',
    '--format',
    '{{.State.Status}} {{.State.Pid}} {{.RestartCount}} {{.State.ExitCode}}',
    containerName(project, service),
  ]);
  const [status = '', pid = '0', restarts = '0', exitCode = '0'] = out.trim().split(' ');
  return { status, pid: Number(pid), restarts: Number(restarts), exitCode: Number(exitCode) };
}

/** The environment a container runs with (what compose interpolated, .env included). */
export async function containerEnv(project: string, service: string): Promise<Record<string, string>> {
  const out = await podman([
    'inspect',
    '--format',
    '{{range .Config.Env}}{{println .}}{{end}}',
    containerName(project, service),
  ]);
  return parseEnv(out);
}

export async function logsOf(project: string, service: string, lines = 40): Promise<string> {
  const r = await run('podman', ['logs', '--tail', String(lines), containerName(project, service)]);
  return `${r.stdout}${r.stderr}`;
}

export const readSecret = (env: ProjectEnv, name: string): Promise<string> =>
  readFile(join(env.BOTTLENECK_SECRETS_DIR, name), 'utf8').then((s) => s.trim());
