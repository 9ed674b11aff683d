/**
 * docker-compose.yml cannot run here (no Docker engine): this test checks it against the code's
 * own configuration table instead. Each service: its command, every variable it requires, its
 * health check on /readyz; the topic MinIO notifies is the one ingest reads; the bucket MinIO
 * creates is the one the services use; .env.example covers every ${VAR} and holds no secret.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { VARIABLES, variablesOf } from '../shared/src/service/variables.js';
import { loadConfig } from '../shared/src/service/config.js';
import { ROOT } from './helpers.js';

const SERVICES = ['ingest', 'clean', 'merge', 'analytics', 'publisher', 'alerter'] as const;

interface ComposeService {
  command?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  secrets?: string[];
  build?: { dockerfile: string };
  entrypoint?: string[];
}

const load = async () => {
  const text = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8');
  return { text, doc: parse(text, { merge: true }) as { services: Record<string, ComposeService>; secrets: Record<string, { file: string }> } };
};
const envExample = async () => Object.fromEntries((await readFile(join(ROOT, '.env.example'), 'utf8')).split('\n').filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

/** Compose's ${VAR:-default} interpolation with .env.example's values, as `docker compose config` would do. */
function interpolate(v: string | number, env: Record<string, string>): string {
  return String(v).replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, name: string, dflt?: string) => env[name] || dflt || '');
}

describe('docker-compose.yml', () => {
  it('runs each service from the one image by its command, healthy on /readyz, after Kafka and the bucket', async () => {
    const { doc } = await load();
    for (const s of SERVICES) {
      const svc = doc.services[s]!;
      expect(svc.command, s).toEqual(['node', `services/${s}/dist/main.js`]);
      expect(svc.build?.dockerfile, s).toBe('deploy/Dockerfile');
      expect(svc.healthcheck?.test.join(' '), s).toContain('/readyz');
      expect(svc.depends_on, s).toMatchObject({ kafka: { condition: 'service_healthy' }, 'minio-init': { condition: 'service_completed_successfully' } });
    }
  });

  it('gives each service every variable it requires, and each one passes the service\'s own validation', async () => {
    const { doc } = await load();
    const env = await envExample();
    for (const s of SERVICES) {
      const given = Object.fromEntries(Object.entries(doc.services[s]!.environment ?? {}).map(([k, v]) => [k, interpolate(v, env)]));
      for (const v of variablesOf(s).filter((x) => x.required)) {
        const fromFile = v.secret && given[`${v.name}_FILE`];
        expect(Boolean(given[v.name]) || Boolean(fromFile), `${s}: ${v.name}`).toBe(true);
      }
      const known = new Set(VARIABLES.flatMap((v) => [v.name, `${v.name}_FILE`]));
      for (const k of Object.keys(given)) expect(known.has(k), `${s}: unknown variable ${k}`).toBe(true);
      // The secret file does not exist here: stand in a value for it, and validate the rest as the service would.
      const forCheck = { ...given, ...(given.SENDGRID_API_KEY_FILE ? { SENDGRID_API_KEY_FILE: '', SENDGRID_API_KEY: 'placeholder' } : {}) };
      expect(() => loadConfig(s, forCheck), s).not.toThrow();
    }
  });

  it('sends MinIO\'s notifications for incoming/ to the topic ingest reads, for the bucket the services use', async () => {
    const { doc } = await load();
    const env = await envExample();
    expect(doc.services.minio!.environment!.MINIO_NOTIFY_KAFKA_TOPIC_PRIMARY).toBe(doc.services.ingest!.environment!.S3_EVENTS_TOPIC);
    expect(doc.services.minio!.environment!.MINIO_NOTIFY_KAFKA_BROKERS_PRIMARY).toBe(doc.services.ingest!.environment!.KAFKA_BROKERS);
    const init = doc.services['minio-init']!.command!.join(' ');
    expect(init).toContain('mc mb --ignore-existing "local/$$S3_BUCKET"');
    expect(init).toContain('--event put --prefix incoming/');
    expect(interpolate(doc.services['minio-init']!.environment!.S3_BUCKET!, env)).toBe(interpolate(doc.services.merge!.environment!.S3_BUCKET!, env));
  });

  it('takes the SendGrid key from a Docker secret, and .env.example covers every variable without a secret', async () => {
    const { doc, text } = await load();
    expect(doc.services.alerter!.environment!.SENDGRID_API_KEY_FILE).toBe('/run/secrets/sendgrid_api_key');
    expect(doc.services.alerter!.secrets).toEqual(['sendgrid_api_key']);
    expect(doc.secrets.sendgrid_api_key!.file).toBe('./secrets/sendgrid_api_key');
    const env = await envExample();
    const referenced = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    for (const name of referenced) expect(Object.keys(env), name).toContain(name);
    for (const v of VARIABLES.filter((x) => x.secret)) expect(env[v.name] ?? '', v.name).toBe('');
    expect(Object.keys(env)).not.toContain('SENDGRID_API_KEY');
  });
});

describe('deploy/Dockerfile', () => {
  it('builds and runs the services on one pinned Node 22 LTS release', async () => {
    const froms = (await readFile(join(ROOT, 'deploy', 'Dockerfile'), 'utf8')).split('\n').filter((l) => l.startsWith('FROM ')).map((l) => l.split(/\s+/)[1]);
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
    expect(new Set(froms).size).toBe(1);
  });
});
