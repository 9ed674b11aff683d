/**
 * docker-compose.yml cannot run here (no Docker engine): this test checks it against the code's
 * own configuration table instead. Each service: its command, every variable it requires, its
 * health check on /readyz. Every image pinned to a release, none from a repository known to be
 * deleted. The S3 gateway notifies the topic ingest reads, created before it starts; the bucket
 * job creates the bucket the services use; Kafka has a listener the host can reach; credentials
 * come from Docker secrets; .env.example covers every ${VAR} and holds no secret. The bucket job
 * itself runs against a real server in test/integration/create-bucket.test.ts. The stack itself is
 * started in podman containers by `npm run test:containers` (test/containers/), with
 * docker-compose.local.yml on top: the last block here checks that file changes only what it says.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { VARIABLES, variablesOf } from '../shared/src/service/variables.js';
import { loadConfig } from '../shared/src/service/config.js';
import { ROOT } from './helpers.js';

const SERVICES = ['ingest', 'clean', 'merge', 'analytics', 'publisher', 'alerter', 'console'] as const;

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  secrets?: string[];
  build?: { dockerfile: string };
  entrypoint?: string[];
  ports?: string[];
  volumes?: string[];
}

const load = async () => {
  const text = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8');
  return {
    text,
    doc: parse(text, { merge: true }) as {
      services: Record<string, ComposeService>;
      secrets: Record<string, { file: string }>;
    },
  };
};
const loadLocal = async () =>
  parse(await readFile(join(ROOT, 'docker-compose.local.yml'), 'utf8')) as {
    services: Record<string, ComposeService>;
    secrets: Record<string, { file: string }>;
  };
/** Host ports .env.example documents as comments (optional: docker-compose.yml has the defaults). */
const envExampleComments = async () =>
  new Map(
    (await readFile(join(ROOT, '.env.example'), 'utf8'))
      .split('\n')
      .map((l) => /^# ([A-Z0-9_]+)=(\S*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
const envExample = async () =>
  Object.fromEntries(
    (await readFile(join(ROOT, '.env.example'), 'utf8'))
      .split('\n')
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

/** Compose's ${VAR:-default} interpolation with .env.example's values, as `docker compose config` would do. */
function interpolate(v: string | number, env: Record<string, string>): string {
  return String(v).replace(
    /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g,
    (_, name: string, dflt?: string) => env[name] || dflt || '',
  );
}

/** The value following a flag in a command line (`--topic X`). */
function flag(command: string[], name: string): string | undefined {
  const i = command.indexOf(name);
  return i >= 0 ? command[i + 1] : undefined;
}

/**
 * Images that can no longer be pulled: MinIO's community images (minio/minio, minio/mc) were
 * deleted from Docker Hub on 2026-09-12 (the project is archived), and Bitnami removed its free
 * images from docker.io/bitnami in 2025 (what remains moved to bitnamilegacy, unmaintained).
 */
const DELETED_REPOSITORIES = [
  /^(docker\.io\/)?minio\/(minio|mc)(:|@|$)/,
  /^(docker\.io\/)?bitnami\//,
  /^(docker\.io\/)?bitnamilegacy\//,
];

/** name:tag where the tag is a release (1.2.3, v1.8.0, 4.1.2-...), or an image pinned by digest. */
const PINNED = /^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::v?\d+(?:\.\d+)+(?:[-_.][A-Za-z0-9.]+)*|@sha256:[0-9a-f]{64})$/;

describe('docker-compose.yml', () => {
  it('runs each service from the one image by its command, healthy on /readyz, after Kafka and the bucket', async () => {
    const { doc } = await load();
    for (const s of SERVICES) {
      const svc = doc.services[s]!;
      expect(svc.command, s).toEqual(['node', `services/${s}/dist/main.js`]);
      expect(svc.build?.dockerfile, s).toBe('deploy/Dockerfile');
      expect(svc.healthcheck?.test.join(' '), s).toContain('/readyz');
      expect(svc.depends_on, s).toMatchObject({
        kafka: { condition: 'service_healthy' },
        's3-bucket': { condition: 'service_completed_successfully' },
      });
    }
  });

  it('pins every image it pulls to a release, none from a deleted repository', async () => {
    const { doc } = await load();
    const pulled = Object.entries(doc.services).filter(([, svc]) => !svc.build);
    expect(pulled.map(([name]) => name).sort()).toEqual(['kafka', 's3', 's3-events-topic']);
    for (const [name, svc] of Object.entries(doc.services)) {
      const image = svc.image ?? '';
      expect(image, `${name}: no image`).not.toBe('');
      for (const gone of DELETED_REPOSITORIES) expect(image, `${name} uses a deleted repository`).not.toMatch(gone);
      // What compose builds itself is tagged locally; its base image is pinned (deploy/Dockerfile, below).
      if (svc.build) expect(image, name).toBe('bottleneck-pipeline:local');
      else {
        expect(image, `${name}: untagged or not pinned to a release`).toMatch(PINNED);
        expect(image, name).not.toMatch(/:latest$/);
      }
    }
  });

  it('writes no ${VAR:-} with an empty default (podman-compose 1.0.3 leaves it as text: the service got the string as its token)', async () => {
    const { text } = await load();
    expect(text).not.toMatch(/\$\{[A-Z0-9_]+:?-\}/);
  });

  it('refuses the patterns it is checked against', () => {
    for (const bad of [
      'minio/minio:RELEASE.2025-09-07T16-13-09Z',
      'minio/mc',
      'docker.io/bitnami/kafka:3.9.0',
      'bitnamilegacy/minio:2025.7.23',
    ]) {
      expect(
        DELETED_REPOSITORIES.some((r) => r.test(bad)),
        bad,
      ).toBe(true);
    }
    for (const bad of ['versity/versitygw', 'versity/versitygw:latest', 'apache/kafka:4', 'apache/kafka:edge'])
      expect(bad, bad).not.toMatch(PINNED);
    for (const good of ['versity/versitygw:v1.8.0', 'apache/kafka:4.1.2', 'node:22.23.2-bookworm-slim'])
      expect(good).toMatch(PINNED);
  });

  it("gives each service every variable it requires, and each one passes the service's own validation", async () => {
    const { doc } = await load();
    const env = await envExample();
    for (const s of SERVICES) {
      const given = Object.fromEntries(
        Object.entries(doc.services[s]!.environment ?? {}).map(([k, v]) => [k, interpolate(v, env)]),
      );
      for (const v of variablesOf(s).filter((x) => x.required)) {
        const fromFile = v.secret && given[`${v.name}_FILE`];
        expect(Boolean(given[v.name]) || Boolean(fromFile), `${s}: ${v.name}`).toBe(true);
      }
      const known = new Set(VARIABLES.flatMap((v) => [v.name, `${v.name}_FILE`]));
      for (const k of Object.keys(given)) expect(known.has(k), `${s}: unknown variable ${k}`).toBe(true);
      // The secret files do not exist here: stand in a value for each, and validate the rest as the service would.
      const forCheck = Object.fromEntries(
        Object.entries(given).map(([k, v]) => (k.endsWith('_FILE') ? [k.slice(0, -5), 'placeholder'] : [k, v])),
      );
      expect(() => loadConfig(s, forCheck), s).not.toThrow();
    }
  });

  it('has the S3 gateway notify the topic ingest reads, created before the gateway starts', async () => {
    const { doc } = await load();
    const env = await envExample();
    const ingest = doc.services.ingest!.environment!;
    const topic = interpolate(ingest.S3_EVENTS_TOPIC!, env);
    expect(topic).toBe(VARIABLES.find((v) => v.name === 'S3_EVENTS_TOPIC')!.default);
    const gateway = doc.services.s3!;
    const args = gateway.command!.map((a) => interpolate(a, env));
    expect(flag(args, '--event-kafka-topic')).toBe(topic);
    expect(flag(args, '--event-kafka-url')).toBe(ingest.KAFKA_BROKERS);
    // Only object-created events, the ones ingest acts on.
    expect(flag(args, '--event-filter')).toBe('/etc/versitygw/event-filter.json');
    expect(gateway.volumes).toContain('./deploy/versitygw/event-filter.json:/etc/versitygw/event-filter.json:ro');
    expect(JSON.parse(await readFile(join(ROOT, 'deploy', 'versitygw', 'event-filter.json'), 'utf8'))).toEqual({
      's3:ObjectCreated:*': true,
    });
    // versitygw sends a test event at start and exits if it cannot: the topic is created first, explicitly.
    const creator = doc.services['s3-events-topic']!;
    const create = creator.command!.map((a) => interpolate(a, env));
    expect(creator.entrypoint).toEqual(['/opt/kafka/bin/kafka-topics.sh']);
    expect(flag(create, '--topic')).toBe(topic);
    expect(flag(create, '--bootstrap-server')).toBe(ingest.KAFKA_BROKERS);
    expect(create).toContain('--create');
    expect(gateway.depends_on).toEqual({ 's3-events-topic': { condition: 'service_completed_successfully' } });
    // The gateway signs with the services' region.
    expect(flag(args, '--region')).toBe(interpolate(doc.services.merge!.environment!.S3_REGION!, env));
    expect(interpolate(doc.services.merge!.environment!.S3_ENDPOINT!, env)).toBe(
      `http://s3:${flag(args, '--port')!.replace(/^:/, '')}`,
    );
    expect(gateway.healthcheck?.test.join(' ')).toContain(
      `:${flag(args, '--port')!.replace(/^:/, '')}${flag(args, '--health')}`,
    );
  });

  it('creates the bucket the services use before they start, and hides no failed setup step', async () => {
    const { doc, text } = await load();
    const env = await envExample();
    const job = doc.services['s3-bucket']!;
    expect(job.command).toEqual(['node', 'deploy/create-bucket.mjs']);
    expect(job.depends_on).toEqual({ s3: { condition: 'service_healthy' } });
    for (const k of ['S3_BUCKET', 'S3_ENDPOINT', 'S3_REGION', 'S3_ACCESS_KEY_ID_FILE', 'S3_SECRET_ACCESS_KEY_FILE']) {
      expect(interpolate(job.environment![k]!, env), k).toBe(interpolate(doc.services.merge!.environment![k]!, env));
    }
    // A setup step that fails must stop `docker compose up`, not be skipped.
    expect(text).not.toMatch(/\|\|\s*true|\|\|\s*:|;\s*exit 0/);
    expect(await readFile(join(ROOT, 'deploy', 'Dockerfile'), 'utf8')).toContain(
      'COPY --from=build /app/deploy/create-bucket.mjs deploy/',
    );
  });

  it('gives Kafka a listener the host reaches, advertised as localhost:9094', async () => {
    const { doc } = await load();
    const k = doc.services.kafka!.environment!;
    expect(String(k.KAFKA_LISTENERS).split(',')).toContain('EXTERNAL://:9094');
    const advertised = (env: Record<string, string>) =>
      interpolate(String(k.KAFKA_ADVERTISED_LISTENERS), env).split(',');
    const published = (env: Record<string, string>) => doc.services.kafka!.ports!.map((p) => interpolate(p, env));
    expect(advertised({})).toContain('EXTERNAL://localhost:9094');
    // Another host port (scripts/containers.sh chooses a free one): advertised as it is published.
    expect(advertised({ KAFKA_HOST_PORT: '19094' })).toContain('EXTERNAL://localhost:19094');
    expect(published({ KAFKA_HOST_PORT: '19094' })).toEqual(['127.0.0.1:19094:9094']);
    expect(String(k.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP).split(',')).toContain('EXTERNAL:PLAINTEXT');
    expect(k.KAFKA_INTER_BROKER_LISTENER_NAME).toBe('PLAINTEXT');
    expect(published({})).toEqual(['127.0.0.1:9094:9094']);
    // The broker keeps its data in the volume.
    expect(k.KAFKA_LOG_DIRS).toBe('/var/lib/kafka/data');
    expect(doc.services.kafka!.volumes).toContain('kafka-data:/var/lib/kafka/data');
    // The containers keep their own listener.
    expect(String(k.KAFKA_ADVERTISED_LISTENERS).split(',')).toContain(
      `PLAINTEXT://${doc.services.merge!.environment!.KAFKA_BROKERS}`,
    );
    // And the README's command from the host uses it.
    expect(await readFile(join(ROOT, 'README.md'), 'utf8')).toContain(
      'KAFKA_BROKERS=localhost:9094 npx bottleneck trigger --partition 2026-11',
    );
  });

  it('takes every credential from a Docker secret, and .env.example covers every variable without a secret', async () => {
    const { doc, text } = await load();
    expect(doc.services.alerter!.environment!.SENDGRID_API_KEY_FILE).toBe('/run/secrets/sendgrid_api_key');
    expect(doc.services.alerter!.secrets).toEqual([
      's3_access_key_id',
      's3_secret_access_key',
      'sendgrid_api_key',
      'event_keys',
    ]);
    for (const s of [...SERVICES, 's3-bucket']) {
      const e = doc.services[s]!.environment!;
      expect([e.S3_ACCESS_KEY_ID_FILE, e.S3_SECRET_ACCESS_KEY_FILE], s).toEqual([
        '/run/secrets/s3_access_key_id',
        '/run/secrets/s3_secret_access_key',
      ]);
      expect(doc.services[s]!.secrets, s).toEqual(expect.arrayContaining(['s3_access_key_id', 's3_secret_access_key']));
    }
    expect(doc.services.s3!.secrets).toEqual(['s3_access_key_id', 's3_secret_access_key']);
    expect(doc.services.s3!.entrypoint).toEqual(['/bin/sh', '/etc/versitygw/start.sh']);
    expect(doc.secrets).toEqual({
      s3_access_key_id: { file: './secrets/s3_access_key_id' },
      s3_secret_access_key: { file: './secrets/s3_secret_access_key' },
      sendgrid_api_key: { file: './secrets/sendgrid_api_key' },
      console_token: { file: './secrets/console_token' },
      event_keys: { file: './secrets/event_keys' },
    });
    expect(doc.services.console!.environment!.BN_CONSOLE_TOKEN_FILE).toBe('/run/secrets/console_token');
    // Every service signs and checks events with the same keys, from a secret.
    for (const s of SERVICES) {
      expect(doc.services[s]!.environment!.BN_EVENT_KEYS_FILE, s).toBe('/run/secrets/event_keys');
      expect(doc.services[s]!.secrets, s).toContain('event_keys');
    }
    const env = await envExample();
    const referenced = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    const documented = await envExampleComments();
    for (const name of referenced) expect([...Object.keys(env), ...documented.keys()], name).toContain(name);
    for (const v of VARIABLES.filter((x) => x.secret)) expect(env[v.name] ?? '', v.name).toBe('');
    for (const name of Object.keys(env))
      expect(name, 'a credential in .env.example').not.toMatch(/PASSWORD|SECRET|ACCESS_KEY|API_KEY|ROOT_USER/);
    for (const name of ['SENDGRID_API_KEY', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'])
      expect(Object.keys(env)).not.toContain(name);
  });
});

describe('deploy/versitygw/start.sh', () => {
  /** Runs start.sh with a stand-in versitygw that prints its arguments and root credentials. */
  async function start(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'bn-vgw-'));
    try {
      const fake = join(dir, 'versitygw');
      await writeFile(
        fake,
        '#!/bin/sh\necho "args=$*"\necho "id=$ROOT_ACCESS_KEY_ID"\necho "secret=$ROOT_SECRET_ACCESS_KEY"\n',
      );
      await chmod(fake, 0o755);
      await writeFile(join(dir, 'id'), 'gateway-id\n');
      await writeFile(join(dir, 'secret'), 'gateway-secret-value\n');
      await writeFile(join(dir, 'empty'), '\n');
      const vars = Object.fromEntries(
        Object.entries({ ROOT_ACCESS_KEY_ID_FILE: 'id', ROOT_SECRET_ACCESS_KEY_FILE: 'secret', ...env }).map(
          ([k, v]) => [k, join(dir, v)],
        ),
      );
      return await new Promise((resolve) => {
        execFile(
          'sh',
          [join(ROOT, 'deploy', 'versitygw', 'start.sh'), '--port', ':7070', 'posix', '/data'],
          { env: { PATH: process.env.PATH!, VERSITYGW: fake, ...vars } },
          (error, stdout, stderr) => {
            resolve({ code: error ? Number((error as { code?: unknown }).code) : 0, stdout, stderr });
          },
        );
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('starts versitygw with its arguments and the root credentials read from the secret files', async () => {
    expect(await start({})).toEqual({
      code: 0,
      stdout: 'args=--port :7070 posix /data\nid=gateway-id\nsecret=gateway-secret-value\n',
      stderr: '',
    });
  });

  it('refuses to start, naming the file, when a secret is missing or empty', async () => {
    const missing = await start({ ROOT_ACCESS_KEY_ID_FILE: 'nowhere' });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(
      /^start\.sh: ROOT_ACCESS_KEY_ID: cannot read .*\/nowhere; create it \(see docker-compose\.yml\) and mount it as a secret\n$/,
    );
    const empty = await start({ ROOT_SECRET_ACCESS_KEY_FILE: 'empty' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(
      /^start\.sh: ROOT_SECRET_ACCESS_KEY: .*\/empty is empty; write the credential into it\n$/,
    );
  });
});

describe('deploy/Dockerfile', () => {
  it('builds and runs the services on one pinned Node 22 LTS release, the base image a build argument', async () => {
    const lines = (await readFile(join(ROOT, 'deploy', 'Dockerfile'), 'utf8')).split('\n');
    const froms = lines.filter((l) => l.startsWith('FROM ')).map((l) => l.split(/\s+/)[1]);
    expect(froms).toEqual(['${BASE_IMAGE}', '${BASE_IMAGE}']);
    const arg = lines.filter((l) => l.startsWith('ARG BASE_IMAGE'));
    expect(arg).toHaveLength(1);
    expect(arg[0]).toMatch(/^ARG BASE_IMAGE=node:22\.\d+\.\d+-bookworm-slim$/);
    // Declared before the first FROM, so that both stages see it.
    expect(lines.indexOf(arg[0]!)).toBeLessThan(lines.findIndex((l) => l.startsWith('FROM ')));
  });
});

describe('host ports', () => {
  it('publishes each port through its own *_HOST_PORT variable, whose default .env.example documents', async () => {
    const { doc } = await load();
    const documented = await envExampleComments();
    const seen = new Set<string>();
    for (const [name, svc] of Object.entries(doc.services)) {
      for (const p of svc.ports ?? []) {
        const m = /^(?:127\.0\.0\.1:)?\$\{([A-Z0-9]+_HOST_PORT):-(\d+)\}:\d+$/.exec(p);
        expect(m, `${name}: ${p}`).not.toBeNull();
        expect(seen.has(m![1]!), `${m![1]} used twice`).toBe(false);
        seen.add(m![1]!);
        expect(documented.get(m![1]!), m![1]).toBe(m![2]);
      }
    }
    expect([...seen].sort()).toEqual([...documented.keys()].filter((k) => k.endsWith('_HOST_PORT')).sort());
  });
});

describe('scripts/containers.sh', () => {
  it("starts the containers in the order of docker-compose.yml's depends_on conditions, which podman-compose ignores", async () => {
    const { doc } = await load();
    const text = await readFile(join(ROOT, 'scripts', 'containers.sh'), 'utf8');
    const list = /^STAGES=\(([^)]*)\)/m.exec(text)![1]!;
    const stages = [...list.matchAll(/"([^"]*)"/g)].map((m) =>
      m[1]!.split(/\s+/).map((item) => {
        const [service, condition] = item.split(':') as [string, string];
        return { service, condition };
      }),
    );
    const stageOf = new Map(stages.flatMap((st, i) => st.map((x) => [x.service, { i, ...x }] as const)));
    // Every service once.
    expect(
      stages
        .flat()
        .map((x) => x.service)
        .sort(),
    ).toEqual(Object.keys(doc.services).sort());
    expect(stageOf.size).toBe(Object.keys(doc.services).length);
    const wanted: Record<string, string> = { service_healthy: 'healthy', service_completed_successfully: 'done' };
    for (const [name, svc] of Object.entries(doc.services)) {
      for (const [dep, { condition }] of Object.entries(svc.depends_on ?? {})) {
        expect(stageOf.get(dep)!.i, `${name} starts after ${dep}`).toBeLessThan(stageOf.get(name)!.i);
        expect(stageOf.get(dep)!.condition, `${name} waits for ${dep} to be ${condition}`).toBe(wanted[condition]);
      }
      // A job is waited for until it exits 0; a server with a health check, until it passes it.
      if (stageOf.get(name)!.condition === 'done') expect(svc.command ?? svc.entrypoint, name).toBeDefined();
      if (stageOf.get(name)!.condition === 'ready') expect(svc.healthcheck?.test.join(' '), name).toContain('/readyz');
    }
  });
});

describe('docker-compose.local.yml', () => {
  it('gives every service a local image, and changes nothing else but the poll, the mail URL and the secret files', async () => {
    const [{ doc }, local] = await Promise.all([load(), loadLocal()]);
    expect(Object.keys(local).sort()).toEqual(['secrets', 'services']);
    // Every service of the stack, none added: nothing is pulled from Docker Hub.
    expect(Object.keys(local.services).sort()).toEqual(Object.keys(doc.services).sort());
    const images = new Set<string>();
    for (const [name, svc] of Object.entries(local.services)) {
      const { image, environment, ...rest } = svc;
      expect(rest, name).toEqual({});
      expect(image, name).toMatch(/^\$\{BOTTLENECK_(KAFKA|S3|PIPELINE)_IMAGE\}$/);
      images.add(`${name}=${image}`);
      if (name === 'ingest') expect(environment).toEqual({ BN_POLL_INTERVAL_MS: '1000' });
      else if (name === 'alerter') expect(environment).toEqual({ SENDGRID_API_URL: '${BOTTLENECK_SENDGRID_URL}' });
      else expect(environment, name).toBeUndefined();
    }
    // Same image where docker-compose.yml has the same image.
    for (const [a, sa] of Object.entries(doc.services))
      for (const [b, sb] of Object.entries(doc.services))
        if (sa.image === sb.image) expect(local.services[a]!.image, `${a} ${b}`).toBe(local.services[b]!.image);
    expect(Object.keys(local.secrets).sort()).toEqual(Object.keys(doc.secrets).sort());
    for (const [name, s] of Object.entries(local.secrets))
      expect(s).toEqual({ file: `\${BOTTLENECK_SECRETS_DIR}/${name}` });
  });
});
